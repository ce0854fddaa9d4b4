"""1-D convolutional networks through the FINN boundary: a raw brevitas export of a Brevitas-
example-style 1-D net compiles (1-D sliding windows, 1-D max pool, the input quantizer's
Transpose moved to the host), is bit-exact, its estimates are FINN's own, and the optimizer folds
it within every board's caps at least as fast as FINN's best fitting SetFolding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from calibration import shifted_globally
from conv1d_models import CHANNELS, LENGTH, kws_like
from tiny_models import assert_estimates_are_finns

from codesign.boards import load_board
from codesign.errors import ModelError
from codesign.export import prepare_qonnx
from codesign.finn import apply_setfolding, compile_to_hw, verify_against

pytestmark = pytest.mark.slow
BOARDS = ("pynq-z2", "ultra96-v2", "zcu104", "u250")


def _raw_export(model: Any, path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    export_qonnx(model, torch.zeros(1, CHANNELS, LENGTH), export_path=str(path), dynamo=False)
    return path


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Any]:
    """bits -> (model, cleaned QONNX path, HW graph compiled for Pynq-Z2)."""
    board = load_board("pynq-z2")
    out = {}
    for bits in (2, 4):
        work = tmp_path_factory.mktemp(f"conv1d_w{bits}")
        model = kws_like(bits)
        onnx = prepare_qonnx(_raw_export(model, work / "raw.onnx"), work / "model.onnx")
        out[bits] = (model, onnx, compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz,
                                                workdir=work / "finn"))
    return out


def _reference(model: Any, x: np.ndarray) -> np.ndarray:
    from codesign.flow import reference_outputs

    return reference_outputs(model, x)


@pytest.mark.parametrize("bits", [2, 4])
def test_compiles_to_1d_windows_with_the_transpose_on_the_host(cases: dict, bits: int) -> None:
    _, _, hw = cases[bits]
    ops = [n.op_type for n in hw.model.graph.node]
    assert ops[0].startswith("Thresholding") and "Transpose" not in ops
    assert sum(op.startswith("ConvolutionInputGenerator") for op in ops) == 3  # 2 convs, 1 pool
    assert any(op.startswith("Pool") for op in ops)
    assert hw.software_nodes()[0] == ["Transpose"]


@pytest.mark.parametrize("bits", [2, 4])
def test_bit_exact_on_random_and_boundary_inputs(cases: dict, bits: int) -> None:
    model, _, hw = cases[bits]
    x = np.random.default_rng(bits).integers(0, 256, (8, CHANNELS, LENGTH)).astype(np.float32)
    x[0], x[1] = 0, 255
    folded = apply_setfolding(hw, target_fps=100_000)
    check = verify_against(folded, x, _reference(model, x))
    assert check.passed and check.matched == len(x), check.details


def test_estimates_equal_finn_analyses(cases: dict) -> None:
    assert_estimates_are_finns(apply_setfolding(cases[2][2], target_fps=200_000))


@pytest.mark.parametrize("board_name", BOARDS)
def test_optimizer_fits_every_board_and_never_trails_setfolding(cases: dict, board_name: str,
                                                                tmp_path: Path) -> None:
    from codesign.finn.baseline import SetFoldingSweep
    from codesign.finn.plan import fold_for_board

    board = load_board(board_name)
    hw = compile_to_hw(cases[2][1], part=board.part, clock_mhz=board.clock_mhz, workdir=tmp_path)
    folded, plan, report = fold_for_board(hw, board, "maximize")
    assert plan.feasible and report.fps > 0
    baseline = SetFoldingSweep(hw, board.host_io).best_fitting(board.budget())  # both as built
    assert baseline is None or report.fps >= baseline.fps * (1 - 1e-9)


def test_a_1d_model_with_a_2d_input_shape_names_the_layer() -> None:
    from codesign.models.user import check_input_rank

    with pytest.raises(ModelError, match=r"features\.0 \(QuantConv1d\).*C,L"):
        check_input_rank(kws_like(2), (1, 28, 28))


def _calibrated_zoo(bits: int) -> Any:
    import torch

    from codesign.models import build_model

    torch.manual_seed(bits)
    model = build_model("cnn1d", input_shape=(CHANNELS, LENGTH), num_classes=10, weight_bits=bits,
                        act_bits=bits, channels=[8, 16], fc=[16])
    return shifted_globally(model, (CHANNELS, LENGTH))


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_zoo_cnn1d_is_bit_exact_at_every_bit_width(bits: int, tmp_path: Path) -> None:
    from codesign.export import export_qonnx

    model = _calibrated_zoo(bits)
    onnx = export_qonnx(model, (CHANNELS, LENGTH), tmp_path / "model.onnx")
    hw = compile_to_hw(onnx, part="xc7z020clg400-1", clock_mhz=100.0, workdir=tmp_path / "finn")
    x = np.random.default_rng(bits).integers(0, 256, (8, CHANNELS, LENGTH)).astype(np.float32)
    x[0], x[1] = 0, 255
    check = verify_against(apply_setfolding(hw, target_fps=100_000), x, _reference(model, x))
    assert check.passed and check.matched == len(x), check.details
    assert hw.software_nodes()[0] == ["Transpose"]  # the layout change runs on the host
