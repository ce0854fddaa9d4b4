"""Does `prune.shape_trials` pick the more accurate of the fold search's equally fast shapes?

Per flow and seed: the flow's schedule with `prune.shape_trials` large enough to try every tie,
either as the flow ships it (no `--target`) or at a target sparsity as pruning_same_sparsity.py
runs it (`--target`: `max_overshoot` 0.01, the shape sweep, the fold search on). Each trial's
fine-tuned copy is also scored on the flow's test set and on the test images its `limit_test`
leaves out (held out), which the trials never look at. Per seed: the ties, each one's training
loss and top-1, the search's own pick (the first found), the trials' pick (lowest training
loss), the pick of the first `--cap` ties only (what a flow with `shape_trials: cap` keeps) and
the best in hindsight (highest held-out top-1).

With `--tp` (Torch-Pruning JSONs of benchmarks/pruning_torch_pruning.py, rows at `--target`),
each seed's pick and its best tie in hindsight are also set against Torch-Pruning's cut of the
same unpruned model (`--variants`): is the faster shape's accuracy cost a wrong pick, or one no
pick among the ties avoids?

Usage: python3 benchmarks/pruning_shape_trials.py --flow flows/resnet8_w4a4_fashion_pruned.yaml
         [--target 0.7129] [--cap 8] --seeds 8 9 [--tp TP_JSON ...] --out benchmarks/results/x.json
       python3 benchmarks/pruning_shape_trials.py --combine a.json b.json [--tp TP_JSON ...]
         --out benchmarks/results/x.json   (one run's seeds split over processes, merged)

Measured (pruning_shape_trials_resnet8_avx512.json; AVX512 EPYC, 1 thread per process, 2-3
processes, 5 Dec 2026 07:33-10:04; ResNet-8 / Pynq-Z2 at 71.29 %, where Torch-Pruning lands).
Seed 9 ran this script (at 470ea3b); seeds 0, 2-8, 10-13 an ad-hoc replay at 87f9dda (before
shape_trials) that recorded the fold search's measurements and cut and fine-tuned each tie as
the step does: the same quantities (on seed 9 both agree to 1e-6 in training loss and exactly
in top-1), and every search pick's held-out top-1 equals that seed's codesign row in
pruning_same_sparsity_magnitude8_stemcap_heldout_14seeds_avx512.json.
- 6 of 13 seeds have ties at the best FPS (2, 2, 5, 3, 2, 2 shapes on seeds 2/3/4/6/8/9).
- The trials change the pick on seeds 4 (12-4-8-28-32-56 for 12-4-12-28-24-56, +0.05 pt held
  out) and 8 (8-4-28-12-40-48 for 8-4-28-8-40-64, +1.11 pt); they keep the search's pick on
  2/3/6/9, where it was the best in hindsight except on seed 3 (-0.16 pt missed).
- Held-out gain over the search's pick: median +0.00, mean +0.09, worst +0.00 pt; best in
  hindsight mean +0.12. Cost: one fine-tune per tie (about 25 s) plus the winner's again.
- Against Torch-Pruning's magnitude ranking at the same sparsity (the same seeds' TP rows),
  held out: codesign minus TP median -0.01 -> +0.04 pt, mean +0.06 -> +0.15 (95 %: -0.10 ..
  +0.41); against its round_to 8 Taylor ranking -0.08 -> +0.00, mean +0.07 -> +0.16 (-0.18 ..
  +0.49). FPS unchanged (the same shapes' FPS).

The DS-CNN flows as shipped, seeds 0-4 each (5 Dec 2026 13:04-14:32 at e2716c8, AVX512 EPYC,
three processes of 1 thread; pruning_shape_trials_dscnn{,_deep,_kv260}_avx512.json; no seed
had more than 8 ties, so the first 8 pick as all do):
- 55 % / Pynq-Z2 (27,793 FPS): 3 / 2 / 1 / 6 / 7 ties; the trials change the pick on seeds 3
  (-0.06 pt held out) and 4 (+0.08): mean +0.00, best in hindsight +0.15.
- 75 % / Pynq-Z2 (31,888 FPS): 2 ties on every seed; the trials keep 32-24-24-24-52 over -56
  on seeds 0/1/2, +1.12 / +0.52 / +0.48 pt held out (flow's test set +0.55 / -0.05 / -0.85):
  mean +0.42, worst +0.00 (seed 4 misses +0.06 in hindsight).
- 55 % / KV260 (72,886 FPS): 1 / 2 / 4 / 3 / 2 ties; changed picks on seeds 1/2/4, +0.31 /
  +0.05 / +0.56 pt held out: mean +0.18, worst +0.00.
The 75 % and KV260 flows ship with shape_trials 8; the 55 % Pynq-Z2 flow does not.

DS-CNN / KV260 at Torch-Pruning's uniform 40s (--target 0.5727, seeds 0-7, 6 Dec 2026
05:00-06:05, three processes; --tp pruning_torch_pruning_kv260_round8_8seeds_avx512.json and
pruning_torch_pruning_kv260_seed3_ask55_avx512.json; pruning_shape_trials_dscnn_kv260_at_tp_
avx512.json): the same three ties on every seed, the only aligned shapes there that fold faster
(72,886 FPS, x1.14; benchmarks/pruning_shape_lattice.py). Pick minus TP, median test set / held
out: round8 -0.10 / -0.09 pt, magnitude8 -0.20 / -0.55; the best tie in hindsight, held out:
+0.04 and -0.37 (below magnitude8 on 6 of 8 seeds). No pick among them matches TP's
magnitude-ranked uniform cut: the faster shapes' two half-width groups cost the accuracy.

The same on an Intel Xeon (AVX512; 6 Dec 2026 08:03-09:25, four processes; a copy of the KV260
flow with `fold_targets: true`, so the sweep also tries counts off the granule lattice, and
`--tp-flow dscnn_w4a4_fashion_pruned_kv260`; pruning_shape_trials_dscnn_kv260_exact_at_tp_
xeon.json, against pruning_torch_pruning_kv260_ask55_8seeds_xeon.json): 85,034 FPS on seeds
1-4 (x1.33; e.g. 40-36-40-35-60), 72,886 on seeds 0 and 5-7, median x1.24, faster on 8 of 8.
Pick minus TP, test set / held out: round8 -0.75 / -0.19 pt, magnitude8 -0.60 / -0.37; the
best tie in hindsight, held out: -0.07 and -0.11.
With `shape_order: balanced` and `criterion: group_l2` as well (the same machine and seeds,
10:19-12:24; pruning_shape_trials_dscnn_kv260_balanced_gl2_at_tp_xeon.{json,png}): 85,034 FPS
on seeds 0-3 and 6 (14-17 ties each, 5 on seed 6), 72,886 on 4, 5 and 7; median x1.33. Pick
minus TP, test set / held out: round8 -0.50 / +0.04 pt, magnitude8 -0.45 / -0.12; the best tie
in hindsight, held out: +0.26 and +0.09.
Each tie is also scored on the first 1,000-8,000 training images the flow leaves out
(`validation`), and the comparison with Torch-Pruning adds the tie with the highest top-1 on
the 8,000 (validation_pick). Seeds 0-3, 5 and 7 of the balanced/group_l2 run again
(13:03-15:30, the same ties and top-1 to the last digit; pruning_shape_trials_dscnn_kv260_
balanced_gl2_val_xeon.{json,png}): held out minus TP magnitude8, training-loss pick -0.31 /
-0.11 / -0.09 / -0.56 / +0.12 / -0.77, validation pick -0.06 / -0.07 / -0.76 / -0.25 / +0.45 /
-1.25 (medians -0.21 and -0.16, means -0.29 and -0.32): no better. Validation and held-out
top-1 (8,000 images each) correlate at 0.32-0.70 across one seed's ties (seeds 0-3).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from pruning import held_out_accuracy, unused_training
from pruning_same_sparsity import tp_rows
from pruning_torch_pruning import RESULTS, ROOT, VARIANT_NAMES
from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board
from codesign.prune.fold_search import shape_text
from codesign.train import evaluate, machine

ALL_TIES = 64  # shape_trials: every tie gets a trial
# each trial is also scored on the first k of up to 8,000 training images the flow leaves out
VALIDATION_SIZES = (1000, 2000, 4000, 8000)
NO_TARGET = ("--tp needs --target (Torch-Pruning's landing point): as shipped, the flow lands "
             "elsewhere")


def trial_settings(prune: Any, target: float | None) -> Any:
    """`prune` with every tie tried; at `target` as pruning_same_sparsity.py runs it, or as is."""
    if target is None:
        return dataclasses.replace(prune, shape_trials=ALL_TIES)
    return dataclasses.replace(prune, target_sparsity=target, max_overshoot=0.01, fold_shapes=32,
                               fold_search=max(1, prune.fold_search), shape_trials=ALL_TIES)


def run_seed(flow: Any, board: Any, seed: int, target: float | None, cap: int) -> dict[str, Any]:
    """The schedule with every tie tried; each trial also scored on test images."""
    import codesign.prune.schedule as schedule
    from codesign.flow import train_flow_model
    from codesign.prune import prune_model

    flow = flow.replace(seed=seed, prune=trial_settings(flow.prune, target))
    scored: list[dict[str, Any]] = []
    original = schedule.try_shapes
    # a flow that trains on its whole training split leaves no images to validate on
    val = (unused_training(flow, max(VALIDATION_SIZES)) if flow.dataset.limit_train is not None
           else None)

    def scoring(model, scores, shapes, data, tune):
        def tune_and_score(cut):
            tune(cut)
            scored.append({"test": evaluate(cut, data.x_test, data.y_test),
                           "held_out": held_out(cut, flow),
                           **({"validation": validation_scores(cut, *val)} if val else {})})
        return original(model, scores, shapes, data, tune_and_score)

    schedule.try_shapes = scoring
    try:
        with tempfile.TemporaryDirectory(prefix="codesign-trials-") as tmp:
            model, data, _ = train_flow_model(flow, Path(tmp), progress=False)
            result = prune_model(model, data, board, flow.prune, flow.train,
                                 workdir=Path(tmp) / "prune", seed=seed, progress=False)
            final_held_out = held_out(model, flow)
    finally:
        schedule.try_shapes = original
    search = next(s.search for s in result.steps if s.search)
    trials = [{**t, **s} for t, s in zip(search.get("trials", []), scored, strict=True)]
    kept = dict(result.final.counts)
    if not trials:  # one shape at the best FPS: nothing to choose
        trials = [{"counts": kept, "train_loss": None, "test": result.final.accuracy,
                   "held_out": final_held_out}]
    first, best = trials[0], max(trials, key=lambda t: t["held_out"])
    pick = next(t for t in trials if t["counts"] == kept)
    # what the same run with shape_trials = cap would have kept: the same trials, fewer of them
    capped = min(trials[:cap], key=lambda t: t["train_loss"])
    return {"seed": seed, "machine": machine(), "fps": search["fps"], "ties": len(trials),
            "trials": trials, "search_pick": first["counts"], "trial_pick": kept,
            "capped_pick": capped["counts"],
            "gain_held_out_points": 100 * (pick["held_out"] - first["held_out"]),
            "capped_gain_held_out_points": 100 * (capped["held_out"] - first["held_out"]),
            "hindsight_held_out_points": 100 * (best["held_out"] - first["held_out"]),
            "final_held_out": final_held_out, "prune_seconds": result.seconds}


def held_out(model: Any, flow: Any) -> float:
    """Top-1 on the test images the flow's limit_test leaves out."""
    found = held_out_accuracy(model, flow)
    if found is None:
        sys.exit(f"{flow.name} leaves no test images out (dataset.limit_test): set it below the "
                 "test split's size, so the trials can be judged on images they never see")
    return found["accuracy"]


