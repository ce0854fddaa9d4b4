"""The pruning part of the flow report: unpruned vs pruned (and the unstructured control) side by
side, the schedule step by step, and a plot of accuracy against LUTs and against FPS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import atomic_path
from codesign.prune.fold_search import shape_text

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
MISSING = "—"  # a setting left unset


def model_column(record: dict[str, Any]) -> dict[str, Any]:
    """One model's row of the side-by-side, from a StepRecord dict."""
    hw = record["hardware"]
    return {"accuracy": record["accuracy"], "params": record["params"], "macs": record["macs"],
            "bops": record["bops"], "counts": record["counts"],
            "resources_at_reference": hw["resources_at_reference"],
            "fps_within_caps": hw["fps"], "bottleneck": hw["bottleneck"],
            "reference_note": hw["reference_note"]}


def _ratio(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return new / old


def prune_section(result: dict[str, Any], settings: dict[str, Any], reference_fps: float | None,
                  unstructured: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON section: settings, budget verdict, the side-by-side, ratios and the schedule."""
    steps = result["steps"]
    before, after = model_column(steps[0]), model_column(steps[-1])
    lut_before = (before["resources_at_reference"] or {}).get("LUT")
    lut_after = (after["resources_at_reference"] or {}).get("LUT")
    ratios = {
        "accuracy_delta_points": 100 * (after["accuracy"] - before["accuracy"]),
        "macs_reduction": 1 - after["macs"] / before["macs"],
        "params_reduction": 1 - after["params"] / before["params"],
        "bops_reduction": 1 - after["bops"] / before["bops"],
        "lut_reduction": (None if lut_before is None or lut_after is None
                          else 1 - lut_after / lut_before),
        "fps_gain": _ratio(after["fps_within_caps"], before["fps_within_caps"]),
    }
    return {"settings": settings, "reference_fps": reference_fps,
            "budget": {"kind": result["budget"], "met": result["budget_met"],
                       "note": result["budget_note"]},
            "unpruned": before, "pruned": after, "unstructured": unstructured,
            "ratios": ratios, "schedule": steps, "sensitivity": result.get("sensitivity"),
            "members": result.get("members") or {},
            "seconds": result["seconds"], "plot": "pruning.png"}


def _reference(section: dict[str, Any]) -> str:
    fps = section["reference_fps"]
    return "the reference FPS (none: nothing fits)" if fps is None else f"{fps:,.0f} FPS"


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


def _resource(column: dict[str, Any] | None, kind: str) -> str:
    if not column:
        return "–"
    res = column.get("resources_at_reference")
    return "does not fit" if res is None else _fmt(res.get(kind, 0.0))


def _side_by_side(section: dict[str, Any]) -> list[str]:
    """Unpruned vs pruned (and the unstructured control): the table and what it means."""
    before, after, control = section["unpruned"], section["pruned"], section.get("unstructured")
    header = ["", "unpruned", "pruned (structured, aligned)"]
    if control:
        header.append(f"unstructured: {control['target_sparsity']:.0%} of weights zeroed "
                      f"({control['weight_sparsity']:.0%} zero after quantization, no fine-tune)")

    def row(label: str, key: str, fmt: Any = _fmt) -> list[str]:
        cells = [label, fmt(before[key]), fmt(after[key])]
        return cells + ([fmt(control[key])] if control else [])

    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    rows = [row("top-1 accuracy", "accuracy", pct), row("parameters", "params"),
            row("MACs / frame", "macs"), row("BOPs / frame", "bops")]
    for kind in RESOURCES:
        cells = [f"{kind} at {_reference(section)}", _resource(before, kind),
                 _resource(after, kind)]
        rows.append(cells + ([_resource(control, kind)] if control else []))
    rows.append(row("FPS within the board's caps", "fps_within_caps"))
    for name in before["counts"]:
        layers = " + ".join(section.get("members", {}).get(name) or [name])
        cells = [f"channels {layers}", str(before["counts"][name]),
                 str(after["counts"].get(name, "–"))]
        rows.append(cells + ([str(before["counts"][name])] if control else []))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    if control:
        lines += ["", "Unstructured pruning zeroes weights but keeps every layer's shape: FINN's "
                  "matrix-vector units are dense, so its estimated resources and FPS do not move."]
    return lines


def _has_final_finetune(section: dict[str, Any]) -> bool:
    """Whether the schedule's last record is the final fine-tune, not a pruning step: the
    schedule adds one (numbered after the last step) when final_epochs > 0 and a step pruned,
    so there are then at least three records."""
    return (section["settings"].get("final_epochs", 0) or 0) > 0 and len(section["schedule"]) > 2


def _skipped_steps(schedule: list[dict[str, Any]]) -> list[int]:
    present = {s["step"] for s in schedule}
    return [n for n in range(max(present) + 1) if n not in present]


def _skipped_note(schedule: list[dict[str, Any]]) -> list[str]:
    """Why step numbers are missing: the schedule skips a step whose fraction to remove is not
    positive (codesign.prune.schedule), which only the sparsity budget's targets can give."""
    skipped = _skipped_steps(schedule)
    if not skipped:
        return []
    plural = len(skipped) > 1
    return ["", f"Skipped step{'s' if plural else ''} {', '.join(map(str, skipped))}: at "
            f"{'each' if plural else 'that step'} the model's MACs were already at or below the "
            "step's sparsity target (an earlier step removed more than its share, as counts round "
            "to the PE/SIMD granularity and the fold search may cut extra channels, or "
            "`prune.step_sparsity` repeats a value), so nothing was pruned or fine-tuned and no "
            "record was made."]


def _schedule_lines(section: dict[str, Any]) -> list[str]:
    schedule = section["schedule"]
    final = schedule[-1]["step"] if _has_final_finetune(section) else None
    lines = ["### Schedule", "",
             "| step | MACs | top-1 | FPS within caps | LUT at reference FPS | channels |",
             "|---|---|---|---|---|---|"]
    for s in schedule:
        res = s["hardware"]["resources_at_reference"]
        lut = "does not fit" if res is None else _fmt(res.get("LUT"))
        step = f"{s['step']} (final fine-tune)" if s["step"] == final else str(s["step"])
        lines.append(f"| {step} | {s['macs']:,} | {100 * s['accuracy']:.2f} % | "
                     f"{s['hardware']['fps']:,.0f} | {lut} | "
                     f"{', '.join(str(c) for c in s['counts'].values())} |")
    return lines + _skipped_note(schedule)


def _setting(value: Any) -> str:
    """A setting's value as a user would write it: lists comma-joined, mappings as name=value
    pairs, None (or nothing) as —."""
    if value is None:
        return MISSING
    if isinstance(value, dict):
        return ", ".join(f"{k}={_setting(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_setting(v) for v in value) or MISSING
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _settings_lines(settings: dict[str, Any]) -> list[str]:
    if not settings:
        return []
    return ["### Settings", "", "| setting | value |", "|---|---|",
            *(f"| {key} | {_setting(value)} |" for key, value in settings.items()), ""]


def render_prune_markdown(section: dict[str, Any]) -> list[str]:
    r = section["ratios"]
    lines = ["## Pruning (structured, quantization-aware, aligned to PE/SIMD)", "",
             f"- budget **{section['budget']['kind']}**: "
             f"{'met' if section['budget']['met'] else 'NOT met'} — {section['budget']['note']}",
             f"- accuracy {r['accuracy_delta_points']:+.2f} points; MACs −{r['macs_reduction']:.1%}; "
             f"LUT at the reference FPS "
             + ("–" if r["lut_reduction"] is None else f"−{r['lut_reduction']:.1%}")
             + "; FPS within the same caps "
             + ("–" if r["fps_gain"] is None else f"×{r['fps_gain']:.2f}"), ""]
    lines += _side_by_side(section)
    lines += ["", *_schedule_lines(section), *_search_lines(section["schedule"])]
    lines += ["", f"![accuracy vs LUT and FPS]({section['plot']})", ""]
    return lines + _settings_lines(section["settings"])


def _search_lines(schedule: list[dict[str, Any]]) -> list[str]:
    """What the fold search changed per step (nothing when it was off)."""
    searched = [s for s in schedule if s.get("search")]
    if not searched:
        return []
    lines = ["", "Fold search (counts measured before fine-tuning; `prune.fold_search`):", ""]
    for s in searched:
        found = s["search"]
        moves = "; ".join(found["moves"]) or "the allocation's counts were already the fastest"
        lines.append(f"- step {s['step']}: {_count(found['evaluated'], 'folding')} measured "
                     f"({found['seconds']:.0f} s, {_count(found['workers'], 'process')}), "
                     f"{found['fps_allocated']:,.0f} -> {found['fps']:,.0f} FPS: {moves}"
                     + _trial_text(found.get("trials"), s["counts"]))
    return lines


def _count(n: int, noun: str) -> str:
    """`n` `noun`s, in English: 1 folding, 2 foldings, 2 processes."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('s') else 's'}"


def _trial_text(trials: list[dict[str, Any]] | None, kept: dict[str, int]) -> str:
    """The shape trials of one step (`prune.shape_trials`), or nothing."""
    if not trials:
        return ""
    tried = ", ".join(f"{shape_text(t['counts'])} {t['train_loss']:.3f}" for t in trials)
    return (f"; shape trials at that FPS (training loss after the fine-tune): {tried}; kept "
            f"{shape_text(kept)}")


def plot_schedule(section: dict[str, Any], path: Path, title: str = "") -> Path:
    """Accuracy against LUT at the reference FPS, and against FPS within the caps, per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = section["schedule"]
    acc = [100 * s["accuracy"] for s in steps]
    lut = [(s["hardware"]["resources_at_reference"] or {}).get("LUT") for s in steps]
    fps = [s["hardware"]["fps"] for s in steps]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, xs, label in ((axes[0], lut, f"LUT at {_reference(section)}"),
                          (axes[1], fps, "FPS within the board's caps")):
        points = [(x, a, s["step"]) for x, a, s in zip(xs, acc, steps, strict=True)
                  if x is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], "-o", color="tab:blue",
                label="structured, aligned (per step)")
        for x, a, step in points:
            ax.annotate(str(step), (x, a), textcoords="offset points", xytext=(4, 4), fontsize=8)
        control = section.get("unstructured")
        if control:
            cx = ((control["resources_at_reference"] or {}).get("LUT") if ax is axes[0]
                  else control["fps_within_caps"])
            if cx is not None:
                ax.plot([cx], [100 * control["accuracy"]], "x", color="tab:red", ms=10,
                        label=f"unstructured, {control['target_sparsity']:.0%} zeroed")
        ax.set_xlabel(label)
        ax.set_ylabel("test top-1 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "pruning schedule (step 0 = unpruned)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
