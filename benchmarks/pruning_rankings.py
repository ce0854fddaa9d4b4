"""Which channels to keep, at the same counts: codesign's criteria against Torch-Pruning's
rankings, with the fine-tune's own spread measured (issue 20, DS-CNN against TP).

The families and same-sparsity benchmarks compare codesign's cut with Torch-Pruning's after one
fine-tune each per seed, and there the two cuts differ in shape as well as in ranking. Here the
shape is fixed (`--keep`: the channels every group keeps, e.g. TP's uniform 40s at its landing
point on KV260), so only the ranking differs, and each cut is fine-tuned `--draws` times with
different seeds, so a ranking's effect can be told from the fine-tune's lottery. Per seed: the
flow's unpruned model is trained as the flow says (seeded); every ranking picks the channels
(codesign's `channel_importance` for its criteria, its Taylor with the step's seed;
`tp-magnitude8` / `tp-round8`: the channels Torch-Pruning's MetaPruner removes with local
round_to 8 and its magnitude / Taylor ranking, the variants of benchmarks/pruning_torch_pruning.py
of those names, through its tp_keep); codesign's surgery cuts a copy and the schedule's
`finetune` trains it `finetune_epochs` epochs with seed `seed + draw` (draw 1 is what the step and
the Torch-Pruning benchmark use, so those rows reproduce theirs exactly); top-1 on the flow's test
set and on the 8,000 test images it leaves out.

`CRITERION@pick` with `--picks SHAPE_TRIALS.json` (benchmarks/pruning_shape_trials.py) ranks by
that criterion but keeps, per seed, the counts the shape trials picked: the cut the trials
kept, fine-tuned again with other seeds (draw 1 reproduces the trial), so the pick's accuracy is
measured free of the fine-tune it was chosen on. `tp-magnitude8@pick` (or `tp-round8@pick`):
Torch-Pruning's own ranking at those counts (each group's layers cut by their own ratio, no
round_to; at uniform counts it keeps exactly the channels of its uniform cut), so against
`tp-magnitude8` only the shape differs.

Reported: per ranking and seed the mean over draws, minus the reference ranking's (the first
of `--rankings`); the median over seeds of that and of the single-draw-1 difference; the
fine-tune spread (pooled standard deviation over draws of one cut) and how many channels per
group each ranking keeps that the reference does not. Prints a table; writes JSON (after every
seed) and a PNG (held-out top-1 per seed, every draw and the mean, per ranking).

Last run (6 Dec 2026 16:35-18:23, Intel Xeon AVX512, two to four processes, 1 thread each; the
shipped KV260 flow; docs/pruning-measurements.md has the reading). Uniform 40s, 8 seeds, draws
1 and 101 (pruning_rankings_dscnn_kv260_uniform40_xeon.json): minus tp-magnitude8, median of the
draws' means held out / test set, group_l2 -0.13 / -0.49 pt, taylor -0.07 / +0.06; one cut's
spread over draws 0.27-0.49 pt held out, 0.56-0.72 on the test set. group_l2@pick of the
balanced shape trials (pruning_shape_trials_dscnn_kv260_balanced_gl2_at_tp_xeon.json), seeds
0-5 (pruning_rankings_dscnn_kv260_pick_xeon.json): -0.11 / -0.45 pt against TP's uniform 40s.
Again 6 Dec 2026 19:06-20:38 (four to six processes): group_l2_skip_depthwise at uniform 40s
(8 seeds, draws 1 and 101, added to the uniform40 file) -0.09 / -0.35 pt, mean held out -0.15
(95 %: -0.38 .. +0.07); group_l2@pick on all 8 seeds with draws 1, 101 and 201 on both sides
(pruning_rankings_dscnn_kv260_pick_8seeds_3draws_xeon.json) -0.12 / -0.41 pt, mean held out
-0.11 (-0.29 .. +0.07), on the test set -0.31 (-0.58 .. -0.05).
taylor@pick at the same shapes (20:41-21:39, 8 seeds, draws 1 and 101,
pruning_rankings_dscnn_kv260_pick_taylor_xeon.json) -0.24 / -0.47 pt, mean held out -0.15
(-0.35 .. +0.05).
taylor@pick at the even x1.33 shape 40-42-40-36-40 on every seed (21:52-22:34, two processes,
--picks even_pick_40-42-40-36-40.json, combined with the uniform run's TP and Taylor rows;
pruning_rankings_dscnn_kv260_even_40-42-40-36-40_taylor_xeon.json) +0.05 / -0.08 pt, mean held
out -0.02 (-0.18 .. +0.14); at 40-36-40-42-40, the pick of `shape_order: even` on every seed
(23:14-00:09, ..._even_40-36-40-42-40_taylor_xeon.json) +0.01 / -0.17 pt, mean held out -0.01
(-0.22 .. +0.19); with a third draw on both sides (7 Dec 2026, draw 201 combined with TP's from
the 3-draw pick run; ..._even_40-36-40-42-40_taylor_3draws_xeon.json) +0.02 / -0.15 pt, mean
held out +0.05 (-0.21 .. +0.31), on the test set -0.10 (-0.42 .. +0.23). Again on the AVX512
EPYC (7 Dec 2026 08:14-08:56, two processes, seeds 0-3 and 4-7 combined; --picks with
40-36-40-42-40 for every seed; ..._even_40-36-40-42-40_taylor_3draws_avx512.json) -0.03 /
-0.21 pt, mean held out -0.08 (-0.28 .. +0.12), on the test set -0.14 (-0.47 .. +0.18).
Shapes no deeper than TP's, x1.14 (7 Dec 2026 10:06-10:48, AVX512 EPYC, four processes; only
taylor@pick run, --picks fixed_shape_SHAPE.json, combined with TP's rows of the run above):
40-42-40-42-40 (55.44 %) -0.07 / -0.15 pt, mean held out -0.07 (-0.26 .. +0.12);
36-42-40-40-42 (57.15 %) -0.09 / -0.33, -0.06 (-0.30 .. +0.18)
(..._40-42-40-42-40_taylor_3draws_avx512.json, ..._36-42-40-40-42_taylor_3draws_avx512.json).
taylor at TP's own uniform 40s (10:53-11:24, same machine and TP rows;
..._uniform40_taylor_3draws_avx512.json) +0.01 / -0.21 pt, mean held out -0.00 (-0.13 .. +0.12).
tp-magnitude8@pick at 40-36-40-42-40 (11:26-11:51, two processes;
..._even_40-36-40-42-40_tp_magnitude_3draws_avx512.json) -0.07 / -0.07 pt against TP's uniform
40s, mean held out -0.04 (-0.20 .. +0.12), on the test set +0.09 (-0.48 .. +0.65).
taylor/250@pick (Taylor over 250 minibatches, prune.taylor_batches) and
group_l2_skip_depthwise@pick at 40-36-40-42-40 (7 Dec 2026 12:36-13:19, AVX512 EPYC, two
processes each, combined with the rows above;
..._even_40-36-40-42-40_{taylor250,group_l2_skip_depthwise}_3draws_avx512.json): -0.25 /
-0.14 pt, mean held out -0.22 (-0.49 .. +0.06); -0.04 / +0.12 pt, mean held out -0.01
(-0.28 .. +0.26), on the test set -0.03 (-0.47 .. +0.42).
taylor@pick against tp-magnitude8 on seeds 8-15 (13:28-14:15, the shape fixed,
--picks fixed_shape_40-36-40-42-40.json; with seeds 0-7 in
..._even_40-36-40-42-40_taylor_3draws_16seeds_avx512.json): seeds 8-15 -0.16 / +0.07 pt;
seeds 0-15 -0.12 / -0.07 pt, mean held out -0.10 (-0.28 .. +0.08), on the test set -0.11
(-0.32 .. +0.11).

Usage: python3 benchmarks/pruning_rankings.py --flow flows/dscnn_w4a4_fashion_pruned_kv260.yaml
       --keep 40 --rankings tp-magnitude8 group_l2 taylor --draws 1 101 201 --seeds 0 1 2 3
       --out benchmarks/results/pruning_rankings.json
       python3 benchmarks/pruning_rankings.py --rankings group_l2@pick --picks trials.json ...
       python3 benchmarks/pruning_rankings.py --combine a.json b.json [--rankings r1 r2]
       --out c.json   (parts: other seeds, draws or rankings of one flow and keep)
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from pruning_same_sparsity import paired_interval
from pruning_torch_pruning import RESULTS, ROOT, VARIANTS
from rich.console import Console
from rich.table import Table

# Torch-Pruning's local round_to 8 rankings, by their names in pruning_torch_pruning.py
TP_RANKINGS = {v.name: v for v in VARIANTS if v.round_to == 8 and not v.global_pruning}
PICK = "@pick"  # criterion@pick: that criterion's channels at the counts --picks kept per seed
TAYLOR = "taylor/"  # taylor/N: Taylor averaged over N minibatches (the flow's taylor_batches else)


def criterion_of(ranking: str, taylor_batches: int) -> tuple[str, int]:
    """(codesign criterion, Taylor minibatches) of a ranking name such as taylor/250@pick."""
    name = ranking.removesuffix(PICK)
    if name.startswith(TAYLOR) and name.removeprefix(TAYLOR).isdigit():
        return "taylor", int(name.removeprefix(TAYLOR))
    return name, taylor_batches


def keep_by(ranking: str, model: Any, data: Any, groups: list[Any], counts: dict[str, int],
            seed: int, taylor_batches: int) -> dict[str, list[int]]:
    """The channels `ranking` keeps: `counts[group]` in each group."""
    from pruning_torch_pruning import tp_keep

    from codesign.prune.importance import channel_importance
    from codesign.prune.surgery import keep_top

    if ranking.endswith(PICK) and ranking.removesuffix(PICK) in TP_RANKINGS:
        # Torch-Pruning's own ranking at these counts: each group's layers by their own ratio
        # (no round_to), so only the shape differs from its uniform cut
        variant = TP_RANKINGS[ranking.removesuffix(PICK)]
        ratios = {name: 1 - counts[g.name] / g.channels for g in groups
                  for name in (*g.producers, *g.members)}
        found = tp_keep(copy.deepcopy(model), data, 0.0, None, layer_ratios=ratios,
                        importance=variant.importance)
    elif ranking in TP_RANKINGS:
        ratios = {1 - counts[g.name] / g.channels for g in groups}
        if len(ratios) != 1:
            raise SystemExit(f"{ranking} cuts every group by one ratio; keeping {counts} of "
                             f"{[g.channels for g in groups]} channels is not one ratio for all")
        variant = TP_RANKINGS[ranking]
        found = tp_keep(copy.deepcopy(model), data, ratios.pop(), variant.round_to,
                        importance=variant.importance)
    else:
        criterion, batches = criterion_of(ranking, taylor_batches)
        scores = channel_importance(model, groups, criterion, (data.x_train, data.y_train),
                                    seed=seed + 1, batches=batches)
        found = keep_top(scores, counts)
    if {g: len(c) for g, c in found.items()} != counts:
        raise SystemExit(f"{ranking} kept {({g: len(c) for g, c in found.items()})}, not {counts}")
    return found


def run_seed(flow: Any, seed: int, keep: int, rankings: list[str], draws: list[int],
             picks: dict[int, dict[str, int]]) -> dict[str, Any]:
    from pruning import held_out_accuracy

    from codesign.flow import train_flow_model
    from codesign.prune import channel_groups
    from codesign.prune.schedule import finetune
    from codesign.prune.surgery import prune_channels
    from codesign.train import evaluate

    flow = flow.replace(seed=seed)
    with tempfile.TemporaryDirectory(prefix="codesign-rankings-") as tmp:
        model, data, _ = train_flow_model(flow, Path(tmp), progress=False)
    groups = channel_groups(model, data.input_shape)
    uniform = {g.name: keep for g in groups}
    counts = {r: picks[seed] if r.endswith(PICK) else uniform for r in rankings}
    keeps = {r: keep_by(r, model, data, groups, counts[r], seed, flow.prune.taylor_batches)
             for r in rankings}
    row: dict[str, Any] = {"seed": seed, "unpruned_accuracy": evaluate(model, data.x_test,
                                                                       data.y_test),
                           "rankings": {}}
    for ranking, kept in keeps.items():
        runs = []
        for draw in draws:
            cut = copy.deepcopy(model)
            prune_channels(cut, kept, data.input_shape)
            finetune(cut, data, flow.train, flow.prune, flow.prune.finetune_epochs, seed + draw,
                     False)
            runs.append({"draw": draw, "test": evaluate(cut, data.x_test, data.y_test),
                         "held_out": held_out_accuracy(cut, flow)["accuracy"]})
            print({"seed": seed, "ranking": ranking, **runs[-1]}, flush=True)
        row["rankings"][ranking] = {"counts": counts[ranking], "kept": kept, "runs": runs}
    return row


def picked_counts(path: Path, seeds: list[int]) -> dict[int, dict[str, int]]:
    """Per seed, the counts a shape-trials run (benchmarks/pruning_shape_trials.py) kept."""
    found = {row["seed"]: row["trial_pick"] for row in json.loads(path.read_text())["rows"]}
    missing = sorted(set(seeds) - set(found))
    if missing:
        raise SystemExit(f"--picks {path} has no pick for seeds {missing}; choose from "
                         f"{sorted(found)}")
    return found


def not_kept_by_reference(row: dict[str, Any], ranking: str, reference: str) -> int | None:
    """How many of the channels `ranking` keeps in this seed's model the reference drops."""
    mine, ref = row["rankings"][ranking], row["rankings"][reference]
    if "kept" in mine and "kept" in ref:
        return sum(len(set(c) - set(ref["kept"][g])) for g, c in mine["kept"].items())
    # parts written before the kept channels were stored: the count against their reference
    old = mine.get("differs_from_reference")
    return None if old is None else sum(old.values())


