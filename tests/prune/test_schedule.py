"""The schedule's plan (`prune.plan`): the whole target allocated from the unpruned model, a
floor no step cuts below; and where it applies."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from codesign.config import PruneConfig, TrainConfig, prune_problem
from codesign.prune.alignment import granularity
from codesign.prune.allocate import allocate
from codesign.prune.graph import channel_groups
from codesign.prune.importance import channel_importance
from codesign.prune.schedule import check_settings, measure_hardware, plan_floor, planned, prune_model
from tests.prune.chains import flat, tfc_like


def test_the_plan_is_the_whole_target_with_nothing_stranded() -> None:
    groups, profile = tfc_like()
    grain = {g.name: 8 for g in groups}
    settings = PruneConfig(target_sparsity=0.5, plan=True)
    plan = plan_floor(groups, flat(groups), profile, grain, settings, None)
    assert plan == allocate(groups, flat(groups), profile, grain, 0.5, give_back=True)
    assert plan == {"l0": 24, "l1": 64, "l2": 64}  # the first layer holds 91 % of the LUTs


@pytest.mark.parametrize(("change", "applies"), [
    ({}, True),
    ({"allocation": "criterion"}, True),
    ({"budget": "fps", "target_fps": 1e6}, False),  # no known final target
    ({"budget": "fit"}, False),
    ({"allocation": "uniform"}, False),  # one ratio for every layer: nothing to plan
    ({"plan": False}, False),
])
def test_the_plan_applies_only_with_a_known_target(change: dict[str, object],
                                                   applies: bool) -> None:
    settings = dataclasses.replace(PruneConfig(plan=True), **change)
    assert prune_problem(settings) is None
    check_settings(settings)
    assert planned(settings) is applies


@pytest.mark.slow
@pytest.mark.parametrize("steps", [2, 3])
def test_the_steps_end_on_the_plan(trained, tmp_path: Path, steps: int) -> None:
    """On a real model and FINN's estimates: step 1's plan (l1 scores, deterministic) is where
    the schedule ends, and no step goes below it."""
    model, data = trained
    board_id = "pynq-z1"
    from codesign.boards import load_board

    board = load_board(board_id)
    settings = PruneConfig(criterion="l1", target_sparsity=0.5, steps=steps, finetune_epochs=1,
                           final_epochs=0, plan=True, fold_search=0)
    _, profile = measure_hardware(model, data.input_shape, board, None, tmp_path / "p")
    groups = channel_groups(model, data.input_shape)
    scores = channel_importance(model, groups, "l1", (data.x_train, data.y_train), seed=1)
    plan = plan_floor(groups, scores, profile, granularity(groups, profile), settings, None)
    result = prune_model(copy.deepcopy(model), data, board, settings,
                         TrainConfig(epochs=1, batch_size=64, lr=0.02), workdir=tmp_path / "run",
                         progress=False)
    assert result.budget_met, result.budget_note
    assert result.final.counts == plan
    for record in result.steps:
        assert all(record.counts[n] >= plan[n] for n in plan)
