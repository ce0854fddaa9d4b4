"""Every aligned shape at Torch-Pruning's landing point, folded per board: can any allocation
be faster than the uniform cut there?

benchmarks/pruning_same_sparsity.py re-runs codesign's schedule at the sparsity Torch-Pruning's
local `round_to` pruning lands on (every group keeps the same count, the uniform cut), letting
it remove at most one point more of the MACs (`max_overshoot` 0.01). Its fold search measures
some shapes; this measures all of them. For a flow's untrained model and each board: every
kept-count vector on the board's granularity (codesign's, from the unpruned folding) at or above
the flow's layer caps (`max_layer_sparsity`, `layer_max_sparsity`) whose MACs removed lie
within `--window` past the uniform cut's, each exported, compiled and folded for the most FPS
within the board's caps (the call benchmarks/pruning_families.py makes), beside the uniform
cut and the unpruned model. The folding is deterministic and the model untrained, so the
figures do not depend on the machine's kernels (FINN sizes accumulators from weight values,
so LUTs differ slightly from trained models').

Per board: how many shapes there are, how many fold faster than the uniform cut and by how
much. Accuracy is not measured here: benchmarks/pruning_shape_trials.py with `--target` scores
the faster ones a schedule finds after fine-tuning.

With `--passes P ...` each group may also keep the counts off the lattice within a granule of
the uniform count that are multiples of those pass counts (the fold search's exact counts,
codesign.prune.shape_sweep), and `--nearest N` folds only the N shapes nearest the uniform cut
(fewest channels away, summed over the groups).

With `--below F` the window also reaches F below the uniform cut (shapes that keep more MACs
than it), and `--within K` keeps every group within K channels of `--uniform`.

Usage: python3 benchmarks/pruning_shape_lattice.py --flow flows/a.yaml --uniform 40
         [--window 0.01] [--below 0.0227 --within 8] [--boards kv260 zcu104]
         [--passes 7 6 --nearest 40] --out benchmarks/results/x.json

Measured (pruning_shape_lattice_dscnn_avx512.{json,png}; 6 Dec 2026 05:04-06:05, one process
of 1 thread beside three others, AVX512 EPYC). DS-CNN (the KV260 flow's model, layer cap 0.5,
so every group keeps 32-64 channels) at Torch-Pruning's uniform 40s (57.27 %) plus 1 pt:
- KV260 (granularity 8): 46 shapes; the uniform cut folds to 63,776 FPS, and so do 43 of them.
  Three fold to 72,886 (x1.14): 32-32-56-32-56 and 32-56-32-32-56 (57.80 %), 40-48-32-32-56
  (58.09 %), each with two groups at the cap's 32 channels. They are the three ties codesign's
  fold search finds there on every seed (benchmarks/pruning_same_sparsity.py).
- Pynq-Z2 (granularity 8-8-8-8-4): 78 shapes; uniform 25,510 FPS, four shapes 27,793 (x1.09),
  none x1.1.
- Ultra96-V2 (27,793) and ZCU104 (110,865, the model's input bound): every one of 46 shapes
  folds to the uniform cut's FPS.
So at this sparsity, within the cap, x1.1 over the uniform cut exists on KV260 only, and only
with two groups at half width, on the granule lattice. Off it (pruning_shape_lattice_dscnn_
exact.{json,png}; 6 Dec 2026 08:07-08:26, Intel Xeon; `--passes 7 6 --nearest 40`: the
uniform cut folds its pointwise layers in 8 passes, so 35, 36 and 42 join each group's
options): of the 40 shapes nearest uniform 40s (every group at 35, 36, 40 or 42 channels),
34 fold faster on KV260, all x1.1 or more: 25 at 72,886 (x1.14, e.g. 35-40-40-42-40 at
57.85 %) and 9 at 85,034 (x1.33, e.g. 40-42-35-42-40 at 57.83 %); 6 at 63,776. The counts'
divisors, not their size, decide: 40 x 40 reaches 7 passes only at PE 8 (5 passes, 60 % more
lanes); 35 reaches it at PE 5, 42 at PE 6 (6 passes at PE 7).
No deeper than the uniform cut (pruning_shape_lattice_dscnn_below.{json,png}; 7 Dec 2026
09:44-10:03, AVX512 EPYC, untrained; `--below 0.0227 --window 0 --within 8 --passes 7 6
--nearest 80`: from the KV260 flow's 55 % to the uniform 40s' 57.27 %, every group at 32-48
channels): 52 of the 80 shapes fold to 72,886 FPS (x1.14), e.g. 40-42-40-42-40 (55.44 %,
every group at 40 or more) and 36-42-40-40-42 (57.15 %); the other 28 to 63,776; none of
them to 85,034, which the fold search reaches past the uniform cut (40-36-40-42-40, 58.19 %).
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
from pathlib import Path
from typing import Any

from pruning_shape_draw import Shapes
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board
from codesign.prune.fold_search import shape_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MACS_SLACK = 0.002  # the fast MAC model may differ from the exact count: list this much wider


def floors(shapes: Shapes, grain: dict[str, int]) -> dict[str, int]:
    """The fewest channels each group may keep under the flow's layer caps, on its granularity."""
    from codesign.prune.schedule import sparsity_floor

    floor = sparsity_floor(shapes.groups, shapes.flow.prune) or {}
    return {name: max(grain[name], math.ceil(floor.get(name, 1) / grain[name]) * grain[name])
            for name in shapes.full}