def validation_scores(model: Any, x: Any, y: Any) -> dict[str, dict[str, float]]:
    """Top-1 and cross-entropy of `model` on the first k validation images, per k."""
    import numpy as np
    import torch

    from codesign.train import predict

    logits = torch.from_numpy(predict(model, x).astype(np.float64))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    found = {}
    for k in VALIDATION_SIZES:
        if k <= len(labels):
            found[str(k)] = {
                "top1": float((logits[:k].argmax(1) == labels[:k]).double().mean()),
                "loss": float(torch.nn.functional.cross_entropy(logits[:k], labels[:k]))}
    return found


def validation_pick(row: dict[str, Any]) -> dict[str, Any] | None:
    """The tie with the highest top-1 on the 8,000 training images the flow leaves out (ties:
    the lower training loss, then the first), or None where the row has no such scores: what
    the trials would keep if they chose on a validation set instead of the training loss. The
    same ties, trained alike, since no step trains on those images (checked on seed 4, 6 Dec
    2026, with a trial build of codesign whose flows could set them apart and choose by them,
    reverted since: the same four fine-tunes to the last digit, and it kept this pick)."""
    size = str(max(VALIDATION_SIZES))
    trials = row["trials"]
    if len(trials) == 1:
        return trials[0]
    if not all(size in t.get("validation", {}) for t in trials):
        return None
    return min(trials, key=lambda t: (-t["validation"][size]["top1"], t["train_loss"]))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    gains = [r["gain_held_out_points"] for r in rows]
    capped = [r["capped_gain_held_out_points"] for r in rows]
    return {"seeds": len(rows), "with_ties": sum(r["ties"] > 1 for r in rows),
            "median_gain_points": statistics.median(gains), "mean_gain_points": statistics.mean(gains),
            "worst_gain_points": min(gains),
            "mean_capped_gain_points": statistics.mean(capped), "worst_capped_gain_points": min(capped),
            "mean_hindsight_points": statistics.mean(r["hindsight_held_out_points"] for r in rows)}