def summary(rows: list[dict[str, Any]], rankings: list[str]) -> dict[str, Any]:
    """Per ranking, against the first: medians over seeds of the mean over draws and of the
    first draw alone (pt), the mean over seeds with its 95 % Student-t interval (how far the
    seeds leave the difference open); and the fine-tune spread of one cut (pooled sd over
    draws, pt)."""
    out: dict[str, Any] = {}
    for ranking in rankings:
        per: dict[str, Any] = {}
        for measure in ("test", "held_out"):
            mean_diff, first_diff, variances = [], [], []
            for row in rows:
                mine = [r[measure] for r in row["rankings"][ranking]["runs"]]
                ref = [r[measure] for r in row["rankings"][rankings[0]]["runs"]]
                mean_diff.append(100 * (statistics.mean(mine) - statistics.mean(ref)))
                first_diff.append(100 * (mine[0] - ref[0]))  # runs sorted by draw
                if len(mine) > 1:
                    variances.append(statistics.variance([100 * v for v in mine]))
            per[measure] = {
                "mean_over_draws_minus_reference": mean_diff,
                "median_mean_minus_reference": statistics.median(mean_diff),
                "median_first_draw_minus_reference": statistics.median(first_diff),
                "mean_interval": paired_interval(mean_diff) if ranking != rankings[0] else None,
                "at_or_above_reference": sum(d >= 0 for d in mean_diff),
                "finetune_sd": statistics.mean(variances) ** 0.5 if variances else None}
        out[ranking] = per
    return out


