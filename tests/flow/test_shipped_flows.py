"""Shipped flows of the network families meet the accuracy floor their flow file states; the
pruned family flows are where their header says pruning can buy FPS."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow import run_flow

ROOT = Path(__file__).resolve().parents[2]
# flow file -> the floor stated in its header comment
FLOORS = {"flows/cnn1d_w2a2_mnist5k_rows.yaml": 0.93, "flows/dscnn_w4a4_fashion.yaml": 0.74,
          "flows/resnet8_w4a4_fashion.yaml": 0.78}
# Pruned family flows: their floors are measured by benchmarks/pruning_families.py (3 seeds,
# ~10 min a seed here); a whole run each would add ~10 min to the suite, so the suite checks
# the premise of their header instead: compute-bound on their board, and the LUT cap binds.
PRUNED_FAMILY_FLOWS = ("flows/dscnn_w4a4_fashion_pruned.yaml",
                       "flows/dscnn_w4a4_fashion_pruned_kv260.yaml",
                       "flows/resnet8_w4a4_fashion_pruned.yaml",
                       "flows/user_res1d_w4a4_fashion_rows_pruned.yaml")


@pytest.mark.slow
@pytest.mark.parametrize("flow_file", sorted(FLOORS))
def test_shipped_family_flow_meets_its_floor(flow_file: str, tmp_path: Path) -> None:
    path = ROOT / flow_file
    assert f"{FLOORS[flow_file]:.0%}".rstrip("%") in path.read_text()  # the file states it
    flow = load_flow(path)
    # FINN's SetFolding sweep beside codesign's folding (~110 s of ResNet-8's ~240 s here) shows
    # in the report only: the floor, the verification and the fit do not depend on it
    flow = flow.replace(folding=dataclasses.replace(flow.folding, compare_setfolding=False))
    result = run_flow(flow, load_board(flow.board), tmp_path / "run", progress=False).result
    assert result.accuracy.test_top1 >= FLOORS[flow_file]
    assert result.accelerator.verification.passed and result.accelerator.fit.fits


@pytest.mark.slow
@pytest.mark.parametrize("flow_file", PRUNED_FAMILY_FLOWS)
def test_pruned_family_flow_is_compute_bound_and_lut_capped(flow_file: str,
                                                            tmp_path: Path) -> None:
    """The unpruned model's best folding within the board's caps is bound by compute, not the
    host I/O, and more LUTs would buy a faster folding: fewer channels can buy FPS."""
    from codesign.flow.run import flow_board
    from codesign.flow.stages import build_flow_model, load_flow_data
    from codesign.prune import weight_layers
    from codesign.prune.profile import compile_model, fold_profile, layer_dims

    flow = load_flow(ROOT / flow_file)
    assert flow.prune is not None
    flow = flow.replace(dataset=dataclasses.replace(flow.dataset, limit_train=100,
                                                    limit_test=100))
    board = flow_board(flow, load_board(flow.board))
    data = load_flow_data(flow)
    model = build_flow_model(flow, data)
    names = weight_layers(model, data.input_shape)
    hw = compile_model(model, data.input_shape, board, tmp_path)
    capped = fold_profile(hw, names, board, dims=layer_dims(model, names))
    uncapped = fold_profile(hw, names, board.with_caps(LUT=1.0), dims=layer_dims(model, names))
    assert capped.estimates.bound == "compute"
    assert capped.estimates.io_fps > 5 * capped.fps  # room for pruning to buy FPS
    assert uncapped.fps > capped.fps


@pytest.mark.slow
def test_pruned_1d_flow_takes_the_design_to_the_host_io_bound(tmp_path: Path) -> None:
    """The pruned 1-D flow's premise (its header): the unpruned model is compute-bound on
    Pynq-Z2, and the pruned one reaches the shell's host I/O bound, at or above its floor and
    bit-exact. The whole flow runs (~1 min here)."""
    path = ROOT / "flows/cnn1d_w4a4_fashion_rows_pruned.yaml"
    floor = 0.77
    assert f"Accuracy floor: {round(100 * floor)} %" in path.read_text()  # the file states it
    flow = load_flow(path)
    flow = flow.replace(folding=dataclasses.replace(flow.folding, compare_setfolding=False))
    result = run_flow(flow, load_board(flow.board), tmp_path / "run", progress=False).result
    assert result.pruning is not None
    schedule = result.pruning.result
    assert schedule.budget_met
    assert schedule.final.macs <= 0.5 * schedule.baseline.macs
    estimates = result.accelerator.estimates
    unpruned_fps = schedule.baseline.hardware.fps
    assert unpruned_fps < 0.5 * estimates.io_fps  # compute-bound, well below the I/O bound
    assert estimates.bound == "io" and estimates.fps >= 1.5 * unpruned_fps
    assert result.accuracy.test_top1 >= floor
    assert result.accelerator.verification.passed and result.accelerator.fit.fits