def against_tp(report: dict[str, Any], tp_jsons: list[Path], variant: str,
               tp_flow: str | None = None) -> dict[str, Any]:
    """Per seed: the trials' pick and the best tie in hindsight minus Torch-Pruning's `variant`
    cut at the report's target (top-1 on the flow's test set and held out, points). `tp_flow`:
    the flow Torch-Pruning's rows ran under, where the report's is a copy of it with other
    prune settings (the same unpruned model per seed); default: the report's."""
    found: dict[int, dict[str, Any]] = {}
    for path in tp_jsons:
        for seed, row in tp_rows(path, variant).get(tp_flow or report["flow"], {}).items():
            if abs(row["macs_reduction"] - report["target"]) < 1e-6:
                found[seed] = row
    rows = []
    for r in report["rows"]:
        tp = found.get(r["seed"])
        if tp is None or not tp.get("held_out"):
            sys.exit(f"no {variant} row at {report['target']:.2%} with held-out top-1 for seed "
                     f"{r['seed']} in {', '.join(map(str, tp_jsons))}: run "
                     "benchmarks/pruning_torch_pruning.py with --ask for that seed")
        pick = next(t for t in r["trials"] if t["counts"] == r["trial_pick"])
        best = max(r["trials"], key=lambda t: t["held_out"])
        worst = min(r["trials"], key=lambda t: t["held_out"])
        checked = validation_pick(r)
        held = tp["held_out"]["accuracy"]
        rows.append({"seed": r["seed"], "tp_counts": tp["counts"], "tp_fps": tp["fps"],
                     "fps_ratio": r["fps"] / tp["fps"],
                     "pick_points": 100 * (pick["test"] - tp["accuracy"]),
                     "pick_held_out_points": 100 * (pick["held_out"] - held),
                     "best_held_out_points": 100 * (best["held_out"] - held),
                     "worst_held_out_points": 100 * (worst["held_out"] - held),
                     **({} if checked is None else {
                         "validation_pick_points": 100 * (checked["test"] - tp["accuracy"]),
                         "validation_pick_held_out_points": 100 * (checked["held_out"] - held)})})
    keys = ("fps_ratio", "pick_points", "pick_held_out_points", "best_held_out_points",
            *(("validation_pick_points", "validation_pick_held_out_points")
              if all("validation_pick_points" in row for row in rows) else ()))
    return {"variant": variant, "rows": rows,
            "medians": {k: statistics.median(row[k] for row in rows) for k in keys},
            "means": {k: statistics.mean(row[k] for row in rows) for k in keys}}


