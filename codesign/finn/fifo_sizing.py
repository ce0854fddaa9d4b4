"""The depth of every stream FIFO FINN's build inserts, from codesign's stream model
(codesign.finn.stream_timing, over the actors of codesign.finn.stream_actors).

1. The rate: the model with every FIFO unbounded and the input as fast as it is taken.
2. A safe depth: the most words each FIFO holds with the input paced at that rate and no FIFO
   ever full. With those depths that schedule, rate included, is possible as it stands; checked
   in Verilator on every all-RTL pipeline of benchmarks/fifo_depths.py, never too shallow.
3. FIFOs whose depth does not matter: with the input as a DMA that writes whenever there is room
   (FINN's build, and the Verilator check in codesign.sim.fifo_check), a FIFO the model keeps
   at the rate while it holds TRUSTED_WORDS (the others at their safe depths) gets FINN's
   minimum (a shallow FIFO: 5 words); a last run with all of them at 5 words must keep the rate
   too, else every FIFO keeps its safe depth. The other FIFOs keep their safe depths: the model
   has no pipeline registers of the RTL layers, so its least depth for a FIFO that matters can
   be a few words short (measured: least 30 words in the model for a linear layer's input FIFO
   that needs 34 in Verilator, 56 for a projection block's join input that needs 69). These
   runs step the pipeline event by event, so step 3 is done for pipelines of at most
   TIGHTEN_WORDS stream words per frame; larger ones keep the safe depths everywhere
   (StreamFifos.tightened says which).
No FIFO gets less than its graph asks for (a skip buffer's token count); FINN's depth is the
words, or its minimum 2 where a shallow FIFO (5 words) holds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codesign.finn.skip_branch_fifos import SLACK_WORDS, node_inst
from codesign.finn.stream_actors import Pipeline
from codesign.finn.stream_timing import SHALLOW_WORDS

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

# FIFOs whose depth does not matter are looked for (step 3) when the pipeline writes at most this
# many stream words per frame: each check is a model run event by event (~2-5 us per word over
# its 5 frames), one per FIFO deeper than a shallow one. Measured (CPU, load ~6): all-RTL MLPs
# (420-520 words) 0.03 s, conv chain (5,818) 0.49 s, identity block (9,289-13,589) 1.2-1.4 s.
TIGHTEN_WORDS = 15_000
TRUSTED_WORDS = 1  # a FIFO the model keeps at the rate holding this many words gets FINN's minimum


@dataclass(frozen=True)
class StreamFifo:
    """One stream FIFO of the accelerator as built, with the depth codesign's stream model
    gives it."""

    name: str  # the StreamingFIFO_rtl as FINN's build names it
    producer: str  # the layer writing it ("input": the accelerator's input)
    consumer: str  # the layer reading it ("output")
    words: int  # words it must hold for full rate (FINN's minimum's 5 or its safe depth)
    depth: int  # FINN depth: words, or FINN's minimum 2 when a shallow FIFO holds them
    asked: int  # depth the graph's attributes ask for (a skip-branch buffer's token count)
    occupancy: int  # most words it holds with the input paced at the pipeline's rate (safe)
    width: int  # bits per word
    dtype: str
    lanes: int


@dataclass(frozen=True)
class StreamFifos:
    """The depth of every stream FIFO and the rate the model predicts with them."""

    fifos: tuple[StreamFifo, ...]
    cycles_per_frame: float  # the model's pipeline with every FIFO unbounded
    sized_cycles_per_frame: float  # ... with every FIFO at `words` (safe depths: input paced)
    tightened: bool = False  # True: FIFOs whose depth does not matter are at FINN's minimum

    def depth_of(self) -> dict[str, int]:
        return {f.name: f.depth for f in self.fifos}


def finn_depth(words: int) -> int:
    """FINN's StreamingFIFO depth that holds `words`."""
    return SLACK_WORDS if words <= SHALLOW_WORDS else int(words)


def size_stream_fifos(model: ModelWrapper) -> StreamFifos:
    """The depth of every FIFO of a stitched graph (stream_actors.stitched_streams); module doc."""
    pipe = Pipeline(model)
    asked = [int(node_inst(f).get_nodeattr("depth")) for f in pipe.fifos]
    reference = pipe.run({}).cycles_per_frame
    if reference is None:
        raise RuntimeError("the stream model deadlocks with unbounded FIFOs; please report this bug")
    paced = pipe.run({}, pace=reference)
    occupancy = list(paced.max_occupancy[:len(pipe.fifos)])
    words = {s: max(occupancy[s], asked[s]) for s in range(len(pipe.fifos))}
    sized, tightened = float(paced.cycles_per_frame or 0.0), False
    if pipe.words_per_frame() <= TIGHTEN_WORDS:
        least = least_words(pipe.run, words, asked, reference)
        if least is not None:
            words, sized, tightened = least, reference, True
    return StreamFifos(_stream_fifos(model, pipe, words, asked, occupancy), float(reference),
                       sized, tightened)


def least_words(run: Callable, safe: dict[int, int], asked: list[int],
                reference: float) -> dict[int, int] | None:
    """`safe` with every FIFO stream whose depth does not matter (module doc, step 3) at
    FINN's minimum; None if they do not keep `reference` cycles/frame all together."""

    def keeps(words: dict[int, int]) -> bool:
        timing = run(words)
        return timing.finished and timing.cycles_per_frame <= reference

    held = {s: max(w, SHALLOW_WORDS) for s, w in safe.items()}
    if not keeps(held):
        return None
    shallow = [s for s, w in held.items() if w > SHALLOW_WORDS and asked[s] <= SHALLOW_WORDS
               and keeps({**held, s: TRUSTED_WORDS})]
    if not shallow:
        return dict(safe)
    if not keeps({**held, **dict.fromkeys(shallow, SHALLOW_WORDS)}):
        return None
    return {**safe, **dict.fromkeys(shallow, SHALLOW_WORDS)}


def _stream_fifos(model: ModelWrapper, pipe: Pipeline, words: dict[int, int],
                  asked: list[int], occupancy: list[int]) -> tuple[StreamFifo, ...]:
    found = []
    for s, node in enumerate(pipe.fifos):
        inst = node_inst(node)
        producer, consumer = model.find_producer(node.input[0]), model.find_consumer(node.output[0])
        found.append(StreamFifo(
            node.name, producer.name if producer else "input", consumer.name if consumer else "output",
            words[s], max(finn_depth(words[s]), asked[s]), asked[s], occupancy[s],
            int(inst.get_instream_width()), inst.get_input_datatype().name,
            int(inst.get_folded_output_shape()[-1])))
    return tuple(found)
