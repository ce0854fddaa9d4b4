"""Graph rewrites codesign adds to FINN's own, in qonnx's Transformation contract.

FINN's streamlining leaves a layout Transpose behind an input quantizer: a model whose first
layer is a quantized identity (as Brevitas's own examples write 1-D and keyword-spotting nets)
thresholds the raw input in NCHW and only then transposes to FINN's NHWC, so the Transpose lands
inside the accelerator, where FINN has no layer for it. Thresholding is elementwise, so the
Transpose can go first; it then runs on the host, as it does for every other FINN CNN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

NCHW_TO_NHWC = [0, 2, 3, 1]


class MoveInputTransposeBeforeThresholds(Transformation):
    """global_in -> MultiThreshold -> Transpose(NCHW->NHWC) becomes
    global_in -> Transpose -> MultiThreshold(NHWC)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        graph_input = model.graph.input[0].name
        for node in model.find_consumers(graph_input) or []:
            transpose = self._movable(model, node)
            if transpose is None:
                continue
            data, thresholded, transposed = node.input[0], node.output[0], transpose.output[0]
            transpose.input[0], transpose.output[0] = data, thresholded
            node.input[0], node.output[0] = thresholded, transposed
            getCustomOp(node).set_nodeattr("data_layout", "NHWC")
            model.set_tensor_shape(thresholded, model.get_tensor_shape(transposed))
            model.set_tensor_datatype(thresholded, model.get_tensor_datatype(data))
            nodes = model.graph.node
            nodes.remove(transpose)
            nodes.insert(list(nodes).index(node), transpose)  # keep the graph sorted
            return model, True
        return model, False

    @staticmethod
    def _movable(model: ModelWrapper, node: object) -> object | None:
        """The Transpose after `node` if the swap keeps the result, else None."""
        if node.op_type != "MultiThreshold":
            return None
        consumers = model.find_consumers(node.output[0]) or []
        if len(consumers) != 1 or consumers[0].op_type != "Transpose":
            return None
        transpose = consumers[0]
        if list(get_by_name(transpose.attribute, "perm").ints) != NCHW_TO_NHWC:
            return None
        # Per-tensor thresholds commute with any transpose; per-channel ones only when they
        # were laid out on axis 1 (NCHW), which NHWC then names as the last axis.
        per_tensor = model.get_initializer(node.input[1]).shape[0] == 1
        if not per_tensor and getCustomOp(node).get_nodeattr("data_layout") != "NCHW":
            return None
        return transpose


class CompletePoolDilations(Transformation):
    """qonnx's Change3DTo4DTensors gives a 1-D pool a 2-D kernel, strides and pads but keeps its
    1-D `dilations`, which ONNX (and the float64 reference execution) rejects: extend them with
    the new axis, like the kernel's (length as H, W = 1)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            if node.op_type not in ("MaxPool", "AveragePool"):
                continue
            kernel = get_by_name(node.attribute, "kernel_shape")
            dilations = get_by_name(node.attribute, "dilations")
            if kernel is not None and dilations is not None and len(dilations.ints) < len(kernel.ints):
                dilations.ints.extend([1] * (len(kernel.ints) - len(dilations.ints)))
                changed = True
        return model, changed
