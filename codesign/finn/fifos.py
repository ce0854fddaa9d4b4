"""Stream FIFOs: the skip-branch buffers of residual forks, and the depth of every stream FIFO.

A fork (DuplicateStreams) writes every word to both of its branches at once and stalls when
either is full; the join (ElementwiseAdd) reads one word from each branch at once. The long
branch (pads, sliding windows, MVAUs) takes in a few rows of the feature map before its first
output reaches the join, and every element it takes in is also written into the short branch,
which the join does not drain yet. Unless the short branch's FIFO holds those elements, the fork
stalls, the long branch starves, and the block deadlocks.

How many: token counting, independent of timing. For every layer on a branch, `needed` says how
many input elements it must have read before it can write its k-th output element (a sliding
window needs the last pixel of the window, an MVAU the whole input vector, a pad the input
pixel at that position, an elementwise layer the k-th element). Composed along a branch, it
says how many elements the fork must have written before the join can read its k-th element
from that branch; a branch's FIFO must hold, at every k, what the other branch needs beyond what
this one has taken: `elements = max_k (need_other(k) - need_this(k))`. The count is in tensor
elements, so it does not depend on the folding; in stream words it is elements / fork PE, plus
SLACK_WORDS for the words in flight. The layers' own small stream buffers are not counted (the
depth errs on the deep side by those few words).

The depth is stored where FINN's InsertFIFO reads it, the fork's `outFIFODepths`, so every
folding (plan, SetFolding, a folding file) carries it, the folding config writes it, and a FINN
build inserts a StreamingFIFO of that depth. That token count is a floor (it keeps the block out
of deadlock, not at full rate: it leaves out the long branch's latency).

Every stream FIFO (skip buffers, chains, converters' FIFOs): FINN's build with a fifo_config_file
inserts one on every stream (stitched_streams). Their depths come from a cycle model of that
stitched pipeline (codesign.finn.stream_timing; the actors are made from FINN's nodes here,
layer_actor): each FIFO holds the most words it held with the input paced at the pipeline's rate,
at least the token count (size_stream_fifos). priced_fifos prices them with FINN's own
StreamingFIFO_rtl estimate (codesign.finn.estimates adds them to the totals) and fifo_config
writes them in FINN's fifo_config_file format."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.finn._env import base_op_type, quiet_finn
from codesign.finn.stream_timing import SHALLOW_WORDS, UNBOUNDED, Actor, simulate

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


def _inst(node: Any) -> Any:
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
    inst = _inst(node)
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
            inst = _inst(fork)
            frame = int(np.prod(inst.get_normal_output_shape(0)))
            bits = inst.get_output_datatype(0).bitwidth()
            branches = [_branch(model, name) for name in fork.output]
            joins = {id(j) for _, j in branches}
            if len(branches) == 2 and None not in [j for _, j in branches] and len(joins) == 1:
                join = branches[0][1]
                join_input = int(np.prod(_inst(join).get_normal_output_shape(0)))
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
            inst = _inst(node)
            depths = fork_depths(node, int(inst.get_nodeattr("PE")), buffers)
            if node.name in keep:
                asked = list(inst.get_nodeattr("outFIFODepths"))
                asked += [SLACK_WORDS] * (len(depths) - len(asked))
                depths = [max(a, d) for a, d in zip(asked, depths, strict=False)]
            inst.set_nodeattr("outFIFODepths", depths)
    return hw.with_model(model)


@lru_cache(maxsize=4096)
def fifo_cost(depth: int, pe: int, bits: int, datatype: str, part: str) -> tuple[tuple[str, float], ...]:
    """FINN's estimate of a StreamingFIFO_rtl of `depth` words of `pe` x `bits`-bit lanes."""
    from onnx import helper

    node = helper.make_node("StreamingFIFO_rtl", ["in"], ["out"],
                            domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
                            depth=int(depth), folded_shape=[1, 1, pe], normal_shape=[1, pe],
                            dataType=datatype, ram_style="auto", impl_style="rtl")
    with quiet_finn():
        inst = _inst(node)
        res = inst.node_res_estimation(part)
    return tuple((k, float(res.get(k, 0.0))) for k in ("LUT", "BRAM_18K", "URAM", "DSP"))