def unpruned_profile(shapes: Shapes) -> Any:
    """The unpruned model's hardware profile on the board: its MAC model and granularity."""
    from codesign.prune import weight_layers
    from codesign.prune.profile import hardware_profile

    model = shapes.model(shapes.full)
    names = weight_layers(model, shapes.input_shape)
    with tempfile.TemporaryDirectory(dir=shapes.work) as tmp:
        return hardware_profile(model, shapes.input_shape, names, shapes.board,
                                workdir=Path(tmp))


def lattice(shapes: Shapes, profile: Any, grain: dict[str, int], floor: dict[str, int],
            low: float, high: float, exact: dict[str, list[int]] | None = None,
            near: tuple[int, int] | None = None) -> list[tuple[dict[str, int], float]]:
    """Every shape on `grain` at or above `floor` (or, per group, on one of its `exact` counts)
    whose MACs removed lie in [low, high], with them; listed by the profile's MAC model, kept
    by the exact count. `near` = (count, k) keeps each group within k channels of count."""
    from codesign.prune.allocate import remaining_macs

    total = remaining_macs(shapes.groups, profile, shapes.full)
    options = [sorted(set(range(floor[n], shapes.full[n] + 1, grain[n]))
                      | set((exact or {}).get(n, ()))) for n in shapes.full]
    if near is not None:
        count, k = near
        options = [[v for v in kept if abs(v - count) <= k] for kept in options]
    found = []
    for kept in itertools.product(*options):
        counts = dict(zip(shapes.full, kept, strict=True))
        rough = 1 - remaining_macs(shapes.groups, profile, counts) / total
        if low - MACS_SLACK <= rough <= high + MACS_SLACK:
            removed = 1 - shapes.macs(counts) / shapes.macs0
            if low - 1e-9 <= removed <= high + 1e-9:
                found.append((counts, removed))
    return found


def run_board(flow: Any, board_name: str, uniform: int, window: float, work: Path,
              progress: Progress, passes: tuple[int, ...] = (), nearest: int | None = None,
              below: float = 0.0, within: int | None = None) -> dict[str, Any]:
    board = flow_board(flow, load_board(board_name))
    from codesign.prune.alignment import granularity
    from codesign.prune.shape_sweep import exact_counts

    shapes = Shapes(flow, board, work)
    profile = unpruned_profile(shapes)  # one compile gives both the MAC model and the grain
    grain = granularity(shapes.groups, profile)
    floor = floors(shapes, grain)
    exact = {n: exact_counts(shapes.full[n], grain[n], floor[n], uniform, passes)
             for n in shapes.full}
    flat = dict.fromkeys(shapes.full, uniform)
    low = 1 - shapes.macs(flat) / shapes.macs0
    near = None if within is None else (uniform, within)
    found = [(c, r) for c, r in lattice(shapes, profile, grain, floor, low - below, low + window,
                                        exact, near) if c != flat]
    if nearest is not None:  # the shapes least far from the uniform cut (channels, summed)
        found = sorted(found, key=lambda t: sum(abs(v - uniform) for v in t[0].values()))[:nearest]
    plan = [("unpruned", shapes.full, 0.0), ("uniform", flat, low)]
    plan += [("shape", c, r) for c, r in found]
    rows = []
    task = progress.add_task(f"{flow.name} on {board.name}: folding", total=len(plan))
    for kind, counts, removed in plan:
        folded = shapes.fold(counts)
        rows.append({"kind": kind, "counts": counts, "macs_removed": removed,
                     "fps": folded["fps"], "lut": folded.get("lut"), "bound": folded.get("bound"),
                     "exact": any(counts[n] in exact[n] for n in counts)})
        progress.advance(task)
    base = rows[1]["fps"]
    lattice_rows = rows[2:]
    faster = sorted((r for r in lattice_rows if r["fps"] > base * 1.0001),
                    key=lambda r: (-r["fps"], r["macs_removed"]))
    return {"board": board.name, "caps": dict(board.caps), "granularity": grain, "floor": floor,
            "exact_counts": exact, "nearest": nearest, "window": [low - below, low + window],
            "unpruned": rows[0], "uniform": rows[1],
            "shapes": lattice_rows, "faster": len(faster),
            "at_least_1_1": sum(r["fps"] >= 1.1 * base for r in faster),
            "fastest": faster[0] if faster else None,
            "faster_counts": [r["counts"] for r in faster]}


