"""How steady the Taylor ranking is, by how many minibatches it averages (`prune.taylor_batches`).

Per seed: the flow's unpruned model is trained as the flow says (seeded); the Taylor criterion
(codesign's `channel_importance`, minibatches of 64 training samples) is estimated `--draws`
times with different seeds for each count of minibatches in `--batches`; each estimate keeps the
channels it ranks highest at the counts of `--picks` (a benchmarks/pruning_shape_trials.py JSON,
as pruning_rankings.py reads it) or, without it, `--keep` in every group. Reported per count:
how many kept channels two estimates disagree on (every pair of draws; the median over pairs and
seeds), and the seconds one estimate takes. Prints a table; writes JSON (after every seed) and a
PNG (disagreement against minibatches, every pair and the median).

Last run (7 Dec 2026, AMD EPYC AVX512, 1 thread, the KV260 DS-CNN flow at its pick
40-36-40-42-40, seeds 0 and 1, three draws; taylor_steadiness_dscnn_kv260_avx512.json):
docs/pruning-measurements.md has the figures and what they did to top-1.

Usage: python3 benchmarks/taylor_steadiness.py [--flow F] [--seeds 0 1] [--batches 8 63 250]
       [--draws 3] [--picks benchmarks/results/even_pick_40-36-40-42-40.json] [--out F.json]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pruning_rankings import add_cut_arguments, picked_counts
from pruning_torch_pruning import RESULTS, ROOT
from rich.console import Console
from rich.table import Table


def run_seed(flow: Any, seed: int, batches: list[int], draws: int,
             counts: dict[str, int] | None, keep: int) -> dict[str, Any]:
    from codesign.flow.stages import train_flow_model
    from codesign.prune import channel_groups, channel_importance, keep_top

    flow = flow.replace(seed=seed)
    with tempfile.TemporaryDirectory(prefix="codesign-taylor-") as tmp:
        model, data, _ = train_flow_model(flow, Path(tmp), progress=False)
    groups = channel_groups(model, data.input_shape)
    counts = counts or {g.name: keep for g in groups}
    per_count = []
    for n in batches:
        kept, seconds = [], []
        for draw in range(1, draws + 1):
            start = time.perf_counter()
            scores = channel_importance(model, groups, "taylor", (data.x_train, data.y_train),
                                        seed=seed + draw, batches=n)
            seconds.append(time.perf_counter() - start)
            kept.append(keep_top(scores, counts))
        disagree = [sum(len(set(a[g]) - set(b[g])) for g in a)
                    for a, b in itertools.combinations(kept, 2)]
        per_count.append({"batches": n, "disagree": disagree,
                          "seconds": statistics.median(seconds)})
        print({"seed": seed, **per_count[-1]}, flush=True)
    return {"seed": seed, "counts": counts,
            "dropped": sum(g.channels - counts[g.name] for g in groups),
            "kept": sum(counts.values()), "per_batches": per_count}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for i, row in enumerate(report["rows"]):
        for entry in row["per_batches"]:
            ax.scatter([entry["batches"]] * len(entry["disagree"]), entry["disagree"], s=14,
                       color=f"C{i}", alpha=0.6,
                       label=f"seed {row['seed']}" if entry is row["per_batches"][0] else None)
    medians = report["median_disagree"]
    ax.plot([int(b) for b in medians], list(medians.values()), color="black", lw=1.5,
            label="median")
    ax.set_xscale("log")
    ax.set_xticks([int(b) for b in medians], list(medians))
    ax.minorticks_off()
    ax.axvline(8, color="grey", ls=":", lw=1)
    ax.text(8, ax.get_ylim()[1] * 0.02, " flows' default", color="grey", fontsize=8)
    ax.set_xlabel("minibatches of 64 training samples (prune.taylor_batches)")
    ax.set_ylabel(f"kept channels two estimates disagree on\n(of {report['rows'][0]['kept']})")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{report['flow']}: Taylor ranking, estimate against estimate", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    from codesign.atomic import write_json
    from codesign.config import load_flow
    from codesign.train import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cut_arguments(parser)
    parser.add_argument("--picks", type=Path, default=None,
                        help="a benchmarks/pruning_shape_trials.py JSON: its counts per seed "
                             "instead of --keep")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--batches", nargs="+", type=int, default=[8, 32, 63, 125, 250])
    parser.add_argument("--draws", type=int, default=3, help="estimates per count (>= 2)")
    parser.add_argument("--out", type=Path, default=RESULTS / "taylor_steadiness.json")
    args = parser.parse_args()
    if args.draws < 2 or min(args.batches) < 1:
        raise SystemExit("--draws must be at least 2 and every --batches at least 1")
    flow = load_flow(ROOT / args.flow)
    picks = picked_counts(args.picks, args.seeds) if args.picks else {}
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        rows.append(run_seed(flow, seed, args.batches, args.draws, picks.get(seed), args.keep))
        report = {"benchmark": "taylor_steadiness", "flow": flow.name, "machine": machine(),
                  "picks": None if args.picks is None else args.picks.name, "rows": rows,
                  "median_disagree": {str(n): statistics.median(
                      d for row in rows for e in row["per_batches"] if e["batches"] == n
                      for d in e["disagree"]) for n in args.batches},
                  "median_seconds": {str(n): statistics.median(
                      e["seconds"] for row in rows for e in row["per_batches"]
                      if e["batches"] == n) for n in args.batches}}
        write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    table = Table(title=f"{flow.name}: Taylor estimates against each other, seeds {args.seeds}, "
                        f"{args.draws} draws")
    for col in ("minibatches", "kept channels two estimates disagree on (median; every pair)",
                "seconds per estimate"):
        table.add_column(col)
    for n in args.batches:
        pairs = [d for row in rows for e in row["per_batches"] if e["batches"] == n
                 for d in e["disagree"]]
        table.add_row(str(n), f"{report['median_disagree'][str(n)]:g} of {rows[0]['kept']} "
                              f"({' / '.join(map(str, pairs))})",
                      f"{report['median_seconds'][str(n)]:.1f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
