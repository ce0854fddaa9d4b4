"""Per-layer RTL simulation: every RTL layer of a folded partition (plus the FIFOs and width
converters a stitched accelerator gets) built with Verilator and fed the folded input stream of
a few frames (and its weight stream), its outputs compared bit-exactly with FINN's Python
execution of the same node, and its cycles per frame and latency measured beside FINN's
estimate. HLS layers have no open-source simulator here: they run in Python and say so."""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.finn.compile_graphs import FoldedGraph
from codesign.finn.rtl import (
    add_stream_infrastructure,
    execute_frames,
    exp_cycles,
    generate_rtl,
    is_rtl_node,
    rtl_layer,
    to_stream_order,
)
from codesign.finn.rtl_residual import is_fork, rtl_joins
from codesign.sim.packing import pack_beats, unpack_beats
from codesign.sim.testbench import StreamPort, TestbenchSpec, format_beats, generate_testbench, parse_output
from codesign.sim.verilator import (
    BuildSpec,
    BuiltModel,
    SimRun,
    SimulationStalled,
    SourceFile,
    build_model,
    find_verilator,
    run_model,
)

if TYPE_CHECKING:
    from codesign.finn.compile import HWGraph
    from codesign.finn.rtl import RtlLayer

LAYER_FIFO_DEPTH = 32  # depth of the FIFOs simulated on their own
CANONICAL_NAME = "dut"
RUN_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class LayerSim:
    name: str
    op_type: str
    mode: str  # "verilator" or "python"
    frames: int
    match: bool | None  # RTL outputs equal Python's (None: nothing to compare, Python only)
    cycles_per_frame: float | None  # steady state: interval between the ends of frames
    latency_cycles: int | None  # first input beat accepted -> last output beat of frame 0
    estimated_cycles: int  # FINN's get_exp_cycles (0: FINN has no estimate for the layer)
    deviation_pct: float | None  # measured vs estimated cycles per frame
    stream_beats: int = 0  # beats per frame of the layer's busiest stream: a lower bound on cycles
    build_seconds: float = 0.0
    cached_build: bool = False
    run_seconds: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StreamRecord:
    cycles: list[int]  # cycle of each beat
    values: np.ndarray  # unpacked, (frames, *normal shape[1:])


def deviation(measured: float | None, estimated: int) -> float | None:
    if measured is None or estimated <= 0:
        return None
    return 100.0 * (measured - estimated) / estimated


def frame_timing(out_cycles: list[int], beats_per_frame: int, first_input: int | None
                 ) -> tuple[float | None, int | None]:
    """(steady-state cycles per frame, first-frame latency) from output beat cycles."""
    frames = len(out_cycles) // beats_per_frame
    if frames == 0:
        return None, None
    ends = [out_cycles[(f + 1) * beats_per_frame - 1] for f in range(frames)]
    latency = ends[0] - first_input + 1 if first_input is not None else None
    if frames >= 2:
        return float(ends[-1] - ends[-2]), latency
    return (float(latency) if latency is not None else None), latency


def cycle_budget(estimate: int, beats: int, frames: int) -> tuple[int, int]:
    """(max cycles, max idle cycles) of a run: generous, but bounded."""
    per_frame = max(estimate, beats, 1)
    return 20 * per_frame * frames + 20_000, 4 * per_frame + 10_000


@dataclass(frozen=True)
class DesignRun:
    built: BuiltModel
    run: SimRun
    outputs: dict[str, tuple[list[int], list[int]]]  # master port -> (cycles, beats)
    accepted: dict[str, list[int]]  # slave port -> cycle each beat was accepted


def run_design(name: str, spec: TestbenchSpec, sources: list[SourceFile], run_dir: Path, *,
               inputs: dict[str, tuple[list[int], int]], cyclic: dict[str, tuple[list[int], int]],
               expect: dict[str, int], data_files: list[tuple[Path, str]], max_cycles: int,
               stall_cycles: int, cache: Path | None, extra_args: tuple[str, ...] = ()
               ) -> DesignRun:
    """Build (or reuse) and run one design in a fresh `run_dir`. `inputs` and `cyclic` (looped
    forever) map ports to (beats, width); `expect` maps output ports to the beats to wait for;
    `data_files` are (memory image, its name in the run dir)."""
    built = build_model(BuildSpec(name, spec.top, tuple(sources), generate_testbench(spec)),
                        cache=cache)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    for path, target in data_files:
        shutil.copy(path, run_dir / target)
    for port, (beats, width) in {**inputs, **cyclic}.items():
        (run_dir / f"{port}.in.hex").write_text(format_beats(beats, width))
    args = [str(max_cycles), str(stall_cycles), *(f"{p}={n}" for p, n in expect.items()),
            *(f"cyclic={p}" for p in cyclic), *extra_args]
    run = run_model(built, args, run_dir, timeout_s=RUN_TIMEOUT_S)
    outputs = {p: parse_output((run_dir / f"{p}.out.hex").read_text()) for p in expect}
    accepted = {p: [int(v) for v in (run_dir / f"{p}.acc").read_text().split()] for p in inputs}
    return DesignRun(built, run, outputs, accepted)


