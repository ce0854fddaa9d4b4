from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_models import CLOCK_MHZ, PART, build_cnv, build_mlp, calibrate, export, make_case

from codesign.errors import ConfigError, ModelError
from codesign.finn import HWGraph, apply_setfolding, compile_to_hw, estimate, verify_against

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("name", "mvau_rtl", "expected_ops", "head", "tail"), [
    ("mlp", False, {"MVAU_hls"}, ["Flatten"], ["Mul"]),
    ("mlp", True, {"MVAU_rtl", "Thresholding_rtl"}, ["Flatten"], ["Mul"]),
    ("cnn", False, {"ConvolutionInputGenerator_rtl", "MVAU_hls", "Pool_hls"}, ["Transpose"], ["Mul"]),
    ("cnn", True, {"ConvolutionInputGenerator_rtl", "MVAU_rtl", "Thresholding_rtl", "Pool_hls"},
     ["Transpose"], ["Mul"]),
    ("mlp_topk", False, {"MVAU_hls", "LabelSelect_hls"}, ["Flatten"], []),
    ("cnn_topk", False, {"ConvolutionInputGenerator_rtl", "MVAU_hls", "Pool_hls", "LabelSelect_hls"},
     ["Transpose"], []),
])
def test_every_layer_becomes_a_specialised_hw_layer(compiled: Any, name: str, mvau_rtl: bool,
                                                     expected_ops: set[str], head: list[str],
                                                     tail: list[str]) -> None:
    hw: HWGraph = compiled(name, mvau_rtl)
    ops = [node.op_type for node in hw.model.graph.node]
    assert set(ops) == expected_ops
    assert all(node.domain in ("finn.custom_op.fpgadataflow.hls", "finn.custom_op.fpgadataflow.rtl")
               for node in hw.model.graph.node)
    assert ops.count("MVAU_rtl" if mvau_rtl else "MVAU_hls") == 3  # two hidden layers + classifier
    assert hw.software_nodes() == (head, tail)
    assert (hw.part, hw.clock_mhz) == (PART, CLOCK_MHZ)
    assert json.loads(json.dumps(hw.to_dict()))["layers"][0]["name"] == hw.model.graph.node[0].name


def test_first_layer_consumes_the_uint8_pixels_directly(compiled: Any) -> None:
    # The x/255 scale is streamlined into the thresholds: no float op before the accelerator.
    for name in ("mlp", "cnn"):
        hw = compiled(name)
        first = hw.model.graph.node[0]
        assert str(hw.model.get_tensor_datatype(first.input[0])) == "UINT8"


def test_intermediate_graphs_are_saved_and_parent_points_at_the_partition(
        tiny_cases: Any, tmp_path: Path) -> None:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    hw = compile_to_hw(tiny_cases["cnn"].onnx, part=PART, clock_mhz=CLOCK_MHZ, workdir=tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.onnx"))
    assert names == ["01_qonnx_to_finn.onnx", "02_streamline.onnx", "03_convert_to_hw.onnx",
                     "04_dataflow_parent.onnx", "05_partition_specialised.onnx"]
    parent = ModelWrapper(str(tmp_path / "04_dataflow_parent.onnx"))
    sdp = parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]
    saved = ModelWrapper(getCustomOp(sdp).get_nodeattr("model"))
    assert [n.op_type for n in saved.graph.node] == [n.op_type for n in hw.model.graph.node]


def test_unsupported_layer_is_named(tmp_path: Path) -> None:
    import torch
    from torch import nn

    class WithSigmoid(nn.Module):
        """A float sigmoid between two quantized layers has no FINN hardware layer."""

        def __init__(self) -> None:
            super().__init__()
            self.body = build_mlp((1, 4, 4), hidden=(8,))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden = self.body.features[:2](x.flatten(1) * (1.0 / 255.0))
            return self.body.classifier(self.body.features[2](torch.sigmoid(hidden)))

    model = calibrate(WithSigmoid(), (1, 4, 4))
    onnx = export(model, (1, 4, 4), tmp_path / "sigmoid.onnx")
    with pytest.raises(ModelError, match=r"Sigmoid") as info:
        compile_to_hw(onnx, part=PART, clock_mhz=CLOCK_MHZ, workdir=tmp_path / "work")
    assert "node " in str(info.value)


def test_missing_file_and_bad_clock(tmp_path: Path, tiny_cases: Any) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        compile_to_hw(tmp_path / "nope.onnx", part=PART, clock_mhz=CLOCK_MHZ, workdir=tmp_path)
    with pytest.raises(ConfigError, match="clock_mhz"):
        compile_to_hw(tiny_cases["mlp"].onnx, part=PART, clock_mhz=0, workdir=tmp_path)
    with pytest.raises(ConfigError, match="not an AMD/Xilinx part"):
        compile_to_hw(tiny_cases["mlp"].onnx, part="zynq", clock_mhz=CLOCK_MHZ, workdir=tmp_path)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        compile_to_hw(tmp_path / "broken.onnx", part=PART, clock_mhz=CLOCK_MHZ, workdir=tmp_path)


def test_finn_cnv_topology_maps_to_hardware_and_is_bit_exact(tmp_path: Path) -> None:
    """The acceptance model: CNV W2A2 on 3x32x32 (compile to estimates takes ~11-17 s here)."""
    case = make_case("cnv", lambda shape, bits: build_cnv(shape, bits=bits), (3, 32, 32), tmp_path,
                     batches=2, samples=3)
    hw = compile_to_hw(case.onnx, part="xczu7ev-ffvc1156-2-e", clock_mhz=200.0,
                       workdir=tmp_path / "work")
    ops = [node.op_type for node in hw.model.graph.node]
    assert ops.count("MVAU_hls") == 9  # six convs, two hidden FCs, the classifier
    assert ops.count("Pool_hls") == 2
    assert ops.count("ConvolutionInputGenerator_rtl") == 8  # one per conv and per pool
    assert hw.software_nodes() == (["Transpose"], ["Mul"])
    est = estimate(apply_setfolding(hw, target_fps=3000))
    assert est.fps >= 3000
    assert est.macs == sum(layer.macs for layer in est.layers) > 50_000_000
    result = verify_against(hw, case.x, case.expected)
    assert result.passed, result.details
