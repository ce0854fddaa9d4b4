"""Pruning to a target FPS: what the fold search's folding targets save.

Under `budget: fps` the schedule cuts `step_fraction` of the MACs per step until the board
reaches the target FPS within its caps. The fold search (`prune.fold_search`) may move the
bottleneck layer one granule lower, and with folding targets (`prune.fold_targets`, on by default
under this budget) to the exact count whose divisors fold faster in the same PE x SIMD lanes.

For the FPS-budget TFC flow (default; 15 % of the MACs per step, at most 8 steps) and each
target FPS: train the unpruned model once (seeded), then prune copies four ways: the search with
folding targets (the flow as shipped), the search with granule moves only
(`fold_targets: false`), no search (`fold_search: 0`), and unaligned structured pruning with the
same criterion, hardware-blind (`align: false, allocation: criterion`). Per run: whether the
target was reached, the FPS within the caps, the MAC sparsity it took, top-1 after the final
fine-tune, the kept counts and the steps. Fewer MACs removed for the same FPS is the point.

Usage: python3 benchmarks/pruning_fps_budget.py [--flow flows/x.yaml] [--targets 1.8e6 2.0e6]
       [--out benchmarks/results/pruning_fps_budget.json]
Prints a table; writes JSON and a PNG (MAC sparsity and top-1 per target and variant).

Last run (3 Dec 2026 at c0c3c38, 1 thread, load 2-3): the unpruned model reaches 1,020,408 FPS
within Ultra96-V2's caps (94.40 %); for both targets the three aligned variants take one step to
48-56-48 (26.3 % of the MACs, 93.80 %, 2,040,816 FPS; the search finds no faster move), the
criterion-unaligned run two steps to 48-45-41 (28.7 %, 94.30 %). The folding targets save
nothing here: the first step's allocation already folds at the I/O bound."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOW = "flows/tfc_w2a2_mnist5k_fps.yaml"
TARGETS = (1.8e6, 2.0e6)  # TFC on Ultra96-V2: unpruned 1.02 M FPS within the caps, I/O 2.04 M
# (name, prune overrides of the flow's budget-fps section)
VARIANTS = (("targets", {"fold_targets": True}), ("granules", {"fold_targets": False}),
            ("no search", {"fold_search": 0}),
            ("criterion-unaligned", {"align": False, "allocation": "criterion"}))


def run(flow_path: str, targets: tuple[float, ...], console: Console) -> dict[str, Any]:
    from codesign.flow import train_flow_model
    from codesign.prune import prune_model

    flow = load_flow(ROOT / flow_path)
    assert flow.prune is not None and flow.prune.budget == "fps", \
        f"{flow_path} needs a prune: section with budget fps"
    board = load_board(flow.board)
    runs = []
    with tempfile.TemporaryDirectory(prefix="codesign-fps-budget-") as tmp:
        work = Path(tmp)
        console.print(f"[bold]{flow.name}[/]: training the unpruned model")
        model, data, _ = train_flow_model(flow, work, progress=False)
        for target in targets:
            for name, overrides in VARIANTS:
                console.print(f"  target {target:,.0f} FPS: {name}")
                settings = dataclasses.replace(flow.prune, target_fps=target, **overrides)
                pruned = copy.deepcopy(model)
                result = prune_model(pruned, data, board, settings, flow.train,
                                     workdir=work / f"{name}-{target:.0f}".replace(" ", "-"),
                                     seed=flow.seed, progress=False)
                final, base = result.final, result.baseline
                runs.append({
                    "target_fps": target, "variant": name, "reached": result.budget_met,
                    "fps": final.hardware.fps, "sparsity": 1.0 - final.macs / base.macs,
                    "accuracy": final.accuracy, "unpruned_accuracy": base.accuracy,
                    "counts": final.counts, "prune_steps": len(result.steps) - 2,
                    "moves": [m for s in result.steps if s.search for m in s.search["moves"]],
                    "seconds": result.seconds, "note": result.budget_note})
    return {"benchmark": "pruning_fps_budget", "flow": flow.name, "board": board.name,
            "settings": dataclasses.asdict(flow.prune), "runs": runs}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.atomic import atomic_path

    targets = sorted({r["target_fps"] for r in report["runs"]})
    names = [name for name, _ in VARIANTS]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        rows = [next(r for r in report["runs"] if r["variant"] == name and r["target_fps"] == t)
                for t in targets]
        xs = [i + (k - (len(names) - 1) / 2) * width for i in range(len(targets))]
        axes[0].bar(xs, [100 * r["sparsity"] for r in rows], width, label=name)
        axes[1].bar(xs, [100 * r["accuracy"] for r in rows], width, label=name)
    for ax, label in zip(axes, ("MACs removed to reach the target (%)", "top-1 (%)"),
                         strict=True):
        ax.set_xticks(range(len(targets)), [f"{t / 1e6:.1f} M FPS" for t in targets])
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    low = min(r["accuracy"] for r in report["runs"])
    axes[1].set_ylim(100 * low - 3, 100)
    axes[0].legend()
    fig.suptitle(f"{report['flow']} on {report['board']}: pruning to a target FPS")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", default=FLOW)
    parser.add_argument("--targets", nargs="+", type=float, default=list(TARGETS))
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_fps_budget.json")
    args = parser.parse_args()
    console = Console(width=150)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = run(args.flow, tuple(args.targets), console)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    table = Table(title=f"{report['flow']} on {report['board']}: pruning to a target FPS "
                        f"({report['settings']['step_fraction']:.0%} of the MACs per step)")
    for col in ("target FPS", "search", "reached", "FPS in caps", "MACs removed", "top-1",
                "steps", "channels"):
        table.add_column(col)
    for r in report["runs"]:
        table.add_row(f"{r['target_fps']:,.0f}", r["variant"], "yes" if r["reached"] else "no",
                      f"{r['fps']:,.0f}", f"{r['sparsity']:.1%}", f"{100 * r['accuracy']:.2f} %",
                      str(r["prune_steps"]), " ".join(str(v) for v in r["counts"].values()))
    console.print(table)
    console.print(f"unpruned top-1 {100 * report['runs'][0]['unpruned_accuracy']:.2f} %")


if __name__ == "__main__":
    main()
