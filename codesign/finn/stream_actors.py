"""The stitched accelerator as codesign.finn.stream_timing sees it: FINN's build graph with a
FIFO on every stream (stitched_streams), each layer an actor made from its FINN node
(layer_actor: words in and out, the input each output word needs, the interval between output
words from FINN's get_exp_cycles, a latency, the read-ahead its buffers allow), and the
streams between them (Pipeline)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.finn._env import base_op_type, quiet_finn
from codesign.finn.skip_branch_fifos import input_needs, node_inst
from codesign.finn.stream_timing import UNBOUNDED, Actor, Streams, TimingRun, simulate

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.finn.compile import HWGraph

MODEL_FRAMES = 5  # frames per model run (the rate: mean over the second half)

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
    inst = node_inst(node)
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


class Pipeline:
    """The stitched graph as actors and streams of codesign.finn.stream_timing: stream s <
    len(fifos) is the one through FIFO s."""

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

    def words_per_frame(self) -> int:
        """Stream words written per frame, all streams together (the event model's work)."""
        return sum(self.streams_of().words(1))

    def streams_of(self) -> Streams:
        return Streams(tuple(self.actors), self.streams, self.source, self.sink,
                       self.source_words, self.sink_words)

    def run(self, words: dict[int, int], pace: float | None = None,
            frames: int = MODEL_FRAMES) -> TimingRun:
        """The model over `frames` frames, FIFO stream s holding words[s] (default: unbounded;
        a stream without a FIFO holds 2)."""
        capacities = [words.get(s, UNBOUNDED if s < len(self.fifos) else 2)
                      for s in range(self.streams)]
        return simulate(self.actors, self.streams, self.source, self.sink, self.source_words,
                        self.sink_words, capacities, frames, pace)


def _lanes(model: ModelWrapper, tensor: str) -> int:
    node = model.find_consumer(tensor) or model.find_producer(tensor)
    inst = node_inst(node)
    if node.input[0] == tensor:
        return int(inst.get_folded_input_shape(0)[-1])
    return int(inst.get_folded_output_shape(0)[-1])