def report_of(rows: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: r["seed"])  # the summary's per-seed lists follow them
    return {"benchmark": "pruning_rankings", **args, "rows": rows,
            "summary": summary(rows, args["rankings"])}


def combine(parts: list[Path], only: list[str] | None = None, draws: list[int] | None = None,
            seeds: list[int] | None = None) -> dict[str, Any]:
    """One report from parts of one run: other seeds, more draws of the same seeds, or more
    rankings (a seed's runs are merged by ranking and draw; every seed must end up with every
    ranking and draw). The first part's first ranking stays the reference; `only`: just these
    rankings (the first of them the reference); `draws`, `seeds`: just these."""
    reports = [json.loads(p.read_text()) for p in parts]
    keys = ("flow", "keep")
    if any(tuple(r[k] for k in keys) != tuple(reports[0][k] for k in keys) for r in reports):
        raise SystemExit("--combine needs parts of one run: the same flow and keep")
    rankings = only or list(dict.fromkeys(k for r in reports for k in r["rankings"]))
    if len({(r["machine"]["cpu"], r["machine"]["cpu_capability"]) for r in reports}) > 1:
        raise SystemExit("--combine: the parts come from different kinds of CPU (trained "
                         "weights differ across them); combine parts from one machine kind")
    rows: dict[int, dict[str, Any]] = {}
    for row in (row for r in reports for row in r["rows"] if seeds is None or row["seed"] in seeds):
        merged = rows.setdefault(row["seed"], copy.deepcopy(row))
        for ranking, found in row["rankings"].items():
            if ranking not in rankings:
                continue
            entry = merged["rankings"].setdefault(ranking, copy.deepcopy(found))
            if entry["counts"] != found["counts"]:
                raise SystemExit(f"--combine: seed {row['seed']}'s {ranking} keeps other counts "
                                 "in two parts (picks from different files); combine one cut")
            entry.update({k: v for k, v in found.items() if k != "runs"})
            runs = {run["draw"]: run for run in entry["runs"] + found["runs"]
                    if draws is None or run["draw"] in draws}
            entry["runs"] = [runs[d] for d in sorted(runs)]
    rows = {seed: {**row, "rankings": {k: row["rankings"][k] for k in rankings
                                       if k in row["rankings"]}} for seed, row in rows.items()}
    draws = sorted({run["draw"] for row in rows.values() for found in row["rankings"].values()
                    for run in found["runs"]})
    if not draws:
        raise SystemExit("--combine: no runs left; check --draws and --seeds against the parts")
    short = [seed for seed, row in rows.items() if set(row["rankings"]) != set(rankings) or any(
        [run["draw"] for run in found["runs"]] != draws for found in row["rankings"].values())]
    if short:
        raise SystemExit(f"--combine: seeds {short} lack some of the rankings {rankings} or "
                         f"draws {draws}; run them")
    # the picks files of the parts whose @pick rankings are kept, each named once
    picks = sorted({name for r in reports if r.get("picks") and any(
        k.endswith(PICK) and k in rankings for k in r["rankings"]) for name in r["picks"].split(", ")})
    return report_of(list(rows.values()), {**{k: reports[0][k] for k in (*keys, "machine")},
                                           "rankings": rankings, "draws": draws,
                                           "picks": ", ".join(picks) or None})


