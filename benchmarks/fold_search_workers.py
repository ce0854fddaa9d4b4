"""How much faster the pruning fold search runs with its candidates measured by several worker
processes (`codesign run/prune --workers`, codesign.prune.measure), and that it decides the same.

Per flow: the flow's unpruned model is trained as the flow says (`--seed`), then pruned with the
flow's settings once per worker count and repeat (the worker counts interleaved, so the
machine's load falls on each alike), with the fine-tunes off (`finetune_epochs`, `final_epochs`
and `shape_trials` 0): the schedule is then its hardware measurements and the fold search,
whose candidates do not depend on the fine-tunes of a one-step flow. Reported: the search's
wall time (median over repeats) and its ratio to one worker, the whole schedule's, the
candidates measured, and whether every run kept the same counts, moves and FPS. Prints a
table; writes JSON and a PNG (search time per worker count, per flow).

Usage: python3 benchmarks/fold_search_workers.py [--flows flows/a.yaml ...] [--workers 1 2]
       [--repeats 2] [--seed 0] [--out benchmarks/results/fold_search_workers.json]
       python3 benchmarks/fold_search_workers.py --replot RESULT.json
Not a test: machines are shared, so quote medians and same-run ratios.

Last run (7 Dec 2026 07:25-08:12, AMD EPYC AVX512, 2 cores, code at 3249a61: workers started
at a search's first batch, as now; fold_search_workers_avx512.{json,png}): seed 0, 2 repeats.
DS-CNN / KV260, 51 candidates: search 329 s with 1 worker, 180 s with 2 (x1.83), the schedule
without fine-tunes 353 -> 203 s; ResNet-8 / Pynq-Z2, 15 candidates: 204 -> 110 s (x1.85),
258 -> 164 s. The same counts (40-36-40-42-40 at 85,034 FPS; 8-4-28-8-40-56 at 28,345),
moves and ties in every run. Those ran with OMP_NUM_THREADS=1; without it, as a user's shell
runs codesign (09:13-09:24, code at 36aac4c, one repeat, DS-CNN / KV260 only;
fold_search_workers_dscnn_kv260_default_threads_avx512.{json,png}): 332 -> 175 s (x1.90),
the same decisions."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import atomic_path, write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow import train_flow_model
from codesign.flow.run import flow_board
from codesign.prune import prune_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOWS = ("flows/dscnn_w4a4_fashion_pruned_kv260.yaml", "flows/resnet8_w4a4_fashion_pruned.yaml")


def search_only(flow: Any) -> Any:
    """The flow's prune settings without fine-tunes: what the benchmark times."""
    return dataclasses.replace(flow.prune, finetune_epochs=0, final_epochs=0, shape_trials=0)


def timed_run(model: Any, data: Any, board: Any, flow: Any, workers: int, work: Path
              ) -> dict[str, Any]:
    result = prune_model(copy.deepcopy(model), data, board, search_only(flow), flow.train,
                         reference_fps=flow.prune.reference_fps, workdir=work, seed=flow.seed,
                         progress=False, workers=workers)
    searches = [s.search for s in result.steps if s.search]
    return {"workers": workers, "search_seconds": sum(s["seconds"] for s in searches),
            "prune_seconds": result.seconds,
            "evaluated": sum(s["evaluated"] for s in searches),
            "decided": [{k: s[k] for k in ("chosen", "fps", "moves", "ties")} for s in searches],
            "final_counts": result.final.counts, "final_fps": result.final.hardware.fps}