@dataclass(frozen=True)
class FifoEstimate:
    """A stream FIFO of the accelerator as built, with FINN's estimate of it."""

    producer: str
    output: int
    consumer: str | None
    depth: int
    width: int
    lut: float
    bram_18k: float
    uram: float
    dsp: float
    name: str = ""  # as FINN's build names it (the fifo_config_file's key)
    words: int = 0  # words codesign's stream model says it must hold

    def cost(self) -> dict[str, float]:
        return {"LUT": self.lut, "BRAM_18K": self.bram_18k, "URAM": self.uram, "DSP": self.dsp}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "producer": self.producer, "output": self.output,
                "consumer": self.consumer, "depth": self.depth, "words": self.words,
                "width": self.width, **self.cost()}


def _model_key(hw: HWGraph) -> tuple[str, str]:
    import hashlib

    return hashlib.sha1(hw.model.model.SerializeToString()).hexdigest(), hw.part


_SIZED: dict[tuple[str, str], tuple[Any, StreamFifos]] = {}


def stream_fifos(hw: HWGraph) -> tuple[ModelWrapper, StreamFifos]:
    """The stitched graph of `hw` (stitched_streams) and the depth of each of its FIFOs
    (size_stream_fifos); cached per graph, since estimates ask for it often."""
    key = _model_key(hw)
    if key not in _SIZED:
        if len(_SIZED) > 64:
            _SIZED.clear()
        model = stitched_streams(hw)
        with quiet_finn():
            _SIZED[key] = (model, size_stream_fifos(model))
    return _SIZED[key]


def priced_fifos(hw: HWGraph) -> tuple[FifoEstimate, ...]:
    """Every stream FIFO FINN's build of `hw` inserts (one on each stream, converters' included),
    at the depth codesign's stream model gives it, priced by FINN's StreamingFIFO_rtl estimate."""
    _, sized = stream_fifos(hw)
    found = []
    for fifo in sized.fifos:
        cost = dict(fifo_cost(fifo.depth, fifo.lanes, fifo.width // max(fifo.lanes, 1),
                              fifo.dtype, hw.part))
        found.append(FifoEstimate(fifo.producer, 0, fifo.consumer, fifo.depth, fifo.width,
                                  cost["LUT"], cost["BRAM_18K"], cost["URAM"], cost["DSP"],
                                  fifo.name, fifo.words))
    return tuple(found)


def fifo_config(hw: HWGraph) -> dict[str, Any]:
    """FINN's fifo_config_file for `hw` (what its step_set_fifo_depths reads with
    auto_fifo_depths=False): every FIFO that step inserts, by the name it gives it, at the
    depth of codesign's stream model."""
    model, sized = stream_fifos(hw)
    config: dict[str, Any] = {"fifo_depths": {}, "fifo_sizes": {}, "impl_style": {},
                              "ram_style": {}}
    with quiet_finn():
        for fifo in sized.fifos:
            inst = _inst(model.get_node_from_name(fifo.name))
            config["fifo_depths"][fifo.name] = fifo.depth
            config["fifo_sizes"][fifo.name] = fifo.width * fifo.depth
            config["impl_style"][fifo.name] = inst.get_nodeattr("impl_style")
            config["ram_style"][fifo.name] = inst.get_nodeattr("ram_style")
    config["total_fifo_size_kiB"] = sum(config["fifo_sizes"].values()) / 8 / 1024
    return config


_LATENCY = {"MVAU": 6, "VVAU": 6, "Thresholding": 4}  # cycles; others: 2


