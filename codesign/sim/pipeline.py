"""Whole-pipeline RTL simulation of an all-RTL dataflow partition.

A generated top level chains the layers as a stitched FINN accelerator does: a FIFO on every
stream, width converters where widths differ, each decoupled MVAU fed by its own weight
streamer (FINN's memstream). A batch of frames is streamed through it twice:

1. as fast as the input is accepted: the steady-state interval between output frames is the
   pipeline's throughput, the first frame's input-to-output time its latency; both are compared
   with FINN's estimate (bottleneck cycles, critical path);
2. with the input paced at the measured throughput, as a source at that rate would feed it:
   the largest occupancy of each FIFO is the depth the pipeline actually needed (an unpaced
   source only floods the first FIFOs, which says nothing about the layers).

FIFO occupancy is counted in the top level from each FIFO's input and output handshakes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import CompileError
from codesign.finn import estimate
from codesign.finn.rtl import (
    add_stream_infrastructure,
    execute_frames,
    fifo_depth,
    generate_rtl,
    is_rtl_node,
    memstream_sources,
    rtl_layer,
    set_fifo_depths,
)
from codesign.sim.packing import pack_beats, unpack_beats
from codesign.sim.rtl_layers import DesignRun, cycle_budget, deviation, partition_inputs, run_design
from codesign.sim.testbench import StreamPort, TestbenchSpec
from codesign.sim.verilator import SourceFile, find_verilator

if TYPE_CHECKING:
    from codesign.finn.compile import HWGraph
    from codesign.finn.rtl import RtlLayer

TOP = "codesign_pipeline"
MEMSTREAM_TIES = ("s_axilite_AWVALID", "s_axilite_AWPROT", "s_axilite_AWADDR", "s_axilite_WVALID",
                  "s_axilite_WDATA", "s_axilite_WSTRB", "s_axilite_BREADY", "s_axilite_ARVALID",
                  "s_axilite_ARPROT", "s_axilite_ARADDR", "s_axilite_RREADY", "s_axis_0_tvalid",
                  "s_axis_0_tdata")


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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fifos"] = [asdict(f) for f in self.fifos]
        return out


def non_rtl_layers(hw: HWGraph) -> list[str]:
    return [f"{n.name} ({n.op_type})" for n in hw.model.graph.node if not is_rtl_node(n)]


def _stream_ports(prefix: str, wire: str) -> list[str]:
    return [f".{prefix}_TDATA({wire}_tdata)", f".{prefix}_TVALID({wire}_tvalid)",
            f".{prefix}_TREADY({wire}_tready)"]


def generate_top(layers: list[RtlLayer], graph_in: str, graph_out: str,
                 fifos: list[str]) -> str:
    """SystemVerilog top level chaining `layers` (in graph order) through their tensors, with
    weight streamers and, for each FIFO layer named in `fifos`, an occupancy monitor."""
    widths: dict[str, int] = {}
    for layer in layers:
        for tensor, stream in zip(layer.input_tensors, layer.inputs, strict=True):
            widths[tensor] = stream.width
        for tensor, stream in zip(layer.output_tensors, layer.outputs, strict=True):
            widths.setdefault(tensor, stream.width)
    # Wires are numbered in graph order: FINN names inserted tensors randomly, and the top's
    # text is part of the build's cache key.
    numbers = {tensor: i for i, tensor in enumerate(widths)}

    def _wire(tensor: str) -> str:
        return f"s{numbers[tensor]}"

    ports = [f"input [{widths[graph_in] - 1}:0] in0_V_TDATA", "input in0_V_TVALID",
             "output in0_V_TREADY", f"output [{widths[graph_out] - 1}:0] out0_V_TDATA",
             "output out0_V_TVALID", "input out0_V_TREADY"]
    ports += [f"output [31:0] fifo_max_{i}" for i in range(len(fifos))]
    body = [f"  wire [{w - 1}:0] {_wire(t)}_tdata;\n  wire {_wire(t)}_tvalid, {_wire(t)}_tready;"
            for t, w in widths.items()]
    body += [f"  assign {_wire(graph_in)}_tdata = in0_V_TDATA;",
             f"  assign {_wire(graph_in)}_tvalid = in0_V_TVALID;",
             f"  assign in0_V_TREADY = {_wire(graph_in)}_tready;",
             f"  assign out0_V_TDATA = {_wire(graph_out)}_tdata;",
             f"  assign out0_V_TVALID = {_wire(graph_out)}_tvalid;",
             f"  assign {_wire(graph_out)}_tready = out0_V_TREADY;"]
    for layer in layers:
        conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)"]
        if layer.has_clock2x:
            conns.append(".ap_clk2x(ap_clk)")  # FINN ties it to ap_clk unless pumped
        for tensor, stream in zip(layer.input_tensors, layer.inputs, strict=True):
            conns += _stream_ports(stream.port, _wire(tensor))
        for tensor, stream in zip(layer.output_tensors, layer.outputs, strict=True):
            conns += _stream_ports(stream.port, _wire(tensor))
        if layer.weights is not None:
            w = f"w_{layer.name}"
            body.append(f"  wire [{layer.weights.width - 1}:0] {w}_tdata;\n  wire {w}_tvalid, {w}_tready;")
            ties = ", ".join(f".{p}('0)" for p in MEMSTREAM_TIES)
            body.append(f"  {layer.memstream_top} {layer.name}_weights (.ap_clk(ap_clk), "
                        f".ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n), {ties}, .m_axis_0_tready({w}_tready), "
                        f".m_axis_0_tvalid({w}_tvalid), .m_axis_0_tdata({w}_tdata));")
            conns += _stream_ports(layer.weights.port, w)
        body.append(f"  {layer.top} {layer.name}_i (\n    " + ",\n    ".join(conns) + "\n  );")
    by_name = {layer.name: layer for layer in layers}
    for i, name in enumerate(fifos):
        into, out = _wire(by_name[name].input_tensors[0]), _wire(by_name[name].output_tensors[0])
        body.append(
            f"  logic [31:0] occ_{i} = 0, max_{i} = 0;\n"
            f"  wire [31:0] next_{i} = occ_{i} + ({into}_tvalid && {into}_tready) "
            f"- ({out}_tvalid && {out}_tready);\n"
            f"  always_ff @(posedge ap_clk) if (!ap_rst_n) begin occ_{i} <= 0; max_{i} <= 0; end\n"
            f"    else begin occ_{i} <= next_{i}; if (next_{i} > max_{i}) max_{i} <= next_{i}; end\n"
            f"  assign fifo_max_{i} = max_{i};")
    return (f"module {TOP} (\n  input ap_clk,\n  input ap_rst_n,\n  " + ",\n  ".join(ports)
            + "\n);\n" + "\n".join(body) + "\nendmodule\n")


def _sources(layers: list[RtlLayer], top_text: str) -> tuple[list[SourceFile], list[tuple[Path, str]]]:
    """Every layer's HDL (shared library files once), weight streamers with their memory
    image made a relative path, and the top level; plus the memory images to copy."""
    paths: list[Path] = []
    data: list[tuple[Path, str]] = []
    streamers: list[SourceFile] = []
    for layer in layers:
        paths += [p for p in layer.sources if p not in paths]
        data += [(p, p.name) for p in layer.data_files if p.name != "memblock.dat"]
        if layer.memstream_top is not None:
            paths += [p for p in memstream_sources() if p not in paths]
            text = (layer.code_gen_dir / f"{layer.memstream_top}.v").read_text(encoding="utf-8")
            image = f"memblock_{layer.name}.dat"
            text = text.replace(str(layer.code_gen_dir / "memblock.dat"), image)
            if image not in text:
                raise CompileError(f"{layer.name}: its weight streamer does not read "
                                   f"{layer.code_gen_dir / 'memblock.dat'}; cannot relocate it")
            streamers.append(SourceFile(f"{layer.memstream_top}.v", text))
            data.append((layer.code_gen_dir / "memblock.dat", image))
    names = [p.name for p in paths]
    sources = [SourceFile(p.name if names.count(p.name) == 1 else f"{i}_{p.name}",
                          p.read_text(encoding="utf-8")) for i, p in enumerate(paths)]
    return sources + streamers + [SourceFile(f"{TOP}.sv", top_text)], data


@dataclass(frozen=True)
class _Design:
    """A generated pipeline ready to run: its model (with FIFOs/DWCs), layers and build inputs."""
    model: Any
    layers: list[RtlLayer]
    fifos: list[str]
    sources: list[SourceFile]
    data: list[tuple[Path, str]]
    spec: TestbenchSpec


def _design(stitched: Any, part: str, clock_mhz: float) -> _Design:
    model = generate_rtl(stitched, part, clock_mhz)
    layers = [rtl_layer(model, node) for node in model.graph.node]
    fifos = [layer.name for layer in layers if layer.op_type.startswith("StreamingFIFO")]
    top = generate_top(layers, model.graph.input[0].name, model.graph.output[0].name, fifos)
    sources, data = _sources(layers, top)
    spec = TestbenchSpec(TOP, (StreamPort("in0_V", layers[0].inputs[0].width),),
                         (StreamPort("out0_V", layers[-1].outputs[0].width),),
                         monitors=tuple((f"fifo_max_{i}", 32) for i in range(len(fifos))))
    return _Design(model, layers, fifos, sources, data, spec)


def _frame_ends(cycles: list[int], beats_per_frame: int, frames: int) -> list[int]:
    return [cycles[(f + 1) * beats_per_frame - 1] for f in range(frames)]


def _steady(ends: list[int]) -> float:
    """Mean interval between frame ends over the second half of the batch (pipeline full)."""
    tail = ends[len(ends) // 2:]
    return (tail[-1] - tail[0]) / max(len(tail) - 1, 1)


def simulate_pipeline(hw: HWGraph, x: np.ndarray, workdir: Path, *, frames: int = 8,
                      cache: Path | None = None, check_depths: bool = True,
                      stitched: Any = None) -> PipelineSim:
    """Simulate the folded all-RTL partition `hw` on `frames` samples of `x` (repeated if
    fewer), against FINN's Python execution and its performance estimate. With
    `check_depths`, the pipeline is rebuilt with the FIFO depths it needed and run again, to
    show that they keep the throughput. `stitched`: the graph from rtl_layers.stitch(), if
    already made (only its FIFOs are then regenerated)."""
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
        stitched = add_stream_infrastructure(hw.model, hw.part, 2)
    # Deep enough for two frames of their stream: the FIFOs never throttle the first runs.
    deep = _design(set_fifo_depths(stitched, lambda _, beats: max(32, 1 << math.ceil(
        math.log2(2 * beats + 2)))), hw.part, hw.clock_mhz)
    first, last = deep.layers[0].inputs[0], deep.layers[-1].outputs[0]
    graph_in, graph_out = deep.model.graph.input[0].name, deep.model.graph.output[0].name
    contexts = execute_frames(deep.model, partition_inputs(hw, samples))
    beats_in = pack_beats(np.stack([c[graph_in] for c in contexts]), first)
    expected = np.stack([c[graph_out] for c in contexts])
    est = estimate(hw)
    max_cycles, stall = cycle_budget(max(est.latency_cycles, est.max_cycles), 0, frames + 2)

    def run(design: _Design, run_name: str, extra: tuple[str, ...] = ()) -> DesignRun:
        return run_design(name, design.spec, design.sources, Path(workdir) / run_name,
                          inputs={"in0_V": (beats_in, first.width)}, cyclic={},
                          expect={"out0_V": last.beats_per_frame * frames}, data_files=design.data,
                          max_cycles=max_cycles, stall_cycles=stall, cache=cache, extra_args=extra)

    free = run(deep, "free")
    cycles, beats = free.outputs["out0_V"]
    got = unpack_beats(beats, last)
    wrong = int(np.sum(got != expected.reshape(got.shape)))
    ends = _frame_ends(cycles, last.beats_per_frame, frames)
    per_frame, latency = _steady(ends), ends[0] - free.accepted["in0_V"][0] + 1
    paced = run(deep, "paced", (f"pace=in0_V:{first.beats_per_frame}:{math.ceil(per_frame)}",))
    occupancy = paced.run.monitors()
    needed = {f: occupancy.get(f"fifo_max_{i}", 0) for i, f in enumerate(deep.fifos)}
    depths = tuple(FifoDepth(f, _neighbour(deep.layers, f, producer=True),
                             _neighbour(deep.layers, f, producer=False),
                             fifo_depth_of(deep, f), needed[f]) for f in deep.fifos)
    checked = None
    if check_depths:  # FINN's FIFO needs at least 2 entries
        sized = _design(set_fifo_depths(deep.model, lambda f, _: max(2, needed[f])), hw.part,
                        hw.clock_mhz)
        rerun = run(sized, "needed_depths")
        checked = _steady(_frame_ends(rerun.outputs["out0_V"][0], last.beats_per_frame, frames))
    return PipelineSim(
        layers=tuple(n.name for n in hw.model.graph.node), frames=frames, match=wrong == 0,
        detail="" if wrong == 0 else f"{wrong}/{got.size} output values differ from Python's",
        cycles_per_frame=per_frame, latency_cycles=latency, estimated_cycles=est.max_cycles,
        estimated_latency_cycles=est.latency_cycles,
        throughput_deviation_pct=deviation(per_frame, est.max_cycles),
        latency_deviation_pct=deviation(latency, est.latency_cycles), clock_mhz=hw.clock_mhz,
        fps=hw.clock_mhz * 1e6 / per_frame, estimated_fps=est.fps,
        paced_cycles_per_frame=_steady(_frame_ends(paced.outputs["out0_V"][0],
                                                   last.beats_per_frame, frames)),
        needed_depths_cycles_per_frame=checked, fifos=depths,
        build_seconds=free.built.seconds, cached_build=free.built.cached,
        run_seconds=free.run.seconds + paced.run.seconds)


def _neighbour(layers: list[RtlLayer], fifo: str, producer: bool) -> str:
    layer = next(layer for layer in layers if layer.name == fifo)
    tensor = layer.input_tensors[0] if producer else layer.output_tensors[0]
    for other in layers:
        if (tensor in other.output_tensors) if producer else (tensor in other.input_tensors):
            return other.name
    return "input" if producer else "output"


def fifo_depth_of(design: _Design, name: str) -> int:
    return fifo_depth(design.model, name)