def run_flow_file(path: str, workers: list[int], repeats: int, seed: int, console: Console
                  ) -> dict[str, Any]:
    flow = load_flow(ROOT / path).replace(seed=seed)
    board = flow_board(flow, load_board(flow.board))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, data, _ = train_flow_model(flow, work / "train", progress=False)
        for repeat in range(repeats):
            for count in workers:
                run = timed_run(model, data, board, flow, count, work / f"r{repeat}-w{count}")
                run["repeat"] = repeat
                runs.append(run)
                console.print(f"{flow.name} repeat {repeat} workers {count}: search "
                              f"{run['search_seconds']:.0f} s, {run['evaluated']} candidates")
    same = all(r["decided"] == runs[0]["decided"] and r["final_counts"] == runs[0]["final_counts"]
               and r["final_fps"] == runs[0]["final_fps"] for r in runs)
    summary = []
    for count in workers:
        mine = [r for r in runs if r["workers"] == count]
        summary.append({"workers": count,
                        "median_search_seconds": statistics.median(r["search_seconds"] for r in mine),
                        "median_prune_seconds": statistics.median(r["prune_seconds"] for r in mine)})
    # same-run ratios: each repeat's one-worker time over its own time with more workers
    base = {r["repeat"]: r["search_seconds"] for r in runs if r["workers"] == workers[0]}
    for row in summary:
        row["median_speedup"] = statistics.median(
            base[r["repeat"]] / r["search_seconds"] for r in runs if r["workers"] == row["workers"])
    return {"flow": path, "seed": seed, "board": board.name, "same_result": same,
            "evaluated": runs[0]["evaluated"], "final_counts": runs[0]["final_counts"],
            "final_fps": runs[0]["final_fps"], "summary": summary, "runs": runs}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flows = report["flows"]
    fig, axes = plt.subplots(1, len(flows), figsize=(5 * len(flows), 4), squeeze=False)
    for ax, entry in zip(axes[0], flows, strict=True):
        rows = entry["summary"]
        xs = [str(r["workers"]) for r in rows]
        search = [r["median_search_seconds"] for r in rows]
        rest = [max(0.0, r["median_prune_seconds"] - r["median_search_seconds"]) for r in rows]
        bars = ax.bar(xs, search, color="tab:blue", label="fold search")
        ax.bar(xs, rest, bottom=search, color="0.8",
               label="rest of the schedule (other compiles)")
        for bar, row, other in zip(bars, rows, rest, strict=True):
            ax.annotate(f"search {row['median_search_seconds']:.0f} s, "
                        f"×{row['median_speedup']:.2f}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height() + other),
                        xytext=(0, 3), textcoords="offset points", ha="center", fontsize=9)
        ax.set_title(f"{Path(entry['flow']).stem}\n({entry['evaluated']} candidates; the same "
                     f"counts and FPS with every count: {'yes' if entry['same_result'] else 'NO'})",
                     fontsize=9)
        ax.set_xlabel("worker processes")
        ax.set_ylabel("wall time, median over repeats (s)")
        ax.set_ylim(0, 1.2 * max(r["median_prune_seconds"] for r in rows))
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle(f"pruning fold search by worker processes ({report['cores']} cores, fine-tunes "
                 "off)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"fold search by worker processes ({report['cores']} cores)")
    for column in ("flow", "workers", "candidates", "search s (median)", "× vs first",
                   "schedule s (median)", "same counts and FPS"):
        table.add_column(column)
    for entry in report["flows"]:
        for row in entry["summary"]:
            table.add_row(Path(entry["flow"]).stem, str(row["workers"]), str(entry["evaluated"]),
                          f"{row['median_search_seconds']:.0f}", f"×{row['median_speedup']:.2f}",
                          f"{row['median_prune_seconds']:.0f}",
                          "yes" if entry["same_result"] else "NO")
    console.print(table)


def main() -> None:
    from codesign.prune.measure import available_cores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "fold_search_workers.json")
    parser.add_argument("--replot", type=Path, default=None,
                        help="only the table and PNG again, from this JSON (written beside it)")
    args = parser.parse_args()
    console = Console(width=160)
    if args.replot:
        import json

        report = json.loads(args.replot.read_text())
        plot(report, args.replot.with_suffix(".png"))
        print_report(console, report)
        return
    report: dict[str, Any] = {"benchmark": "fold_search_workers", "cores": available_cores(),
                              "flows": []}
    for path in args.flows:
        report["flows"].append(run_flow_file(path, args.workers, args.repeats, args.seed,
                                             console))
        write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


if __name__ == "__main__":
    main()
