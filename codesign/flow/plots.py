"""The run report's plots, drawn from the report document: per-layer cycles and resource use
as shares of the board's capacity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import atomic_path

RESOURCE_COLUMNS = (("lut", "LUT"), ("bram_18k", "BRAM_18K"), ("uram", "URAM"), ("dsp", "DSP"))


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
