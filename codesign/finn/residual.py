"""Residual graphs through FINN's streamlining: a fork becomes DuplicateStreams, a join (the
residual add) FINN's ElementwiseAdd. Streamlining must first bring both operands of every join to
integers: the scalar scale in front of a fork goes into both branches, the one scale both join
operands share (a shared Brevitas quantizer) moves past the add, and the layout Transposes that
FINN's conv lowering leaves around a fork and a join cancel once moved past them. A join whose
operands keep different scales cannot be built, and says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codesign.errors import ModelError
from codesign.finn.origin import from_module

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

RESIDUAL_ROUNDS = 3  # enough for a fork or join behind a scale, a bias and a layout change


def has_fork(model: ModelWrapper) -> bool:
    """True if a tensor feeds more than one node: a residual (or any branching) graph."""
    return any(len(model.find_consumers(t.name) or []) > 1
               for t in [*model.graph.input, *model.graph.value_info])


def streamline_residual_scales(model: ModelWrapper) -> ModelWrapper:
    """The scalar dequantisation scale in front of a fork goes into both branches, and the one
    scale both operands of a join share (a shared quantizer) moves past the Add, where the
    next thresholds absorb it."""
    import finn.transformation.streamline.reorder as reorder
    from finn.transformation.streamline import Streamline

    for _ in range(RESIDUAL_ROUNDS):
        for transformation in (reorder.MoveLinearPastFork(), reorder.MoveLinearPastEltwiseAdd(),
                               Streamline()):
            model = model.transform(transformation)
    return model


def move_residual_transposes(model: ModelWrapper) -> ModelWrapper:
    """The NHWC->NCHW layout changes in front of a fork and at both inputs of a join cancel
    against each other once moved past them."""
    import finn.transformation.streamline.absorb as absorb
    import finn.transformation.streamline.reorder as reorder
    from qonnx.transformation.general import SortGraph

    for _ in range(RESIDUAL_ROUNDS):
        for transformation in (reorder.MoveTransposePastFork(), absorb.AbsorbConsecutiveTransposes(),
                               reorder.MoveTransposePastJoinAdd(),
                               absorb.AbsorbTransposeIntoMultiThreshold(),
                               reorder.MakeMaxPoolNHWC(), absorb.AbsorbConsecutiveTransposes(),
                               SortGraph()):
            model = model.transform(transformation)
    return model


def is_join(model: ModelWrapper, node: Any) -> bool:
    """An Add of two computed tensors (not a bias): a residual join."""
    return node.op_type == "Add" and all(model.get_initializer(i) is None for i in node.input)


def integer_join(model: ModelWrapper, node: Any) -> bool:
    """A join FINN can build: both operands integers (they shared one quantizer scale)."""
    return is_join(model, node) and all(model.get_tensor_datatype(i).is_integer()
                                         for i in node.input)


def check_residual_joins(model: ModelWrapper) -> None:
    """ModelError naming the first residual join whose operands streamlining could not bring to
    integers: they were quantized with different scales, and hardware adds integers only."""
    for node in model.graph.node:
        if not is_join(model, node) or integer_join(model, node):
            continue
        scales = []
        for name in node.input:
            producer = model.find_producer(name)
            scale = (model.get_initializer(producer.input[1])
                     if producer is not None and producer.op_type == "Mul" else None)
            scales.append("?" if scale is None else f"{float(scale.flatten()[0]):.4g}"
                          if scale.size == 1 else "per-channel")
        raise ModelError(f"residual join {node.name}{from_module(model, node)} adds operands on "
                         "different quantization "
                         f"scales ({', '.join(scales)}); hardware adds integers only: quantize "
                         "both operands of the add with one shared Brevitas quantizer (the same "
                         "QuantIdentity/QuantReLU instance)")
