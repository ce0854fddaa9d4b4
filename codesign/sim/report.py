"""The simulation section: one JSON document (simulation.json) and its Markdown rendering.

The JSON is the source of truth; `render_simulation_markdown` reads only from it, so the flow
report can embed the section and re-render it later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import write_json, write_text

SCHEMA = "codesign.simulation/1"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _num(value: Any, fmt: str = ",.0f") -> str:
    return "–" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def _match(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "**NO**")


def _chain(chain: dict[str, Any]) -> list[str]:
    inputs = ", ".join(f"{n} {kind}" for kind, n in chain["inputs"].items())
    rows = [[s["name"], s["description"], f"{s['matched']}/{s['samples']}",
             f"{s['max_lsb_diff']:.3g}", f"{s['seconds']:.1f}"] for s in chain["stages"]]
    lines = ["### Functional chain (Python)", "", f"Inputs: {inputs}. Each stage is compared "
             "with the one before it on the integer grid of the output step "
             f"({chain['output_scale']:.6g}).", "",
             *_table(["stage", "graph", "bit-exact vs previous", "max diff (LSB)", "seconds"], rows), ""]
    verdict = "**passed**" if chain["passed"] else "**FAILED**"
    return [*lines, f"Chain {verdict}: {chain['summary']}", ""]


def _streams(streams: dict[str, Any]) -> list[str]:
    lines = ["### Stream packing", "", f"{streams['passed']}/{streams['checked']} layer streams "
             "fit their datatype, are packed in the documented beat layout and unpack losslessly.", ""]
    if streams["failures"]:
        rows = [[f["layer"], f["stream"], f["dtype"], f["detail"]] for f in streams["failures"]]
        lines += [*_table(["layer", "stream", "datatype", "problem"], rows), ""]
    return lines


def _layers(layers: list[dict[str, Any]]) -> list[str]:
    rows = [[s["name"], s["op_type"], s["mode"], str(s["frames"]), _match(s["match"]),
             _num(s["cycles_per_frame"]), _num(s["estimated_cycles"] or None),
             _pct(s["deviation_pct"]), _num(s["latency_cycles"]),
             "cached" if s["cached_build"] else (f"{s['build_seconds']:.0f} s" if s["mode"] == "verilator"
                                                 else "–")]
            for s in layers]
    notes = sorted({f"{s['op_type']}: {s['detail']}" for s in layers if s["mode"] == "python"})
    mismatches = [f"{s['name']}: {s['detail']}" for s in layers if s["match"] is False]
    return ["### Layers (Verilator RTL simulation)", "",
            *_table(["layer", "op type", "mode", "frames", "bit-exact", "cycles/frame",
                     "FINN estimate", "deviation", "latency", "build"], rows), "",
            *(f"- {n}" for n in notes + mismatches), ""]


def _pipeline(pipe: dict[str, Any]) -> list[str]:
    if pipe.get("status") == "skipped":
        return ["### Whole pipeline", "", f"Not simulated: {pipe['reason']}", ""]
    if pipe.get("status") == "failed":
        return ["### Whole pipeline (Verilator RTL simulation)", "", f"**FAILED**: {pipe['reason']}", ""]
    lines = [
        "### Whole pipeline (Verilator RTL simulation)", "",
        f"- {pipe['frames']} frames through {len(pipe['layers'])} layers with FIFOs and width "
        f"converters: bit-exact **{_match(pipe['match'])}** {pipe['detail']}",
        f"- throughput: {pipe['cycles_per_frame']:,.0f} cycles/frame = {pipe['fps']:,.0f} FPS at "
        f"{pipe['clock_mhz']:g} MHz; FINN estimate {pipe['estimated_cycles']:,} cycles/frame "
        f"({_pct(pipe['throughput_deviation_pct'])})",
        f"- first-frame latency: {pipe['latency_cycles']:,} cycles; FINN estimate "
        f"{pipe['estimated_latency_cycles']:,} ({_pct(pipe['latency_deviation_pct'])})",
    ]
    if pipe.get("needed_depths_cycles_per_frame") is not None:
        lines.append(f"- with every FIFO limited to its needed depth below: "
                     f"{pipe['needed_depths_cycles_per_frame']:,.0f} cycles/frame")
    elif pipe.get("needed_depths_detail"):
        lines.append(f"- with every FIFO limited to its needed depth below: did not run through "
                     f"({pipe['needed_depths_detail']})")
    rows = [[f["name"], f["producer"], f["consumer"], str(f["simulated_depth"]), str(f["needed_depth"])]
            for f in pipe["fifos"]]
    return [*lines, "", *_table(["FIFO", "from", "to", "simulated depth", "needed depth"], rows), "",
            *_shortcuts(pipe)]


def _run_result(run: dict[str, Any]) -> str:
    if run["outcome"] != "ran":
        return "**deadlock**" if run["outcome"] == "deadlock" else f"**failed** ({run['detail']})"
    exact = "" if run["match"] else ", **NOT bit-exact**"
    return f"{run['cycles_per_frame']:,.0f} cycles/frame{exact}"


def _shortcuts(pipe: dict[str, Any]) -> list[str]:
    """Each skip-branch FIFO: codesign's depth against what the simulation needed."""
    checks = pipe.get("shortcuts") or []
    if not checks:
        return []
    lines = ["#### Skip-branch FIFOs (codesign's depth in simulation)", "",
             "Each skip-branch FIFO limited to a depth (codesign's: the skip buffer's token count), "
             "the other FIFOs at FINN's minimum or unlimited; without "
             "a deadlock the batch runs through at the cycles/frame shown. Full rate: within 1 % "
             "of the same accelerator with that FIFO unlimited.", ""]
    for c in checks:
        rows = [[f"{r['depth']:,}" + (" (codesign's)" if r["depth"] == c["model_depth"] else ""),
                 "codesign's" if r["other_fifos"] == "codesign" else "unlimited",
                 _run_result(r)] for r in c["runs"]]
        lines += [f"- {c['fifo']} ({c['fork']} output {c['output']} -> {c['join']}): codesign's "
                  f"model {c['elements']:,} elements at PE {c['fork_pe']} = {c['model_depth']:,} "
                  f"words; smallest depth without deadlock {_num(c['deadlock_free_depth'])}, "
                  f"smallest at full rate ({_num(c['reference_cycles_per_frame'])} cycles/frame) "
                  f"{_num(c['full_rate_depth'])}; largest occupancy with the input paced and "
                  f"every FIFO unlimited {c['needed_depth']:,}", "",
                  *_table(["depth", "other FIFOs", "result"], rows), ""]
    if pipe.get("as_built"):
        lines += [f"As FINN builds it (FINN's own FIFOs, not limits, at the depths of codesign's "
                  f"fifo_config_file): "
                  f"{_run_result(pipe['as_built'])}.", ""]
    return lines


