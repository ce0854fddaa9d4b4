"""Whole-pipeline RTL simulation of an all-RTL dataflow partition, a chain or a graph with
residual forks and joins.

A generated top level (codesign.sim.toplevel) connects the layers as a stitched FINN
accelerator does: a FIFO on every stream, width converters where widths differ, each decoupled
MVAU fed by its own weight streamer (FINN's memstream); a fork is codesign's broadcast module,
a join FINN's ElementwiseAdd_rtl. A batch of frames is streamed through it twice:

1. as fast as the input is accepted: the steady-state interval between output frames is the
   pipeline's throughput, the first frame's input-to-output time its latency; both are compared
   with FINN's estimate (bottleneck cycles, critical path);
2. with the input paced at the measured throughput, as a source at that rate would feed it:
   the largest occupancy of each FIFO is the depth the pipeline actually needed (an unpaced
   source only floods the first FIFOs, which says nothing about the layers).

FIFO occupancy is counted in the top level from each FIFO's input and output handshakes, and
each FIFO's depth is a run-time limit (codesign.sim.bench says why). A graph with forks also
has each skip-branch FIFO checked against codesign's depth (shortcuts.py)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import CompileError, VerificationError
from codesign.finn import estimate
from codesign.finn.fifos import sized_fifos
from codesign.finn.rtl import (
    add_stream_infrastructure,
    execute_frames,
    fifo_depth,
    is_rtl_node,
    set_fifo_depths,
)
from codesign.finn.rtl_residual import is_fork, is_join, join_rtl_blocker, model_fifo_depths, rtl_joins
from codesign.sim.bench import Bench, RunOutcome, failure_reason, make_design, steady
from codesign.sim.packing import pack_beats
from codesign.sim.rtl_layers import cycle_budget, deviation, partition_inputs
from codesign.sim.shortcuts import ShortcutCheck, check_shortcuts
from codesign.sim.verilator import find_verilator

if TYPE_CHECKING:
    from codesign.finn.compile import HWGraph
    from codesign.finn.rtl import RtlLayer


@dataclass(frozen=True)
class FifoDepth:
    name: str
    producer: str  # the layer writing into the FIFO ("input" for the accelerator's input)
    consumer: str  # the layer reading it ("output" for the accelerator's output)
    simulated_depth: int
    needed_depth: int  # largest occupancy with the input paced at the measured throughput


@dataclass(frozen=True)
class PipelineSim:
    layers: tuple[str, ...]
    frames: int
    match: bool
    detail: str
    cycles_per_frame: float  # steady state, unpaced
    latency_cycles: int  # first input beat -> last output beat of the first frame
    estimated_cycles: int  # FINN: cycles of the bottleneck layer
    estimated_latency_cycles: int  # FINN: critical path
    throughput_deviation_pct: float | None
    latency_deviation_pct: float | None
    clock_mhz: float
    fps: float
    estimated_fps: float
    paced_cycles_per_frame: float  # input paced at the measured throughput
    needed_depths_cycles_per_frame: float | None  # unpaced again, FIFOs at their needed depths
    fifos: tuple[FifoDepth, ...]
    build_seconds: float
    cached_build: bool
    run_seconds: float
    shortcuts: tuple[ShortcutCheck, ...] = ()  # each skip-branch FIFO against codesign's model
    # with forks: every FIFO FINN's own (not a limit) at the depth codesign's stream model
    # writes to fifo_config_file (codesign.finn.fifos), as FINN builds it
    as_built: RunOutcome | None = None
    needed_depths_detail: str = ""  # why the run at the needed depths did not run through

    @property
    def skip_fifo_problem(self) -> str:
        """What went wrong with the accelerator at codesign's FIFO depths ("" if nothing): as
        built at the stream model's depths, or a deadlock at the skip buffers' token count."""
        built = self.as_built
        if built is not None and built.outcome == "deadlock":
            return "deadlocks with FINN's FIFOs at codesign's depths"
        if built is not None and (built.outcome == "failed" or not built.match):
            return f"with FINN's FIFOs at codesign's depths: {built.detail}"
        for check in self.shortcuts:
            run = check.run_at(check.model_depth)
            if run.outcome == "deadlock":
                return f"skip FIFO {check.fifo} at codesign's {check.model_depth} words deadlocks"
            if run.outcome == "failed" or not run.match:
                return f"at codesign's FIFO depths: {run.detail}"
        return ""

    @property
    def skip_fifos_ok(self) -> bool:
        """Every skip-branch FIFO at codesign's depth (the others too) ran through bit-exactly."""
        return not self.skip_fifo_problem

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fifos"] = [asdict(f) for f in self.fifos]
        out["shortcuts"] = [s.to_dict() for s in self.shortcuts]
        out["as_built"] = None if self.as_built is None else asdict(self.as_built)
        out["skip_fifos_ok"] = self.skip_fifos_ok
        out["skip_fifo_problem"] = self.skip_fifo_problem
        return out


def non_rtl_layers(hw: HWGraph) -> list[str]:
    """The layers the whole-pipeline simulation cannot build: neither RTL, nor a fork (codesign's
    broadcast module stands in for it), nor a join FINN's RTL add can implement (with why)."""
    missing = []
    for node in hw.model.graph.node:
        if is_rtl_node(node) or is_fork(node):
            continue
        why = join_rtl_blocker(node) if is_join(node) else None
        if not is_join(node) or why is not None:
            missing.append(f"{node.name} ({node.op_type}{': ' + why if why else ''})")
    return missing