def _words(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:-1])) if len(shape) > 1 else 1


def _window_start(inst: Any, out_words: int) -> np.ndarray:
    """First input word (of the frame) still held for each output word of a sliding window
    generator: the window's top-left pixel."""
    out_h, out_w = inst.get_nodeattr("OFMDim")
    _, in_w = inst.get_nodeattr("IFMDim")
    s_h, s_w = inst.get_nodeattr("Stride")
    per_pixel = int(inst.get_nodeattr("IFMChannels")) // int(inst.get_nodeattr("SIMD"))
    y, x = np.meshgrid(np.arange(out_h) * s_h, np.arange(out_w) * s_w, indexing="ij")
    start = ((y * in_w + x) * per_pixel).reshape(-1)
    return np.repeat(start, out_words // len(start))


def _ahead(node: Any, inst: Any, op: str, needs: np.ndarray) -> np.ndarray:
    """Input words the layer may hold beyond what its next output word needs (module doc)."""
    out_words = len(needs)
    if op == "MVAU":
        sf = int(inst.get_nodeattr("MW")) // int(inst.get_nodeattr("SIMD"))
        nf = int(inst.get_nodeattr("MH")) // int(inst.get_nodeattr("PE"))
        if nf == 1:  # every pass takes a new vector: it reads on while it computes
            return np.full(out_words, sf, dtype=np.int64)
        if not str(node.op_type).endswith("_rtl"):  # HLS: reads only in the first pass
            return np.zeros(out_words, dtype=np.int64)
        cap = 2 ** max(1, math.ceil(math.log2(sf))) if sf > 1 else 2  # the replay buffer
        last = (np.arange(out_words) % nf) == nf - 1
        return np.where(last, cap, cap - sf).astype(np.int64)
    if op == "ConvolutionInputGenerator" and str(node.op_type).endswith("_rtl"):
        # a circular buffer of get_buffer_depth() words from the window's first pixel on; that
        # pixel's slot frees once the window has started (the window writes it first)
        per_pixel = int(inst.get_nodeattr("IFMChannels")) // int(inst.get_nodeattr("SIMD"))
        s_h = int(inst.get_nodeattr("Stride")[0])
        rows = (s_h - 1) * int(inst.get_nodeattr("IFMDim")[1]) * per_pixel  # next rows' preload
        limit = _window_start(inst, out_words) + int(inst.get_buffer_depth()) + per_pixel + rows
        return np.maximum(limit - needs, 0).astype(np.int64)
    steps = np.diff(needs, prepend=0)
    return np.full(out_words, max(1, int(steps.max(initial=1))) + 1, dtype=np.int64)


def layer_actor(node: Any, inputs: tuple[int, ...], outputs: tuple[int, ...]) -> Actor:
    """The actor of one FINN HW node (module doc)."""
    inst = _inst(node)
    op = base_op_type(node.op_type)
    folded_in = tuple(int(d) for d in inst.get_folded_input_shape(0))
    folded_out = tuple(int(d) for d in inst.get_folded_output_shape(0))
    per_in, per_out = folded_in[-1], folded_out[-1]
    out_words = _words(folded_out)
    elements = input_needs(node)
    last = np.minimum((np.arange(out_words) + 1) * per_out, len(elements)) - 1
    needs = np.ceil(elements[last] / per_in).astype(np.int64)
    cycles = float(inst.get_exp_cycles())
    if op == "ConvolutionInputGenerator":  # exp_cycles adds the buffer fill; it writes a word a cycle
        cycles = float(out_words)
    latency = _LATENCY.get(op, 2)
    if op == "MVAU":
        latency = 3 + math.ceil(math.log2(int(inst.get_nodeattr("SIMD")) + 1)) + 2
    return Actor(node.name, inputs, outputs, _words(folded_in), needs,
                 max(1.0, cycles / max(out_words, 1)), latency, _ahead(node, inst, op, needs))


def stitched_streams(hw: HWGraph) -> ModelWrapper:
    """`hw` with the width converters and the FIFO on every stream that FINN's build inserts
    (step_set_fifo_depths with a fifo_config_file), named as that step names them; each FIFO
    at the depth the graph's own attributes ask for (skip-branch buffers, else 2)."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.give_unique_node_names_recursive import (
        GiveUniqueNodeNamesRecursive,
    )
    from qonnx.transformation.general import GiveReadableTensorNames

    with quiet_finn():
        model = hw.model.transform(InsertDWC())
        model = model.transform(InsertFIFO(create_shallow_fifos=True))
        model = model.transform(SpecializeLayers(hw.part))
        model = model.transform(GiveUniqueNodeNamesRecursive())
        return model.transform(GiveReadableTensorNames())


@dataclass(frozen=True)
class StreamFifo:
    """One stream FIFO of the accelerator as built, with the depth codesign's cycle model
    (codesign.finn.stream_timing) gives it."""

    name: str  # the StreamingFIFO_rtl as FINN's build names it
    producer: str  # the layer writing it ("input": the accelerator's input)
    consumer: str  # the layer reading it ("output")
    words: int  # words it must hold for full rate (the model's smallest capacity)
    depth: int  # FINN depth: words, or FINN's minimum 2 when a shallow FIFO holds them
    asked: int  # depth the graph's attributes ask for (a skip-branch buffer's token count)
    occupancy: int  # most words it holds with the input paced at the pipeline's rate
    width: int  # bits per word
    dtype: str
    lanes: int


@dataclass(frozen=True)
class StreamFifos:
    """The depth of every stream FIFO and the rate the model predicts with them."""

    fifos: tuple[StreamFifo, ...]
    cycles_per_frame: float  # the model's pipeline with every FIFO unbounded (0: not modelled)
    sized_cycles_per_frame: float  # ... with every FIFO at `depth`
    # False: the pipeline takes more steps per frame than STREAM_MODEL_STEPS, and every FIFO
    # has the depth its graph attributes ask for (a skip buffer's token count, else FINN's 2)
    modelled: bool = True

    def depth_of(self) -> dict[str, int]:
        return {f.name: f.depth for f in self.fifos}


MODEL_FRAMES = 5
# The model steps cycle by cycle in Python, visiting every actor (measured ~10 µs per actor
# step over its three runs): a pipeline with more actor steps per frame than this is not
# modelled, since SetFolding sweeps, the optimizer and pruning estimate many foldings (an
# unfolded DS-CNN took 90 s, a folded CNV or ResNet-8 10-15 s per estimate). Measured: TFC
# 490 steps, folded DS-CNN 216,000, folded ResNet-8 884,736, folded CNV 1,069,056.
STREAM_MODEL_STEPS = 300_000


class _Pipeline:
    """The stitched graph as actors and streams of codesign.finn.stream_timing."""

    def __init__(self, model: ModelWrapper) -> None:
        self.fifos: list[Any] = []
        stream_of: dict[str, int] = {}
        for node in model.graph.node:
            if base_op_type(node.op_type) == "StreamingFIFO":
                stream_of[node.input[0]] = stream_of[node.output[0]] = len(self.fifos)
                self.fifos.append(node)
        count = len(self.fifos)
        for node in model.graph.node:
            for tensor in (*node.input, *node.output):
                if tensor not in stream_of and model.get_initializer(tensor) is None:
                    stream_of[tensor] = count
                    count += 1
        self.streams = count
        self.actors = [layer_actor(node, tuple(stream_of[t] for t in node.input
                                               if model.get_initializer(t) is None),
                                   tuple(stream_of[t] for t in node.output))
                       for node in model.graph.node if base_op_type(node.op_type) != "StreamingFIFO"]
        first, last = model.graph.input[0].name, model.graph.output[0].name
        self.source, self.sink = stream_of[first], stream_of[last]
        self.source_words = int(np.prod(model.get_tensor_shape(first))) // _lanes(model, first)
        self.sink_words = int(np.prod(model.get_tensor_shape(last))) // _lanes(model, last)

    @property
    def steps_per_frame(self) -> int:
        """Actor steps of one frame: the model visits every actor each cycle the pipeline
        moves, and a frame takes about as many cycles as its slowest layer."""
        cycles = max((a.out_words * a.interval for a in self.actors), default=0)
        return int(cycles) * len(self.actors)

    def run(self, words: dict[int, int], pace: float | None = None) -> Any:
        capacities = [words.get(s, UNBOUNDED if s < len(self.fifos) else 2)
                      for s in range(self.streams)]
        return simulate(self.actors, self.streams, self.source, self.sink, self.source_words,
                        self.sink_words, capacities, MODEL_FRAMES, pace)


def _lanes(model: ModelWrapper, tensor: str) -> int:
    node = model.find_consumer(tensor) or model.find_producer(tensor)
    inst = _inst(node)
    if node.input[0] == tensor:
        return int(inst.get_folded_input_shape(0)[-1])
    return int(inst.get_folded_output_shape(0)[-1])


def _finn_depth(words: int) -> int:
    return SLACK_WORDS if words <= SHALLOW_WORDS else int(words)


def size_stream_fifos(model: ModelWrapper) -> StreamFifos:
    """The words every FIFO of a stitched graph (stitched_streams) must hold for the pipeline
    to run at its rate: the model's pipeline (codesign.finn.stream_timing) runs with unbounded
    FIFOs, first fed as fast as it takes input (its rate), then with the input paced at that
    rate; each FIFO must hold the most words it held in the paced run, so that no layer is
    ever back-pressured and the schedule, rate included, stays the unbounded one. A FIFO
    never gets less than its graph attributes ask for (a skip buffer's token count); FIFOs
    that need no more than a shallow FIFO holds stay at FINN's minimum depth."""
    pipe = _Pipeline(model)
    asked = [int(_inst(f).get_nodeattr("depth")) for f in pipe.fifos]
    if pipe.steps_per_frame > STREAM_MODEL_STEPS:
        return _unmodelled(model, pipe, asked)
    reference = pipe.run({}).cycles_per_frame
    if reference is None:
        raise RuntimeError("the stream model deadlocks with unbounded FIFOs; please report this bug")
    bound = list(pipe.run({}, pace=reference).max_occupancy)
    words = {s: max(bound[s], asked[s]) for s in range(len(pipe.fifos))}
    capacity = {s: max(w, SHALLOW_WORDS) for s, w in words.items()}
    sized = pipe.run(capacity).cycles_per_frame
    return StreamFifos(_stream_fifos(model, pipe, words, asked, bound), float(reference),
                       float(sized or 0.0))


def _unmodelled(model: ModelWrapper, pipe: _Pipeline, asked: list[int]) -> StreamFifos:
    """Depths from the graph attributes alone, for a pipeline too large to model."""
    return StreamFifos(_stream_fifos(model, pipe, dict(enumerate(asked)), asked, asked), 0.0,
                       0.0, modelled=False)


def _stream_fifos(model: ModelWrapper, pipe: _Pipeline, words: dict[int, int],
                  asked: list[int], bound: list[int]) -> tuple[StreamFifo, ...]:
    found = []
    for s, node in enumerate(pipe.fifos):
        inst = _inst(node)
        producer, consumer = model.find_producer(node.input[0]), model.find_consumer(node.output[0])
        found.append(StreamFifo(
            node.name, producer.name if producer else "input", consumer.name if consumer else "output",
            words[s], max(_finn_depth(words[s]), asked[s]), asked[s], bound[s],
            int(inst.get_instream_width()), inst.get_input_datatype().name,
            int(inst.get_folded_output_shape()[-1])))
    return tuple(found)

