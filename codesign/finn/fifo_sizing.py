"""The depth of every stream FIFO FINN's build inserts, from codesign's stream model
(codesign.finn.stream_timing, over the actors of codesign.finn.stream_actors).

1. The rate: the model with every FIFO unbounded and the input as fast as it is taken.
2. A safe depth: the most words each FIFO holds with the input paced at that rate and no FIFO
   ever full. With those depths that schedule, rate included, is possible as it stands; checked
   in Verilator on every all-RTL pipeline of benchmarks/fifo_depths.py, never too shallow.
3. The least depths (with the input a DMA that writes whenever there is room: FINN's build and
   the Verilator check of codesign.sim.fifo_check), one FIFO at a time, the others at what the
   search gave them so far (safe depths before): the shallowest depth at which the model keeps
   the rate, bisected over the FIFO's candidate depths,
   - FINN's minimum (depth 2, a shallow FIFO of 5 words) if the model keeps the rate while
     the FIFO holds TRUSTED_WORDS;
   - else a depth d that leaves a margin over the model's least: the model keeps the rate with
     the FIFO holding allowed_least(d) words, d >= least + margin_words(least). The model has
     no pipeline registers of the RTL layers, so its least can be short; the margin is
     calibrated on Verilator (benchmarks/fifo_depths.py, every FIFO deeper than FINN's minimum
     of 8 all-RTL pipelines; model least vs the least that keeps the rate in Verilator where
     Verilator needs more: 3/6, 16/21, 30/34, 16/17 and 57/74 words): 30 % + 3 words, never
     below Verilator's least there (tightest 7 vs 6 and 78 vs 74).
   With FINN's price of each depth (`price`), a FIFO's candidates are the deepest depth of
   each distinct price (a depth costs what the shallowest of its price costs, so it is taken
   deep), and a FIFO whose price cannot drop below its safe depth's is not searched.
   Each FIFO is searched with those before it at their new depths, the cheapest candidate
   first (most FIFOs that can go to FINN's minimum do), then by bisection. The search runs
   FIFOs with the largest possible saving first and spends at most SEARCH_WORDS simulated
   stream words (runs x frames x words per frame; ~0.4-0.6 us each with the compiled event
   loop, ~2.5 us before it), so it stays a few seconds on large graphs (ResNet-8 W2A2 folded
   to 12,207 FPS for Pynq-Z2: 5 runs; the whole search there takes 40 runs, ~14 s, and saves
   another 284 LUT; CNV W2A2 for Pynq-Z1: 6 runs, the whole search 23 runs); FIFOs it does not
   reach keep their safe depths (StreamFifos.complete
   says whether it reached all; a graph too large for MIN_RUNS runs is not searched). A last
   run with every FIFO at its depth must keep the rate, else every FIFO keeps its safe depth.
No FIFO gets less than its graph asks for (a skip buffer's token count); FINN's depth is the
words, or its minimum 2 where a shallow FIFO (5 words) holds them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codesign.finn.skip_branch_fifos import SLACK_WORDS, node_inst
from codesign.finn.stream_actors import MODEL_FRAMES, Pipeline
from codesign.finn.stream_timing import SHALLOW_WORDS

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

TRUSTED_WORDS = 1  # a FIFO the model keeps at the rate holding this many words gets FINN's minimum
MARGIN_FRACTION = 0.3  # margin over the model's least (module doc, step 3): 30 % ...
MARGIN_WORDS = 3  # ... + 3 words
# Stream words the search may simulate (module doc): ~2-3 s of CPU at ~0.4-0.6 us per word
# (CNV's cold fold for Pynq-Z1 6.4 s with it, 11.0 s at 12M, 13.4 s at 40M words). Only
# the plan a fold chooses (and SetFolding's best fitting design) is searched; trial plans are
# priced at safe depths (codesign.finn.plan), so this is paid once per fold.
SEARCH_WORDS = 4_000_000
MIN_RUNS = 3  # a budget of fewer model runs searches nothing (safe depths, no run)

Price = Callable[[int, int], tuple[float, ...]]  # (FIFO index, depth) -> FINN's cost


@dataclass(frozen=True)
class StreamFifo:
    """One stream FIFO of the accelerator as built, with the depth codesign's stream model
    gives it."""

    name: str  # the StreamingFIFO_rtl as FINN's build names it
    producer: str  # the layer writing it ("input": the accelerator's input)
    consumer: str  # the layer reading it ("output")
    words: int  # words it holds at its depth (FINN's minimum's 5, its searched or safe depth)
    depth: int  # FINN depth: words, or FINN's minimum 2 when a shallow FIFO holds them
    asked: int  # depth the graph's attributes ask for (a skip-branch buffer's token count)
    occupancy: int  # most words it holds with the input paced at the pipeline's rate (safe)
    width: int  # bits per word
    dtype: str
    lanes: int
    searched: bool = False  # its least depth was searched (step 3; else its safe depth)


@dataclass(frozen=True)
class StreamFifos:
    """The depth of every stream FIFO and the rate the model predicts with them."""

    fifos: tuple[StreamFifo, ...]
    cycles_per_frame: float  # the model's pipeline with every FIFO unbounded
    sized_cycles_per_frame: float  # ... with every FIFO at `words` (safe depths: input paced)
    tightened: bool = False  # True: the searched depths (step 3) are in use
    runs: int = 0  # model runs of the search
    complete: bool = True  # False: SEARCH_WORDS ran out before every FIFO was searched

    def depth_of(self) -> dict[str, int]:
        return {f.name: f.depth for f in self.fifos}


def finn_depth(words: int) -> int:
    """FINN's StreamingFIFO depth that holds `words`."""
    return SLACK_WORDS if words <= SHALLOW_WORDS else int(words)


