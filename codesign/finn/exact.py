"""Float64 execution of the float stages of a compile (QONNX, FINN-ONNX before streamlining).

Why: executed in float32 (onnxruntime, qonnx's Quant casts its output to float32), an
activation that lands within rounding error of a quantisation boundary flips; measured on an
untrained 4-bit cnv-small, 2-3 of 20 inputs differ by up to 27 output steps between the
float64 Brevitas model, the float32 QONNX graph and the integer streamlined graph. The graph's
arithmetic is what the chain checks, so these stages run node by node in float64: standard ONNX
nodes through qonnx's single-node onnxruntime execution on a float64 copy of the graph (Conv in
numpy; nodes onnxruntime has no float64 kernel for, such as AveragePool and the global pools,
through ONNX's own reference implementation), Quant through qonnx's own
int_quant without the float32 cast, every other custom op through its qonnx implementation.

The compile itself works the same way (`float64_thresholds`): FINN derives each integer
threshold from the quantizer scale, BatchNorm and the scales it absorbs, and in float32 that
arithmetic is off by up to ~1e-6 relative (4.7e-4 on a uint8-pixel stem conv's thresholds of a
few thousand), so a threshold whose exact value lies just above an integer became that integer
after FINN's ceil, and the hardware rounded one input up that the model rounds down. Computed
in float64 and then rounded, the integer thresholds are exact; the graph goes back to float32
after rounding, where every threshold and weight is an integer."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper


def _cast(model: ModelWrapper, source: int, target: int, dtype: type) -> ModelWrapper:
    """A copy of `model` whose `source`-typed tensors and initializers are `target`-typed."""
    from onnx import numpy_helper

    model = copy.deepcopy(model)
    graph = model.graph
    for i, init in enumerate(graph.initializer):
        if init.data_type == source:
            array = numpy_helper.to_array(init).astype(dtype)
            graph.initializer[i].CopyFrom(numpy_helper.from_array(array, init.name))
    for info in (*graph.input, *graph.output, *graph.value_info):
        if info.type.tensor_type.elem_type == source:
            info.type.tensor_type.elem_type = target
    return model


def to_float64(model: ModelWrapper) -> ModelWrapper:
    """A copy of `model` whose float32 tensors and initializers are float64."""
    from onnx import TensorProto

    return _cast(model, TensorProto.FLOAT, TensorProto.DOUBLE, np.float64)


def to_float32(model: ModelWrapper) -> ModelWrapper:
    """A copy of `model` whose float64 tensors and initializers are float32 (FINN's container
    type): exact for the integer thresholds and weights of a streamlined graph."""
    from onnx import TensorProto

    return _cast(model, TensorProto.DOUBLE, TensorProto.FLOAT, np.float32)


@contextmanager
def float64_thresholds() -> Iterator[None]:
    """FINN's QONNX->FINN conversion computes each MultiThreshold in float64 and then narrows it
    to its module's `np_default_dtype` (float32); inside this block it keeps float64."""
    import finn.transformation.qonnx.qonnx_activation_handlers as handlers

    saved = handlers.np_default_dtype
    handlers.np_default_dtype = np.float64
    try:
        yield
    finally:
        handlers.np_default_dtype = saved


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, node: Any) -> np.ndarray:
    """ONNX Conv in float64, 2-D (NCHW) or 1-D (NCL, computed as a 2-D conv with H = 1)."""
    if w.ndim == 4:
        return conv2d(x, w, bias, node)
    (stride,), (dilation,) = _attr(node, "strides", [1]), _attr(node, "dilations", [1])
    begin, end = _attr(node, "pads", [0, 0])
    out = conv2d(x[:, :, None, :], w[:, :, None, :], bias, node, strides=(1, stride),
                 dilations=(1, dilation), pads=(0, begin, 0, end))
    return out[:, :, 0, :]


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, node: Any, *,
           strides: tuple[int, int] | None = None, dilations: tuple[int, int] | None = None,
           pads: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """ONNX Conv (NCHW, 2D, explicit pads, groups, strides, dilations) in float64; `strides`,
    `dilations` and `pads` override the node's attributes."""
    if _attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError(f"{node.name}: auto_pad is not supported in float64 execution")
    groups = int(_attr(node, "group", 1))
    kh, kw = w.shape[2:]
    sh, sw = strides or _attr(node, "strides", [1, 1])
    dh, dw = dilations or _attr(node, "dilations", [1, 1])
    top, left, bottom, right = pads or _attr(node, "pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    windows = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, OH, OW, kh, kw)
    cin, cout = x.shape[1] // groups, w.shape[0] // groups
    out = np.concatenate([
        np.einsum("nchwij,mcij->nmhw", windows[:, g * cin:(g + 1) * cin], w[g * cout:(g + 1) * cout])
        for g in range(groups)], axis=1)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def _quant(node: Any, context: dict[str, Any]) -> np.ndarray:
    from qonnx.custom_op.general.intquant import int_quant
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    value, scale, zeropt, bits = (context[i] for i in node.input[:4])
    return np.asarray(int_quant(value, scale, zeropt, bits, inst.get_nodeattr("signed"),
                                inst.get_nodeattr("narrow"), inst.get_nodeattr("rounding_mode")),
                      dtype=np.float64)


def _standard_node(node: Any, context: dict[str, Any], graph: Any, opset: int) -> None:
    """A standard ONNX node in float64: onnxruntime where it has a float64 kernel, else ONNX's
    own numpy reference implementation (it has none for AveragePool or GlobalAveragePool)."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as NoKernel
    from qonnx.core.onnx_exec import execute_node

    try:
        execute_node(node, context, graph, opset)
        return
    except NoKernel:
        pass
    inputs = [name for name in node.input if name]
    single = helper.make_model(
        helper.make_graph([node], "node", [helper.make_empty_tensor_value_info(n) for n in inputs],
                          [helper.make_empty_tensor_value_info(n) for n in node.output]),
        opset_imports=[helper.make_opsetid("", opset)])
    outputs = ReferenceEvaluator(single).run(None, {n: context[n] for n in inputs})
    for name, value in zip(node.output, outputs, strict=True):
        context[name] = np.asarray(value)


def execute_float64(model: ModelWrapper, sample: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of `model` (already converted by to_float64) executed on `sample`."""
    from qonnx.core.onnx_exec import execute_node
    from qonnx.util.basic import get_preferred_qonnx_opset

    context = model.make_empty_exec_context()
    context[model.graph.input[0].name] = np.asarray(sample, dtype=np.float64)
    opsets = model.get_opset_imports()
    for node in model.graph.node:
        for name in node.input:
            value = context.get(name)
            if isinstance(value, np.ndarray) and value.dtype == np.float32:
                context[name] = value.astype(np.float64)
        if node.op_type == "Conv" and node.domain in ("", "ai.onnx"):
            bias = context[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            context[node.output[0]] = conv(context[node.input[0]], context[node.input[1]], bias, node)
        elif node.op_type == "Quant" and node.domain.startswith("qonnx"):
            context[node.output[0]] = _quant(node, context)
        elif node.domain in ("", "ai.onnx"):
            _standard_node(node, context, model.graph, opsets.get(node.domain, 13))
        else:
            execute_node(node, context, model.graph, opsets.get(node.domain, get_preferred_qonnx_opset()))
        for name in node.output:
            value = context.get(name)
            if isinstance(value, np.ndarray) and value.dtype == np.float32:
                context[name] = value.astype(np.float64)
    return {k: v for k, v in context.items() if k}
