"""Entry point: simulate a compiled accelerator (`simulate_hardware`); `check_simulation` turns
a failed check into an error. (Simulating a finished run's output directory is orchestration:
codesign.flow.simulate_run.)

Order of work: the functional chain and stream checks (Python, seconds), then per-layer RTL
simulation and, when every layer of the partition is RTL, the whole pipeline (Verilator)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.config import SimulateConfig
from codesign.errors import ToolchainMissing, VerificationError
from codesign.finn.compile_graphs import input_range, load_graph
from codesign.finn.rtl import is_rtl_node
from codesign.sim.chain import simulate_chain
from codesign.sim.pipeline import non_rtl_layers, simulate_pipeline
from codesign.sim.report import SCHEMA
from codesign.sim.rtl_layers import simulate_layers, stitch
from codesign.sim.streams import check_streams
from codesign.sim.verilator import SimulationStalled, cache_dir, find_verilator

if TYPE_CHECKING:
    from torch import nn

    from codesign.finn.compile import HWGraph



def _deviations(layers: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per RTL op type: how many layers, and the mean and largest cycle deviation."""
    by_type: dict[str, list[float]] = {}
    for layer in layers:
        if layer["deviation_pct"] is not None:
            by_type.setdefault(layer["op_type"], []).append(layer["deviation_pct"])
    return {op: {"layers": len(v), "mean_pct": float(np.mean(v)),
                 "max_abs_pct": float(np.max(np.abs(v)))} for op, v in sorted(by_type.items())}


def _summary(section: dict[str, Any]) -> str:
    parts = []
    if section.get("chain"):
        parts.append(section["chain"]["summary"])
    if section.get("streams"):
        s = section["streams"]
        parts.append(f"{s['passed']}/{s['checked']} streams pack losslessly")
    layers = [s for s in section.get("layers") or [] if s["mode"] == "verilator"]
    if layers:
        exact = sum(1 for s in layers if s["match"])
        dev = ", ".join(f"{op} {d['max_abs_pct']:.1f} %" for op, d in section["deviation_by_type"].items())
        parts.append(f"{exact}/{len(layers)} RTL layers bit-exact in Verilator"
                     + (f" (largest cycle deviation: {dev})" if dev else ""))
    failed = [s for s in section.get("layers") or [] if s["match"] is False]
    if failed:
        parts.append(f"first RTL mismatch: {failed[0]['name']} ({failed[0]['detail']})")
    pipe = section.get("pipeline")
    if pipe and pipe.get("status") == "failed":
        parts.append(f"pipeline FAILED: {pipe['reason']}")
    elif pipe and pipe.get("status") != "skipped":
        parts.append(f"pipeline {'bit-exact' if pipe['match'] else 'MISMATCH'} at "
                     f"{pipe['cycles_per_frame']:,.0f} cycles/frame vs {pipe['estimated_cycles']:,} "
                     "estimated")
        if pipe.get("skip_fifo_problem"):
            parts.append(f"pipeline FAILED {pipe['skip_fifo_problem']}")
        built = (pipe.get("as_built") or {}).get("cycles_per_frame")
        if built:
            parts.append(f"as built with codesign's FIFO depths {built:,.0f} cycles/frame")
        for c in pipe.get("shortcuts") or []:
            slow = next(r for r in c["runs"] if r["depth"] == c["model_depth"])["cycles_per_frame"]
            if slow and c["full_rate_depth"] and c["full_rate_depth"] > c["model_depth"]:
                parts.append(f"at the token count {slow:,.0f} cycles/frame (skip FIFO "
                             f"{c['fifo']} needs {c['full_rate_depth']:,} words for full rate, "
                             f"the token count is {c['model_depth']:,})")
    return "; ".join(parts) or "nothing simulated"


def _passed(section: dict[str, Any]) -> bool:
    chain, streams = section.get("chain"), section.get("streams")
    pipe = section.get("pipeline") or {}
    return bool((not chain or chain["passed"])
                and (not streams or streams["passed"] == streams["checked"])
                and all(s["match"] is not False for s in section.get("layers") or [])
                and (pipe.get("status") == "skipped"
                     or (pipe.get("match", True) and pipe.get("skip_fifos_ok", True))))


