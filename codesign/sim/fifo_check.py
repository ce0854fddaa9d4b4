"""Every stream FIFO of an all-RTL pipeline against codesign's depth (codesign.finn.fifos): does
the accelerator sustain its rate with them, and how much of each depth does it need? For each
FIFO deeper than FINN's minimum, the model's own prediction one word shallower (its cycles/frame,
None: it deadlocks) and the model's least (the fewest words at which it keeps its rate, the
others at codesign's depths; least + fifo_sizing.margin_words is the margin rule) stand beside
the simulation's.

The pipeline is built twice: once as FINN builds it from codesign's fifo_config_file (FINN's own
FIFOs, fifo.sv, at codesign's depths), which says whether the depths keep the rate and stay
out of deadlock; and once with the simulation's unbounded FIFOs and run-time depth limits
(codesign.sim.bench), on which each FIFO deeper than FINN's minimum runs one word shallower
(the others at codesign's depths) and is bisected down to the smallest depth that keeps the
rate of the limited run at codesign's depths (within 1 %): how far the model is from the
least the pipeline needs. One word shallower, the model's verdict (stall: deadlock or more than
1 % slower) stands beside the simulation's."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.finn import estimate
from codesign.finn.fifos import Pipeline, margin_words, sized_fifos
from codesign.finn.rtl import add_stream_infrastructure, execute_frames, set_fifo_depths
from codesign.finn.rtl_residual import fifo_capacity, rtl_joins
from codesign.finn.stream_timing import SHALLOW_WORDS
from codesign.sim.bench import Bench, RunOutcome, make_design
from codesign.sim.packing import pack_beats
from codesign.sim.rtl_layers import cycle_budget, partition_inputs
from codesign.sim.shortcuts import _smallest, keeps_rate
from codesign.sim.verilator import find_verilator


@dataclass(frozen=True)
class FifoCheck:
    name: str
    producer: str
    consumer: str
    depth: int  # codesign's depth (words)
    one_less: RunOutcome  # limited to one word less, the others at codesign's depths
    full_rate_depth: int  # smallest limit within 1 % of the rate at codesign's depths
    model_one_less: float | None = None  # the model's cycles/frame one word less (None: deadlock)
    model_least: int = 0  # least words at which the model keeps its rate (others as built)
    searched: bool = False  # codesign searched its depth (else: its safe depth)
    safe: int = 0  # its safe depth (the most it holds with the input paced)
    model_stalls: bool = False  # the model one word less: deadlock or > 1 % slower than its rate
    stalls: bool = False  # the simulation one word less: deadlock or > 1 % slower than `limited`

    @property
    def margin_rule(self) -> int:
        """The model's least plus the margin fifo_sizing gives it."""
        return self.model_least + margin_words(self.model_least)


