"""The run report's plots, drawn from the report document: per-layer cycles and resource use
as shares of the board's capacity."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

from codesign.atomic import atomic_path

RESOURCE_COLUMNS = (("lut", "LUT"), ("bram_18k", "BRAM_18K"), ("uram", "URAM"), ("dsp", "DSP"))
LEGEND_LAYERS = 8  # layers named in resources.png's legend; the rest are stacked as "other"
OTHER = "other"
BAR_HEIGHT = 0.5


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
    est = report["estimates"]
    io = est.get("io")
    if io is not None:  # the shell's I/O bound as cycles per frame at the kernel clock
        io_cycles = est["clock_mhz"] * 1e6 / io["fps"]
        ax.axhline(io_cycles, color="tab:orange", ls="--",
                   label=f"I/O bound: {io_cycles:,.0f} cycles/frame ({io['fps']:,.0f} FPS)")
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cycles per frame")
    ax.set_title(f"{report['name']}: per-layer cycles (red = bottleneck)\n"
                 f"as built {est['fps']:,.0f} FPS", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


class ResourceShare(NamedTuple):
    """One bar of resources.png: a resource kind the board has (or the design uses)."""
    kind: str
    share: float  # the design's use / the board's capacity (inf: the board has none)
    cap: float  # the fraction of the capacity a design may use
    layers: tuple[tuple[str, float], ...]  # (layer, its use / capacity) of layers using any


def resource_shares(report: dict[str, Any]) -> list[ResourceShare]:
    """Per resource kind, utilisation as a share of the board's capacity, split by layer;
    kinds the board lacks and the design does not use are left out."""
    layers = report["estimates"]["layers"]
    budget = report["budget"]["resources"]
    shares = []
    for key, kind in RESOURCE_COLUMNS:
        r = budget[kind]
        capacity, used = float(r["capacity"]), float(r["used"])
        if capacity == 0 and used == 0:
            continue
        per_layer = tuple((layer["name"], float(layer[key]) / capacity) for layer in layers
                          if capacity and float(layer[key]) > 0)
        shares.append(ResourceShare(kind, used / capacity if capacity else math.inf,
                                    float(r["cap"]), per_layer))
    return shares


def _top_layers(shares: list[ResourceShare], count: int) -> list[str]:
    """The `count` layers with the largest share of any resource (the legend's entries)."""
    largest: dict[str, float] = {}
    for bar in shares:
        for name, share in bar.layers:
            largest[name] = max(largest.get(name, 0.0), share)
    return sorted(largest, key=largest.__getitem__, reverse=True)[:count]


def _bar_segments(bar: ResourceShare, top: list[str]) -> list[tuple[str, float]]:
    """The bar's stacked segments: each top layer, then the rest summed as "other"."""
    segments = [(name, share) for name, share in bar.layers if name in top]
    rest = sum(share for name, share in bar.layers if name not in top)
    return segments + ([(OTHER, rest)] if rest > 0 else [])


def _total_label(ax: Any, y: float, bar: ResourceShare, r: dict[str, Any]) -> None:
    """The bar's total, right of the axes; red when the design exceeds the cap."""
    text = (f"{r['used']:,.0f} used, the board has none" if math.isinf(bar.share)
            else f"{bar.share:.1%}  ({r['used']:,.0f} / {r['capacity']:,.0f})")
    over = not r["fits"]
    ax.text(1.01, y, text, transform=ax.get_yaxis_transform(), va="center", fontsize=9,
            color="red" if over else "black", fontweight="bold" if over else "normal")


def _mark_cap(ax: Any, y: float, cap: float) -> None:
    half = BAR_HEIGHT / 2 + 0.08
    ax.plot([cap, cap], [y - half, y + half], color="red", lw=2.5)
    ax.text(cap, y - half - 0.02, f"cap {cap:.0%}", color="red", fontsize=8, ha="center",
            va="bottom")


def _draw_bar(ax: Any, y: float, bar: ResourceShare, top: list[str],
              colors: dict[str, Any]) -> dict[str, Any]:
    """One resource's stacked bar and its cap; returns the drawn segments by layer."""
    if math.isinf(bar.share):  # no capacity to take a share of: the whole bar says so
        ax.barh(y, 1.0, height=BAR_HEIGHT, color="none", edgecolor="red", hatch="//")
    else:
        _mark_cap(ax, y, bar.cap)
    drawn: dict[str, Any] = {}
    left = 0.0
    for name, share in _bar_segments(bar, top):
        drawn[name] = ax.barh(y, share, left=left, height=BAR_HEIGHT, color=colors[name],
                              edgecolor="white", linewidth=0.5)
        left += share
    return drawn


def _legend(ax: Any, shares: list[ResourceShare], top: list[str], drawn: dict[str, Any]) -> None:
    names = [name for name in [*top, OTHER] if name in drawn]
    if not names:
        return
    others = len({name for bar in shares for name, _ in bar.layers} - set(top))
    labels = [f"other ({others} layers)" if name == OTHER else name for name in names]
    ax.legend([drawn[name] for name in names], labels, fontsize=8, ncol=min(4, len(names)),
              loc="upper center", bbox_to_anchor=(0.5, -0.2))


def plot_resources(report: dict[str, Any], path: Path) -> Path:
    """One bar per resource kind: utilisation as a share of the board's capacity, stacked by
    layer (the largest layers named, the rest as "other"), with the cap marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    shares = resource_shares(report)
    budget = report["budget"]["resources"]
    top = _top_layers(shares, LEGEND_LAYERS)
    palette = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]  # grey: "other"
    colors = {name: palette[i % len(palette)] for i, name in enumerate(top)}
    colors[OTHER] = "lightgrey"
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.9 * len(shares)))
    drawn: dict[str, Any] = {}
    for y, bar in enumerate(shares):
        drawn.update(_draw_bar(ax, y, bar, top, colors))
        _total_label(ax, y, bar, budget[bar.kind])
    widest = max((bar.share for bar in shares if not math.isinf(bar.share)), default=0.0)
    ax.set_xlim(0, max(1.0, widest * 1.05))
    ax.set_ylim(len(shares) - 0.5, -0.7)  # first kind on top, room for its cap label
    ax.set_yticks(range(len(shares)), [bar.kind for bar in shares])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of the board's capacity")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{report['name']}: resources on {report['board']['name']} (share of capacity)")
    _legend(ax, shares, top, drawn)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    return path
