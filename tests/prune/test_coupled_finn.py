"""After coupled-group surgery the residual, depthwise-separable and 1-D models (zoo, and a
user's 1-D residual network) still export, compile through codesign's FINN path (forks, joins
and VVAUs at the kept widths) and verify bit-exactly against the pruned Brevitas model (small
geometry: 2-22 s per model here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.export import export_qonnx
from codesign.finn import apply_setfolding, compile_to_hw, verify_against
from codesign.flow import reference_outputs
from codesign.prune import channel_counts, channel_groups, prune_channels
from tests.prune.families import FAMILIES, FINN_QUANT, family_model
from tests.prune.test_coupled import _removal_and_reference

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_thread")]
JOINS = {"resnet": ("DuplicateStreams", "ElementwiseAdd"), "mobilenet": ("VVAU",), "cnn1d": (),
         "residual1d": ("DuplicateStreams", "ElementwiseAdd")}


def _attr(node, name: str):  # noqa: ANN001, ANN202 - an onnx NodeProto
    from qonnx.custom_op.registry import getCustomOp

    return getCustomOp(node).get_nodeattr(name)


@pytest.mark.parametrize("quant", FINN_QUANT)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pruned_groups_compile_and_verify_bit_exactly(family: str, quant: str,
                                                     tmp_path: Path) -> None:
    model, shape = family_model(family, quant)
    removed, _ = _removal_and_reference(model, shape)
    groups = channel_groups(model, shape)
    prune_channels(model, {g.name: [c for c in range(g.channels) if c not in removed[g.name]]
                           for g in groups}, shape)
    counts = channel_counts(model, shape)
    assert all(counts[g.name] < g.channels for g in groups)
    hw = compile_to_hw(export_qonnx(model, shape, tmp_path / "model.onnx"),
                       part="xc7z020clg400-1", clock_mhz=100.0, workdir=tmp_path / "finn")
    nodes = hw.model.graph.node
    ops = [n.op_type.rsplit("_", 1)[0] for n in nodes]
    assert all(op in ops for op in JOINS[family]), ops
    coupled = {counts[g.name] for g in groups if len(g.producers) > 1 or g.depthwise}
    for node in nodes:
        op = node.op_type.rsplit("_", 1)[0]
        if op == "VVAU":
            assert _attr(node, "Channels") in coupled
        elif op == "DuplicateStreams":
            assert _attr(node, "NumChannels") in coupled
        elif op == "ElementwiseAdd":
            assert _attr(node, "lhs_shape")[-1] in coupled
    x = np.random.default_rng(0).integers(0, 256, (8, *shape)).astype(np.float32)
    x[0], x[1] = 0, 255
    check = verify_against(apply_setfolding(hw, target_fps=10_000), x,
                           reference_outputs(model, x))
    assert check.passed and check.matched == len(x), check.details


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_profile_charges_joins_and_vvaus_and_the_granularity_keeps_them_legal(
        family: str, tmp_path: Path) -> None:
    from codesign.boards import load_board
    from codesign.prune import weight_layers
    from codesign.prune.alignment import alignments
    from codesign.prune.profile import hardware_profile, layer_dims
    from tests.prune.test_profile import assert_counts_fold

    model, shape = family_model(family, "per-tensor")
    names = weight_layers(model, shape)
    profile = hardware_profile(model, shape, names, load_board("pynq-z2"), workdir=tmp_path)
    est = profile.estimates
    assert [x.layer for x in profile.layers] == list(names)
    assert {x.layer: (x.mh, x.mw) for x in profile.layers} == layer_dims(model, names)
    assert sorted(n for x in profile.layers for n in x.nodes) == sorted(n.name for n in est.layers)
    assert sum(x.lut for x in profile.layers) == pytest.approx(est.totals["LUT"])
    assert_counts_fold(alignments(channel_groups(model, shape), profile))
