"""One whole-pipeline design and its stimulus, run as often as a check needs.

A `Design` is the generated top level of a stitched partition (FINN's RTL layers, codesign's
fork, FIFOs with occupancy monitors and run-time depth limits). The limits are what gives a
FIFO its depth in simulation: FINN's StreamingFIFO_rtl, built with FINN_SIMULATION defined as
every Verilator build here is, is `fifo_gauge`, an unbounded queue that is always ready, so its
`depth` attribute does not reach the simulation; the top level holds its input off while the
limit's number of words is in it, as a FIFO that deep would. A `Bench` holds
what every run of it shares: the input beats of a batch of frames, Python's expected outputs,
the cycle budget. Runs differ only in their command line (input pacing, FIFO limits), so a
graph is built once for all of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import CompileError, VerificationError
from codesign.finn.rtl import generate_rtl, rtl_layer
from codesign.finn.rtl_residual import is_fork
from codesign.sim.packing import unpack_beats
from codesign.sim.rtl_layers import DesignRun, run_design
from codesign.sim.testbench import StreamPort, TestbenchSpec
from codesign.sim.toplevel import TOP, fork_layer, generate_top, top_sources
from codesign.sim.verilator import SimulationStalled, SourceFile

if TYPE_CHECKING:
    from codesign.finn.rtl import RtlLayer, StreamInfo


@dataclass(frozen=True)
class Design:
    """A generated pipeline ready to run: its model (with FIFOs/DWCs), layers and build inputs."""
    model: Any
    layers: list[RtlLayer]
    fifos: list[str]  # FIFO layers, in the order of their monitors (and limits)
    sources: list[SourceFile]
    data: list[tuple[Path, str]]
    spec: TestbenchSpec
    first: StreamInfo  # the accelerator's input stream
    last: StreamInfo  # its output stream

    def caps(self, depths: dict[str, int]) -> tuple[str, ...]:
        """Command-line arguments limiting the named FIFOs to `depths` words (0: unlimited)."""
        return tuple(f"set=fifo_cap_{i}:{depths[f]}" for i, f in enumerate(self.fifos) if f in depths)


def _stream_of(layers: list[RtlLayer], tensor: str, output: bool) -> StreamInfo:
    for layer in layers:
        tensors, streams = ((layer.output_tensors, layer.outputs) if output
                            else (layer.input_tensors, layer.inputs))
        for name, stream in zip(tensors, streams, strict=True):
            if name == tensor:
                return stream
    raise ValueError(f"no layer {'writes' if output else 'reads'} {tensor}")


# FINN's FIFO wrapper picks the unbounded gauge under FINN_SIMULATION; renaming the macro of
# that branch (never defined) gives FINN's real FIFO (fifo.sv) of the node's depth instead.
_GAUGE_BRANCH = re.compile(r"`ifdef FINN_SIMULATION(\s+fifo_gauge\b)")


def _finn_fifo(source: SourceFile) -> SourceFile:
    text, count = _GAUGE_BRANCH.subn(r"`ifdef CODESIGN_FIFO_GAUGE\1", source.text)
    if count != 1:
        raise CompileError(f"{source.name}: FINN's FIFO wrapper no longer selects fifo_gauge under "
                           "FINN_SIMULATION as codesign expects; update codesign.sim.bench")
    return SourceFile(source.name, text)


def make_design(stitched: Any, part: str, clock_mhz: float, finn_fifos: bool = False) -> Design:
    """The top level of `stitched`, every FIFO with a run-time depth limit. With `finn_fifos`,
    FINN's own FIFOs of the nodes' depths instead of the simulation's unbounded ones (limits
    then only add to them): the FIFOs exactly as a FINN build has them, one build per set of
    depths."""
    model = generate_rtl(stitched, part, clock_mhz)
    layers = [fork_layer(model, node) if is_fork(node) else rtl_layer(model, node)
              for node in model.graph.node]
    fifos = [layer.name for layer in layers if layer.op_type.startswith("StreamingFIFO")]
    graph_in, graph_out = model.graph.input[0].name, model.graph.output[0].name
    sources, data = top_sources(layers, generate_top(layers, graph_in, graph_out, fifos, True))
    if finn_fifos:
        wrappers = {f"{layer.top}.v" for layer in layers if layer.name in fifos}
        sources = [_finn_fifo(s) if s.name in wrappers else s for s in sources]
    first, last = _stream_of(layers, graph_in, False), _stream_of(layers, graph_out, True)
    spec = TestbenchSpec(TOP, (StreamPort("in0_V", first.width),), (StreamPort("out0_V", last.width),),
                         monitors=tuple((f"fifo_max_{i}", 32) for i in range(len(fifos))),
                         controls=tuple((f"fifo_cap_{i}", 32) for i in range(len(fifos))))
    return Design(model, layers, fifos, sources, data, spec, first, last)


def failure_reason(error: Exception) -> str:
    """One line saying why a run did not finish: the RTL assertion that stopped it (which
    layer, what it said) or the first line of the error."""
    text = str(error)
    for line in text.splitlines():
        if "Assertion failed in" in line:
            layer = re.search(rf"{TOP}\.(\w+?)_i\.", line)
            return (f"RTL assertion in {layer.group(1) if layer else 'a layer'}: "
                    f"{line.rsplit(': ', 1)[-1].strip()}")
    return text.splitlines()[0] if text else type(error).__name__


def frame_ends(cycles: list[int], beats_per_frame: int, frames: int) -> list[int]:
    return [cycles[(f + 1) * beats_per_frame - 1] for f in range(frames)]


def steady(ends: list[int]) -> float:
    """Mean interval between frame ends over the second half of the batch (pipeline full)."""
    tail = ends[len(ends) // 2:]
    return (tail[-1] - tail[0]) / max(len(tail) - 1, 1)


@dataclass(frozen=True)
class RunOutcome:
    outcome: str  # "ran", "deadlock" (no stream moved any more) or "failed" (an RTL assertion)
    cycles_per_frame: float | None  # steady state, unpaced (None: did not run through)
    match: bool | None  # outputs equal Python's (None: did not run through)
    detail: str = ""


@dataclass(frozen=True)
class Bench:
    name: str  # for messages: "the pipeline A..B"
    workdir: Path
    cache: Path | None
    frames: int
    beats_in: list[int]
    expected: np.ndarray  # Python's outputs, frames first
    max_cycles: int
    stall_cycles: int

    def run(self, design: Design, run_name: str, extra: tuple[str, ...] = ()) -> DesignRun:
        """Run `design` on the batch (raises SimulationStalled on a stall or deadlock)."""
        return run_design(self.name, design.spec, design.sources, Path(self.workdir) / run_name,
                          inputs={"in0_V": (self.beats_in, design.first.width)}, cyclic={},
                          expect={"out0_V": design.last.beats_per_frame * self.frames},
                          data_files=design.data, max_cycles=self.max_cycles,
                          stall_cycles=self.stall_cycles, cache=self.cache, extra_args=extra)

    def attempt(self, design: Design, run_name: str, extra: tuple[str, ...] = ()) -> RunOutcome:
        """Run `design` on the batch; a deadlock or an RTL assertion is an outcome, not an error."""
        try:
            result = self.run(design, run_name, extra)
        except VerificationError as exc:  # SimulationStalled is one: a deadlock
            outcome = "deadlock" if isinstance(exc, SimulationStalled) else "failed"
            return RunOutcome(outcome, None, None, failure_reason(exc))
        wrong, compared = self.wrong_values(design, result)
        return RunOutcome("ran", self.cycles_per_frame(design, result), wrong == 0,
                          "" if wrong == 0 else f"{wrong}/{compared} output values differ")

    def wrong_values(self, design: Design, run: DesignRun) -> tuple[int, int]:
        """(output values that differ from Python's, values compared)."""
        got = unpack_beats(run.outputs["out0_V"][1], design.last)
        return int(np.sum(got != self.expected.reshape(got.shape))), int(got.size)

    def cycles_per_frame(self, design: Design, run: DesignRun) -> float:
        return steady(self.ends(design, run))

    def ends(self, design: Design, run: DesignRun) -> list[int]:
        return frame_ends(run.outputs["out0_V"][0], design.last.beats_per_frame, self.frames)