def canonical_design(layer: RtlLayer) -> tuple[str, list[SourceFile], list[tuple[Path, str]]]:
    """(top, sources, (memory image, name in the run dir)) with the layer's name replaced by a
    fixed one in the generated files: layers that differ only in name and memory contents (read
    at run time) then share one build, e.g. the equally shaped hidden layers of an MLP."""
    pattern = re.compile(re.escape(layer.name) + r"(?![0-9])")
    sources = []
    for path in layer.sources:
        text = path.read_text(encoding="utf-8")
        if path.parent == layer.code_gen_dir:
            sources.append(SourceFile(pattern.sub(CANONICAL_NAME, path.name),
                                      pattern.sub(CANONICAL_NAME, text)))
        else:
            sources.append(SourceFile(path.name, text))
    data = [(p, pattern.sub(CANONICAL_NAME, p.name)) for p in layer.data_files]
    return pattern.sub(CANONICAL_NAME, layer.top), sources, data


def layer_testbench(layer: RtlLayer, top: str) -> TestbenchSpec:
    slaves = [StreamPort(s.port, s.width) for s in layer.inputs]
    if layer.weights is not None:
        slaves.append(StreamPort(layer.weights.port, layer.weights.width))
    return TestbenchSpec(top, tuple(slaves),
                         tuple(StreamPort(s.port, s.width) for s in layer.outputs),
                         clock2x="ap_clk2x" if layer.has_clock2x else None)


def _compare(name: str, got: np.ndarray, expected: np.ndarray) -> tuple[bool, str]:
    if got.shape != expected.shape:
        return False, f"RTL output shape {got.shape} differs from Python's {expected.shape}"
    wrong = got != expected
    if not wrong.any():
        return True, ""
    first = np.unravel_index(int(np.argmax(wrong)), got.shape)
    return False, (f"{int(wrong.sum())}/{got.size} output values differ (largest difference "
                   f"{float(np.max(np.abs(got - expected))):g}); first at frame {first[0]} index "
                   f"{tuple(int(i) for i in first[1:])}: RTL {got[first]:g}, Python {expected[first]:g}")


def simulate_rtl_layer(layer: RtlLayer, node_inputs: list[np.ndarray],
                       node_outputs: list[np.ndarray], run_dir: Path,
                       cache: Path | None = None, expect_frames: int | None = None) -> LayerSim:
    """Simulate one RTL layer on frames of its inputs; compare with the expected outputs
    (one array per node output, frames first). The run waits for `expect_frames` output
    frames (default: as many as were fed)."""
    frames = expect_frames or len(node_inputs[0])
    inputs = {s.port: (pack_beats(v, s), s.width) for s, v in zip(layer.inputs, node_inputs, strict=False)}
    cyclic = ({layer.weights.port: (pack_beats(layer.weight_values, layer.weights), layer.weights.width)}
              if layer.weights is not None else {})
    expect = {s.port: s.beats_per_frame * frames for s in layer.outputs}
    beats = max([s.beats_per_frame for s in (*layer.inputs, *layer.outputs)])
    max_cycles, stall = cycle_budget(layer.exp_cycles, beats, frames)
    top, sources, data_files = canonical_design(layer)
    design = run_design(
        f"layer {layer.name} ({layer.op_type})", layer_testbench(layer, top), sources, run_dir,
        inputs=inputs, cyclic=cyclic, expect=expect, data_files=data_files,
        max_cycles=max_cycles, stall_cycles=stall, cache=cache)
    outputs, accepted = design.outputs, design.accepted
    match, details = True, []
    for stream, expected in zip(layer.outputs, node_outputs, strict=False):
        got = unpack_beats(outputs[stream.port][1], stream)
        ok, text = _compare(layer.name, got, np.asarray(expected).reshape(got.shape))
        match = match and ok
        if text:
            details.append(f"{stream.port}: {text}")
    first_in = accepted[layer.inputs[0].port][0] if accepted[layer.inputs[0].port] else None
    out0 = layer.outputs[0]
    per_frame, latency = frame_timing(outputs[out0.port][0], out0.beats_per_frame, first_in)
    return LayerSim(layer.name, layer.op_type, "verilator", frames, match, per_frame, latency,
                    layer.exp_cycles, deviation(per_frame, layer.exp_cycles), beats,
                    design.built.seconds, design.built.cached, design.run.seconds,
                    "; ".join(details))


