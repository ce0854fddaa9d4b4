"""Which nodes of a converted graph may stay outside the accelerator, and a message that says
why a node that may not could not become a FINN hardware layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codesign.errors import ModelError
from codesign.finn._env import is_hw_node
from codesign.finn.origin import from_module

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

# Nodes that may stay in software before the accelerator: pure layout changes of the input.
HEAD_OPS = ("Transpose", "Reshape", "Flatten")
# ...and after it: the scale/bias of the final integer logits, a TopK, layout changes.
TAIL_OPS = ("Mul", "Add", "TopK", "Reshape", "Flatten", "Identity")

# Why a node typically fails to become a hardware layer, and what to do about it.
_HINTS = {
    "MatMul": "its weights or inputs are not quantized integers; use a Brevitas QuantLinear/"
              "QuantConv2d fed by a quantized activation (or the UINT8 input)",
    "Conv": "only convolutions with quantized weights and inputs lower to hardware",
    "MultiThreshold": "a quantized activation FINN could not map; use <= 8 bit activations",
    "Mul": "a float scale FINN's streamlining could not absorb into thresholds; put a quantized "
           "activation after every BatchNorm/scale and use bias=False in quantized layers",
    "Add": "a float bias FINN's streamlining could not absorb; use bias=False in quantized "
           "layers and follow BatchNorm with a quantized activation",
}
# Ops with no FINN dataflow layer at all, and what to use instead.
_UNSUPPORTED = {
    "Concat": "a concatenation of branches (torch.cat) has no FINN layer in codesign's flow; "
              "join branches with an add whose operands share one Brevitas quantizer instead",
    **{op: "recurrent layers have no FINN dataflow layer; model the sequence with 1-D "
           "convolutions (QuantConv1d, the zoo's cnn1d)" for op in ("LSTM", "GRU", "RNN")},
}
# Layout ops a failed lowering leaves around the op that caused it: symptoms, named last.
_LAYOUT_OPS = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten")


def check_hw_coverage(model: ModelWrapper) -> None:
    """Every node must be a HW layer, except layout ops before the first and the logits'
    scale/bias/TopK after the last one. Raises ModelError naming the first offender."""
    nodes = list(model.graph.node)
    hw = [i for i, node in enumerate(nodes) if is_hw_node(node)]
    if not hw:
        ops = sorted({node.op_type for node in nodes})
        raise ModelError(f"no layer of the model became a FINN hardware layer (ops: {', '.join(ops)}); "
                         "export a Brevitas model with quantized weights and activations")
    first, last = hw[0], hw[-1]
    offenders: list[tuple[Any, str]] = []
    for i, node in enumerate(nodes):
        if is_hw_node(node):
            continue
        allowed = HEAD_OPS if i < first else TAIL_OPS if i > last else ()
        constant_operand = node.op_type not in ("Mul", "Add") or any(
            model.get_initializer(name) is not None for name in node.input)
        if not (node.op_type in allowed and constant_operand):
            offenders.append((node, "before" if i < first else "after" if i > last else "inside"))
    if not offenders:
        return
    # An op FINN has no layer for is the root cause; leftover scales (Mul/Add) it blocked from
    # being streamlined are symptoms, so name such an op first.
    ranked = sorted(offenders, key=lambda o: (o[0].op_type not in _UNSUPPORTED,
                                              o[0].op_type in _HINTS, o[0].op_type in _LAYOUT_OPS))
    node, where = ranked[0]
    hint = _UNSUPPORTED.get(node.op_type) or _HINTS.get(
        node.op_type, f"FINN has no hardware layer for {node.op_type}; replace it with a "
                      "supported layer (conv, linear, pooling, quantized activation)")
    others = ", ".join(f"{n.name} ({n.op_type})" for n, _ in offenders if n is not node)
    raise ModelError(f"node {node.name} ({node.op_type}){from_module(model, node)} {where} the "
                     "accelerator cannot be mapped "
                     f"to FINN hardware: {hint}" + (f"; also unmapped: {others}" if others else ""))