def render_simulation_markdown(section: dict[str, Any]) -> str:
    """The `## Simulation` section of a report, from the simulation JSON."""
    verdict = "passed" if section["passed"] else "FAILED"
    lines = ["## Simulation without hardware", "", f"**{verdict}**: {section['summary']}", ""]
    if section.get("chain"):
        lines += _chain(section["chain"])
    if section.get("streams"):
        lines += _streams(section["streams"])
    if section.get("layers"):
        lines += _layers(section["layers"])
    if section.get("deviation_by_type"):
        rows = [[op, str(d["layers"]), _pct(d["mean_pct"]), f"{d['max_abs_pct']:.1f} %"]
                for op, d in section["deviation_by_type"].items()]
        lines += ["Measured cycles per frame vs FINN's estimate, by layer type:", "",
                  *_table(["op type", "layers", "mean deviation", "largest |deviation|"], rows), ""]
    if section.get("pipeline"):
        lines += _pipeline(section["pipeline"])
    if section.get("rtl_not_run"):
        lines += ["### RTL simulation", "", f"Not run: {section['rtl_not_run']}", ""]
    if section.get("timings_s"):
        rows = [[name, f"{secs:.1f}"] for name, secs in section["timings_s"].items()]
        lines += ["### Simulation times", "", *_table(["part", "seconds"], rows), ""]
    return "\n".join(lines)


def summary_rows(section: dict[str, Any]) -> list[tuple[str, str]]:
    """(check, result) rows of a short summary (the `codesign simulate` table)."""
    rows = []
    if section.get("chain"):
        chain = section["chain"]
        rows.append(("functional chain", f"{'passed' if chain['passed'] else 'FAILED'}: {chain['summary']}"))
    if section.get("streams"):
        rows.append(("stream packing", f"{section['streams']['passed']}/{section['streams']['checked']} "
                                       "streams lossless"))
    layers = section.get("layers") or []
    rtl = [s for s in layers if s["mode"] == "verilator"]
    if layers:
        rows.append(("RTL layers", f"{sum(1 for s in rtl if s['match'])}/{len(rtl)} bit-exact in "
                                   f"Verilator, {len(layers) - len(rtl)} in Python (HLS only)"))
    for op, d in (section.get("deviation_by_type") or {}).items():
        rows.append((f"cycles {op}", f"{_pct(d['mean_pct'])} mean vs FINN's estimate, largest "
                                     f"|deviation| {d['max_abs_pct']:.1f} % ({d['layers']} layers)"))
    pipe = section.get("pipeline")
    if pipe and pipe.get("status") in ("skipped", "failed"):
        rows.append(("pipeline", f"{pipe['status']}: {pipe['reason']}"))
    elif pipe:
        rows.append(("pipeline", f"{'bit-exact' if pipe['match'] else 'MISMATCH'}, "
                                 f"{pipe['cycles_per_frame']:,.0f} cycles/frame (FINN "
                                 f"{pipe['estimated_cycles']:,}, {_pct(pipe['throughput_deviation_pct'])}), "
                                 f"latency {pipe['latency_cycles']:,} cycles (FINN "
                                 f"{pipe['estimated_latency_cycles']:,})"))
        if pipe.get("as_built"):
            rows.append(("as built", f"FINN's FIFOs at codesign's fifo_config depths: "
                                     f"{_run_result(pipe['as_built'])}"))
        for c in pipe.get("shortcuts") or []:
            at_model = next(r for r in c["runs"] if r["depth"] == c["model_depth"])
            rows.append((f"skip FIFO {c['fifo']}",
                         f"codesign {c['model_depth']:,} words: {_run_result(at_model)}; needed "
                         f"{_num(c['deadlock_free_depth'])} against deadlock, "
                         f"{_num(c['full_rate_depth'])} for full rate"))
    if section.get("rtl_not_run"):
        rows.append(("RTL simulation", f"not run: {section['rtl_not_run']}"))
    rows.append(("verdict", "passed" if section["passed"] else "FAILED"))
    return rows


def write_simulation(section: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """simulation.json and simulation.md in `out_dir`, each written atomically."""
    out_dir = Path(out_dir)
    return {"json": write_json(out_dir / "simulation.json", section),
            "markdown": write_text(out_dir / "simulation.md",
                                   render_simulation_markdown(section) + "\n")}
