from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from codesign.errors import ModelError
from codesign.export import check_export, export_qonnx
from codesign.models import build_model
from codesign.train import predict

SHAPE = (1, 12, 12)
# Small enough to export in about a second, yet with every layer kind the zoo uses: conv,
# max-pool, a flatten from a 2x2 map into an FC layer, FC, bipolar/ReLU activations.
SMALL = {"mlp": {"hidden": [24, 16]}, "cnv": {"channels": [4, 8, 8], "fc": [16]},
         "resnet": {"preset": "resnet-small", "final_pool": "global"}}


pytestmark = pytest.mark.usefixtures("single_thread")


def _calibrated_model(arch: str, wbits: int, abits: int) -> nn.Module:
    """A zoo model whose BatchNorm statistics and activation scales match its inputs, so the
    logits are non-trivial (an untrained model with default statistics outputs mostly zeros)."""
    torch.manual_seed(0)
    model = build_model(arch, input_shape=SHAPE, num_classes=5, weight_bits=wbits,
                        act_bits=abits, **SMALL[arch])
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # cumulative average: exact statistics after few batches
    model.train()
    with torch.no_grad():
        for batch in range(4):
            model(torch.from_numpy(_images(32, seed=10 + batch).astype(np.float32)))
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                # Trained-looking affine parameters. With the defaults (bias 0) a unit whose
                # integer accumulator equals its running mean lands exactly on 0, where the
                # sign of a bipolar activation depends on float rounding (+0 vs -0).
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    return model.eval()


def _images(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Blobs of ink on a dark background, like digits: 0 dominates, bright strokes.
    base = rng.random((n, *SHAPE))
    return np.where(base > 0.6, rng.integers(100, 256, base.shape), 0).astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["mlp", "cnv"])
@pytest.mark.parametrize(("wbits", "abits"), [(1, 1), (2, 2), (4, 4)])
def test_export_matches_torch(arch: str, wbits: int, abits: int, tmp_path: Path) -> None:
    model = _calibrated_model(arch, wbits, abits)
    path = export_qonnx(model, SHAPE, tmp_path / "m.onnx")
    assert path == tmp_path / "m.onnx" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    x = _images(16, seed=1)
    logits = predict(model, x)
    assert np.abs(logits).max() > 0 and len({row.tobytes() for row in logits}) > 1
    check = check_export(model, path, x)
    assert check.samples == 16 and check.argmax_equal == 16
    assert check.passed and check.max_abs_diff < 1e-4 * max(1.0, float(np.abs(logits).max()))


@pytest.mark.slow
def test_export_check_runs_a_global_average_pool_in_float64(tmp_path: Path) -> None:
    """The check executes the graph in float64, where onnxruntime has no GlobalAveragePool."""
    model = _calibrated_model("resnet", 4, 4)
    path = export_qonnx(model, SHAPE, tmp_path / "m.onnx")
    check = check_export(model, path, _images(4, seed=1))
    assert check.passed and check.max_abs_diff < 1e-9


