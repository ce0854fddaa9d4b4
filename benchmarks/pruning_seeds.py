"""Hardware-aligned pruning vs unaligned structured pruning over several seeds.

One seed is one draw: on MNIST-5k's 1,000 test images a top-1 estimate alone carries about
±0.8 pt of sampling noise, and which counts the hardware-blind baseline lands on (TFC's first
layer at 26 channels folds in 32 cycles on Pynq-Z2, at 25 or 27 it needs 40 or 42) decides its
FPS. So for each seed, with the flow's settings otherwise unchanged:
1. train the unpruned model (the seed draws the train/test split of a dataset without a fixed
   one, such as MNIST-5k, the initialisation and the batch order);
2. aligned: prune a copy with the flow's `prune:` section;
3. criterion-unaligned: the same criterion, no alignment, hardware-blind allocation, run to the
   MAC sparsity the aligned run reached after every step (as in benchmarks/pruning.py);
4. FINN's estimates: FPS within the board's caps and LUTs at the unpruned model's best FPS.
Reported per seed and as medians: top-1 loss against the unpruned model, MACs and LUTs
removed, FPS gain, and the aligned / criterion-unaligned FPS ratio.

FPS is as built, min(compute pipeline, the shell's host I/O); the compute pipeline's FPS of the
same folding is recorded beside it. The summary also counts the seeds that meet issue 20's TFC
goal at once: <= 1.0 pt lost with >= 50 % of the MACs and of the LUTs at the reference FPS gone.

Usage: python3 benchmarks/pruning_seeds.py [--flow flows/x.yaml] [--seeds 0 1 2 ...]
       [--out benchmarks/results/pruning_seeds_<flow>.json]
       python3 benchmarks/pruning_seeds.py --combine a.json b.json [--out ...]
         (runs of one flow made separately, e.g. two processes of 4 seeds, as one report)
Prints a table; writes JSON and a PNG (loss and FPS ratio per seed).

AVX512 EPYC (5 Dec 2026 22:43-22:46, a worktree at 51179ed, four processes of 4 seeds, 1 thread
each): the default flow as shipped, seeds 0-7, losses 0.7, 0.7, 0.8, 0.0, 1.0, 0.1, 0.2, 0.0 pt
(8 of 8 within 1.0 pt, median 0.45), every seed 24-64-64, MACs -57.5 %, LUT -57.9/-58.0 %
(pruning_seeds_tfc_w2a2_mnist5k_avx512.json); with prune.soft_epochs 2 and finetune_epochs 12
(a fade before the cut, the same 14 epochs; pruning_seeds_tfc_w2a2_mnist5k_fade_avx512.json):
0.9, -0.9, 0.6, 0.3, 0.2, 1.0, -0.2, 0.6 pt (8 of 8, median 0.45), the same counts: no gain.

Run before (3 Dec 2026 20:03-20:09 on the AMD EPYC machine, at 3263fa1 plus
the change that adds prune.finetune_shift_pixels, 1 in the default flow; seeds 0-15 in
four processes of 4 seeds joined with --combine: pruning_seeds_tfc_w2a2_mnist5k_ftshift_epyc.json):
the fine-tune moves each training image by up to 1 pixel (codesign.augment); the unpruned model
is trained as before. Every seed 24-64-64, MACs -57.5 %, LUT at 1,020,408 FPS -57.9/-58.0 %;
losses 0.1, -0.6, 0.6, 0.5, -0.6, -0.3, -0.4, -0.2 pt on seeds 0-7 (8 of 8 within 1.0 pt,
median -0.25) and 0.1, 0.6, 0.5, 0.3, -0.9, -2.5, -0.3, 0.9 on seeds 8-15 (8 of 8, median
+0.20): 16 of 16, median -0.05 pt, so issue 20's TFC goal is met with room (without the shifts,
the same machine: 9 of 16, median 0.40 pt). The unpruned models are the same as without
(mean 93.98 %); the pruned ones average 94.12 % (93.17 % without). What the shifts buy is
regularisation of the narrower model, not pruning: with them in the unpruned training as well
(train.shift_pixels: 1, below) both models gain ~0.75 pt and the loss is 0.85 pt median
again. FPS as built x1.00 in every seed, aligned / criterion-unaligned x1.00 (both I/O-bound).

Run before (3 Dec 2026 06:51-06:58, the default flow flows/tfc_w2a2_mnist5k.yaml as committed in
that change, on Pynq-Z2, seeds 0-7 in two processes of 4 seeds joined with --combine, 1 thread each, load
2-3): the flow now cuts its planned 24-64-64 in one step and fine-tunes the same 14 epochs in
one call (was 3 steps of 2 epochs and 8 final ones; the trainer restarts Adam and its cosine
schedule on every call). MACs -57.5 %, LUT at 1,020,408 FPS -57.9/-58.0 % on every seed;
losses 0.7, 1.8, 2.6, 0.9, 0.7, 0.1, -0.2, -0.1 pt (median 0.70): 6 of 8 within 1.0 pt, all 6
with MACs and LUT -50 % or more, so issue 20's TFC goal is met on this run. The median is the
same as the three-step recipe's (0.70) and the seeds that fail moved (1 and 2 here, 0, 3 and 7
there): one 8-seed run separates medians, not the count (below). FPS as built x1.00 in every
seed, aligned / criterion-unaligned x1.00 (both I/O-bound).

The same run on another kind of machine (3 Dec 2026 12:38-12:44, at 536cb0b, the default flow
unchanged; AMD EPYC, AVX2, where torch's kernels train other weights from the same seeds:
pruning_seeds_tfc_w2a2_mnist5k_epyc.json): every seed 24-64-64, MACs -57.5 %, LUT -57.9/-58.0 %,
losses 0.2, 1.2, 1.3, 0.1, 0.2, 0.3, 0.4, 1.5 pt (median 0.35): 5 of 8 within 1.0 pt, so the
6 of 8 above is one machine's draw, not a property of the recipe (which seeds miss moves with
the machine, as it moves with the recipe). FPS and aligned / unaligned x1.00 as above.
Recipes tried there on the same 8 unpruned models (aligned runs alone, ad-hoc script): fine-tune
rate 0.003 (median 1.20 pt, 3 of 8) and 0.02 (1.05, 4 of 8); l1 instead of Taylor (0.75, 5 of 8);
Taylor scores from 40 batches instead of 8 (0.90, 5 of 8: seeds 1 and 7 gain 0.6 / 0.5 pt,
seeds 2 and 5 lose 1.3 / 2.1); distillation from the unpruned model at weight 0.3 (1.20, 3 of
8); the removed channels (their producers' rows and consumers' columns) faded out linearly over
the first 4 of the 14 epochs and cut after (1.00, 4 of 8). None beats the flow's recipe; a
seed's loss moves by up to 2 pt with which channels a scoring keeps, on a 1,000-image test set.
Tried there on 3 Dec 2026 (same 8 unpruned models, ad-hoc scripts): the fine-tune's weights
averaged over its last 3 / 5 / 7 / 10 epochs, BatchNorm statistics re-estimated (SWA-style):
medians 0.40 / 1.10 / 0.90 / 1.05 pt, 6 / 4 / 6 / 4 of 8 within 1.0, no trend with the window,
and the same seed moves by up to 1.6 pt between windows; four fine-tunes (fine-tune seeds)
on 90 % of the training images, the best on the held-out 10 % kept (seeds 0-2: 1.4, 1.3, 2.4;
the candidates lose 0.3-2.7, so 10 % fewer images cost about 1 pt); the labels as now plus
distillation on copies shifted by up to 2 pixels (weight 1, temperature 4): 2.2, 1.1, 1.0,
1.6, 0.6, 1.4, 1.1, 1.6 (median 1.25, 2 of 8; the unpruned MLP is no teacher off its grid).
Eight more seeds there (3 Dec 2026 19:10-19:19, at 077415d, the default flow, two processes of
4 seeds: pruning_seeds_tfc_w2a2_mnist5k_epyc_seeds8_15.json): seeds 8-15 lose 0.0, 1.9, 1.6,
1.4, 0.4, 0.4, 1.9, 0.1 pt (median 0.90, 4 of 8 within 1.0; every seed 24-64-64, MACs -57.5 %,
LUT -57.9/-58.0 %). Over the 16 seeds of this machine: 9 within 1.0 pt, median 0.40 pt. At
9/16 per seed, 6 of 8 in one 8-seed run has a chance of about one in four: on this machine the
recipe meets issue 20's TFC count only in a lucky draw.
Training images moved by up to 1 pixel (train.shift_pixels: 1, codesign.augment; in the
unpruned training and the fine-tune alike), 16 seeds there (3 Dec 2026 19:31-19:39, the
default flow with that key added in a private worktree at 3dd12c8 plus the change, four
processes of 4 seeds: pruning_seeds_tfc_w2a2_mnist5k_shift1_epyc.json): losses 1.6, 0.1, 0.0,
1.3, 0.7, -0.3, 0.9, 1.1, 1.3, 2.0, 0.7, 0.8, -1.2, 2.1, 1.7, 0.8 pt (median 0.85, 9 of 16
within 1.0; 5 of 8 on seeds 0-7), every seed 24-64-64. Top-1 mean over the 16 seeds:
unpruned 94.75 % (93.98 % without), pruned 93.90 % (93.17 %). Both models gain ~0.75 pt, and
the loss does not shrink. Seed 0 (the default run) lands at 92.60 / 94.20 %, so
train.shift_pixels ships off (the fine-tune alone shifts: Last run above). Ad-hoc first
tries (torch.roll with wrap-around, the global RNG):
- shifts in the fine-tune only: 14 of 16 within 1.0 pt (median 0.30); as shipped (zero fill,
  seeded) 16 of 16 (Last run above).
- in both, up to 1 pixel: 11 of 16 (median 0.80).
- in both, up to 2 pixels: 2.6, 2.4, 2.7, 0.8, 1.2, 0.5 pt on 6 seeds.
Picking the best of five (channel scoring, fine-tune seed) candidates by training loss would
not help either. Every candidate fits 99 % of the training images, and on seed 8 the lowest
training loss is the candidate with the lowest test accuracy.

Run before (2 Dec 2026, three steps of 2 epochs and 8 final ones, 8 seeds, ~32 min): with
`prune.plan` every seed ends on 24-64-64, MACs -57.5 %, LUT at 1,020,408 FPS -57.9/-58.0 %;
losses 1.4, 0.7, 0.7, 1.7, 0.7,
0.2, 0.5, 1.3 pt (median 0.70), so 5 of 8 seeds within 1.0 pt, all 5 with MACs and LUT -50 %
or more: issue 20's 6 of 8 is not met. The same seeds without the plan (step-by-step greedy,
pruning_seeds_tfc_w2a2_mnist5k_greedy.json): 24-56-40 .. 32-48-48, MACs -50.2 to -61.4 %,
losses 1.4, 1.4, 0.6, 1.5, 1.0, 0.3, 0.3, 0.8 (median 0.90), 5 within 1.0 pt but seed 2's
32-48-48 keeps only -48.5 % of the LUTs, so 4 meet the whole goal. FPS as built x1.00 in every
seed and both runs: the unpruned model already runs at the input DMA's bound, so the pruned
design is folded to that same rate; what survives is LUTs, not FPS. Aligned / criterion-unaligned
FPS x1.00 (both I/O-bound). Why not a wider first layer: at the reference FPS the first layer
takes ~90 % of the LUTs, and with its 8-channel granule only 24 channels leave -50 % of them
(measured LUT at 1,020,408 FPS: 32-32-32 -49.4 %, 32-64-32 -47.9 %, 32-24-24 -50.2 %, 28-64-64
-49.9 %, 24-64-64 -58 %); 32-64-32 lost 1.0/0.3/1.5/0.5 pt on seeds 0-3 and 32-24-24 2.4 pt on
seed 0 (aligned runs alone, ad-hoc script), distillation 0.5 with the plan 2.4 pt on seed 0.
A longer final fine-tune (16 epochs instead of 8, with the plan; aligned runs alone, same
seeds and unpruned models): 1.2, 0.5, 1.2, 1.5, -0.3, 0.6, 0.0, -0.4 pt (median 0.55), again 5
of 8 within 1.0 pt, seeds 0 and 3 fail in every recipe tried; the flow keeps 8.

Tried on 2 Dec 2026 at eb31b60 (reverted in af4d2ea), load 3-5: a granularity that, at the I/O
bound, lets a layer keep its folds (same cycles, fewer lanes): TFC's first layer (PE 32 x SIMD
16 over 64) gets a granule of 2 instead of 8 and the plan keeps 30 channels
(pruning_seeds_tfc_w2a2_mnist5k_foldrule.json: 30-64-48 on 6 seeds, 30-56-64 on 2; MACs
-50.9/-50.1 %, LUT -50.6/-49.7 %; losses 1.5, 0.3, 1.3, 1.5, 0.2, 0.7, 0.6, 0.1 pt, median
0.65): 5 of 8 within 1.0 pt, 4 of them with LUT -50 % (the 30-56-64 seeds land at -49.7 %).
No better in accuracy than 24-64-64 and 7-8 points fewer LUTs saved, so it was reverted.
Same rule, aligned runs alone (benchmarks/pruning_forced_shapes.py --counts auto, 8 seeds
each): 5 prune steps 0.8, 1.2, 1.0, 1.0, -0.8, -0.3, -1.3, 0.2 (7 within 1.0 pt, but 2 seeds
at LUT -49.7 %); 5 steps at target 0.51 (30-56-56 / 28-64-64) 1.5, 0.5, 1.5, 1.3, -0.2,
-0.1, -0.8, 0.7 (5 within, 3 seeds at LUT -49.9 %); 5 steps at target 0.54 (28-56-48 /
26-64-64) 1.4, 1.6, 1.3, 1.7, 1.1, 0.9, 0.7, 1.7 (2 within); 3 steps at 0.53, seeds 0-3: 0.0,
1.9, 1.5, 2.7; distillation 1.0 (T 4) 1.3, 1.1, 1.1, 1.4, 0.6, 0.5, 0.2, 0.6 (4 within). The
same seed moves by up to 2 pt between recipes that end on the same shape (seed 6: -1.3 and
+0.6 at 30-64-48), so one 8-seed run of a recipe separates medians, not the 6-of-8 count."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOW = "flows/tfc_w2a2_mnist5k.yaml"
SEEDS = tuple(range(8))


def within_1pt(loss: float) -> bool:
    """A top-1 loss of at most 1.0 pt, to the test image: two accuracies a whole number of
    images apart differ in floats by up to ~1e-15 more (10 of 1,000 images: 1.0000000000000009)."""
    return round(loss, 6) <= 1.0


def _lut(step: Any) -> float | None:
    res = step.hardware.resources_at_reference
    return None if res is None else float(res["LUT"])


def _saved(before: float | None, after: float | None) -> float | None:
    """The fraction of `before` that `after` saves (None when either is unknown)."""
    return None if not before or after is None else 1 - after / before


@dataclasses.dataclass
class SeedRun:
    """One seed's unpruned model and its two prunings at the same sparsity (the models kept,
    so a benchmark can measure more of them)."""
    model: Any  # the unpruned QAT model
    data: Any
    aligned_model: Any
    aligned: Any  # PruneResult
    unaligned_model: Any
    unaligned: Any  # PruneResult of the criterion-unaligned run


def prune_seed(flow: Any, board: Any, seed: int, work: Path) -> SeedRun:
    """Train the flow's model with `seed`, prune a copy with the flow's settings (aligned) and
    another copy criterion-unaligned to the MAC sparsity the aligned run reached after every
    step (module docstring, items 1-3)."""
    from pruning import reached_per_step

    from codesign.flow import train_flow_model
    from codesign.prune import prune_model
    from codesign.prune.schedule import check_settings

    # the control's settings, checked before training (its per-step sparsities come later)
    check_settings(unaligned_settings(flow.prune, [flow.prune.target_sparsity] * flow.prune.steps))
    flow = flow.replace(seed=seed)
    model, data, _ = train_flow_model(flow, work, progress=False)
    aligned_model = copy.deepcopy(model)
    aligned = prune_model(aligned_model, data, board, flow.prune, flow.train,
                          reference_fps=flow.prune.reference_fps, workdir=work / "aligned",
                          seed=seed, progress=False)
    reached = reached_per_step(aligned, flow.prune)
    settings = unaligned_settings(flow.prune, reached)
    unaligned_model = copy.deepcopy(model)
    unaligned = prune_model(unaligned_model, data, board, settings, flow.train,
                            reference_fps=aligned.reference_fps, workdir=work / "unaligned",
                            seed=seed, progress=False)
    return SeedRun(model, data, aligned_model, aligned, unaligned_model, unaligned)


def unaligned_settings(prune: Any, reached: list[float]) -> Any:
    """The flow's prune settings as the criterion-unaligned control: the criterion's ranking
    alone, to the sparsity `reached` after each step (no fold search, so no shape trials),
    whatever budget stopped the aligned run."""
    return dataclasses.replace(prune, align=False, allocation="criterion", shape_trials=0,
                               budget="sparsity", steps=len(reached), step_sparsity=reached,
                               target_sparsity=reached[-1])


def run_seed(flow: Any, board: Any, seed: int, work: Path) -> dict[str, Any]:
    return seed_row(prune_seed(flow, board, seed, work), seed)


def seed_row(run: SeedRun, seed: int) -> dict[str, Any]:
    """The per-seed figures of the aligned and criterion-unaligned prunings."""
    aligned, unaligned = run.aligned, run.unaligned
    base, ours, theirs = aligned.baseline, aligned.final, unaligned.final
    lut_base, lut_ours, lut_theirs = _lut(base), _lut(ours), _lut(theirs)
    from codesign.train import machine

    return {
        "seed": seed, "machine": machine(),  # weights differ across kinds of CPU (train.py)
        "unpruned_accuracy": base.accuracy, "unpruned_fps": base.hardware.fps,
        "unpruned_compute_fps": base.hardware.compute_fps, "unpruned_lut": lut_base,
        "aligned": {"accuracy": ours.accuracy, "counts": ours.counts, "fps": ours.hardware.fps,
                    "compute_fps": ours.hardware.compute_fps, "lut": lut_ours,
                    "macs_reduction": 1 - ours.macs / base.macs,
                    "lut_reduction": _saved(lut_base, lut_ours)},
        # its LUT at the unpruned model's FPS too: where both fold to one FPS, what each costs
        "criterion-unaligned": {"accuracy": theirs.accuracy, "counts": theirs.counts,
                                "fps": theirs.hardware.fps, "lut": lut_theirs,
                                "macs_reduction": 1 - theirs.macs / base.macs,
                                "lut_reduction": _saved(lut_base, lut_theirs)},
        "accuracy_loss_points": 100 * (base.accuracy - ours.accuracy),
        "fps_gain": ours.hardware.fps / base.hardware.fps,
        "compute_fps_gain": (ours.hardware.compute_fps / base.hardware.compute_fps
                             if ours.hardware.compute_fps and base.hardware.compute_fps
                             else None),
        "aligned_vs_criterion-unaligned_fps": (ours.hardware.fps / theirs.hardware.fps
                                               if theirs.hardware.fps else None),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return statistics.median(kept) if kept else None

    ratios = [r["aligned_vs_criterion-unaligned_fps"] for r in rows]
    losses = [r["accuracy_loss_points"] for r in rows]
    return {
        "seeds": len(rows),
        "median_accuracy_loss_points": median(losses),
        "seeds_within_1pt": sum(within_1pt(loss) for loss in losses),
        # issue 20's TFC goal per seed: <= 1.0 pt with >= 50 % of the MACs and of the LUTs gone
        "seeds_within_1pt_at_half_macs_and_luts": sum(
            within_1pt(r["accuracy_loss_points"]) and r["aligned"]["macs_reduction"] >= 0.5
            and (r["aligned"]["lut_reduction"] or 0) >= 0.5 for r in rows),
        "median_macs_reduction": median([r["aligned"]["macs_reduction"] for r in rows]),
        "median_lut_reduction": median([r["aligned"]["lut_reduction"] for r in rows]),
        "median_fps_gain": median([r["fps_gain"] for r in rows]),
        "median_compute_fps_gain": median([r.get("compute_fps_gain") for r in rows]),
        "median_aligned_vs_criterion-unaligned_fps": median(ratios),
        "min_aligned_vs_criterion-unaligned_fps": min(r for r in ratios if r is not None),
        "seeds_aligned_faster": sum(r is not None and r > 1 for r in ratios),
        "seeds_aligned_slower": sum(r is not None and r < 1 for r in ratios),
        "median_criterion_accuracy_loss_points": median(
            [100 * (r["unpruned_accuracy"] - r["criterion-unaligned"]["accuracy"]) for r in rows]),
    }


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.atomic import atomic_path

    rows = report["rows"]
    seeds = [r["seed"] for r in rows]
    fig, (loss_ax, ratio_ax) = plt.subplots(1, 2, figsize=(11, 4))
    xs = range(len(seeds))
    for offset, name in ((-0.2, "aligned"), (0.2, "criterion-unaligned")):
        loss = [100 * (r["unpruned_accuracy"] - r[name]["accuracy"]) for r in rows]
        loss_ax.bar([x + offset for x in xs], loss, 0.4, label=name)
    loss_ax.axhline(1.0, color="k", ls="--", lw=1, label="1.0 pt")
    loss_ax.set_ylabel("top-1 loss vs unpruned (pt)")
    ratio_ax.bar(xs, [r["aligned_vs_criterion-unaligned_fps"] or 0 for r in rows],
                 color="tab:green")
    ratio_ax.axhline(1.0, color="k", ls="--", lw=1)
    ratio_ax.set_ylabel("FPS within caps: aligned / criterion-unaligned")
    for ax in (loss_ax, ratio_ax):
        ax.set_xticks(list(xs), [str(s) for s in seeds])
        ax.set_xlabel("seed")
        ax.grid(axis="y", alpha=0.3)
    loss_ax.legend(fontsize=8)
    fig.suptitle(f"{report['flow']} on {report['board']}: per seed, same sparsity")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _ratio(value: float | None) -> str:
    return "not recorded" if value is None else f"x{value:.2f}"


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"{report['flow']} on {report['board']}: aligned vs criterion-unaligned "
                        "at the same sparsity, per seed")
    for col in ("seed", "unpruned", "aligned top-1", "loss pt", "MACs -", "LUT -", "FPS x",
                "compute FPS x",
                "aligned counts", "unaligned counts", "unaligned top-1", "FPS aligned",
                "FPS unaligned", "ratio"):
        table.add_column(col)
    for r in report["rows"]:
        a, u = r["aligned"], r["criterion-unaligned"]
        table.add_row(
            str(r["seed"]), f"{100 * r['unpruned_accuracy']:.1f}", f"{100 * a['accuracy']:.1f}",
            f"{r['accuracy_loss_points']:+.1f}", f"{a['macs_reduction']:.1%}",
            "-" if a["lut_reduction"] is None else f"{a['lut_reduction']:.1%}",
            f"{r['fps_gain']:.2f}",
            "-" if r.get("compute_fps_gain") is None else f"{r['compute_fps_gain']:.2f}",
            " ".join(map(str, a["counts"].values())),
            " ".join(map(str, u["counts"].values())), f"{100 * u['accuracy']:.1f}",
            f"{a['fps']:,.0f}", f"{u['fps']:,.0f}",
            "-" if r["aligned_vs_criterion-unaligned_fps"] is None
            else f"x{r['aligned_vs_criterion-unaligned_fps']:.2f}")
    console.print(table)
    s = report["summary"]
    console.print(
        f"medians over {s['seeds']} seeds: loss {s['median_accuracy_loss_points']:+.2f} pt "
        f"({s['seeds_within_1pt']} seeds within 1.0 pt, "
        f"{s['seeds_within_1pt_at_half_macs_and_luts']} of them with MACs and LUT -50 % or more), "
        f"MACs -{s['median_macs_reduction']:.1%}, "
        f"LUT -{s['median_lut_reduction']:.1%}, FPS as built x{s['median_fps_gain']:.2f} "
        f"(compute pipeline {_ratio(s.get('median_compute_fps_gain'))}); aligned / "
        f"criterion-unaligned FPS x{s['median_aligned_vs_criterion-unaligned_fps']:.2f} "
        f"(min x{s['min_aligned_vs_criterion-unaligned_fps']:.2f}; faster in "
        f"{s['seeds_aligned_faster']}, slower in {s['seeds_aligned_slower']})")


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs of one flow made separately (other seeds, e.g. one process per half) as one
    report: rows joined and sorted by seed, summarised again."""
    flows = {r["flow"] for r in reports}
    if len(flows) != 1:
        raise SystemExit(f"the files to combine are runs of different flows: {sorted(flows)}")
    rows: list[dict[str, Any]] = []
    for report in reports:
        clash = {r["seed"] for r in rows} & {r["seed"] for r in report["rows"]}
        if clash:
            raise SystemExit(f"seed {min(clash)} is in two of the files to combine; keep one")
        rows.extend(report["rows"])
    rows.sort(key=lambda r: r["seed"])
    return {**reports[0], "rows": rows, "summary": summarise(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", default=FLOW)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--combine", nargs="+", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    console = Console(width=170)
    if args.combine:
        report = combine([json.loads(path.read_text()) for path in args.combine])
        out = args.out or RESULTS / f"pruning_seeds_{report['flow']}.json"
        write_json(out, report)
        plot(report, out.with_suffix(".png"))
        print_report(console, report)
        return
    flow = load_flow(ROOT / args.flow)
    assert flow.prune is not None, f"{args.flow} has no prune: section"
    board = flow_board(flow, load_board(flow.board))
    out = args.out or RESULTS / f"pruning_seeds_{flow.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"benchmark": "pruning_seeds", "flow": flow.name,
                              "board": board.name, "settings": dataclasses.asdict(flow.prune),
                              "rows": []}
    for seed in args.seeds:
        console.print(f"[bold]{flow.name}[/]: seed {seed}")
        with tempfile.TemporaryDirectory(prefix="codesign-prune-seeds-") as tmp:
            report["rows"].append(run_seed(flow, board, seed, Path(tmp)))
        report["summary"] = summarise(report["rows"])
        write_json(out, report)  # after every seed: a long run keeps what it measured
    plot(report, out.with_suffix(".png"))
    print_report(console, report)


if __name__ == "__main__":
    main()
