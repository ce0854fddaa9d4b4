"""The flow report: one versioned JSON document, rendered to Markdown and PNG plots.

The JSON document (codesign.flow.document) is the source of truth; `render_markdown` and the
plots read only from it, so a report can be re-rendered from report.json alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import write_json, write_text
from codesign.finn.postsynth import render_comparison_markdown
from codesign.flow.document import report_document
from codesign.flow.plots import RESOURCE_COLUMNS, plot_cycles, plot_resources
from codesign.flow.results import RunResult
from codesign.folding import gap_note
from codesign.prune.report import render_prune_markdown
from codesign.sim.report import render_simulation_markdown

MISSING = "—"  # a resource the board does not have


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    if isinstance(value, float) and value != int(value):
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _dims(dims: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in dims.items()) or "–"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _layer_section(est: dict[str, Any]) -> list[str]:
    rows = []
    for layer in est["layers"]:
        rows.append([
            layer["name"], layer["op_type"], _dims(layer.get("dims", {})),
            _num(layer.get("pe")), _num(layer.get("simd")), _num(layer["cycles"]),
            *(_num(layer[key]) for key, _ in RESOURCE_COLUMNS),
        ])
    fifos = est.get("fifos", [])  # every stream FIFO as built: counted in the totals
    for fifo in (f for f in fifos if f["depth"] > 2):
        rows.append([f"FIFO {fifo['producer']} → {fifo['consumer']}",
                     "StreamingFIFO_rtl", f"depth {fifo['depth']} × {fifo['width']} bit", "–",
                     "–", "–", *(_num(fifo[kind]) for kind in ("LUT", "BRAM_18K", "URAM", "DSP"))])
    shallow = [f for f in fifos if f["depth"] <= 2]
    if shallow:
        rows.append([f"{len(shallow)} FIFOs of depth 2", "StreamingFIFO_rtl", "one per other stream",
                     "–", "–", "–", *(_num(sum(f[kind] for f in shallow))
                                       for kind in ("LUT", "BRAM_18K", "URAM", "DSP"))])
    header = ["layer", "op type", "dims", "PE", "SIMD", "cycles", "LUT", "BRAM_18K", "URAM", "DSP"]
    return ["## Per-layer estimates (FINN)", "", *_table(header, rows), ""]


def _lacks(capacity: float, used: float) -> bool:
    """The board has none of a resource and the design uses none: nothing to report."""
    return capacity == 0 and used == 0


def _resource_cell(value: float, capacity: float) -> str:
    return MISSING if _lacks(capacity, value) else _num(value)


def _utilisation(r: dict[str, Any]) -> str:
    # check_budget sets utilisation to inf when a design uses a resource the board has none of
    return "∞" if r["capacity"] == 0 else f"{r['utilisation']:.1%}"


def _budget_row(kind: str, r: dict[str, Any]) -> list[str]:
    cap = f"{r['cap']:.0%}"
    if _lacks(r["capacity"], r["used"]):
        return [kind, MISSING, MISSING, cap, MISSING, MISSING, MISSING]
    return [kind, _num(r["used"]), _num(r["capacity"]), cap, _num(r["budget"]), _utilisation(r),
            "yes" if r["fits"] else "**no**"]


def _budget_section(report: dict[str, Any]) -> list[str]:
    budget = report["budget"]
    rows = [_budget_row(kind, r) for kind, r in budget["resources"].items()]
    board = report["board"]
    verdict = budget["verdict"]
    return [
        f"## Resources on {board['name']} ({board['part']})", "",
        *_table(["resource", "estimated", "capacity", "cap", "budget", "utilisation", "within cap"], rows),
        "", f"**Verdict: the design {verdict}.**", "", *_shell_note(report),
    ]


def _folding_row(label: str, fps: float, cycles: int, totals: dict[str, float],
                 resources: dict[str, Any]) -> list[str]:
    cells = [_resource_cell(totals.get(kind, 0.0), resources[kind]["capacity"])
             for _, kind in RESOURCE_COLUMNS]
    return [label, f"{fps:,.0f}", _num(cycles), *cells]


def _setfolding_section(report: dict[str, Any]) -> list[str]:
    """codesign's folding beside FINN's best fitting SetFolding (folding mode optimize)."""
    baseline = report["folding"].get("setfolding_baseline")
    if baseline is None:
        return []
    est, resources = report["estimates"], report["budget"]["resources"]
    rows = [_folding_row("codesign optimizer", est["fps"], est["max_cycles"], est["totals"],
                         resources)]
    if baseline["fits"]:
        rows.append(_folding_row("FINN SetFolding (best fitting)", baseline["fps"],
                                 baseline["max_cycles"], baseline["totals"], resources))
    header = ["folding", "FPS as built", "cycles/frame", *(kind for _, kind in RESOURCE_COLUMNS)]
    lines = ["## Folding: codesign vs FINN SetFolding", "", *_table(header, rows), ""]
    if not baseline["fits"]:
        return [*lines, f"{baseline['note']}.", ""]
    ratio = baseline.get("fps_ratio")
    times = MISSING if ratio is None else f"×{ratio:.2f}"
    return [*lines, f"codesign folding: {times} the FPS of FINN's best fitting SetFolding", "",
            f"SetFolding baseline: {baseline['note']}.", ""]


def _throughput_lines(est: dict[str, Any]) -> list[str]:
    """The headline (as built) FPS, then the compute pipeline and the shell's I/O bound."""
    compute = (f"compute pipeline {est.get('compute_fps', est['fps']):,.0f} FPS (bottleneck "
               f"{est['bottleneck']}, {est['max_cycles']:,} cycles/frame)")
    latency = f"latency {est['latency_us']:,.1f} µs ({est['latency_cycles']:,} cycles)"
    io = est.get("io")
    if io is None:
        return [f"- throughput: **{est['fps']:,.0f} FPS**, {compute}; {latency}"]
    return [f"- throughput as built: **{est['fps']:,.0f} FPS**, {est['bound']}-bound: {compute}; "
            f"I/O {io['fps']:,.0f} FPS ({io['bytes_in_per_frame']:,.0f} B in / "
            f"{io['bytes_out_per_frame']:,.0f} B out per frame through the shell's DMA port at "
            f"{io['port_clock_mhz']:g} MHz); {latency}"]


