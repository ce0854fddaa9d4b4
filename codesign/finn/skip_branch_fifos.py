"""Skip-branch buffers of residual forks: the token count each branch's FIFO must hold so that
the block never deadlocks (a floor for the stream FIFO depths of codesign.finn.fifo_sizing).

A fork (DuplicateStreams) writes every word to both of its branches at once and stalls when
either is full; the join (ElementwiseAdd) reads one word from each branch at once. The long
branch (pads, sliding windows, MVAUs) takes in a few rows of the feature map before its first
output reaches the join, and every element it takes in is also written into the short branch,
which the join does not drain yet. Unless the short branch's FIFO holds those elements, the fork
stalls, the long branch starves, and the block deadlocks.

How many: token counting, independent of timing. For every layer on a branch, `input_needs`
says how many input elements it must have read before it can write its k-th output element (a
sliding window needs the last pixel of the window, an MVAU the whole input vector, a pad the
input pixel at that position, an elementwise layer the k-th element). Composed along a branch,
it says how many elements the fork must have written before the join can read its k-th element
from that branch; a branch's FIFO must hold, at every k, what the other branch needs beyond what
this one has taken: `elements = max_k (need_other(k) - need_this(k))`. The count is in tensor
elements, so it does not depend on the folding; in stream words it is elements / fork PE, plus
SLACK_WORDS for the words in flight. The layers' own small stream buffers are not counted (the
depth errs on the deep side by those few words).

The depth is stored where FINN's InsertFIFO reads it, the fork's `outFIFODepths`, so every
folding (plan, SetFolding, a folding file) carries it, the folding config writes it, and a FINN
build inserts a StreamingFIFO of that depth. That token count is a floor: it keeps the block out
of deadlock, not at full rate (it leaves out the long branch's latency)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.finn._env import base_op_type, quiet_finn

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.finn.compile import HWGraph

SLACK_WORDS = 2  # words in flight between the fork's write and the FIFO's count (FINN's minimum)
FORK, JOIN = "DuplicateStreams", "ElementwiseAdd"
# Layers whose k-th output element needs exactly their k-th input element.
ELEMENTWISE = ("Thresholding", FORK, JOIN, "StreamingDataWidthConverter", "StreamingFIFO")
# Layers that map each input pixel (all axes but the last) to one output pixel.
PER_PIXEL = ("MVAU", "VVAU", "Pool", "ChannelwiseOp", "LabelSelect")


@dataclass(frozen=True)
class SkipBuffer:
    """The FIFO one output of a fork needs so that its join never waits on a full fork."""

    fork: str  # the DuplicateStreams node
    output: int  # which of its outputs
    join: str | None  # the ElementwiseAdd both branches reach (None: they do not meet simply)
    elements: int  # tensor elements the FIFO must hold
    bits: int  # of each element

    def depth(self, pe: int) -> int:
        """FIFO depth in stream words for a fork folded to `pe` lanes."""
        return max(SLACK_WORDS, math.ceil(self.elements / pe) + SLACK_WORDS)

    def to_dict(self, pe: int) -> dict[str, Any]:
        return {"fork": self.fork, "output": self.output, "join": self.join,
                "elements": self.elements, "bits": self.bits, "pe": pe,
                "depth": self.depth(pe), "width": pe * self.bits}


def node_inst(node: Any) -> Any:
    """The FINN custom op of an ONNX node."""
    from qonnx.custom_op.registry import getCustomOp

    return getCustomOp(node)


def _pixels(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


def _padding_needs(inst: Any) -> np.ndarray:
    """Input elements an FMPadding must have read before each output element."""
    (height, width), (top, left, _, _) = inst.get_nodeattr("ImgDim"), inst.get_nodeattr("Padding")
    channels = int(inst.get_nodeattr("NumChannels"))
    out_h, out_w = inst.get_padded_odim()
    y, x = np.meshgrid(np.arange(out_h) - top, np.arange(out_w) - left, indexing="ij")
    # the input pixels at raster positions up to and including (y, x)
    rows_done = np.clip(y, 0, height) * width
    in_row = np.where((y >= 0) & (y < height), np.clip(x + 1, 0, width), 0)
    pixels = (rows_done + in_row).reshape(-1)
    return np.repeat(pixels * channels, channels)


def _window_needs(inst: Any) -> np.ndarray:
    """Input elements a sliding window generator must have read before each output element:
    everything up to the last pixel of the window."""
    in_h, in_w = inst.get_nodeattr("IFMDim")
    out_h, out_w = inst.get_nodeattr("OFMDim")
    k_h, k_w = inst.get_nodeattr("ConvKernelDim")
    s_h, s_w = inst.get_nodeattr("Stride")
    d_h, d_w = inst.get_nodeattr("Dilation")
    channels = int(inst.get_nodeattr("IFMChannels"))
    y, x = np.meshgrid(np.arange(out_h) * s_h + (k_h - 1) * d_h,
                       np.arange(out_w) * s_w + (k_w - 1) * d_w, indexing="ij")
    last = (np.minimum(y, in_h - 1) * in_w + np.minimum(x, in_w - 1) + 1).reshape(-1)
    window = int(np.prod(inst.get_normal_output_shape()[-1:]))
    return np.repeat(last * channels, window)


def input_needs(node: Any) -> np.ndarray:
    """needs[k] = input elements `node` must have read before it writes output element k."""
    inst = node_inst(node)
    op = base_op_type(node.op_type)
    in_shape = tuple(int(d) for d in inst.get_normal_input_shape(0))
    out_shape = tuple(int(d) for d in inst.get_normal_output_shape(0))
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    if op in ELEMENTWISE and n_in == n_out:
        return np.arange(1, n_out + 1)
    if op == "FMPadding":
        return _padding_needs(inst)
    if op == "ConvolutionInputGenerator":
        return _window_needs(inst)
    if op in PER_PIXEL and _pixels(in_shape) == _pixels(out_shape):
        pixel = np.arange(n_out) // out_shape[-1]
        return (pixel + 1) * in_shape[-1]
    return np.full(n_out, n_in)  # anything else: conservatively, the whole input frame


def _branch(model: ModelWrapper, tensor: str) -> tuple[list[Any], Any | None]:
    """The layers from a fork output up to the first join, and that join (None if the branch
    forks again or ends first)."""
    layers: list[Any] = []
    while True:
        consumers = model.find_consumers(tensor) or []
        if len(consumers) != 1:
            return layers, None
        node = consumers[0]
        op = base_op_type(node.op_type)
        if op == JOIN:
            return layers, node
        if op == FORK or len(node.output) != 1:
            return layers, None
        layers.append(node)
        tensor = node.output[0]


def _fork_needs(layers: list[Any], join_input: int) -> np.ndarray:
    """Fork output elements needed before the join reads each of its elements on this branch."""
    counts = np.arange(1, join_input + 1)
    for node in reversed(layers):
        needs = input_needs(node)
        counts = np.where(counts > 0, needs[np.maximum(counts, 1) - 1], 0)
    return counts


def skip_buffers(model: ModelWrapper) -> tuple[SkipBuffer, ...]:
    """The FIFO every output of every fork in `model` needs (outputs that need no more than
    the words in flight are left out)."""
    found = []
    with quiet_finn():
        for fork in model.graph.node:
            if base_op_type(fork.op_type) != FORK:
                continue
            inst = node_inst(fork)
            frame = int(np.prod(inst.get_normal_output_shape(0)))
            bits = inst.get_output_datatype(0).bitwidth()
            branches = [_branch(model, name) for name in fork.output]
            joins = {id(j) for _, j in branches}
            if len(branches) == 2 and None not in [j for _, j in branches] and len(joins) == 1:
                join = branches[0][1]
                join_input = int(np.prod(node_inst(join).get_normal_output_shape(0)))
                needs = [_fork_needs(layers, join_input) for layers, _ in branches]
                held = [int(max(0, np.max(needs[1 - o] - needs[o]))) for o in range(2)]
                join_name = join.name
            else:  # branches that do not meet in one join: hold a whole frame each
                held, join_name = [frame] * len(branches), None
            found += [SkipBuffer(fork.name, o, join_name, elements, bits)
                      for o, elements in enumerate(held) if elements > 0]
    return tuple(found)


def fork_depths(fork: Any, pe: int, buffers: tuple[SkipBuffer, ...]) -> list[int]:
    """The fork's outFIFODepths at `pe` lanes: each output's buffer depth, or FINN's default."""
    depths = [SLACK_WORDS] * len(fork.output)
    for buffer in buffers:
        if buffer.fork == fork.name:
            depths[buffer.output] = buffer.depth(pe)
    return depths


def size_skip_fifos(hw: HWGraph, keep: frozenset[str] = frozenset()) -> HWGraph:
    """`hw` with every fork's outFIFODepths set to what its branches need at its current PE.
    Forks named in `keep` (depths a folding file asked for) are only deepened, never made
    shallower. `hw` itself is left untouched."""
    from qonnx.core.modelwrapper import ModelWrapper

    buffers = skip_buffers(hw.model)
    if not buffers:
        return hw
    model = ModelWrapper(hw.model.model.__deepcopy__())
    with quiet_finn():
        for node in model.graph.node:
            if base_op_type(node.op_type) != FORK:
                continue
            inst = node_inst(node)
            depths = fork_depths(node, int(inst.get_nodeattr("PE")), buffers)
            if node.name in keep:
                asked = list(inst.get_nodeattr("outFIFODepths"))
                asked += [SLACK_WORDS] * (len(depths) - len(asked))
                depths = [max(a, d) for a, d in zip(asked, depths, strict=False)]
            inst.set_nodeattr("outFIFODepths", depths)
    return hw.with_model(model)
