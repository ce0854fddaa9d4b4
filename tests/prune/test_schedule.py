"""The schedule's plan (`prune.plan`): the whole target allocated from the unpruned model, a
floor no step cuts below; and where it applies. The per-layer cap (`prune.max_layer_sparsity`,
and per named layer `prune.layer_max_sparsity`): the fewest channels a layer keeps, in every
allocation and step."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch

from codesign.config import PruneConfig, TrainConfig, prune_problem
from codesign.errors import PruneError
from codesign.prune.alignment import granularity
from codesign.prune.allocate import allocate, allocate_uniform
from codesign.prune.graph import channel_groups
from codesign.prune.importance import channel_importance
from codesign.prune.schedule import (
    check_layer_caps,
    check_settings,
    measure_hardware,
    plan_floor,
    planned,
    prune_model,
    sparsity_floor,
)
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


@pytest.mark.parametrize(("cap", "floor"), [(1.0, None), (0.5, 32), (0.3, 45), (0.99, 1)])
def test_the_layer_cap_is_a_floor_of_channels(cap: float, floor: int | None) -> None:
    groups, _ = tfc_like()  # three groups of 64 channels
    settings = PruneConfig(max_layer_sparsity=cap)
    assert prune_problem(settings) is None
    least = sparsity_floor(groups, settings)
    assert least == (None if floor is None else {g.name: floor for g in groups})


@pytest.mark.parametrize(("cap", "per_layer", "floor"), [
    (1.0, {"l1": 0.5}, {"l0": 1, "l1": 32, "l2": 1}),  # only the named layer is capped
    (0.5, {"l0": 0.75}, {"l0": 16, "l1": 32, "l2": 32}),  # an override may loosen the cap
    (0.5, {"l2": 0}, {"l0": 32, "l1": 32, "l2": 64}),  # 0 keeps the layer whole
    (0.5, {"l0": 1.0}, {"l0": 1, "l1": 32, "l2": 32}),  # 1 lifts the cap for that layer
    (1.0, {"l0": 1.0}, None),
])
def test_named_layers_override_the_cap(cap: float, per_layer: dict[str, float],
                                       floor: dict[str, int] | None) -> None:
    groups, _ = tfc_like()
    settings = PruneConfig(max_layer_sparsity=cap, layer_max_sparsity=per_layer)
    assert prune_problem(settings) is None
    assert sparsity_floor(groups, settings) == floor


@pytest.mark.parametrize(("cap", "per_layer", "floor"), [
    (1.0, {}, {"l0": 16, "l1": 16, "l2": 16}),  # the reach alone: 75 % of 64 channels
    (0.5, {}, {"l0": 32, "l1": 32, "l2": 32}),  # a tighter cap stands
    (1.0, {"l1": 0}, {"l0": 16, "l1": 64, "l2": 16}),  # a layer kept whole stays whole
    (1.0, {"l1": 0.9}, {"l0": 16, "l1": 16, "l2": 16}),  # a looser cap is held to the reach
])
def test_weighed_allocations_keep_within_the_sensitivity_reach(
        cap: float, per_layer: dict[str, float], floor: dict[str, int]) -> None:
    groups, _ = tfc_like()
    settings = PruneConfig(max_layer_sparsity=cap, layer_max_sparsity=per_layer)
    assert sparsity_floor(groups, settings, weighed=True) == floor
    unweighed = sparsity_floor(groups, settings) or {}
    assert all(floor[n] >= unweighed.get(n, 1) for n in floor)  # the reach only raises it


def test_a_layer_kept_whole_loses_nothing_in_any_allocation() -> None:
    groups, profile = tfc_like()
    floor = sparsity_floor(groups, PruneConfig(layer_max_sparsity={"l0": 0}))
    grains = {g.name: 8 for g in groups}
    for counts in (allocate(groups, flat(groups), profile, grains, 0.05, min_keep=floor),
                   allocate_uniform(groups, profile, grains, 0.02, min_keep=floor)):
        assert counts["l0"] == 64 and counts["l1"] + counts["l2"] < 128


def _model_groups() -> tuple[object, tuple[int, int, int]]:
    from codesign.models import build_model

    shape = (1, 28, 28)
    return build_model("mobilenet", input_shape=shape, num_classes=10, weight_bits=4,
                       act_bits=4, preset="ds-cnn"), shape


@pytest.mark.parametrize(("per_layer", "floor"), [
    ({"stem.0": 0.5}, {"stem.0": 32}),
    ({"blocks.0.0": 0.5}, {"stem.0": 32}),  # a depthwise member names its producer's group
    ({"stem.0": 0.25, "blocks.0.0": 0.25}, {"stem.0": 48}),  # two members, one value
])
def test_a_member_layer_names_its_group(per_layer: dict[str, float],
                                        floor: dict[str, int]) -> None:
    model, shape = _model_groups()
    groups = list(channel_groups(model, shape))
    least = sparsity_floor(groups, PruneConfig(max_layer_sparsity=0.625,
                                               layer_max_sparsity=per_layer))
    assert least == {"stem.0": 24, "blocks.0.3": 24, "blocks.1.3": 24, "blocks.2.3": 24,
                     "blocks.3.3": 24, **floor}


@pytest.mark.parametrize(("per_layer", "message"), [
    ({"stem": 0.5}, r"names stem, which is not a prunable layer of this model; name one of its "
                    r"channel groups' layers: stem\.0 \+ blocks\.0\.0; blocks\.0\.3"),
    ({"classifier": 0.5}, "names classifier, which is not a prunable layer"),
    ({"stem.0": 0.5, "blocks.0.0": 0.25}, r"gives stem\.0 0\.5 and blocks\.0\.0 0\.25, but they "
                                          r"share one channel set \(stem\.0 \+ blocks\.0\.0\)"),
])
def test_bad_layer_names_are_refused_before_training(per_layer: dict[str, float],
                                                     message: str) -> None:
    model, shape = _model_groups()
    with pytest.raises(PruneError, match=message):
        check_layer_caps(model, shape, PruneConfig(layer_max_sparsity=per_layer))


@pytest.mark.parametrize(("fraction", "grain"), [(0.5, 1), (0.5, 8), (0.52, 4)])
def test_every_allocation_keeps_the_capped_layers_floor(fraction: float, grain: int) -> None:
    """Without the cap the hardware allocation cuts the first layer (91 % of the LUTs) to a
    sliver; with max_layer_sparsity 0.5 no layer keeps fewer than 32 of its 64 channels, and
    the MACs still go (elsewhere)."""
    groups, profile = tfc_like()
    grains = {g.name: grain for g in groups}
    floor = sparsity_floor(groups, PruneConfig(max_layer_sparsity=0.5))
    free = allocate(groups, flat(groups), profile, grains, fraction)
    assert min(free.values()) < 32
    capped = allocate(groups, flat(groups), profile, grains, fraction, min_keep=floor)
    assert min(capped.values()) >= 32
    assert all(c % grain == 0 for c in capped.values())
    settings = PruneConfig(target_sparsity=fraction, plan=True, max_layer_sparsity=0.5)
    assert plan_floor(groups, flat(groups), profile, grains, settings, None, floor) == \
        allocate(groups, flat(groups), profile, grains, fraction, min_keep=floor, give_back=True)
    uniform = allocate_uniform(groups, profile, grains, 0.45, min_keep=floor)
    assert min(uniform.values()) >= 32
    with pytest.raises(PruneError, match=r"l0 at 32 \(minimum 32\).*max_layer_sparsity"):
        allocate_uniform(groups, profile, grains, 0.9, min_keep=floor)  # out of reach


@pytest.mark.slow
@pytest.mark.parametrize(("fold_search", "cap", "per_layer", "target"), [
    (0, 0.5, {}, 0.4),
    (1, 0.5, {}, 0.4),
    (1, 1.0, {"features.0": 0}, 0.3),  # the first layer kept whole, the MACs go elsewhere
])
def test_the_schedule_honours_the_layer_cap(trained, tmp_path: Path, fold_search: int,
                                            cap: float, per_layer: dict[str, float],
                                            target: float) -> None:
    """On a real model and FINN's estimates, through the fold search too: no step cuts a layer
    below its cap's floor (half its channels; all of them for a layer kept whole), while the
    schedule still reaches its target."""
    from codesign.boards import load_board

    model, data = trained
    settings = PruneConfig(criterion="l1", target_sparsity=target, steps=2, finetune_epochs=1,
                           final_epochs=0, fold_search=fold_search, max_layer_sparsity=cap,
                           layer_max_sparsity=per_layer)
    floor = sparsity_floor(list(channel_groups(model, data.input_shape)), settings)
    result = prune_model(copy.deepcopy(model), data, load_board("pynq-z1"), settings,
                         TrainConfig(epochs=1, batch_size=64, lr=0.02), workdir=tmp_path / "run",
                         progress=False)
    assert result.budget_met, result.budget_note
    assert floor is not None
    for record in result.steps:
        assert all(record.counts[n] >= floor[n] for n in floor), record.counts
    if per_layer:
        assert result.final.counts["features.0"] == result.baseline.counts["features.0"]


@pytest.mark.slow
@pytest.mark.parametrize("target", [0.4, 0.6])  # both overshot by a last move
def test_the_criterion_baseline_stops_at_its_sparsity(trained, tmp_path: Path,
                                                      target: float) -> None:
    """The hardware-blind baseline (allocation criterion, align false) removes at least the
    sparsity asked for and not one channel more than it needs: giving any layer one channel
    back would leave the MACs removed short of the target (a comparison at the same sparsity
    must not hand it the MACs of a coarse last move)."""
    from codesign.boards import load_board
    from codesign.prune import model_cost, shrink_to_counts

    model, data = trained
    settings = PruneConfig(criterion="l1", target_sparsity=target, steps=1, finetune_epochs=1,
                           final_epochs=0, align=False, allocation="criterion")
    result = prune_model(copy.deepcopy(model), data, load_board("pynq-z1"), settings,
                         TrainConfig(epochs=1, batch_size=64, lr=0.02), workdir=tmp_path / "run",
                         progress=False)
    macs0 = model_cost(model, data.input_shape).macs

    def removed(counts: dict[str, int]) -> float:
        cut = shrink_to_counts(copy.deepcopy(model), counts, data.input_shape)
        return 1.0 - model_cost(cut, data.input_shape).macs / macs0

    counts = result.final.counts
    assert removed(counts) >= target - 1e-9
    for name, kept in counts.items():
        if kept < result.baseline.counts[name]:
            assert removed({**counts, name: kept + 1}) < target, (name, counts)


@pytest.mark.slow
@pytest.mark.parametrize("trials", [0, 3])
def test_shape_trials_keep_the_equally_fast_shape_that_trains_best(
        trained, tmp_path: Path, monkeypatch, trials: int) -> None:
    """Every shape the fold search measures folds to one FPS here (a stand-in for FINN in the
    search only), so they all tie: with prune.shape_trials the step fine-tunes up to that many
    of them and keeps the lowest training loss; the model it returns is that trial's (the
    fine-tune run again in place gives the same weights). Without, the search's own pick."""
    from codesign.boards import load_board
    from codesign.prune import measure
    from codesign.prune.profile import LayerHardware
    from codesign.prune.trials import training_loss

    def fake(model, scores, counts, input_shape, board, workdir):
        mh, mw = counts["features.3"], counts["features.0"]
        slowest = LayerHardware(layer="features.3", node="MVAU_1", pe=1, simd=1, mh=mh, mw=mw,
                                cycles=mh * mw, macs=mh * mw, lut=1.0, bram_18k=0.0, uram=0.0,
                                dsp=0.0)
        return 1000.0, (slowest,), frozenset({"features.3"})

    monkeypatch.setattr(measure, "measure_counts", fake)
    model, data = trained
    settings = PruneConfig(criterion="l1", target_sparsity=0.4, steps=1, finetune_epochs=1,
                           final_epochs=0, fold_search=1, shape_trials=trials)
    pruned = copy.deepcopy(model)
    result = prune_model(pruned, data, load_board("pynq-z1"), settings,
                         TrainConfig(epochs=1, batch_size=64, lr=0.02), workdir=tmp_path / "run",
                         progress=False)
    search = result.final.search
    assert search is not None and len(search["ties"]) > 1
    if not trials:
        assert "trials" not in search and result.final.counts == search["chosen"]
        return
    tried = search["trials"]
    assert [t["counts"] for t in tried] == search["ties"][:trials]
    best = min(tried, key=lambda t: t["train_loss"])
    assert result.final.counts == best["counts"]
    assert training_loss(pruned, data) == pytest.approx(best["train_loss"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("batches", [8, 64])
def test_the_step_ranks_by_taylor_over_its_batches(trained, tmp_path: Path, batches: int) -> None:
    """`prune.taylor_batches` is what the step's Taylor estimate averages: the step keeps the
    channels that estimate ranks highest at its counts, and not those of the other count."""
    from codesign.boards import load_board
    from codesign.prune import keep_top, prune_channels

    model, data = trained
    settings = PruneConfig(criterion="taylor", taylor_batches=batches, target_sparsity=0.4,
                           steps=1, finetune_epochs=0, final_epochs=0, fold_search=0)
    pruned = copy.deepcopy(model)
    result = prune_model(pruned, data, load_board("pynq-z1"), settings,
                         TrainConfig(epochs=1, batch_size=64, lr=0.02), workdir=tmp_path / "run",
                         seed=0, progress=False)

    def cut_with(taylor_batches: int) -> dict[str, torch.Tensor]:
        replay = copy.deepcopy(model)
        groups = channel_groups(replay, data.input_shape)
        scores = channel_importance(replay, groups, "taylor", (data.x_train, data.y_train),
                                    seed=1, batches=taylor_batches)
        prune_channels(replay, keep_top(scores, result.final.counts), data.input_shape)
        return replay.state_dict()

    def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    assert same(pruned.state_dict(), cut_with(batches))
    assert not same(pruned.state_dict(), cut_with(72 - batches))


@pytest.mark.slow
def test_the_sensitivity_setting_weighs_the_allocation_without_scores_passed(
        trained, tmp_path: Path) -> None:
    """`prune.sensitivity` on and no weights given: prune_model runs the sensitivity analysis
    itself (as the flow's prune stage does before calling it), so every caller of the schedule
    honours the setting; the cut equals the one with those weights passed in."""
    from codesign.boards import load_board
    from codesign.prune.sensitivity import layer_sensitivity

    model, data = trained
    board = load_board("pynq-z1")
    settings = PruneConfig(criterion="l1", target_sparsity=0.5, steps=1, finetune_epochs=0,
                           final_epochs=0, fold_search=0, sensitivity=True)
    train = TrainConfig(epochs=1, batch_size=64, lr=0.02)
    weights = layer_sensitivity(copy.deepcopy(model), data, "l1", seed=3).scores()
    found = prune_model(copy.deepcopy(model), data, board, settings, train,
                        workdir=tmp_path / "found", seed=3, progress=False)
    given = prune_model(copy.deepcopy(model), data, board, settings, train,
                        workdir=tmp_path / "given", seed=3, sensitivity=weights, progress=False)
    assert found.sensitivity == pytest.approx(weights)
    assert found.final.counts == given.final.counts
    plain = prune_model(copy.deepcopy(model), data, board,
                        dataclasses.replace(settings, sensitivity=False), train,
                        workdir=tmp_path / "plain", seed=3, progress=False)
    assert plain.sensitivity is None


@pytest.mark.slow
def test_sensitivity_weights_cut_no_layer_past_what_the_analysis_measured(
        trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer the weights rate nearly free is cut no deeper than the analysis measured (75 %
    of its channels; past that its score says nothing), and the MACs come from elsewhere;
    without that reach the same weights take it deeper. A target the reach leaves out of
    range stops before the first step, saying so."""
    from codesign.boards import load_board
    from codesign.prune import schedule

    model, data = trained
    groups = channel_groups(model, data.input_shape)
    cheap = groups[-1].name  # the 32-channel hidden layer
    weights = {g.name: 0.05 if g.name == cheap else 20.0 for g in groups}
    settings = PruneConfig(criterion="l1", target_sparsity=0.5, steps=1, finetune_epochs=0,
                           final_epochs=0, fold_search=0, align=False)

    def kept(target: float, run: str) -> dict[str, int]:
        result = prune_model(copy.deepcopy(model), data, load_board("pynq-z1"),
                             dataclasses.replace(settings, target_sparsity=target),
                             TrainConfig(epochs=1, batch_size=64, lr=0.02),
                             workdir=tmp_path / run, sensitivity=weights, progress=False)
        assert result.budget_met, result.budget_note
        return result.final.counts

    least = {g.name: g.channels // 4 for g in groups}
    within = kept(0.5, "within")
    assert all(within[n] >= least[n] for n in least), within
    assert within[cheap] == least[cheap]  # cut to the reach, the rest from the other layer
    with pytest.raises(PruneError, match=r"sensitivity weights' reach \(no layer loses more "
                                         r"than the 75% they measured\)"):
        kept(0.9, "out-of-reach")
    monkeypatch.setattr(schedule, "SENSITIVITY_REACH", 1.0)
    assert kept(0.5, "unbounded")[cheap] < least[cheap]