def _shell_note(report: dict[str, Any]) -> list[str]:
    if "shell_resources" not in report["board"]:  # a report from before boards had shells
        return []
    shell = report["board"]["shell_resources"]
    if shell is None:
        return ["Shell resources: no documented figure for this board; the budget is the "
                "whole device times the caps (see the board file's source).", ""]
    taken = ", ".join(f"{k} {v:,}" for k, v in shell.items() if k != "FF" and v)
    return [f"Shell resources taken before the caps apply: {taken} (see the board file's "
            "source).", ""]


def _hardware_section(hw: dict[str, Any] | None) -> list[str]:
    if not hw:
        return []
    requested = ", ".join(hw.get("outputs", []))
    lines = ["## Hardware build (FINN + Vivado)", "", f"- requested outputs: {requested}"]
    if hw.get("status") != "done":
        return [*lines, f"- not run: {hw.get('reason', '')}", ""]
    if hw.get("comparison"):
        lines += ["", render_comparison_markdown(hw["comparison"], hw.get("postsynth"))]
    return [*lines, ""]


def _lean_note(folding: dict[str, Any]) -> str:
    optimizer = folding.get("optimizer") or {}
    note = gap_note(optimizer.get("gap", 0.0))
    return f" ({note})" if note else ""


def _power_line(power: dict[str, Any] | None) -> list[str]:
    if not power:  # a report.json written before power had a section
        return []
    if power["status"] != "estimated":
        return [f"- power: {power['how']}"]
    return [f"- power: **{power['total_w']:.3f} W** on chip ({power['dynamic_w']:.3f} W dynamic; "
            f"{power['method']}, Vivado); **{power['energy_per_inference_uj']:,.3f} µJ per "
            f"inference** at {power['fps']:,.0f} FPS"]


def render_markdown(report: dict[str, Any]) -> str:
    est = report["estimates"]
    acc = report.get("accuracy") or {}
    ver = report["verification"]
    lines = [f"# codesign report — {report['name']}", ""]
    if report.get("description"):
        lines += [report["description"], ""]
    lines += [
        f"- board: **{report['board']['name']}** at {est['clock_mhz']:g} MHz",
        f"- model: {report.get('model_summary', '–')}",
        f"- seed: {report.get('seed')}",
    ]
    if acc:
        lines.append(
            f"- accuracy: **{acc['test_top1']:.2%}** top-1 on {acc['test_samples']:,} held-out "
            f"{acc['dataset']} samples (train {acc.get('train_top1', 0):.2%})"
        )
    lines += [
        *_throughput_lines(est),
        f"- work per frame: {est['macs']:,} MACs, {est['bops']:,} BOPs; {est['params']:,} parameters",
        f"- folding: {report['folding']['description']}{_lean_note(report['folding'])}",
        f"- verification ({'passed' if ver['passed'] else 'FAILED'}): {ver.get('details', '')}",
        f"- fits: **{report['budget']['verdict']}**",
        *_power_line(report.get("power")),
        "",
    ]
    lines += _budget_section(report)
    lines += _setfolding_section(report)
    lines += _layer_section(est)
    if report.get("pruning"):
        lines += render_prune_markdown(report["pruning"])
    if report.get("simulation"):
        lines += render_simulation_markdown(report["simulation"]).splitlines()
    lines += _hardware_section(report.get("hardware"))
    if report.get("timings_s"):
        rows = [[stage, f"{secs:.1f}"] for stage, secs in report["timings_s"].items()]
        lines += ["## Stage times", "", *_table(["stage", "seconds"], rows), ""]
    if report.get("artifacts"):
        lines += ["## Artefacts", ""]
        lines += [f"- {label}: `{name}`" for label, name in report["artifacts"].items()]
        lines.append("")
    return "\n".join(lines)


def write_document(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and the plots of a report document into `out_dir` (each
    file atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "cycles_plot": plot_cycles(report, out_dir / "cycles.png"),
        "resources_plot": plot_resources(report, out_dir / "resources.png"),
        "markdown": write_text(out_dir / "report.md", render_markdown(report)),
    }
    paths["json"] = write_json(out_dir / "report.json", report)
    return paths


def write_report(result: RunResult, out_dir: Path) -> dict[str, Path]:
    """The run's report (report.json, report.md, plots, pruning.png for a pruned run)."""
    paths = write_document(report_document(result), out_dir)
    if result.pruning is not None:
        paths["pruning_plot"] = result.pruning.write_plot(
            out_dir, f"{result.name}: pruning on {result.board.name}")
    return paths
