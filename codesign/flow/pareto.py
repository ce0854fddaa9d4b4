"""FPS against resources for one board: the optimizer's Pareto fronts (least LUT, least
BRAM_18K for each achievable bottleneck, everything else within the budget) and FINN
SetFolding's designs at several targets and mvau_wwidth_max settings, as JSON and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import atomic_path
from codesign.boards import RESOURCE_KINDS, Board
from codesign.folding import FoldingPlan, FoldingSpace, pareto_front
from codesign.folding.optimize import json_gap

FRONT_KINDS = ("LUT", "BRAM_18K")


def _point(plan: FoldingPlan, clock_mhz: float, fifos: dict[str, float] | None = None) -> dict[str, Any]:
    totals = {k: v + (fifos or {}).get(k, 0.0) for k, v in plan.totals.items()}
    return {"fps": clock_mhz * 1e6 / plan.max_cycles, "max_cycles": plan.max_cycles,
            "totals": totals, "converter_totals": dict(plan.link_totals), "gap": json_gap(plan.gap)}


def pareto_data(space: FoldingSpace, board: Board, clock_mhz: float, chosen: FoldingPlan,
                setfolding: list[Any], max_points: int = 16,
                io_fps: float | None = None) -> dict[str, Any]:
    """`setfolding`: SetFoldingPoint objects (codesign.finn.baseline) to show alongside. FPS
    here is the compute pipeline's; `io_fps` (the shell's I/O bound of the chosen folding) caps
    what any of them runs at as built."""
    budget = board.budget()
    # The stream FIFOs are priced after a plan is applied (codesign.finn.plan): the fronts are
    # drawn with the chosen plan's FIFOs reserved from the budget and added to every point.
    fifos = {k: chosen.totals.get(k, 0.0) - space.fixed_cost.get(k, 0.0)
             - sum(c.cost[k] for c in chosen.choices.values()) for k in RESOURCE_KINDS}
    left = {k: max(0.0, budget[k] - fifos[k]) for k in RESOURCE_KINDS}
    fronts = {kind: [_point(p, clock_mhz, fifos) for p in pareto_front(space, left, kind, max_points)]
              for kind in FRONT_KINDS}
    return {
        "board": board.name, "part": board.part, "clock_mhz": clock_mhz, "budget": budget,
        "optimizer": fronts, "chosen": _point(chosen, clock_mhz), "io_fps": io_fps,
        # the plot is compute FPS throughout; a SetFolding point's as-built figure is kept apart
        "setfolding": [{**p.to_dict(), "fps": p.compute_fps or p.fps, "as_built_fps": p.fps,
                        "fits": p.fits(budget),
                        "fits_without_converters": p.fits(budget, with_converters=False)}
                       for p in setfolding],
        "note": ("totals are FINN's estimates with the stream FIFOs (on the fronts: the chosen "
                 "plan's FIFOs, reserved from the budget); converter_totals are the data-width converters "
                 "FINN inserts later (the optimizer counts them against the budget). A "
                 "SetFolding point 'fits' when totals plus converters are within the budget."),
    }


def plot_pareto(data: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FRONT_KINDS), figsize=(12, 4.8))
    widths = sorted({p["mvau_wwidth_max"] for p in data["setfolding"]})
    markers = dict(zip(widths, "os^Dvp", strict=False))
    for ax, kind in zip(axes, FRONT_KINDS, strict=True):
        front = sorted(data["optimizer"][kind], key=lambda p: p["totals"][kind])
        ax.step([p["totals"][kind] for p in front], [p["fps"] for p in front], where="post",
                color="C0", marker=".", label="optimizer (Pareto front)")
        for w in widths:
            pts = [p for p in data["setfolding"] if p["mvau_wwidth_max"] == w]
            ax.scatter([p["totals"][kind] for p in pts], [p["fps"] for p in pts],
                       marker=markers[w], facecolors=["C1" if p["fits"] else "none" for p in pts],
                       edgecolors="C1", label=f"SetFolding, mvau_wwidth_max={w}")
        chosen = data["chosen"]
        ax.scatter([chosen["totals"][kind]], [chosen["fps"]], marker="*", s=220, color="C2",
                   zorder=5, label="chosen plan")
        ax.axvline(data["budget"][kind], color="C3", linestyle="--", label=f"{kind} budget")
        if data.get("io_fps"):
            ax.axhline(data["io_fps"], color="C4", linestyle=":",
                       label=f"I/O bound ({data['io_fps']:,.0f} FPS as built)")
        ax.set_xlabel(f"{kind} (FINN estimate)")
        ax.set_ylabel("compute FPS")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{data['board']} at {data['clock_mhz']:g} MHz: throughput vs resources "
                 "(filled SetFolding markers fit the budget)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)

