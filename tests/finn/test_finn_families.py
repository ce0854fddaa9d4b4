"""Residual and depthwise-separable networks through the FINN boundary: the fork becomes
DuplicateStreams, the join ElementwiseAdd, the depthwise conv a VVAU; every graph is bit-exact
(SetFolding and codesign's folding), its estimates are FINN's own, the optimizer folds the join and
never trails FINN's best fitting SetFolding; a join on two different scales is one clear error."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from family_models import SHAPE, depthwise, resnet
from tiny_models import assert_estimates_are_finns

from codesign.boards import load_board
from codesign.errors import ModelError
from codesign.export import export_qonnx
from codesign.finn import apply_setfolding, compile_to_hw, verify_against
from codesign.finn.baseline import SetFoldingSweep
from codesign.finn.plan import fold_for_board
from codesign.flow import reference_outputs

pytestmark = pytest.mark.slow
MODELS = {"resnet-identity": partial(resnet, projection=False),
          "resnet-projection": partial(resnet, projection=True), "depthwise": depthwise}
EXPECTED_OPS = {"resnet-identity": ("DuplicateStreams", "ElementwiseAdd"),
                "resnet-projection": ("DuplicateStreams", "ElementwiseAdd"),
                "depthwise": ("VVAU",)}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path, Any]]:
    board = load_board("pynq-z2")
    out = {}
    for name, make in MODELS.items():
        work = tmp_path_factory.mktemp(name)
        model = make()
        onnx = export_qonnx(model, SHAPE, work / "model.onnx")
        out[name] = (model, onnx, compile_to_hw(onnx, part=board.part,
                                                clock_mhz=board.clock_mhz, workdir=work / "finn"))
    return out


def _inputs(seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).integers(0, 256, (8, *SHAPE)).astype(np.float32)
    x[0], x[1] = 0, 255
    return x


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compiles_to_hardware_layers_only(compiled: dict, name: str) -> None:
    _, _, hw = compiled[name]
    ops = [n.op_type.rsplit("_", 1)[0] for n in hw.model.graph.node]
    assert all(op in ops for op in EXPECTED_OPS[name]), ops
    assert hw.software_nodes() == (["Transpose"], ["Mul"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bit_exact_with_setfolding_and_with_codesigns_folding(compiled: dict, name: str) -> None:
    model, _, hw = compiled[name]
    x = _inputs(1)
    expected = reference_outputs(model, x)
    for folded in (apply_setfolding(hw, target_fps=10_000),
                   fold_for_board(hw, load_board("pynq-z2"), "maximize")[0]):
        check = verify_against(folded, x, expected)
        assert check.passed and check.matched == len(x), check.details


@pytest.mark.parametrize("name", sorted(MODELS))
def test_estimates_equal_finn_analyses(compiled: dict, name: str) -> None:
    assert_estimates_are_finns(apply_setfolding(compiled[name][2], target_fps=20_000))


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("board_name", ["pynq-z2", "ultra96-v2", "zcu104"])
def test_optimizer_never_trails_setfolding(compiled: dict, name: str, board_name: str,
                                           tmp_path: Path) -> None:
    board = load_board(board_name)
    hw = compile_to_hw(compiled[name][1], part=board.part, clock_mhz=board.clock_mhz,
                       workdir=tmp_path)
    folded, plan, report = fold_for_board(hw, board, "maximize")
    baseline = SetFoldingSweep(hw, board.host_io).best_fitting(board.budget())  # both as built
    assert plan.feasible and (baseline is None or report.fps >= baseline.fps * (1 - 1e-9))
    if name.startswith("resnet"):  # the join is folded too, not left at one lane
        join = next(n for n in folded.model.graph.node if n.op_type.startswith("ElementwiseAdd"))
        from qonnx.custom_op.registry import getCustomOp

        assert getCustomOp(join).get_nodeattr("PE") > 1


def test_a_join_on_two_scales_is_one_clear_error(tmp_path: Path) -> None:
    onnx = export_qonnx(resnet(unshared=True), SHAPE, tmp_path / "model.onnx")
    with pytest.raises(ModelError, match=r"residual join \S+ \(from module layer1\.0\) adds "
                                         r"operands on different quantization scales.*one "
                                         r"shared Brevitas quantizer"):
        compile_to_hw(onnx, part="xc7z020clg400-1", clock_mhz=100.0, workdir=tmp_path / "finn")
