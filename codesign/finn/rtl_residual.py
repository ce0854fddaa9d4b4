"""What an all-RTL simulation of a residual graph needs from FINN: the join as FINN's own RTL
elementwise add, and the depth codesign's model gives every stream FIFO.

finn-plus 1.6.1 specialises an integer ElementwiseAdd to HLS only (SpecializeLayers keeps its RTL
variant for Versal float paths), but its RTL backend, ElementwiseAdd_rtl (finn-rtllib eltwise),
does add two streamed integer operands when both have the same width and signedness and the
output is one bit wider. A residual join whose operands come out of one shared quantizer meets
that; `join_rtl_blocker` says why one does not. The fork, DuplicateStreams, has no RTL variant:
codesign.sim puts its own broadcast module in its place."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codesign.finn._env import base_op_type, quiet_finn
from codesign.finn.fifos import FORK, JOIN, skip_buffers
from codesign.finn.rtl import RTL_DOMAIN

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper


def _inst(node: Any) -> Any:
    from qonnx.custom_op.registry import getCustomOp

    return getCustomOp(node)


def is_fork(node: Any) -> bool:
    return base_op_type(node.op_type) == FORK


def is_join(node: Any) -> bool:
    return base_op_type(node.op_type) == JOIN


def join_rtl_blocker(node: Any) -> str | None:
    """Why FINN's ElementwiseAdd_rtl cannot implement the join `node` (None: it can)."""
    inst = _inst(node)
    if inst.get_nodeattr("lhs_style") != "input" or inst.get_nodeattr("rhs_style") != "input":
        return "one operand is a constant (a bias, not a residual join)"
    lhs, rhs, out = (inst.get_input_datatype(0), inst.get_input_datatype(1),
                     inst.get_output_datatype(0))
    if not (lhs.is_integer() and rhs.is_integer()):
        return f"its operands are {lhs.name} and {rhs.name}; the RTL add of two streams needs integers"
    if lhs.bitwidth() != rhs.bitwidth() or lhs.signed() != rhs.signed():
        return (f"its operands are {lhs.name} and {rhs.name}; FINN's RTL add needs one width and "
                "signedness on both (quantize both operands with one shared quantizer)")
    if out.bitwidth() != lhs.bitwidth() + 1:
        return (f"its output is {out.name}; FINN's RTL add of two {lhs.bitwidth()}-bit operands "
                f"writes {lhs.bitwidth() + 1} bits")
    return None


def rtl_joins(model: ModelWrapper) -> ModelWrapper:
    """A copy of `model` whose HLS joins are FINN's ElementwiseAdd_rtl wherever that is legal
    (`join_rtl_blocker`); the others stay as they are. Same attributes (PE, datatypes, FIFO
    depths), so the Python execution and the estimates of the join do not change."""
    model = copy.deepcopy(model)
    with quiet_finn():
        for node in model.graph.node:
            if is_join(node) and node.domain != RTL_DOMAIN and join_rtl_blocker(node) is None:
                node.op_type = f"{JOIN}_rtl"
                node.domain = RTL_DOMAIN
                _inst(node).set_nodeattr("preferred_impl_style", "rtl")
    return model


SHALLOW_FIFO_WORDS = 5  # fifo.sv: a FIFO of depth <= 4 is 4 shift-register stages + output register


def fifo_capacity(depth: int) -> int:
    """Words FINN's StreamingFIFO_rtl of `depth` holds (finn-rtllib fifo.sv): `depth`, except
    that a shallow one, FINN's minimum of 2 included, holds SHALLOW_FIFO_WORDS."""
    return max(int(depth), SHALLOW_FIFO_WORDS)


def _depth(node: Any, attribute: str, index: int) -> int:
    inst = _inst(node)
    if attribute not in inst.get_nodeattr_types():
        return 2
    depths = list(inst.get_nodeattr(attribute))
    return int(depths[min(index, len(depths) - 1)]) if depths else 2


def model_fifo_depths(model: ModelWrapper) -> dict[str, int]:
    """Each StreamingFIFO of a stitched graph -> the depth codesign's model gives it: what FINN's
    InsertFIFO takes, the larger of the producer's outFIFODepths and the consumer's
    inFIFODepths for that stream (a fork's skip-branch buffer on its shortcut output, FINN's
    minimum of 2 elsewhere)."""
    depths = {}
    with quiet_finn():
        for node in model.graph.node:
            if base_op_type(node.op_type) != "StreamingFIFO":
                continue
            depth = 2
            producer = model.find_producer(node.input[0])
            if producer is not None:
                depth = max(depth, _depth(producer, "outFIFODepths",
                                          list(producer.output).index(node.input[0])))
            for consumer in model.find_consumers(node.output[0]) or []:
                depth = max(depth, _depth(consumer, "inFIFODepths",
                                          list(consumer.input).index(node.output[0])))
            depths[node.name] = depth
    return depths


@dataclass(frozen=True)
class ShortcutFifo:
    """The FIFO right behind a fork output that codesign sized for its join (a skip buffer)."""

    fifo: str  # the StreamingFIFO in the stitched graph
    fork: str
    output: int
    join: str | None
    elements: int  # tensor elements codesign's model says it must hold
    pe: int  # the fork's lanes: elements per stream word
    depth: int  # codesign's depth in words: the fork's outFIFODepths for this output


def shortcut_fifos(model: ModelWrapper) -> tuple[ShortcutFifo, ...]:
    """The skip-branch FIFOs of a stitched graph (codesign.finn.fifos.skip_buffers), each with
    the FIFO FINN's InsertFIFO put behind that fork output."""
    found = []
    with quiet_finn():
        buffers = {(b.fork, b.output): b for b in skip_buffers(model)}
        for node in model.graph.node:
            if base_op_type(node.op_type) != "StreamingFIFO":
                continue
            fork = model.find_producer(node.input[0])
            if fork is None or not is_fork(fork):
                continue
            output = list(fork.output).index(node.input[0])
            buffer = buffers.get((fork.name, output))
            if buffer is not None:
                found.append(ShortcutFifo(node.name, fork.name, output, buffer.join, buffer.elements,
                                          int(_inst(fork).get_nodeattr("PE")),
                                          _depth(fork, "outFIFODepths", output)))
    return tuple(found)