def combine(parts: list[Path]) -> dict[str, Any]:
    """Runs of one flow, target and cap (seeds split over processes) as one report."""
    reports = [json.loads(p.read_text()) for p in parts]
    keys = {(r["flow"], r["target"], r["cap"]) for r in reports}
    if len(keys) != 1:
        sys.exit(f"--combine takes runs of one flow, target and cap; got {sorted(keys, key=str)}")
    rows = sorted((row for r in reports for row in r["rows"]), key=lambda row: row["seed"])
    seeds = [row["seed"] for row in rows]
    if len(set(seeds)) != len(seeds):
        sys.exit(f"--combine: a seed appears twice ({seeds}); give each seed's run once")
    return {**{k: reports[0][k] for k in ("benchmark", "flow", "target", "cap")},
            "rows": rows, "summary": summary(rows)}


def print_report(console: Console, report: dict[str, Any]) -> None:
    where = ("as shipped" if report["target"] is None
             else f"at {report['target']:.1%} removed")
    table = Table(title=f"shape trials, {report['flow']} {where}")
    for col in ("seed", "FPS", "ties", "search's pick", "trials' pick", "held out gain (pt)",
                f"first {report['cap']} only (pt)", "best in hindsight (pt)"):
        table.add_column(col)
    for r in report["rows"]:
        table.add_row(str(r["seed"]), f"{r['fps']:,.0f}", str(r["ties"]),
                      shape_text(r["search_pick"]), shape_text(r["trial_pick"]),
                      f"{r['gain_held_out_points']:+.2f}", f"{r['capped_gain_held_out_points']:+.2f}",
                      f"{r['hindsight_held_out_points']:+.2f}")
    console.print(table)
    s = report["summary"]
    console.print(f"{s['with_ties']} of {s['seeds']} seeds have ties; held-out gain of the trials' "
                  f"pick over the search's: median {s['median_gain_points']:+.2f} pt, mean "
                  f"{s['mean_gain_points']:+.2f}, worst {s['worst_gain_points']:+.2f}; of the first "
                  f"{report['cap']} only: mean {s['mean_capped_gain_points']:+.2f}, worst "
                  f"{s['worst_capped_gain_points']:+.2f} (best in hindsight: mean "
                  f"{s['mean_hindsight_points']:+.2f})")
    for cmp in report.get("against_tp", []):
        m, per = cmp["medians"], cmp["rows"]
        console.print(
            f"against {cmp['variant']} ({shape_text(per[0]['tp_counts'])} on seed "
            f"{per[0]['seed']}): FPS x{m['fps_ratio']:.2f} median; top-1 minus TP, "
            f"median: the pick {m['pick_points']:+.2f} pt (test set), "
            f"{m['pick_held_out_points']:+.2f} held out (mean {cmp['means']['pick_held_out_points']:+.2f}); "
            f"the best tie in hindsight {m['best_held_out_points']:+.2f} held out "
            f"(mean {cmp['means']['best_held_out_points']:+.2f}); per seed, held out: "
            + " / ".join(f"{r['pick_held_out_points']:+.2f} ({r['best_held_out_points']:+.2f})"
                         for r in per))
        if "validation_pick_points" in m:
            console.print(
                f"  picked by top-1 on the 8,000 training images the flow leaves out "
                f"instead: {m['validation_pick_points']:+.2f} pt (test set), "
                f"{m['validation_pick_held_out_points']:+.2f} held out (mean "
                f"{cmp['means']['validation_pick_held_out_points']:+.2f}); per seed, held out: "
                + " / ".join(f"{r['validation_pick_held_out_points']:+.2f}" for r in per))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flow", default="flows/resnet8_w4a4_fashion_pruned.yaml")
    parser.add_argument("--target", type=float, default=None,
                        help="MAC sparsity, e.g. where Torch-Pruning landed (0.7129 on ResNet-8); "
                             "default: the flow's own prune settings")
    parser.add_argument("--cap", type=int, default=8,
                        help="also report the pick among the first CAP ties (shape_trials: CAP)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tp", nargs="+", type=Path, default=[],
                        help="Torch-Pruning JSONs with rows at --target (later files win)")
    parser.add_argument("--variants", nargs="+", choices=VARIANT_NAMES,
                        default=["tp-round8", "tp-magnitude8"])
    parser.add_argument("--tp-flow", default=None,
                        help="the flow name of the --tp rows, where --flow is a copy of that flow "
                             "with other prune settings (default: --flow's own name)")
    parser.add_argument("--combine", nargs="+", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_shape_trials.json")
    args = parser.parse_args()
    console = Console()
    if args.combine:
        report = combine(args.combine)
        finish(console, report, args)
        return
    if args.tp and args.target is None:  # checked before the seeds run, not after
        sys.exit(NO_TARGET)
    flow = load_flow(ROOT / args.flow)
    if flow.prune is None or flow.prune.steps != 1:
        sys.exit(f"{args.flow}: give a pruned flow with one step (prune.steps: 1); each trial's "
                 "test scores are matched to that step's trials")
    if flow.dataset.limit_test is None:
        sys.exit(f"{args.flow} leaves no test images out (dataset.limit_test unset): give a flow "
                 "that does, so the trials can be judged on images they never see")
    board = flow_board(flow, load_board(flow.board))
    report: dict[str, Any] = {"benchmark": "pruning_shape_trials", "flow": flow.name,
                              "target": args.target, "cap": args.cap, "rows": []}
    for seed in args.seeds:
        console.print(f"[bold]{flow.name}[/] seed {seed}")
        report["rows"].append(run_seed(flow, board, seed, args.target, args.cap))
        report["summary"] = summary(report["rows"])
        write_json(args.out, report)  # after every seed: a stopped run keeps its rows
    finish(console, report, args)


def finish(console: Console, report: dict[str, Any], args: argparse.Namespace) -> None:
    """The comparison with Torch-Pruning (with --tp), the JSON, the table."""
    if args.tp:
        if report["target"] is None:
            sys.exit(NO_TARGET)
        report["tp_flow"] = args.tp_flow or report["flow"]
        report["against_tp"] = [against_tp(report, args.tp, v, args.tp_flow)
                                for v in args.variants]
    write_json(args.out, report)
    if report.get("against_tp"):
        plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


def plot(report: dict[str, Any], path: Path) -> None:
    """Per seed, against each Torch-Pruning variant: FPS codesign / TP (the goal's x1.1
    marked) and held-out top-1 minus TP's, the trials' pick beside the span of every tie."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.atomic import atomic_path

    cmps = report["against_tp"]
    fig, (fps_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 5))
    width = 0.8 / len(cmps)
    for k, cmp in enumerate(cmps):
        xs = [i + (k - (len(cmps) - 1) / 2) * width for i in range(len(cmp["rows"]))]
        rows = cmp["rows"]
        fps_ax.bar(xs, [r["fps_ratio"] for r in rows], width, color=f"C{k}", label=cmp["variant"])
        acc_ax.vlines(xs, [r["worst_held_out_points"] for r in rows],
                      [r["best_held_out_points"] for r in rows], color=f"C{k}", alpha=0.35, lw=6,
                      label=f"every tie vs {cmp['variant']}")
        acc_ax.plot(xs, [r["pick_held_out_points"] for r in rows], "o", color=f"C{k}",
                    label=f"trials' pick vs {cmp['variant']} (median "
                          f"{cmp['medians']['pick_held_out_points']:+.2f})")
        if "validation_pick_held_out_points" in cmp["medians"]:
            acc_ax.plot(xs, [r["validation_pick_held_out_points"] for r in rows], "x",
                        color=f"C{k}", ms=8, mew=2,
                        label=f"validation pick vs {cmp['variant']} (median "
                              f"{cmp['medians']['validation_pick_held_out_points']:+.2f})")
    seeds = [f"seed {r['seed']}" for r in cmps[0]["rows"]]
    fps_ax.axhline(1.1, color="k", ls="--", lw=1, label="goal x1.1")
    fps_ax.set_ylabel("FPS within the caps, codesign / Torch-Pruning")
    acc_ax.axhline(0, color="k", lw=1, label="Torch-Pruning's cut")
    acc_ax.set_ylabel("held-out top-1 minus Torch-Pruning's (pt)")
    for ax in (fps_ax, acc_ax):
        ax.set_xticks(range(len(seeds)), seeds, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    fig.suptitle(f"shape trials, {report['flow']} at {report['target']:.1%} removed, against "
                 f"Torch-Pruning ({report['tp_flow']})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


if __name__ == "__main__":
    main()