def print_report(console: Console, report: dict[str, Any]) -> None:
    rankings, seeds = report["rankings"], [r["seed"] for r in report["rows"]]
    picks = f" (@pick: as {report['picks']} kept)" if report.get("picks") else ""
    table = Table(title=f"{report['flow']}: every group keeps {report['keep']}{picks}; top-1 minus "
                        f"{rankings[0]} (pt), mean over draws {report['draws']}, seeds {seeds}")
    first = f"(draw {report['draws'][0]} only)"
    for col in ("ranking", "held out per seed", f"median held out {first}",
                f"median test set {first}", "mean held out (95 %)", "at/above ref (held out)",
                "fine-tune sd held out / test", "kept channels not the reference's"):
        table.add_column(col)
    for ranking in rankings:
        s = report["summary"][ranking]
        held, test = s["held_out"], s["test"]
        sd = ("-" if held["finetune_sd"] is None
              else f"{held['finetune_sd']:.2f} / {test['finetune_sd']:.2f}")
        differs = [d for d in (not_kept_by_reference(row, ranking, rankings[0])
                               for row in report["rows"]) if d is not None]
        total = statistics.median(sum(row["rankings"][ranking]["counts"].values())
                                  for row in report["rows"])
        table.add_row(ranking, " / ".join(f"{d:+.2f}" for d in held["mean_over_draws_minus_reference"]),
                      f"{held['median_mean_minus_reference']:+.2f} "
                      f"({held['median_first_draw_minus_reference']:+.2f})",
                      f"{test['median_mean_minus_reference']:+.2f} "
                      f"({test['median_first_draw_minus_reference']:+.2f})",
                      interval_text(held["mean_interval"]),
                      f"{held['at_or_above_reference']} of {len(seeds)}", sd,
                      f"{statistics.median(differs):.0f} of {total:.0f} (median)" if differs
                      else "-")
    console.print(table)