def partition_inputs(hw: HWGraph, x: np.ndarray) -> np.ndarray:
    """The accelerator's input frames for samples `x` (the software head applied)."""
    folded = FoldedGraph(hw)
    try:
        return np.stack([folded.run(sample, full=True)[folded.sdp.input[0]][0] for sample in x])
    finally:
        folded.close()


def stitch(hw: HWGraph) -> Any:
    """The partition as a stitched accelerator has it (FIFOs `LAYER_FIFO_DEPTH` deep, width
    converters), residual joins as FINN's RTL add where legal, with the HDL of every RTL
    layer generated. Pass it to simulate_layers and simulate_pipeline to generate the HDL once
    for both."""
    return generate_rtl(add_stream_infrastructure(rtl_joins(hw.model), hw.part, LAYER_FIFO_DEPTH),
                        hw.part, hw.clock_mhz)


def simulate_layers(hw: HWGraph, x: np.ndarray, workdir: Path, *, frames: int = 3,
                    cache: Path | None = None, stream_infrastructure: bool = True,
                    only: tuple[str, ...] | None = None, max_per_type: int | None = None,
                    stitched: Any = None) -> tuple[LayerSim, ...]:
    """Simulate every layer of the folded partition `hw` on the first `frames` samples of `x`:
    RTL layers in Verilator, HLS layers in Python. With `stream_infrastructure`, the FIFOs and
    width converters of a stitched accelerator are inserted (and simulated) too (`stitched`:
    that graph from stitch(), if already made). `only` restricts the RTL simulations to layers
    of those op types, `max_per_type` to the first layers of each type (the others run in
    Python, and their reports say why). A layer whose run stalls or exceeds its cycle budget
    is recorded as a mismatch naming why; the other layers are still simulated."""
    if stream_infrastructure:
        model = stitched if stitched is not None else stitch(hw)
    else:
        model = generate_rtl(hw.model, hw.part, hw.clock_mhz)
    rtl_names, per_type = [], {}
    for node in model.graph.node:
        if is_rtl_node(node) and (only is None or node.op_type in only):
            per_type[node.op_type] = per_type.get(node.op_type, 0) + 1
            if max_per_type is None or per_type[node.op_type] <= max_per_type:
                rtl_names.append(node.name)
    if rtl_names:  # fail before any simulation if Verilator is missing, naming the first layer
        first = model.get_node_from_name(rtl_names[0])
        find_verilator(f"layer {first.name} ({first.op_type})")
    samples = np.asarray(x)[:frames]
    contexts = execute_frames(model, partition_inputs(hw, samples))
    estimates = exp_cycles(model)
    results = []
    for node in model.graph.node:
        if node.name in rtl_names:
            layer = rtl_layer(model, node)
            ins = [np.stack([c[name] for c in contexts]) for name in node.input[:len(layer.inputs)]]
            outs = [to_stream_order(node, np.stack([c[name] for c in contexts]))
                    for name in node.output]
            try:
                results.append(simulate_rtl_layer(layer, ins, outs, Path(workdir) / node.name, cache))
            except SimulationStalled as exc:  # bounded run failed: record it, go on with the rest
                results.append(LayerSim(node.name, node.op_type, "verilator", len(samples), False,
                                        None, None, estimates.get(node.name, 0), None,
                                        detail=str(exc)))
            continue
        if is_rtl_node(node):
            why = "RTL layer not selected for simulation: executed in Python"
        elif is_fork(node):
            why = ("fork, HLS-only in FINN: executed in Python here; the whole-pipeline "
                   "simulation runs codesign's RTL broadcast in its place")
        else:
            why = ("HLS layer: executed in Python (its C++ needs Vitis HLS to become RTL, "
                   "so Verilator cannot simulate it here)")
        results.append(LayerSim(node.name, node.op_type, "python", len(samples), None, None, None,
                                estimates.get(node.name, 0), None, detail=why))
    return tuple(results)
