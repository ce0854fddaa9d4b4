"""Brevitas's own MobileNet-v1 (the model finn-examples deploys) and ProxylessNAS, tiny: their
coupled groups, surgery exactly equal to zeroing the removed channels (per-channel activation
scales and the shared residual quantizer included), and, pruned or not, a FINN build of hardware
layers only that verifies bit-exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.export import export_qonnx
from codesign.finn import compile_to_hw, verify_against
from codesign.finn.plan import fold_for_board
from codesign.flow import reference_outputs
from codesign.prune import channel_counts, channel_groups, prune_channels
from tests.prune.brevitas_imagenet import MODELS, brevitas_model
from tests.prune.test_coupled import _removal_and_reference

pytestmark = pytest.mark.usefixtures("single_thread")
MOBILENET = [  # producers, depthwise followers, consumers
    (("features.init_block.conv",), ("features.stage1.unit1.dw_conv.conv",),
     ("features.stage1.unit1.pw_conv.conv",)),
    (("features.stage1.unit1.pw_conv.conv",), ("features.stage2.unit1.dw_conv.conv",),
     ("features.stage2.unit1.pw_conv.conv",)),
    (("features.stage2.unit1.pw_conv.conv",), ("features.stage2.unit2.dw_conv.conv",),
     ("features.stage2.unit2.pw_conv.conv",)),
    (("features.stage2.unit2.pw_conv.conv",), (), ("output",)),
]
PROXYLESS = [
    (("features.init_block.conv",), ("features.stage1.unit1.body.dw_conv.conv",),
     ("features.stage1.unit1.body.pw_conv.conv",)),
    # the residual stream: both units' pointwise convs write into it
    (("features.stage1.unit1.body.pw_conv.conv", "features.stage1.unit2.body.pw_conv.conv"), (),
     ("features.stage1.unit2.body.bc_conv.conv", "features.final_block.conv")),
    (("features.stage1.unit2.body.bc_conv.conv",), ("features.stage1.unit2.body.dw_conv.conv",),
     ("features.stage1.unit2.body.pw_conv.conv",)),
    (("features.final_block.conv",), (), ("output",)),
]


@pytest.mark.parametrize(("name", "expected"), [("mobilenet-v1", MOBILENET),
                                                ("proxylessnas", PROXYLESS)])
def test_groups(name: str, expected: list) -> None:
    model, shape = brevitas_model(name)
    groups = channel_groups(model, shape)
    assert [(g.producers, g.depthwise, g.consumers) for g in groups] == expected
    if name == "proxylessnas":  # the stage's one QuantIdentity follows the stream once
        stream = groups[1]
        assert stream.followers.count("features.stage1.unit1.body.pw_conv.activ") == 1
        stage = model.features.stage1
        assert stage.unit1.body.pw_conv.activ is stage.unit2.shared_act


def _pruned(name: str) -> tuple[torch.nn.Module, torch.nn.Module, tuple[int, ...]]:
    model, shape = brevitas_model(name)
    removed, reference = _removal_and_reference(model, shape)
    keep = {g.name: [c for c in range(g.channels) if c not in removed[g.name]]
            for g in channel_groups(model, shape)}
    prune_channels(model, keep, shape)
    assert channel_counts(model, shape) == {k: len(v) for k, v in keep.items()}
    return model, reference, shape


@pytest.mark.parametrize("name", sorted(MODELS))
def test_pruning_equals_zeroing_the_removed_channels(name: str) -> None:
    model, reference, shape = _pruned(name)
    x = torch.randint(0, 256, (16, *shape)).float()
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0
    assert float((got - expected).abs().max()) <= 1e-4
    for module in model.modules():  # every per-channel activation scale was cut with its group
        value = getattr(module, "value", None)
        if isinstance(value, torch.nn.Parameter) and value.dim() == 4 and value.shape[1] > 1:
            owner_channels = value.shape[1]
            assert owner_channels in set(channel_counts(model, shape).values())


def _hardware_ops(hw) -> list[str]:  # noqa: ANN001 - codesign.finn.HWGraph
    return [n.op_type.rsplit("_", 1)[0] for n in hw.model.graph.node]


@pytest.mark.slow
@pytest.mark.parametrize("pruned", [False, True], ids=["unpruned", "pruned"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_builds_to_hardware_layers_and_verifies_bit_exactly(name: str, pruned: bool,
                                                          tmp_path: Path) -> None:
    """A per-channel activation scale in front of a depthwise conv moves past it into the
    next thresholds (it left an Im2Col without hardware before)."""
    from codesign.boards import load_board

    if pruned:
        model, _, shape = _pruned(name)
    else:
        model, shape = brevitas_model(name)
    board = load_board("pynq-z2")
    hw = compile_to_hw(export_qonnx(model, shape, tmp_path / "model.onnx"), part=board.part,
                       clock_mhz=board.clock_mhz, workdir=tmp_path / "finn")
    ops = _hardware_ops(hw)
    assert "VVAU" in ops and "Pool" in ops, ops
    if name == "proxylessnas":
        assert "DuplicateStreams" in ops and "ElementwiseAdd" in ops, ops
    head, tail = hw.software_nodes()
    assert set(head) <= {"Transpose"} and set(tail) <= {"Mul", "Add"}, (head, tail)
    x = np.random.default_rng(0).integers(0, 256, (8, *shape)).astype(np.float32)
    x[0], x[1] = 0, 255
    folded = fold_for_board(hw, board, "maximize")[0]
    check = verify_against(folded, x, reference_outputs(model, x))
    assert check.passed and check.matched == len(x), check.details