def margin_words(least: int) -> int:
    """Words a FIFO gets beyond the model's least (module doc, step 3)."""
    return math.ceil(MARGIN_FRACTION * least) + MARGIN_WORDS


def allowed_least(depth: int) -> int:
    """The largest model least whose margin still fits in `depth` words (0: none)."""
    least = max(0, math.floor((depth - MARGIN_WORDS) / (1 + MARGIN_FRACTION)))
    while least + 1 + margin_words(least + 1) <= depth:
        least += 1
    while least > 0 and least + margin_words(least) > depth:
        least -= 1
    return least


def size_stream_fifos(model: ModelWrapper, price: Price | None = None, *,
                      search: bool = True) -> StreamFifos:
    """The depth of every FIFO of a stitched graph (stream_actors.stitched_streams); module
    doc. `price(s, depth)`: FINN's cost of FIFO s at `depth` (fifo_pricing.fifo_price), which
    orders the search and skips FIFOs whose cost cannot drop; search=False: the safe depths."""
    pipe = Pipeline(model)
    asked = [int(node_inst(f).get_nodeattr("depth")) for f in pipe.fifos]
    reference = pipe.run({}).cycles_per_frame
    if reference is None:
        raise RuntimeError("the stream model deadlocks with unbounded FIFOs; please report this bug")
    paced = pipe.run({}, pace=reference)
    occupancy = list(paced.max_occupancy[:len(pipe.fifos)])
    safe = {s: max(occupancy[s], asked[s]) for s in range(len(pipe.fifos))}
    budget = SEARCH_WORDS // max(pipe.words_per_frame() * MODEL_FRAMES, 1)  # model runs
    # the search needs a run at the safe depths, one per candidate tried and a last one
    found = least_words(pipe.run, safe, asked, reference, price, budget) if (
        search and budget >= MIN_RUNS) else LeastWords(None, frozenset(), 0, False)
    words, sized, searched = dict(safe), float(paced.cycles_per_frame or 0.0), frozenset[int]()
    if found.words is not None:
        words, sized, searched = found.words, reference, found.searched
    return StreamFifos(_stream_fifos(model, pipe, words, asked, occupancy, searched),
                       float(reference), sized, bool(searched), found.runs, found.complete)


@dataclass(frozen=True)
class LeastWords:
    words: dict[int, int] | None  # None: the searched depths do not keep the rate together
    searched: frozenset[int]
    runs: int
    complete: bool