def print_report(console: Console, report: dict[str, Any]) -> None:
    below = f"{report.get('below', 0.0):.1%} below to " if report.get("below") else ""
    table = Table(title=f"{report['flow']}: every aligned shape from {below}{report['window']:.1%} "
                        f"past the uniform cut ({report['uniform']} per group)")
    for col in ("board", "granularity", "unpruned FPS", "uniform: removed / FPS", "shapes",
                "faster than uniform", "x1.1 or more", "faster shapes (FPS)"):
        table.add_column(col, justify="right")
    for b in report["boards"]:
        u = b["uniform"]
        fast = [f"{shape_text(c)} ({r['fps']:,.0f})" for c in b["faster_counts"]
                for r in b["shapes"] if r["counts"] == c]
        listed = ", ".join(fast[:6]) + (f" and {len(fast) - 6} more" if len(fast) > 6 else "")
        table.add_row(b["board"], "-".join(str(v) for v in b["granularity"].values()),
                      f"{b['unpruned']['fps']:,.0f}", f"{u['macs_removed']:.1%} / {u['fps']:,.0f}",
                      str(len(b["shapes"])), str(b["faster"]), str(b["at_least_1_1"]),
                      listed or "-")
    console.print(table)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    boards = report["boards"]
    fig, axes = plt.subplots(1, len(boards), figsize=(max(7.0, 4.6 * len(boards)), 4.2), squeeze=False,
                             sharey=True)
    for ax, b in zip(axes[0], boards, strict=True):
        base = b["uniform"]["fps"]
        for exact, colour, what in ((False, "tab:green", "on the granule lattice"),
                                    (True, "tab:orange", "with exact counts")):
            kept = [r for r in b["shapes"] if r.get("exact", False) is exact]
            if kept:
                ax.scatter([100 * r["macs_removed"] for r in kept],
                           [r["fps"] / base for r in kept], s=22, color=colour, alpha=0.7,
                           label=f"shapes {what} ({len(kept)})")
        ax.scatter([100 * b["uniform"]["macs_removed"]], [1.0], marker="*", s=160,
                   color="tab:red", zorder=3, label=f"uniform cut ({base:,.0f} FPS)")
        ax.axhline(1.1, color="gray", linestyle="--", linewidth=1, label="x1.1 (issue 20's goal)")
        labels: dict[tuple[float, float], list[str]] = {}  # shapes on one point: one label
        for r in b["shapes"]:
            if r["counts"] in b["faster_counts"]:
                point = (100 * r["macs_removed"], r["fps"] / base)
                labels.setdefault(point, []).append(shape_text(r["counts"]))
        if len(labels) <= 2:  # more would overlap: the table lists them
            for point, texts in labels.items():
                ax.annotate("\n".join(texts), point, fontsize=7, xytext=(3, -3),
                            textcoords="offset points", va="top")
        elif labels:
            ax.text(0.02, 0.62, f"{b['faster']} faster shapes (listed in the table)",
                    transform=ax.transAxes, fontsize=7, va="top")
        ax.set_title(f"{b['board']} (unpruned {b['unpruned']['fps']:,.0f} FPS)")
        ax.set_xlabel("MACs removed (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    axes[0][0].set_ylabel("FPS within the caps / uniform cut's")
    which = (f"the {boards[0]['nearest']} aligned shapes nearest the uniform cut"
             if boards[0].get("nearest") else "every aligned shape at the uniform cut's sparsity")
    if report.get("below"):
        which += f", from {report['below']:.1%} fewer MACs removed than it"
    fig.suptitle(f"{report['flow']}:\n{which}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flow", required=True)
    parser.add_argument("--uniform", type=int, required=True,
                        help="channels every group keeps in the uniform cut (Torch-Pruning's)")
    parser.add_argument("--window", type=float, default=0.01,
                        help="MACs removed past the uniform cut's, as a fraction (default 0.01)")
    parser.add_argument("--below", type=float, default=0.0,
                        help="also shapes removing up to this fraction fewer MACs than the uniform "
                             "cut (default 0: none)")
    parser.add_argument("--within", type=int, default=None,
                        help="only shapes whose every group keeps within this many channels of "
                             "--uniform (default: any)")
    parser.add_argument("--boards", nargs="+", default=None, help="default: the flow's board")
    parser.add_argument("--passes", type=int, nargs="+", default=[],
                        help="also counts off the lattice within a granule of --uniform that are "
                             "multiples of these pass counts (the fold search's exact counts)")
    parser.add_argument("--nearest", type=int, default=None,
                        help="fold only this many shapes, those nearest the uniform cut")
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_shape_lattice.json")
    args = parser.parse_args()
    flow = load_flow(ROOT / args.flow)
    console = Console(width=200)
    report: dict[str, Any] = {"benchmark": "pruning_shape_lattice", "flow": flow.name,
                              "uniform": args.uniform, "window": args.window, "below": args.below,
                              "within": args.within,
                              "passes": args.passes, "boards": []}
    with tempfile.TemporaryDirectory(prefix="codesign-lattice-") as tmp, \
            Progress(console=console) as progress:
        for name in args.boards or [flow.board]:
            report["boards"].append(run_board(flow, name, args.uniform, args.window, Path(tmp),
                                              progress, tuple(args.passes), args.nearest,
                                              args.below, args.within))
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)
    console.print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