def test_export_graph_is_annotated_qonnx(tmp_path: Path) -> None:
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    model = build_model("mlp", input_shape=SHAPE, num_classes=5, weight_bits=2, act_bits=2,
                        hidden=[8])
    model.train()
    export_qonnx(model, SHAPE, tmp_path / "m.onnx")
    assert model.training  # the caller's mode is restored
    wrapped = ModelWrapper(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(wrapped.model)
    inp = wrapped.graph.input[0].name
    assert wrapped.get_tensor_datatype(inp) == DataType["UINT8"]
    assert wrapped.get_tensor_shape(inp) == [1, *SHAPE]
    assert wrapped.get_tensor_shape(wrapped.graph.output[0].name) == [1, 5]
    ops = [n.op_type for n in wrapped.graph.node]
    assert ops.count("Quant") >= 3 and ops.count("MatMul") == 2
    assert len({n.name for n in wrapped.graph.node}) == len(ops)  # unique names


def test_export_failure_names_the_layer(tmp_path: Path) -> None:
    model = build_model("mlp", input_shape=SHAPE, num_classes=5, weight_bits=2, act_bits=2,
                        hidden=[8])
    with pytest.raises(ModelError, match=r"layer features\.0 \(QuantLinear\).*\(1, 10, 10\)"):
        export_qonnx(model, (1, 10, 10), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []  # no half-written file


def test_check_export_detects_a_different_model(tmp_path: Path) -> None:
    model = _calibrated_model("mlp", 2, 2)
    path = export_qonnx(model, SHAPE, tmp_path / "m.onnx")
    with torch.no_grad():
        model.classifier.weight.mul_(-1.0)  # the file no longer matches the torch model
    check = check_export(model, path, _images(8, seed=2))
    assert not check.passed and check.max_abs_diff > 1e-3 and check.samples == 8


# Non-hardware nodes FINN leaves outside the dataflow partition for these models: a layout
# change of the input (NCHW->NHWC transpose, or the MLP's flatten) that the host does for free,
# and the classifier's scalar output scale (plus an offset with XNOR layers).
ALLOWED_HEAD = {"Transpose", "Flatten", "Reshape"}
ALLOWED_TAIL = {"Mul", "Add", "TopK"}


def _finn_hw_graph(onnx_path: Path, workdir: Path):
    """The path FINN's builder takes (step_qonnx_to_finn ... step_convert_to_hw), standalone
    thresholds, applied with FINN's own transformations."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
        InferBinaryMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.fm_padding import InferFMPadding
    from finn.transformation.fpgadataflow.convert_to_hw.label_select import InferLabelSelectLayer
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import (
        InferThresholdingLayer,
    )
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
        RemoveUnusedTensors,
    )
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(onnx_path)))
    model = model.transform(ConvertQONNXtoFINN())
    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
              InferDataTypes(), RemoveStaticGraphInputs()):
        model = model.transform(t)
    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(Streamline())
    if model.get_nodes_by_op_type("Conv"):
        for t in (LowerConvsToMatMul(), MakeMaxPoolNHWC(),
                  absorb.AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
                  absorb.AbsorbConsecutiveTransposes()):
            model = model.transform(t)
    for t in (ConvertBipolarMatMulToXnorPopcount(), Streamline(),
              absorb.AbsorbScalarMulAddIntoTopK(), InferDataLayouts(), RemoveUnusedTensors(),
              RoundAndClipThresholds()):
        model = model.transform(t)
    for t in (InferThresholdingLayer(), InferBinaryMatrixVectorActivation(),
              InferQuantizedMatrixVectorActivation(), InferLabelSelectLayer(),
              InferThresholdingLayer(), InferFMPadding(), InferPool(), InferConvInpGen(),
              absorb.AbsorbConsecutiveTransposes(), RemoveCNVtoFCFlatten(),
              GiveUniqueNodeNames(), InferDataLayouts(), InferDataTypes(), InferShapes()):
        model = model.transform(t)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["mlp", "cnv"])
@pytest.mark.parametrize(("wbits", "abits"), [(1, 1), (2, 2)])
def test_finn_turns_every_layer_into_hardware(
    arch: str, wbits: int, abits: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("finn")
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    from finn.transformation.fpgadataflow.create_dataflow_partition import (
        CreateDataflowPartition,
    )
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.custom_op.registry import getCustomOp

    model = _calibrated_model(arch, wbits, abits)
    hw = _finn_hw_graph(export_qonnx(model, SHAPE, tmp_path / "m.onnx"), tmp_path)
    ops = [n.op_type for n in hw.graph.node]
    assert "MVAU" in ops and "Thresholding" in ops
    if arch == "cnv":
        assert {"ConvolutionInputGenerator", "Pool"} <= set(ops)

    # The abstract HW layers execute in Python and must reproduce the Brevitas model exactly.
    x = _images(4, seed=3)
    expected = predict(model, x)
    name_in, name_out = hw.graph.input[0].name, hw.graph.output[0].name
    for i in range(len(x)):
        got = execute_onnx(hw, {name_in: x[i: i + 1].astype(np.float32)})[name_out]
        np.testing.assert_allclose(got[0], expected[i], rtol=1e-5, atol=1e-5)

    parent = hw.transform(CreateDataflowPartition(partition_model_dir=str(tmp_path / "part")))
    parent_ops = [n.op_type for n in parent.graph.node]
    assert parent_ops.count("StreamingDataflowPartition") == 1, parent_ops
    split = parent_ops.index("StreamingDataflowPartition")
    assert set(parent_ops[:split]) <= ALLOWED_HEAD, parent_ops
    assert set(parent_ops[split + 1:]) <= ALLOWED_TAIL, parent_ops
    sdp = getCustomOp(parent.get_nodes_by_op_type("StreamingDataflowPartition")[0])
    dataflow = ModelWrapper(sdp.get_nodeattr("model"))
    assert dataflow.graph.node and all(
        n.domain == "finn.custom_op.fpgadataflow" for n in dataflow.graph.node
    ), [(n.op_type, n.domain) for n in dataflow.graph.node]
    assert dataflow.get_tensor_datatype(dataflow.graph.input[0].name).name == "UINT8"
