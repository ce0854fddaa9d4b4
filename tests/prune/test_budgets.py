"""The schedule's budgets on a real (small) model and FINN's estimates: reach an FPS, fit the
caps, and say why when a budget cannot be met."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.boards import load_board
from codesign.config import PruneConfig, TrainConfig
from codesign.errors import PruneError
from codesign.prune.schedule import measure_hardware, prune_model

pytestmark = pytest.mark.slow
TRAIN = TrainConfig(epochs=2, batch_size=64, lr=0.02)
REFERENCE_FPS = 200_000.0


def _prune(trained, tmp_path: Path, board, **settings: object):
    import copy

    model, data = trained
    return prune_model(copy.deepcopy(model), data, board,
                       PruneConfig(criterion="l1", finetune_epochs=1, final_epochs=0, **settings),
                       TRAIN, reference_fps=REFERENCE_FPS, workdir=tmp_path, progress=False)


def test_fps_budget_prunes_until_the_board_reaches_it(trained, tmp_path: Path) -> None:
    # LUT-capped so that compute binds: at the full caps the 64-byte digits already run at the
    # DMA port's 12.5 M FPS, which no pruning can raise
    board = load_board("pynq-z1").with_caps(LUT=0.05)
    base, profile = measure_hardware(trained[0], (1, 8, 8), board, REFERENCE_FPS, tmp_path / "b")
    base_fps = base.fps
    assert profile.estimates.bound == "compute" and 1.3 * base_fps < profile.estimates.io_fps
    result = _prune(trained, tmp_path, board, budget="fps", target_fps=1.3 * base_fps, steps=4,
                    step_fraction=0.3)
    assert result.budget_met, result.budget_note
    assert result.final.hardware.fps >= 1.3 * base_fps
    assert result.final.macs < result.baseline.macs


def test_fit_budget_prunes_until_the_design_fits_the_caps(trained, tmp_path: Path) -> None:
    board = load_board("pynq-z1")
    # LUTs only (no BRAM or DSP to trade them for), then 70 % of what the unpruned model needs
    lut_only = board.with_caps(BRAM_18K=0.5 / board.resources["BRAM_18K"],
                               DSP=0.5 / board.resources["DSP"])
    point, _ = measure_hardware(trained[0], (1, 8, 8), lut_only, REFERENCE_FPS, tmp_path / "b")
    lut = point.resources_at_reference["LUT"]
    tight = lut_only.with_caps(LUT=0.7 * lut / board.resources["LUT"])
    result = _prune(trained, tmp_path, tight, budget="fit", steps=4, step_fraction=0.3)
    assert not result.baseline.hardware.fits_at_reference
    assert result.budget_met and result.final.hardware.fits_at_reference, result.budget_note
    assert result.final.hardware.resources_at_reference["LUT"] <= 0.7 * lut + 1e-6


def test_unreachable_budget_is_reported_with_the_reason(trained, tmp_path: Path) -> None:
    board = load_board("pynq-z1").with_caps(LUT=0.05)  # compute-bound, as above
    _, profile = measure_hardware(trained[0], (1, 8, 8), board, REFERENCE_FPS, tmp_path / "b")
    target = 0.99 * profile.estimates.io_fps  # below the I/O bound, far above one step's reach
    result = _prune(trained, tmp_path, board, budget="fps", target_fps=target, steps=1,
                    step_fraction=0.2)
    assert not result.budget_met
    assert "not met after 1 step" in result.budget_note and "FPS" in result.budget_note


def test_a_target_above_the_io_bound_stops_before_any_pruning(trained, tmp_path: Path) -> None:
    """No number of channels moves fewer bytes per frame through the DMA port: one line naming
    the bound and the fix, before a single fine-tune."""
    board = load_board("pynq-z1")
    _, profile = measure_hardware(trained[0], (1, 8, 8), board, REFERENCE_FPS, tmp_path / "b")
    io_fps = profile.estimates.io_fps
    with pytest.raises(PruneError, match=rf"above what Pynq-Z1's host I/O moves for this model "
                                         rf"\({io_fps:,.0f} FPS: 64 bytes in") as info:
        _prune(trained, tmp_path, board, budget="fps", target_fps=2 * io_fps, steps=1)
    assert f"at most {io_fps:,.0f}" in str(info.value) and "\n" not in str(info.value)


def test_a_model_too_big_for_the_caps_at_any_folding_is_pruned_until_it_fits(
        trained, tmp_path: Path) -> None:
    board = load_board("pynq-z1")
    lut_only = board.with_caps(BRAM_18K=0.5 / board.resources["BRAM_18K"],
                               DSP=0.5 / board.resources["DSP"])
    # far below what even the most folded unpruned design needs
    tiny = lut_only.with_caps(LUT=400 / board.resources["LUT"])
    result = _prune(trained, tmp_path, tiny, budget="fit", steps=3, step_fraction=0.5)
    assert result.baseline.hardware.fps == 0.0  # does not fit at all
    assert result.final.macs < result.baseline.macs
    assert result.budget_met == result.final.hardware.fits_at_reference
    assert "fit" in result.budget_note


@pytest.mark.parametrize("allocation", ["criterion", "uniform"])
def test_baseline_allocations_reach_the_sparsity_unaligned(trained, tmp_path: Path,
                                                           allocation: str) -> None:
    result = _prune(trained, tmp_path, load_board("pynq-z1"), budget="sparsity",
                    target_sparsity=0.4, steps=1, align=False, allocation=allocation)
    assert result.budget_met, result.budget_note
    assert 1 - result.final.macs / result.baseline.macs >= 0.4
    assert set(result.final.granularity.values()) == {1}
    assert result.final.hardware.fps > 0
    ratios = [result.final.counts[n] / c for n, c in result.baseline.counts.items()]
    if allocation == "uniform":  # one ratio for both hidden layers (64 and 32 channels)
        assert max(ratios) - min(ratios) < 0.05, result.final.counts