def simulate_pipeline(hw: HWGraph, x: np.ndarray, workdir: Path, *, frames: int = 8,
                      cache: Path | None = None, check_depths: bool = True,
                      stitched: Any = None) -> PipelineSim:
    """Simulate the folded all-RTL partition `hw` on `frames` samples of `x` (repeated if
    fewer), against FINN's Python execution and its performance estimate. With
    `check_depths`, the pipeline runs again with its FIFOs limited to the depths it needed, to
    show that they keep the throughput, and each skip-branch FIFO is checked against
    codesign's model of its depth (codesign.sim.shortcuts). `stitched`: the graph from
    rtl_layers.stitch(), if already made (only its FIFOs are then regenerated)."""
    missing = non_rtl_layers(hw)
    if missing:
        raise CompileError(f"whole-pipeline RTL simulation needs every layer in RTL; "
                           f"{', '.join(missing)} have only HLS implementations here. Compile "
                           "with RTL MVAUs (folding.mvau_rtl: true in a flow, --mvau-rtl for codesign "
                           "build, mvau_rtl=True for compile_to_hw), or simulate the layers one by one")
    name = f"the pipeline {hw.model.graph.node[0].name}..{hw.model.graph.node[-1].name}"
    find_verilator(name)
    samples = np.resize(np.asarray(x), (frames, *np.asarray(x).shape[1:]))
    if stitched is None:
        stitched = add_stream_infrastructure(rtl_joins(hw.model), hw.part, 2)
    model_depths = model_fifo_depths(stitched)  # before the depths are made deep below
    # Deep enough for two frames of their stream (and for codesign's depth): the FIFOs never
    # throttle the first runs.
    deep = make_design(set_fifo_depths(stitched, lambda f, beats: max(
        32, 1 << math.ceil(math.log2(2 * beats + 2)), model_depths.get(f, 0))), hw.part, hw.clock_mhz)
    graph_in, graph_out = deep.model.graph.input[0].name, deep.model.graph.output[0].name
    contexts = execute_frames(deep.model, partition_inputs(hw, samples))
    est = estimate(hw)
    max_cycles, stall = cycle_budget(max(est.latency_cycles, est.max_cycles), 0, frames + 2)
    bench = Bench(name, Path(workdir), cache, frames,
                  pack_beats(np.stack([c[graph_in] for c in contexts]), deep.first),
                  np.stack([c[graph_out] for c in contexts]), max_cycles, stall)
    free = bench.run(deep, "free")
    wrong, compared = bench.wrong_values(deep, free)
    ends = bench.ends(deep, free)
    per_frame, latency = steady(ends), ends[0] - free.accepted["in0_V"][0] + 1
    pace = f"pace=in0_V:{deep.first.beats_per_frame}:{math.ceil(per_frame)}"
    paced = bench.run(deep, "paced", (pace,))
    occupancy = paced.run.monitors()
    needed = {f: occupancy.get(f"fifo_max_{i}", 0) for i, f in enumerate(deep.fifos)}
    depths = tuple(FifoDepth(f, _neighbour(deep.layers, f, producer=True),
                             _neighbour(deep.layers, f, producer=False),
                             fifo_depth(deep.model, f), needed[f]) for f in deep.fifos)
    checked, checked_detail, shortcuts = None, "", ()
    if check_depths:  # FINN's FIFO needs at least 2 entries
        try:
            rerun = bench.run(deep, "needed_depths",
                              deep.caps({f: max(2, n) for f, n in needed.items()}))
            checked = bench.cycles_per_frame(deep, rerun)
        except VerificationError as exc:  # a stall, or an RTL assertion under back-pressure
            checked_detail = failure_reason(exc)
        shortcuts = check_shortcuts(bench, deep, model_depths, needed)
    as_built = None
    if shortcuts:  # one more build: FINN's FIFOs at the depths of codesign's fifo_config_file
        sized = sized_fifos(stitched, hw.part).depth_of()
        built = make_design(set_fifo_depths(deep.model, lambda f, _: max(sized[f], model_depths[f])),
                            hw.part, hw.clock_mhz, finn_fifos=True)
        as_built = bench.attempt(built, "as_built")
    return PipelineSim(
        layers=tuple(n.name for n in hw.model.graph.node), frames=frames, match=wrong == 0,
        detail="" if wrong == 0 else f"{wrong}/{compared} output values differ from Python's",
        cycles_per_frame=per_frame, latency_cycles=latency, estimated_cycles=est.max_cycles,
        estimated_latency_cycles=est.latency_cycles,
        throughput_deviation_pct=deviation(per_frame, est.max_cycles),
        latency_deviation_pct=deviation(latency, est.latency_cycles), clock_mhz=hw.clock_mhz,
        fps=hw.clock_mhz * 1e6 / per_frame, estimated_fps=est.fps,
        paced_cycles_per_frame=bench.cycles_per_frame(deep, paced),
        needed_depths_cycles_per_frame=checked, needed_depths_detail=checked_detail, fifos=depths,
        shortcuts=shortcuts, as_built=as_built,
        build_seconds=free.built.seconds, cached_build=free.built.cached,
        run_seconds=free.run.seconds + paced.run.seconds)


def _neighbour(layers: list[RtlLayer], fifo: str, producer: bool) -> str:
    layer = next(layer for layer in layers if layer.name == fifo)
    tensor = layer.input_tensors[0] if producer else layer.output_tensors[0]
    for other in layers:
        if (tensor in other.output_tensors) if producer else (tensor in other.input_tensors):
            return other.name
    return "input" if producer else "output"

