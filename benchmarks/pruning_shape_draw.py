"""What alignment buys at a fixed MAC budget, as a distribution (issue 20's aligned vs
criterion-unaligned goal): random kept-count shapes of a pruned family flow's model, at the MACs
the aligned schedule removed, folded for the flow's board within its caps.

The families benchmark compares one aligned cut with one criterion-unaligned cut per seed, so
each seed's ratio is one draw of which fold step the unaligned counts happen to reach. Here the
draw is repeated without training: for each reference shape (the aligned counts of the families
benchmark's JSON files, both machine kinds), `--shapes` random count vectors with the same MACs
(within 1.5 %) are cut from the flow's untrained model, once unaligned (any count) and once on
the board's granularity (codesign's `alignment.granularity` for the unpruned folding), plus the
uniform cut (every group the same kept fraction, rounded: what a hardware-blind pruner such as
Torch-Pruning's local pruning does). Each is exported, compiled and folded by codesign's
optimizer for the most FPS within the caps (the same call as benchmarks/pruning_families.py).
FINN sizes accumulators from weight values, so LUTs differ slightly from trained models'.

Reported per family: FPS x the remaining MAC fraction (if it is nearly constant, FPS within the
caps follows the MACs, whatever the shape), and per reference shape the share of random
unaligned shapes that fold to at least the reference's FPS and the median ratio reference /
random. Prints a table; writes JSON and a PNG (FPS against remaining MACs, per kind of shape).

Last run (3 Dec 2026 21:08-21:41, worktree at 4482a74 + this file, two processes, 1 thread each;
the untrained models and the folding are deterministic, so the figures do not depend on the
machine's kernels). Granularity 4-4-4-4-8-8 (ResNet-8), 8-8-8-8-4 (DS-CNN).
- ResNet-8, 10 reference shapes (66.1-75.1 % of the MACs removed), 4 shapes per kind each:
  random unaligned shapes reach the reference's FPS in 7 of 40 (17.5 %); per reference the
  median ratio reference / unaligned is x1.04-1.29, median x1.14 (all 40 ratios: median
  x1.125). Random shapes on the granularity reach it in 34 of 40: at 66-70 % removed every one
  of 28 folds to 21,259 FPS, as the schedule's do. The uniform cut: x1.29-1.50 slower. FPS x
  remaining MAC fraction (min / median / max): schedule 6,323 / 7,050 / 7,651, random aligned
  5,686 / 6,969 / 7,594, unaligned 4,581 / 6,171 / 7,146, uniform 4,262 / 4,744 / 5,670.
- DS-CNN, 6 reference shapes (55.3-59.1 %), 5 per kind each: random unaligned shapes reach the
  reference's FPS in 0 of 30, median ratio per reference x1.38-2.07 (median x1.68); random
  aligned shapes in 9 of 30 (the schedule's allocation beats them too: FPS x remaining
  11,454 median against 10,379); the uniform cut x1.09-18.8 slower (one not matched in MACs).
So on ResNet-8 alignment buys about x1.14 over a hardware-blind cut at equal MACs in the median,
but at 66-70 % removed one unaligned shape in four reaches the aligned fold step (7 of 28, one
of them past it: 22,183 FPS; none at 73-75 %), while no aligned shape of the draw gets past
21,259 (shapes keeping the 28x28 stage at 4-4 do at 70.1-70.4 %: 24,295 FPS, see
benchmarks/pruning_families.py): per seed, aligned vs criterion-unaligned ties whenever the
criterion's cut is one of those.
On DS-CNN (VVAU PE must divide the channels) no unaligned shape ties.
The same ResNet-8 anchors on Ultra96-V2 (--board ultra96-v2, 3 per kind, 21:56-22:19;
pruning_shape_draw_ultra96.json; granularity 4 everywhere): at 65-71 % removed random unaligned
shapes reach the anchor's FPS in 3 of 21 and every random aligned shape does (21 of 21, mostly
31,888 FPS), all ratios x1.125 median; at 73-75 % unaligned 3 of 9 (x1.04 median), aligned 8
of 9. A larger board moves the steps, not the share of ties.

Usage: python3 benchmarks/pruning_shape_draw.py [--flows flows/a.yaml ...] [--shapes 6]
       [--seed 0] [--references 0 2] [--board zcu104] [--out benchmarks/results/pruning_shape_draw.json]
       python3 benchmarks/pruning_shape_draw.py --combine a.json b.json [--out ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOWS = ("flows/resnet8_w4a4_fashion_pruned.yaml", "flows/dscnn_w4a4_fashion_pruned.yaml")
REFERENCES = ("pruning_families.json", "pruning_families_epyc.json")
MAC_TOLERANCE = 0.015  # a random shape's MACs within this fraction of the reference's


def reference_shapes(flow_name: str) -> list[dict[str, int]]:
    """The aligned counts the families benchmark measured for `flow_name`, each once."""
    shapes: list[dict[str, int]] = []
    for name in REFERENCES:
        for family in json.loads((RESULTS / name).read_text())["families"]:
            if family["flow"] != flow_name:
                continue
            for row in family["rows"]:
                counts = {k: int(v) for k, v in row["aligned"]["counts"].items()}
                if counts not in shapes:
                    shapes.append(counts)
    return shapes


class Shapes:
    """Cuts of one flow's untrained model: MACs of any counts, FPS within the board's caps."""

    def __init__(self, flow: Any, board: Any, work: Path) -> None:
        from codesign.flow.stages import build_flow_model, load_flow_data
        from codesign.prune import channel_groups, model_cost

        self.flow, self.board, self.work = flow, board, work
        data = load_flow_data(flow)
        self.input_shape = data.input_shape
        self._build = lambda: build_flow_model(flow, data)
        model = self._build()
        self.groups = channel_groups(model, self.input_shape)
        self.full = {g.name: g.channels for g in self.groups}
        self.macs0 = model_cost(model, self.input_shape).macs
        self._macs: dict[tuple[int, ...], int] = {}

    def model(self, counts: dict[str, int]) -> Any:
        import torch

        from codesign.prune import shrink_to_counts

        torch.manual_seed(self.flow.seed)
        return shrink_to_counts(self._build(), counts, self.input_shape).eval()

    def macs(self, counts: dict[str, int]) -> int:
        from codesign.prune import model_cost

        key = tuple(counts[k] for k in self.full)
        if key not in self._macs:
            self._macs[key] = model_cost(self.model(counts), self.input_shape).macs
        return self._macs[key]

    def fold(self, counts: dict[str, int]) -> dict[str, Any]:
        from pruning_families import fps_within_caps

        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            return fps_within_caps(self.model(counts), self.input_shape, self.board, Path(tmp))

    def granularity(self) -> dict[str, int]:
        from codesign.prune import weight_layers
        from codesign.prune.alignment import granularity
        from codesign.prune.profile import hardware_profile

        model = self._build()
        names = weight_layers(model, self.input_shape)
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            profile = hardware_profile(model, self.input_shape, names, self.board,
                                       workdir=Path(tmp))
        return granularity(self.groups, profile)


def _scaled(full: dict[str, int], weights: dict[str, float], scale: float,
            grain: dict[str, int]) -> dict[str, int]:
    out = {}
    for name, channels in full.items():
        step = grain.get(name, 1)
        kept = round(scale * weights[name] * channels / step) * step
        out[name] = int(min(max(kept, step), channels))
    return out


def matched(shapes: Shapes, target_macs: int, weights: dict[str, float],
            grain: dict[str, int]) -> dict[str, int] | None:
    """The counts `weights` x a common scale gives (on `grain` multiples), scale bisected so
    the MACs come nearest `target_macs`; None if they miss it by more than MAC_TOLERANCE."""
    lo, hi = 0.0, 1.0 / min(weights.values())
    best: tuple[float, dict[str, int]] | None = None
    for _ in range(24):
        mid = (lo + hi) / 2
        counts = _scaled(shapes.full, weights, mid, grain)
        macs = shapes.macs(counts)
        miss = abs(macs - target_macs) / target_macs
        if best is None or miss < best[0]:
            best = (miss, counts)
        lo, hi = (mid, hi) if macs < target_macs else (lo, mid)
    assert best is not None
    return best[1] if best[0] <= MAC_TOLERANCE else None


def draw(shapes: Shapes, reference: dict[str, int], grain: dict[str, int], n: int,
         rng: np.random.Generator) -> list[tuple[str, dict[str, int]]]:
    """`n` random shapes per kind (unaligned, on the granularity) and the uniform cut, all at
    the reference's MACs. Random kept fractions are log-uniform within 4x of each other."""
    target = shapes.macs(reference)
    names = list(shapes.full)
    ones = dict.fromkeys(names, 1.0)
    out: list[tuple[str, dict[str, int]]] = []
    uniform = matched(shapes, target, ones, {})
    if uniform is not None:
        out.append(("uniform", uniform))
    for kind, step in (("unaligned", {}), ("random aligned", grain)):
        tries, found = 0, 0
        while found < n and tries < 20 * n:
            tries += 1
            weights = {k: float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))) for k in names}
            counts = matched(shapes, target, weights, step)
            if counts is None or counts == reference:
                continue
            if kind == "unaligned" and all(counts[k] % grain[k] == 0 for k in names):
                continue  # aligned by chance: not what this kind measures
            out.append((kind, counts))
            found += 1
    return out