@dataclass(frozen=True)
class DepthCheck:
    estimated_cycles: int  # FINN: the slowest layer
    model_cycles: float  # codesign's stream model with unbounded FIFOs
    tightened: bool  # the searched depths are in use (else the safe depths everywhere)
    depths: dict[str, int]  # every FIFO's depth from codesign's model
    as_built: RunOutcome  # FINN's FIFOs at codesign's depths
    limited: RunOutcome  # run-time limits at what FINN's FIFOs of those depths hold
    fifos: tuple[FifoCheck, ...]  # the FIFOs deeper than FINN's minimum

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_fifo_depths(hw: Any, x: np.ndarray, workdir: Path, *, frames: int = 8,
                      cache: Path | None = None, bisect: bool = True) -> DepthCheck:
    """Check codesign's FIFO depths on the all-RTL pipeline `hw` (see the module doc) over
    `frames` samples of `x`."""
    find_verilator("the FIFO depth check")
    samples = np.resize(np.asarray(x), (frames, *np.asarray(x).shape[1:]))
    stitched = add_stream_infrastructure(rtl_joins(hw.model), hw.part, 2)
    sized = sized_fifos(stitched, hw.part)
    depths = sized.depth_of()
    built = make_design(set_fifo_depths(stitched, lambda f, _: depths[f]), hw.part, hw.clock_mhz,
                        finn_fifos=True)
    graph_in, graph_out = built.model.graph.input[0].name, built.model.graph.output[0].name
    contexts = execute_frames(built.model, partition_inputs(hw, samples))
    est = estimate(hw)
    max_cycles, stall = cycle_budget(max(est.latency_cycles, est.max_cycles), 0, frames + 2)
    bench = Bench("the pipeline", Path(workdir), cache, frames,
                  pack_beats(np.stack([c[graph_in] for c in contexts]), built.first),
                  np.stack([c[graph_out] for c in contexts]), 4 * max_cycles, stall)
    as_built = bench.attempt(built, "as_built")
    gauge = make_design(set_fifo_depths(stitched, lambda f, beats: max(
        32, 1 << math.ceil(math.log2(2 * beats + 2)), depths[f])), hw.part, hw.clock_mhz)
    capacities = {f: fifo_capacity(d) for f, d in depths.items()}
    limited = bench.attempt(gauge, "limited", gauge.caps(capacities))
    predicted, least = _model_one_less(stitched, sized)
    checks = tuple(_check_fifo(bench, gauge, capacities, limited, fifo, bisect, predicted[fifo.name],
                               least[fifo.name], sized.cycles_per_frame)
                   for fifo in sized.fifos if fifo.depth > 2)
    return DepthCheck(est.max_cycles, sized.cycles_per_frame, sized.tightened, depths, as_built,
                      limited, checks)


def _model_one_less(stitched: Any, sized: Any) -> tuple[dict[str, float | None], dict[str, int]]:
    """Per FIFO deeper than FINN's minimum: the model's cycles/frame with it one word shallower
    (depth - 1 words, as the simulation's run one word less; the others hold what FINN's FIFOs
    of their depths hold), and the least words at which the model keeps its rate (bisected)."""
    pipe = Pipeline(stitched)
    held = {s: max(f.depth, SHALLOW_WORDS) for s, f in enumerate(sized.fifos)}

    def keeps(s: int, words: int) -> bool:
        timing = pipe.run({**held, s: words})
        return timing.finished and timing.cycles_per_frame <= sized.cycles_per_frame

    one_less: dict[str, float | None] = {}
    least: dict[str, int] = {}
    for s, f in enumerate(sized.fifos):
        if f.depth > 2:
            one_less[f.name] = pipe.run({**held, s: f.depth - 1}).cycles_per_frame
            least[f.name] = _smallest(1, held[s], lambda w, s=s: keeps(s, w)) if keeps(
                s, held[s]) else held[s]
    return one_less, least


def _check_fifo(bench: Bench, gauge: Any, capacities: dict[str, int], limited: RunOutcome,
                fifo: Any, bisect: bool, predicted: float | None, model_least: int,
                model_rate: float) -> FifoCheck:
    """One word less, and the least limit at the rate of `limited`, for one FIFO."""
    runs: dict[int, RunOutcome] = {}

    def run(words: int) -> RunOutcome:
        if words not in runs:
            runs[words] = bench.attempt(gauge, f"{fifo.name}_{words}",
                                        gauge.caps({**capacities, fifo.name: words}))
        return runs[words]

    def full_rate(words: int) -> bool:
        return keeps_rate(run(words).cycles_per_frame, limited.cycles_per_frame)

    one_less = run(fifo.depth - 1)
    least = _smallest(1, fifo.depth, full_rate) if bisect and full_rate(fifo.depth) else fifo.depth
    return FifoCheck(fifo.name, fifo.producer, fifo.consumer, fifo.depth, one_less, least,
                     predicted, model_least, fifo.searched, max(fifo.occupancy, fifo.asked),
                     model_stalls=not keeps_rate(predicted, model_rate),
                     stalls=not keeps_rate(one_less.cycles_per_frame, limited.cycles_per_frame))