def least_words(run: Callable, safe: dict[int, int], asked: list[int], reference: float,
                price: Price | None = None, max_runs: int = 1 << 30) -> LeastWords:
    """Step 3 of the module doc: `safe` with the FIFOs whose cost can drop at the least of
    their candidate depths (the largest saving first, at most `max_runs` model runs)."""
    runs = 0

    def keeps(words: dict[int, int]) -> bool:
        nonlocal runs
        runs += 1
        timing = run(words)
        return timing.finished and timing.cycles_per_frame <= reference

    held = {s: max(w, SHALLOW_WORDS) for s, w in safe.items()}
    if not keeps(held):
        return LeastWords(None, frozenset(), runs, True)
    searched: set[int] = set()
    complete = True
    start = dict(held)
    for s in _search_order(held, asked, price):
        if runs >= max_runs:
            complete = False
            break
        levels = _levels(s, held[s], asked[s], price)
        lo, hi = 0, len(levels) - 1  # levels[hi]: the safe depth, which keeps the rate
        probe = lo  # the cheapest first: most FIFOs that can go there do
        while lo < hi and runs < max_runs:
            if keeps({**held, s: _test_words(levels[probe])}):
                hi = probe
            else:
                lo = probe + 1
            probe = (lo + hi) // 2
        complete = complete and lo >= hi
        held[s] = max(_held_words(levels[hi]), asked[s])
        searched.add(s)
    if held == start:
        return LeastWords(dict(safe), frozenset(searched), runs, complete)
    # every accepted depth was run with those before it: this last run has them all together
    if not keeps(held):
        return LeastWords(None, frozenset(), runs, complete)
    return LeastWords({s: held[s] if s in searched else safe[s] for s in safe},
                      frozenset(searched), runs, complete)


def _test_words(depth: int) -> int:
    """Words the model must keep the rate with for a FIFO to get `depth`."""
    return TRUSTED_WORDS if depth <= SLACK_WORDS else max(TRUSTED_WORDS, allowed_least(depth))


def _held_words(depth: int) -> int:
    return SHALLOW_WORDS if depth <= SLACK_WORDS else depth


def _levels(s: int, held: int, asked: int, price: Price | None) -> list[int]:
    """Candidate FINN depths of FIFO s, shallowest first, its safe depth last: FINN's minimum
    (if the graph asks for no more), then the depths above a shallow FIFO's words, each the
    deepest of its price."""
    floor = max(SHALLOW_WORDS + 1, asked)
    if price is None:  # doubling depths
        depths = [d for d in (1 << k for k in range(3, held.bit_length())) if floor <= d < held]
        depths.append(held)
    else:  # the deepest of each price that costs no more of any resource than the safe depth
        top = price(s, held)
        depths = [d for d in range(floor, held + 1) if d == held or (
            price(s, d) != price(s, d + 1) and all(a <= b for a, b in zip(price(s, d), top,
                                                                           strict=True)))]
    levels = ([SLACK_WORDS] if asked <= SHALLOW_WORDS else []) + depths
    return levels or [held]


def _search_order(held: dict[int, int], asked: list[int], price: Price | None) -> list[int]:
    """FIFOs deeper than a shallow one whose cost can drop, the largest saving first (in
    stream order without prices)."""
    deep = [s for s, w in held.items() if w > SHALLOW_WORDS and w > asked[s]]
    if price is None:
        return deep

    def saving(s: int) -> tuple[float, ...]:  # (LUT, BRAM_18K, URAM, DSP) at FINN's minimum
        low = SLACK_WORDS if asked[s] <= SHALLOW_WORDS else asked[s]
        return tuple(a - b for a, b in zip(price(s, held[s]), price(s, low), strict=True))

    worth = [s for s in deep if all(v >= 0 for v in saving(s)) and any(v > 0 for v in saving(s))]
    return sorted(worth, key=lambda s: tuple(-v for v in saving(s)))


def _stream_fifos(model: ModelWrapper, pipe: Pipeline, words: dict[int, int],
                  asked: list[int], occupancy: list[int],
                  searched: frozenset[int]) -> tuple[StreamFifo, ...]:
    found = []
    for s, node in enumerate(pipe.fifos):
        inst = node_inst(node)
        producer, consumer = model.find_producer(node.input[0]), model.find_consumer(node.output[0])
        found.append(StreamFifo(
            node.name, producer.name if producer else "input", consumer.name if consumer else "output",
            words[s], max(finn_depth(words[s]), asked[s]), asked[s], occupancy[s],
            int(inst.get_instream_width()), inst.get_input_datatype().name,
            int(inst.get_folded_output_shape()[-1]), s in searched))
    return tuple(found)