def simulate_hardware(hw: HWGraph, onnx_path: Path, x: np.ndarray | None, workdir: Path, *,
                      model: nn.Module | None = None, stages_dir: Path | None = None,
                      options: SimulateConfig | None = None) -> dict[str, Any]:
    """Simulate the folded accelerator `hw` (compiled from `onnx_path`; `model` is its Brevitas
    source if known) on test samples `x`. Returns the simulation section (JSON-ready).

    If RTL simulation is asked for and Verilator is missing, the section holds the Python
    results and `rtl_not_run` says why (the caller decides whether that fails its run)."""
    options = options or SimulateConfig()

    workdir = Path(workdir)
    timings: dict[str, float] = {}
    options_doc = {k: v for k, v in asdict(options).items() if k != "enabled"}
    section: dict[str, Any] = {"schema": SCHEMA, "options": options_doc}
    x = None if x is None else np.asarray(x)[:options.samples]
    start = time.perf_counter()
    section["chain"] = simulate_chain(model, onnx_path, x, hw=hw, stages_dir=stages_dir,
                                      random_inputs=options.random_inputs).to_dict()
    timings["chain"] = time.perf_counter() - start
    # Frames for the stream checks and RTL runs: the test samples, topped up with random inputs.
    frames_x = _random_frames(onnx_path, max(options.layer_frames, 2))
    if x is not None and len(x):
        frames_x = np.concatenate([np.asarray(x, dtype=np.float32), frames_x])
    if options.streams:
        start = time.perf_counter()
        checks = check_streams(hw, frames_x, frames=2)
        section["streams"] = {"checked": len(checks), "passed": sum(c.passed for c in checks),
                              "failures": [c.to_dict() for c in checks if not c.passed]}
        timings["streams"] = time.perf_counter() - start
    try:
        _simulate_rtl(hw, frames_x, workdir, options, section, timings)
    except ToolchainMissing as exc:
        section["rtl_not_run"] = str(exc)
    return _finish(section, timings)


def _finish(section: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
    section["timings_s"] = timings
    section["passed"] = _passed(section)
    section["summary"] = _summary(section)
    return section


def _simulate_rtl(hw: HWGraph, x: np.ndarray, workdir: Path, options: SimulateConfig,
                  section: dict[str, Any], timings: dict[str, float]) -> None:

    cache = Path(options.cache_dir) if options.cache_dir else cache_dir()
    missing = non_rtl_layers(hw)
    stitched = stitch(hw) if options.rtl or options.pipeline != "off" else None
    if options.rtl or options.pipeline == "on" or (options.pipeline == "auto" and not missing):
        # Name the layers (with the FIFOs and width converters stitching inserts) in the error.
        rtl = [n.name for n in (stitched or hw.model).graph.node if is_rtl_node(n)]
        tool = find_verilator(f"the RTL layers ({', '.join(rtl[:4])}{', ...' if len(rtl) > 4 else ''})")
        section["verilator"] = {"version": tool.version, "cache_dir": str(cache)}
    if options.rtl:
        start = time.perf_counter()
        sims = simulate_layers(hw, x, workdir / "layers", frames=options.layer_frames, cache=cache,
                               stitched=stitched)
        section["layers"] = [s.to_dict() for s in sims]
        section["deviation_by_type"] = _deviations(section["layers"])
        timings["rtl_layers"] = time.perf_counter() - start
    if options.pipeline == "off" or (options.pipeline == "auto" and missing):
        reason = ("switched off" if options.pipeline == "off" else
                  f"not every layer has an RTL implementation ({', '.join(missing[:3])}"
                  f"{', ...' if len(missing) > 3 else ''}); for an all-RTL network set "
                  "folding.mvau_rtl: true in the flow (--mvau-rtl for codesign build)")
        section["pipeline"] = {"status": "skipped", "reason": reason}
        return
    start = time.perf_counter()
    try:
        pipe = simulate_pipeline(hw, x, workdir / "pipeline", frames=options.pipeline_frames,
                                 cache=cache, stitched=stitched)
        status = "passed" if pipe.match and pipe.skip_fifos_ok else "mismatch"
        section["pipeline"] = {"status": status, **pipe.to_dict()}
    except SimulationStalled as exc:  # bounded: recorded as a failed check, not a crash
        section["pipeline"] = {"status": "failed", "match": False, "reason": str(exc)}
    timings["pipeline"] = time.perf_counter() - start


def _random_frames(onnx_path: Path, n: int) -> np.ndarray:
    graph = load_graph(Path(onnx_path))
    _, low, high = input_range(graph)
    shape = tuple(graph.get_tensor_shape(graph.graph.input[0].name))[1:]
    return np.random.default_rng(0).integers(int(low), int(high) + 1, (n, *shape)).astype(np.float32)


def check_simulation(section: dict[str, Any], where: Path | None = None) -> None:
    """Raise VerificationError if any simulated check failed."""
    if not section["passed"]:
        place = f"; details in {where}" if where else ""
        raise VerificationError(f"simulation found a mismatch: {section['summary']}{place}. This "
                                "is a bug in the toolchain path, please report it")
