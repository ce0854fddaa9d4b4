"""The README's main job, measured: the default flow's wall time per stage (with a cold and a warm
Verilator build cache) and what it reports (accuracy unpruned/pruned, MACs removed, codesign's
folding vs FINN's best fitting SetFolding, fit, bit-exactness, simulation).

Usage: python3 benchmarks/default_flow.py [--flow flows/tfc_w2a2_mnist5k.yaml] [--repeats 2]
Writes benchmarks/results/default_flow.json and a PNG of the stage times, prints a table. The
first run of each repeat pair uses a fresh Verilator cache (cold), the second the same cache
(warm). Not a test: machines are shared, so quote medians and say how loaded the machine was."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import atomic_path, write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow import RunResult, run_flow
from codesign.sim.verilator import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BUDGET_S = 120.0  # the default flow must stay under 2 minutes on 2 cores


def measure(result: RunResult) -> dict[str, Any]:
    acc = result.accelerator
    baseline = acc.folding.setfolding_baseline
    section = result.pruning.section() if result.pruning is not None else None
    return {
        "test_top1": result.accuracy.test_top1 if result.accuracy else None,
        "unpruned_test_top1": result.accuracy.unpruned_test_top1 if result.accuracy else None,
        "macs_reduction": section["ratios"]["macs_reduction"] if section else None,
        "lut_reduction_at_reference": section["ratios"]["lut_reduction"] if section else None,
        "counts": section["pruned"]["counts"] if section else None,
        "fps": acc.estimates.fps, "lut": acc.estimates.totals.get("LUT"),
        "setfolding_fps": baseline.fps if baseline else None,
        "codesign_vs_setfolding": acc.estimates.fps / baseline.fps if baseline else None,
        "fits": acc.fit.fits,
        "bit_exact": f"{acc.verification.matched}/{acc.verification.samples}",
        "simulation_passed": acc.simulation.section["passed"] if acc.simulation else None,
    }


def one_run(flow_path: Path, cache: Path) -> dict[str, Any]:
    flow = load_flow(flow_path)
    board = load_board(flow.board)
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(cache)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            res = run_flow(flow, board, Path(tmp) / "run", progress=False)
            total = time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous
    return {"total_s": total, "stages_s": dict(res.result.timings), **measure(res.result)}


def plot(runs: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(runs[0]["stages_s"])
    fig, ax = plt.subplots(figsize=(10, 1.4 + 0.45 * len(runs)))
    labels = [f"run {i + 1} ({r['cache']})" for i, r in enumerate(runs)]
    left = [0.0] * len(runs)
    cmap = plt.get_cmap("tab20")
    for j, stage in enumerate(stages):
        widths = [r["stages_s"].get(stage, 0.0) for r in runs]
        ax.barh(labels, widths, left=left, color=cmap(j % 20), label=stage)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.axvline(BUDGET_S, color="red", ls="--", label="2 min budget")
    ax.set_xlabel("wall time (s)")
    ax.set_title("default flow: stage times")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flow", type=Path, default=ROOT / "flows" / "tfc_w2a2_mnist5k.yaml")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "default_flow.json")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            for kind in ("cold", "warm"):
                runs.append({"cache": kind, "load_before": os.getloadavg()[0],
                             **one_run(args.flow, Path(cache))})
    medians = {kind: statistics.median(r["total_s"] for r in runs if r["cache"] == kind)
               for kind in ("cold", "warm")}
    write_json(args.out, {"benchmark": "default_flow", "flow": str(args.flow.relative_to(ROOT)),
                          "budget_s": BUDGET_S, "median_total_s": medians, "runs": runs})
    png = plot(runs, args.out.with_suffix(".png"))
    table = Table(title=f"default flow ({args.flow.name}): wall time and results")
    for col in ("run", "cache", "load", *runs[0]["stages_s"], "total s", "top-1", "unpruned",
                "MACs −", "FPS", "vs SetFolding", "bit-exact", "sim"):
        table.add_column(col)
    for i, r in enumerate(runs):
        table.add_row(str(i + 1), r["cache"], f"{r['load_before']:.1f}",
                      *(f"{v:.1f}" for v in r["stages_s"].values()), f"{r['total_s']:.1f}",
                      f"{r['test_top1']:.2%}", f"{r['unpruned_test_top1']:.2%}",
                      f"{r['macs_reduction']:.1%}", f"{r['fps']:,.0f}",
                      f"×{r['codesign_vs_setfolding']:.2f}", r["bit_exact"],
                      "passed" if r["simulation_passed"] else "FAILED")
    Console(width=200).print(table)
    print(f"median total: cold {medians['cold']:.1f} s, warm {medians['warm']:.1f} s "
          f"(budget {BUDGET_S:.0f} s); wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
