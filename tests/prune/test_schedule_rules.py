"""Schedule rules that need no training or FINN: settings checks, step fractions, budgets."""

from __future__ import annotations

import dataclasses

import pytest

from codesign.config import PruneConfig
from codesign.errors import PruneError
from codesign.prune.schedule import (
    HardwarePoint,
    StepRecord,
    _budget_status,
    _search_allowance,
    _step_fraction,
    check_settings,
    finetune,
    fold_targets,
)


def _record(step: int, macs: int, fps: float, fits: bool) -> StepRecord:
    point = HardwarePoint(fps=fps, bottleneck="features.0",
                          resources_at_reference={"LUT": 100.0} if fits else None,
                          fps_at_reference=fps if fits else None, reference_note="note")
    return StepRecord(step=step, counts={"a": 8}, granularity={"a": 1}, params=1, macs=macs,
                      bops=1, accuracy=0.9, hardware=point, seconds=0.0)


@pytest.mark.parametrize(("changes", "key"), [
    ({"target_sparsity": 1.0}, "target_sparsity"),
    ({"target_sparsity": 1.5}, "target_sparsity"),
    ({"target_sparsity": 0.0}, "target_sparsity"),
    ({"step_fraction": 1.0}, "step_fraction"),
    ({"steps": 0}, "steps"),
    ({"criterion": "random"}, "criterion"),
    ({"budget": "luts"}, "budget"),
    ({"budget": "fps"}, "target_fps"),
    ({"finetune_epochs": -1}, "finetune_epochs"),
    ({"finetune_shift_pixels": -1}, "finetune_shift_pixels"),
    ({"step_sparsity": (0.2, 0.5), "steps": 3}, "step_sparsity"),
    ({"step_sparsity": (0.3, 0.2, 0.5)}, "step_sparsity"),
    ({"step_sparsity": (0.2, 0.4, 0.45)}, "step_sparsity"),
    ({"step_sparsity": (0.0, 0.2, 0.5)}, "step_sparsity"),
    ({"step_sparsity": (0.5,), "steps": 1, "budget": "fit"}, "step_sparsity"),
    ({"step_sparsity": (), "steps": 1}, "step_sparsity"),
])
def test_bad_settings_name_the_key(changes: dict, key: str) -> None:
    with pytest.raises(PruneError, match=f"prune.{key}"):
        check_settings(dataclasses.replace(PruneConfig(), **changes))


@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_sparsity_budget_spreads_geometrically_to_the_target(steps: int) -> None:
    settings = PruneConfig(target_sparsity=0.6, steps=steps)
    macs0 = macs = 1_000_000
    for step in range(1, steps + 1):
        fraction = _step_fraction(settings, step, macs0, macs)
        assert 0 < fraction < 1
        macs = int(round(macs * (1 - fraction)))
    assert macs == pytest.approx(400_000, rel=1e-5)


def test_sparsity_budget_catches_up_after_an_undershoot_and_skips_after_overshoot() -> None:
    settings = PruneConfig(target_sparsity=0.5, steps=2)
    # Step 1 removed nothing: step 2 must remove the whole remaining half.
    assert _step_fraction(settings, 2, 1000, 1000) == pytest.approx(0.5)
    # Already below the step-1 goal: nothing to remove at step 1.
    assert _step_fraction(settings, 1, 1000, 600) == 0.0


@pytest.mark.parametrize("targets", [(0.2, 0.35, 0.5), (0.25, 0.25, 0.5), (0.5, 0.5, 0.5)])
def test_explicit_step_sparsity_is_reached_after_each_step(targets: tuple) -> None:
    settings = PruneConfig(target_sparsity=0.5, steps=3, step_sparsity=targets)
    check_settings(settings)
    macs0 = macs = 1_000_000
    for step, target in enumerate(targets, start=1):
        fraction = _step_fraction(settings, step, macs0, macs)
        assert 0 <= fraction < 1
        macs = int(round(macs * (1 - fraction)))
        assert macs == pytest.approx(macs0 * (1 - target), rel=1e-6)


def test_fps_budget_uses_the_fixed_step_fraction() -> None:
    settings = PruneConfig(budget="fps", target_fps=5000, step_fraction=0.2)
    assert _step_fraction(settings, 1, 1000, 800) == 0.2


@pytest.mark.parametrize(("settings", "last", "met"), [
    (PruneConfig(target_sparsity=0.5), _record(3, 500, 10, True), True),
    (PruneConfig(target_sparsity=0.5), _record(3, 501, 10, True), False),
    (PruneConfig(budget="fps", target_fps=2000), _record(2, 500, 2500, True), True),
    (PruneConfig(budget="fps", target_fps=2000), _record(2, 500, 1500, True), False),
    (PruneConfig(budget="fit"), _record(1, 900, 100, True), True),
    (PruneConfig(budget="fit"), _record(1, 900, 100, False), False),
])
def test_budget_status(settings: PruneConfig, last: StepRecord, met: bool) -> None:
    baseline = _record(0, 1000, 1000, False)
    ok, note = _budget_status(settings, baseline, last)
    assert ok is met
    assert note


@pytest.mark.parametrize(("budget", "setting", "expected"), [
    ("fps", None, True), ("sparsity", None, False), ("fit", None, False),
    ("sparsity", True, True), ("fps", False, False),
])
def test_folding_targets_default_to_the_fps_budget(budget: str, setting: bool | None,
                                                   expected: bool) -> None:
    settings = PruneConfig(budget=budget, target_fps=1000.0, fold_targets=setting)
    assert fold_targets(settings) is expected


@pytest.mark.parametrize(("budget", "expected"), [("fps", 0.05 * 10_000), ("sparsity", None),
                                                   ("fit", None)])
def test_the_search_allowance_is_of_the_unpruned_model_under_the_fps_budget(
        budget: str, expected: float | None) -> None:
    settings = PruneConfig(budget=budget, target_fps=1000.0)
    assert _search_allowance(settings, _record(0, 10_000, 1.0, True)) == expected


@pytest.mark.parametrize(("train_shift", "finetune_shift", "expected"),
                         [(0, None, 0), (2, None, 2), (0, 1, 1), (2, 0, 0)])
def test_finetunes_shift_as_trained_unless_the_prune_section_says(
        monkeypatch: pytest.MonkeyPatch, train_shift: int, finetune_shift: int | None,
        expected: int) -> None:
    import codesign.prune.schedule as schedule
    from codesign.config import TrainConfig

    calls: list[dict] = []
    monkeypatch.setattr(schedule, "train_model", lambda model, data, **kw: calls.append(kw))
    finetune(None, None, TrainConfig(shift_pixels=train_shift),  # type: ignore[arg-type]
             PruneConfig(finetune_shift_pixels=finetune_shift), 2, 7, False)
    assert [c["shift_pixels"] for c in calls] == [expected]
    assert calls[0]["epochs"] == 2 and calls[0]["seed"] == 7