def run_flow(flow_path: Path, n: int, seed: int, work: Path, progress: Progress,
             only: list[int] | None = None, board_name: str | None = None) -> dict[str, Any]:
    flow = load_flow(ROOT / flow_path)
    board = flow_board(flow, load_board(board_name or flow.board))
    shapes = Shapes(flow, board, work)
    grain = shapes.granularity()
    references = reference_shapes(flow.name)
    chosen = [i for i in range(len(references)) if only is None or i in only]
    plan = [(i, "reference", references[i]) for i in chosen]
    plan += [(i, kind, counts) for i in chosen  # one generator per reference: any split of
             for kind, counts in draw(shapes, references[i], grain, n,  # the references
                                      np.random.default_rng([seed, i]))]  # draws the same
    rows = []
    task = progress.add_task(f"{flow.name}: folding", total=len(plan))
    for ref_index, kind, counts in plan:
        macs = shapes.macs(counts)
        folded = shapes.fold(counts)
        rows.append({"reference": ref_index, "kind": kind, "counts": counts, "macs": macs,
                     "remaining": macs / shapes.macs0, "fps": folded["fps"],
                     "lut": folded.get("lut"), "bound": folded.get("bound")})
        progress.advance(task)
    return {"flow": flow.name, "board": board.name, "caps": dict(board.caps),
            "granularity": grain, "full": shapes.full, "unpruned_macs": shapes.macs0,
            "mac_tolerance": MAC_TOLERANCE, "shapes_per_kind": n, "seed": seed,
            "references": references, "rows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per reference: how often a random shape of each kind reaches its FPS, median ratios;
    per kind: the spread of FPS x remaining MAC fraction."""
    kinds = sorted({r["kind"] for r in rows})
    per_ref = []
    for ref in sorted({r["reference"] for r in rows}):
        mine = [r for r in rows if r["reference"] == ref]
        base = next(r for r in mine if r["kind"] == "reference")
        entry: dict[str, Any] = {"reference": ref, "counts": base["counts"],
                                 "remaining": base["remaining"], "fps": base["fps"]}
        for kind in kinds:
            others = [r["fps"] for r in mine if r["kind"] == kind]
            if kind == "reference" or not others:
                continue
            entry[kind] = {
                "shapes": len(others),
                "reach_reference": sum(f >= base["fps"] * 0.999 for f in others) / len(others),
                "median_ratio": statistics.median(base["fps"] / f if f else float("inf")
                                                  for f in others)}
        per_ref.append(entry)
    spread = {}
    for kind in kinds:
        product = [r["fps"] * r["remaining"] for r in rows if r["kind"] == kind and r["fps"]]
        if product:
            spread[kind] = {"min": min(product), "median": statistics.median(product),
                            "max": max(product), "shapes": len(product)}
    unaligned = [e["unaligned"] for e in per_ref if "unaligned" in e]
    return {"per_reference": per_ref, "fps_x_remaining": spread,
            "median_share_unaligned_reaching_reference": (
                statistics.median(u["reach_reference"] for u in unaligned) if unaligned else None),
            "median_ratio_reference_vs_unaligned": (
                statistics.median(u["median_ratio"] for u in unaligned) if unaligned else None)}


def _reach(entry: dict[str, Any] | None) -> str:
    return f"{entry['reach_reference']:.0%} of {entry['shapes']}" if entry else "-"


def print_report(console: Console, report: dict[str, Any]) -> None:
    for fam in report["families"]:
        table = Table(title=f"{fam['flow']} on {fam['board']}: random shapes at the aligned "
                            "cut's MACs")
        for col in ("ref", "aligned counts", "MACs left", "FPS", "unaligned reach it",
                    "x vs unaligned (median)", "random aligned reach it", "x vs uniform"):
            table.add_column(col, justify="right")
        for e in fam["summary"]["per_reference"]:
            un, ra, uni = e.get("unaligned"), e.get("random aligned"), e.get("uniform")
            table.add_row(str(e["reference"]), "-".join(str(v) for v in e["counts"].values()),
                          f"{e['remaining']:.3f}", f"{e['fps']:,.0f}", _reach(un),
                          f"x{un['median_ratio']:.2f}" if un else "-", _reach(ra),
                          f"x{uni['median_ratio']:.2f}" if uni else "- (MACs not matched)")
        console.print(table)
        for kind, s in fam["summary"]["fps_x_remaining"].items():
            console.print(f"  FPS x remaining MACs, {kind}: {s['min']:,.0f} / {s['median']:,.0f}"
                          f" / {s['max']:,.0f} (min / median / max of {s['shapes']})")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = report["families"]
    fig, axes = plt.subplots(1, len(families), figsize=(6.5 * len(families), 4.8), squeeze=False)
    style = {"reference": ("o", "tab:red", "aligned schedule (families benchmark)"),
             "random aligned": ("s", "tab:green", "random, on the granularity"),
             "unaligned": ("x", "tab:blue", "random, unaligned"),
             "uniform": ("^", "tab:gray", "uniform cut")}
    for ax, fam in zip(axes[0], families, strict=True):
        for kind, (marker, color, label) in style.items():
            pts = [(1 - r["remaining"], r["fps"]) for r in fam["rows"] if r["kind"] == kind]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.scatter([100 * v for v in x], y, marker=marker, color=color, label=label,
                           alpha=0.8, s=40 if kind == "reference" else 22,
                           zorder=3 if kind == "reference" else 2)
        ax.set_xlabel("MACs removed (%)")
        ax.set_ylabel(f"FPS within the caps on {fam['board']}")
        ax.set_title(fam["flow"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--shapes", type=int, default=6, help="random shapes per kind and reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--board", default=None,
                        help="fold for this board (the flow's caps) instead of the flow's")
    parser.add_argument("--references", nargs="+", type=int, default=None,
                        help="indices of the reference shapes to draw around (default: all)")
    parser.add_argument("--combine", nargs="+", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_shape_draw.json")
    args = parser.parse_args()
    console = Console(width=200)
    report: dict[str, Any] = {"benchmark": "pruning_shape_draw", "families": []}
    if args.combine:
        from pruning_families import combine  # a flow's rows joined, told apart by reference

        report["families"] = combine([json.loads(p.read_text())["families"] for p in args.combine],
                                     key="reference", summarise_rows=summarise)
    else:
        with tempfile.TemporaryDirectory(prefix="codesign-draw-") as tmp, \
                Progress(console=console) as progress:
            for flow_path in args.flows:
                report["families"].append(run_flow(Path(flow_path), args.shapes, args.seed,
                                                   Path(tmp), progress, args.references,
                                                   args.board))
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


if __name__ == "__main__":
    main()