def interval_text(interval: dict[str, float] | None) -> str:
    if interval is None:
        return "-"
    return f"{interval['mean']:+.2f} ({interval['low']:+.2f} .. {interval['high']:+.2f})"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rankings, rows = report["rankings"], report["rows"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) * len(rankings) / 2), 4.2))
    width = 0.8 / len(rankings)
    for i, ranking in enumerate(rankings):
        for j, row in enumerate(rows):
            values = [100 * r["held_out"] for r in row["rankings"][ranking]["runs"]]
            x = j + (i - (len(rankings) - 1) / 2) * width
            ax.scatter([x] * len(values), values, s=14, color=f"C{i}", alpha=0.5)
            ax.plot([x - width / 3, x + width / 3], [statistics.mean(values)] * 2, color=f"C{i}",
                    lw=2.5, label=ranking if j == 0 else None)
    ax.set_xticks(range(len(rows)), [f"seed {r['seed']}" for r in rows])
    ax.set_ylabel("top-1 on the held-out test images (%)")
    picks = f" (@pick: the counts of {report['picks']})" if report.get("picks") else ""
    ax.set_title(f"{report['flow']}: every group keeps {report['keep']} channels{picks}\n"
                 f"dots: fine-tune draws {report['draws']}; bars: their mean", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_cut_arguments(parser: argparse.ArgumentParser) -> None:
    """--flow and --keep: the flow whose trained models are cut, and the uniform count kept."""
    parser.add_argument("--flow", default="flows/dscnn_w4a4_fashion_pruned_kv260.yaml")
    parser.add_argument("--keep", type=int, default=40, help="channels every group keeps")


def main() -> None:
    from codesign.atomic import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cut_arguments(parser)
    parser.add_argument("--rankings", nargs="+", default=None,
                        help="the first is the reference; codesign criteria, taylor/N (Taylor "
                             "over N minibatches), tp-magnitude8 or tp-round8 (default: "
                             "tp-magnitude8 group_l2 taylor; with --combine: the parts' rankings "
                             "to keep, default all)")
    parser.add_argument("--draws", nargs="+", type=int, default=None,
                        help="fine-tune seeds, as offsets from the flow's seed (default 1 101 "
                             "201; with --combine: the draws to keep, default all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 0 1 2; with --combine: the seeds to keep, default all")
    parser.add_argument("--picks", type=Path, default=None,
                        help="a benchmarks/pruning_shape_trials.py JSON: CRITERION@pick "
                             "rankings keep its picked counts per seed")
    parser.add_argument("--combine", nargs="+", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_rankings.json")
    args = parser.parse_args()
    console = Console(width=160)
    if args.combine:
        report = combine(args.combine, args.rankings, args.draws, args.seeds)
    else:
        from codesign.config import PRUNE_CRITERIA, load_flow
        from codesign.train import machine

        args.rankings = args.rankings or ["tp-magnitude8", "group_l2", "taylor"]
        args.draws, args.seeds = args.draws or [1, 101, 201], args.seeds or [0, 1, 2]
        unknown = [r for r in args.rankings if r.removesuffix(PICK) not in TP_RANKINGS
                   and criterion_of(r, 1)[0] not in PRUNE_CRITERIA]
        if unknown:
            raise SystemExit(f"unknown rankings {unknown}; choose from {list(PRUNE_CRITERIA)}, "
                             f"{TAYLOR}N (Taylor over N minibatches) or {list(TP_RANKINGS)} "
                             f"(each also as RANKING{PICK}, with --picks)")
        picks = picked_counts(args.picks, args.seeds) if args.picks else {}
        if not picks and any(r.endswith(PICK) for r in args.rankings):
            raise SystemExit(f"rankings CRITERION{PICK} need --picks SHAPE_TRIALS.json")
        flow = load_flow(ROOT / args.flow)
        if flow.dataset.limit_test is None:
            raise SystemExit(f"{args.flow} scores on its whole test split, so no test images "
                             "are left to score held out; use a flow with dataset.limit_test")
        meta = {"flow": flow.name, "keep": args.keep, "rankings": args.rankings,
                "draws": sorted(set(args.draws)), "machine": machine(),
                "picks": None if args.picks is None else args.picks.name}
        rows: list[dict[str, Any]] = []
        for seed in args.seeds:
            rows.append(run_seed(flow, seed, args.keep, args.rankings, meta["draws"], picks))
            report = report_of(rows, meta)
            write_json(args.out, report)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


if __name__ == "__main__":
    main()
