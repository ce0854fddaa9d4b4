"""The flow report: one versioned JSON document, rendered to Markdown and PNG plots.

The JSON is the source of truth; `render_markdown` and the plots read only from it, so a report
can be re-rendered later (`codesign report show`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import atomic_path, write_json, write_text

SCHEMA = "codesign.report/1"
RESOURCE_COLUMNS = (("lut", "LUT"), ("bram_18k", "BRAM_18K"), ("uram", "URAM"), ("dsp", "DSP"))


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
    header = ["layer", "op type", "dims", "PE", "SIMD", "cycles", "LUT", "BRAM_18K", "URAM", "DSP"]
    return ["## Per-layer estimates (FINN)", "", *_table(header, rows), ""]


def _budget_section(report: dict[str, Any]) -> list[str]:
    budget = report["budget"]
    rows = []
    for kind, r in budget["resources"].items():
        rows.append([
            kind, _num(r["used"]), _num(r["capacity"]), f"{r['cap']:.0%}", _num(r["budget"]),
            f"{r['utilisation']:.1%}", "yes" if r["fits"] else "**no**",
        ])
    board = report["board"]
    verdict = budget["verdict"]
    return [
        f"## Resources on {board['name']} ({board['part']})", "",
        *_table(["resource", "estimated", "capacity", "cap", "budget", "utilisation", "within cap"], rows),
        "", f"**Verdict: the design {verdict}.**", "",
    ]


def _hardware_section(hw: dict[str, Any] | None) -> list[str]:
    if not hw:
        return []
    requested = ", ".join(hw.get("outputs", []))
    lines = ["## Hardware build (FINN + Vivado)", "", f"- requested outputs: {requested}"]
    if hw.get("status") != "done":
        return [*lines, f"- not run: {hw.get('reason', '')}", ""]
    if hw.get("comparison"):
        from codesign.postsynth import render_comparison_markdown

        lines += ["", render_comparison_markdown(hw["comparison"], hw.get("postsynth"))]
    return [*lines, ""]


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
        f"- throughput: **{est['fps']:,.0f} FPS** (bottleneck {est['bottleneck']}, "
        f"{est['max_cycles']:,} cycles/frame); latency {est['latency_us']:,.1f} µs "
        f"({est['latency_cycles']:,} cycles)",
        f"- work per frame: {est['macs']:,} MACs, {est['bops']:,} BOPs; {est['params']:,} parameters",
        f"- folding: {report['folding']['description']}",
        f"- verification ({'passed' if ver['passed'] else 'FAILED'}): {ver.get('details', '')}",
        f"- fits: **{report['budget']['verdict']}**",
        "",
    ]
    lines += _budget_section(report)
    lines += _layer_section(est)
    if report.get("pruning"):
        from codesign.prune.report import render_prune_markdown

        lines += render_prune_markdown(report["pruning"])
    if report.get("simulation"):
        from codesign.sim.report import render_simulation_markdown

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


def plot_cycles(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["estimates"]["layers"]
    names = [layer["name"] for layer in layers]
    cycles = [layer["cycles"] for layer in layers]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 4))
    colors = ["tab:red" if n == report["estimates"]["bottleneck"] else "tab:blue" for n in names]
    ax.bar(range(len(names)), cycles, color=colors)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cycles per frame")
    ax.set_title(f"{report['name']}: per-layer cycles (red = bottleneck)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_resources(report: dict[str, Any], path: Path) -> Path:
    """Stacked per-layer resource use for each kind, against the board's capped budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["estimates"]["layers"]
    budget = report["budget"]["resources"]
    fig, axes = plt.subplots(1, len(RESOURCE_COLUMNS), figsize=(12, 4))
    cmap = plt.get_cmap("tab20")
    for ax, (key, kind) in zip(axes, RESOURCE_COLUMNS, strict=True):
        bottom = 0.0
        for i, layer in enumerate(layers):
            value = float(layer[key])
            if value > 0:
                ax.bar(0, value, bottom=bottom, color=cmap(i % 20), label=layer["name"])
                bottom += value
        ax.axhline(budget[kind]["budget"], color="red", ls="--", label="budget (cap)")
        ax.axhline(budget[kind]["capacity"], color="black", ls=":", label="capacity")
        ax.set_title(kind)
        ax.set_xticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="center right", fontsize=7)
    fig.suptitle(f"{report['name']}: resources vs {report['board']['name']} budget")
    fig.tight_layout(rect=(0, 0, 0.82, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and the plots into `out_dir` (each file atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "cycles_plot": plot_cycles(report, out_dir / "cycles.png"),
        "resources_plot": plot_resources(report, out_dir / "resources.png"),
        "markdown": write_text(out_dir / "report.md", render_markdown(report)),
    }
    paths["json"] = write_json(out_dir / "report.json", report)
    return paths
