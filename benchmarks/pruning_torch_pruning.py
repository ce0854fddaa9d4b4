"""The peer a user would pick instead: Torch-Pruning (torch-pruning 1.6.1) on the pruned family
flows, at the MAC sparsity codesign's aligned schedule reached, through the same FINN build.

Torch-Pruning's own surgery does not leave a usable Brevitas model (benchmarks/
prune_group_discovery.py: a classifier with the wrong number of inputs after a flatten with
per-tensor quantizers, state dicts that no longer load with per-channel ones), so a user could
not compile what it cuts. What can be compared is its policy: its MetaPruner (GroupTaylorImportance,
local pruning, `round_to`) decides which channels of each coupled group go, and codesign's
Brevitas-consistent surgery (`prune_channels`) cuts exactly those. Per seed (the same
unpruned model as benchmarks/pruning_families.py: same flow, same seed):
1. the flow's `steps` prune -> fine-tune steps, each to the MAC sparsity of a geometric spread
   towards the aligned run's final sparsity (Torch-Pruning's ratio per step is the smallest, on
   a 1/256 grid, whose cut reaches that step's MACs: its local pruning with `round_to` moves
   every layer by whole multiples, so it can land well past the target, which the table shows),
   then `final_epochs`: the same epochs and learning rate as codesign's schedule;
2. variants (`VARIANTS`, `--variants`): local pruning with `round_to` = 8 (as users set it),
   with `round_to` = the board's lane granularity (codesign's granularity for the unpruned
   folding; Torch-Pruning takes one value for all layers, so the largest group granularity),
   and global pruning with `round_to` 8 and the flow's `max_layer_sparsity` as its
   `max_pruning_ratio` (`tp-global8`: its normalized Taylor scores ranked across groups, so
   the layers lose different shares and the cut lands near the asked sparsity); all three
   rank channels by Taylor importance (codesign's flows' criterion), and `tp-magnitude8` is
   local `round_to` 8 by the L2 norm of the weights (MagnitudeImportance), the other ranking
   the issue names: the same counts as tp-round8, other channels;
3. FINN's estimates on the flow's board (FPS within the caps as built, LUT at the unpruned best
   FPS), accuracy, and bit-exact verification, beside the aligned run's figures read from the
   families benchmark's JSON;
4. with --aligned-here, the aligned run alone again in this process (`aligned_here`), so both
   sides of the FPS ratio come from one version of the estimates and the folding optimizer
   (the families JSON may be older: see Last run);
5. with --aligned-at-tp TP_JSON, codesign's schedule (the flow's, in this process) with its
   target set to the sparsity Torch-Pruning landed on, where that overshot the aligned run's
   by more than half a point (`aligned_at_tp`): its `round_to` steps land on few sparsities
   (ResNet-8: 71.3 or 74.7 %), so "the same sparsity" is taken at Torch-Pruning's
   (`--at-variant` picks whose landing point: `aligned_at_tp` for the local variants,
   `aligned_at_tp-global8` for the global one). The one-sparsity ratio per seed is against
   that run where there is one, else against the aligned run TP was asked to match.

Usage: python3 benchmarks/pruning_torch_pruning.py [--families benchmarks/results/pruning_families.json]
       [--flows flows/a.yaml ...] [--seeds 0 1 2] [--variants tp-round8 tp-global8 ...]
       [--ask SPARSITY] [--distill W] [--out benchmarks/results/pruning_torch_pruning.json]
       python3 benchmarks/pruning_torch_pruning.py --aligned-here [--flows ...] [--seeds ...] --out x.json
       python3 benchmarks/pruning_torch_pruning.py --aligned-at-tp tp.json [--at-variant tp-global8]
         [--flows ...] --out y.json
       python3 benchmarks/pruning_torch_pruning.py --combine a.json b.json [--out ...]
         (one run per flow and seed, then merged: rows of the same flow and seed are joined)
Needs `pip install torch-pruning==1.6.1` (not a codesign dependency).

AMD EPYC with AVX512 (4 Dec 2026, 1 thread per process, two processes). This machine's kernels
train other weights than the AVX2 EPYC's of pruning_families_epyc.json.
- pruning_torch_pruning_kv260_round8_8seeds_avx512.json (6 Dec 2026 02:00-02:39 at 616a012):
  DS-CNN / KV260 tp-round8 and tp-magnitude8, seeds 0-7, against pruning_families_8seeds_
  avx512.json (the flow with shape trials, aligned at 55.7-57.1 %, seed 3 59.5 %): both cut
  uniform 40s (57.3 %, 63,776 FPS; aligned 72,886, x1.14) and on seed 3 uniform 32s (71.1 %,
  110,865, the input bound). Bit-exact on every model. At one sparsity:
  benchmarks/pruning_same_sparsity.py.
- pruning_torch_pruning_heldout_avx512.json (4-5 Dec 2026 22:44-00:10, at 618231a-76e8131):
  ResNet-8 tp-round8 and tp-magnitude8 on seeds 0-7 (seeds 0-4 asked for the AVX2 families
  JSON's sparsities as in the first pass, 5-7 `--ask 0.66`), DS-CNN / KV260 tp-round8 and
  tp-global8 on seeds 0-4 (against pruning_families_kv260_avx512.json), each with top-1 on the
  8,000 held-out test images. Every row that ran before reproduced its cut, counts and top-1
  exactly. Both ResNet-8 rankings cut 8-8-16-16-40-40 (71.3 %, 21,259 FPS; seed 1 74.7 %,
  28,345). Held-out top-1, round8 / magnitude8: 81.9 / 82.0, 80.5 / 81.6, 82.2 / 82.5, 83.4 /
  82.8, 83.3 / 83.3, 82.4 / 82.3, 81.7 / 82.6, 81.4 / 82.4 % (magnitude higher on 6 of 8).
  Bit-exact on every model.
- pruning_torch_pruning_avx512.json, the comparison at one sparsity, same machine:
  - aligned = codesign's schedule run here (--aligned-here, at 36df9a7);
  - tp-global8 is asked for that run's sparsity (--families with those rows, --variants
    tp-global8).
  ResNet-8:
  - aligned: 73.1 / 70.7 / 70.9 / 73.0 / 67.5 %, 27,793 / 22,676 / 24,295 / 25,195 / 21,259 FPS.
  - Torch-Pruning's global ranking reaches only 69.9 / 68.6 / 68.4 / 67.8 / 68.4 %. Its ratio
    counts channels, and the MACs it removes peak near ratio 0.45-0.53 and then fall. Sweep on a
    1-epoch model: 63.9 % at 0.39, 68.6 % at 0.44-0.53, 52-54 % at 0.58-0.72, none from 0.91.
  - TP folds to 21,259 FPS on every seed: aligned / TP x1.31 / 1.07 / 1.14 / 1.19 / 1.00,
    median x1.14.
  - Top-1, TP minus aligned: -1.95 / -0.70 / -0.05 / +0.40 / +0.50 pt, median -0.05.
  - So codesign is deeper, faster and no less accurate. It is not at the same sparsity, except
    on seed 4, where the FPS is x1.00.
  DS-CNN:
  - aligned: 57.7 / 59.4 / 57.7 / 57.7 / 59.1 %, 27,793 FPS each.
  - TP: 58.1 / 60.9 / 60.9 / 59.2 / 60.9 %, FPS x1.09 / 1.00 / 1.00 / 1.00 / 1.00 (median x1.00).
  - Top-1, TP minus aligned: -0.80 / +0.25 / -1.10 / -0.35 / +0.20 pt, median -0.35.
  Bit-exact 20/20 on every TP model.
- pruning_torch_pruning_avx512_first.json, the first pass (at 7a0ab84 / 4aac66c):
  - What was asked: both TP variants were asked for the AVX2 families JSON's sparsities, and
    that JSON's aligned rows were taken as the aligned side. Its ratios against "aligned" mix
    machines; only its TP rows and the re-targeted codesign rows are this machine's.
  - Local round_to 8: ResNet-8 cuts 71.3 % (seed 1: 74.7 %) and folds to 21,259 FPS (seed 1:
    28,345). DS-CNN cuts 71.1 % (seed 1: 57.3 %) and folds to 27,793 FPS (seed 1: 25,510).
  - codesign re-targeted at tp-global8's landing point (--aligned-at-tp --at-variant
    tp-global8) lands 1.5-6.1 pt deeper than the target (granules, and the fold search's 5 %
    allowance):
    - ResNet-8 seeds 0/3/4: 73.1 / 73.0 / 74.5 % against TP's 68.6 / 68.7 / 68.4 %, x1.31 /
      1.19 / 1.33.
    - DS-CNN seeds 1-4: x1.09 / 1.00 / 1.00 / 1.00.
DS-CNN for KV260 (flows/dscnn_w4a4_fashion_pruned_kv260.yaml: the fold search's shape sweep;
4 Dec 2026 16:17-17:08 at e1994a1, AVX512 EPYC, two processes;
pruning_torch_pruning_kv260_avx512.json, against pruning_families_kv260_avx512.json):
- aligned: 55.7 / 60.5 / 59.5 / 59.5 / 60.5 %, 72,886 FPS on every seed.
- tp-global8 lands at 58.1 / 60.9 / 60.9 / 62.5 / 60.9 % with shapes such as 40-32-40-40-40 and
  folds to 63,776 FPS on seeds 0/1/2/4 (aligned / TP x1.14 each); on seed 3, 3 pt deeper than
  aligned, its 40-32-32-40-48 folds to 102,041 (x0.71). Median x1.14.
- Top-1, TP minus aligned: +0.30 / +1.05 / -1.10 / -0.90 / +0.50 pt (median +0.30).
- tp-round8 cuts 40-40-40-40-40 (57.3 %, 63,776 FPS, x1.14) on seed 0 and 32-32-32-32-32
  (71.1 %) on seeds 1-4, which folds to 110,865 FPS: the input image's sliding window, the most
  any shape of this model reaches. At 10-12 pt more MACs removed: x0.66.
- codesign re-run at tp-global8's landing point where it overshot (seeds 0/2/3, --aligned-at-tp
  --at-variant tp-global8, 17:09-17:27): asked for 58.1 / 60.9 / 62.5 % it lands at 65.4 /
  63.8 / 66.8 % (32-32-32-32-64 / 32-40-32-32-56 / 32-32-32-32-56; the sweep's window reaches
  5 % of the MACs past the allocation) and folds to 95,147 / 102,041 / 110,865 FPS: x1.49 /
  1.60 / 1.09 over TP, top-1 TP minus codesign -0.45 / -0.65 / +0.15 pt. With those rows the
  one-sparsity ratios are x1.49 / 1.14 / 1.60 / 1.09 / 1.14 (median x1.14), TP minus codesign
  -0.45 / +1.05 / -0.65 / +0.15 / +0.50 pt (median +0.15).
- Bit-exact 20/20 on every TP model.

Goal (x1.1 at no worse accuracy at the same sparsity; strictly, with codesign within a point
of TP's landing on every seed, in benchmarks/pruning_same_sparsity.py: DS-CNN / KV260 x1.60
median at +0.15 pt, met; ResNet-8 and DS-CNN on Pynq-Z2 x1.00, a folding plateau):
- ResNet-8: met in the median only against TP's shallower cuts (x1.14, at no worse accuracy).
- DS-CNN on Pynq-Z2: not met (x1.00). On KV260: FPS met in the median (x1.14 against global
  TP at 0.4-3 pt more sparsity), but TP's top-1 is 0.15-0.30 pt better in the median.
codesign's edge over Torch-Pruning is the sparsity it reaches for an FPS (local round_to 8
needs 71 % of DS-CNN's MACs for what aligned reaches at 56-59 %). Where codesign lands deeper
than asked, it also has more FPS at that depth.
Why DS-CNN cannot pull ahead on Pynq-Z2 (folded untrained, ad hoc, 4 Dec): 32-40-32-40-64,
40-40-32-40-48, 40-32-40-40-40, 32-32-40-40-64, 24-40-40-40-64 and 32-32-32-32-32 all fold to
27,793 FPS (40-40-40-40-40: 25,510). At 32 channels everywhere (LUT 34,444 of the 37,240 cap)
the bound is the four depthwise layers' sliding windows, 3,598 cycles at SIMD 16 of 32
channels, beside their VVAUs at PE 16, 3,528 cycles. A VVAU's PE divides its channels, so with
>= 32 channels (the flow's max_layer_sparsity 0.5) the next step is PE = channels, twice the
lanes in all four layers, which the 2,796 LUT left do not buy; only groups below 32 channels
fold faster in the same lanes, and the cap forbids them. Every cut within the cap that
affords PE = channels / 2 folds to 27,793 FPS, whatever the policy that chose it.

pruning_torch_pruning_deep_avx512.json (4 Dec 2026, at adcdf47 with this file's per-layer
ratios): the 75 % DS-CNN flow, tp-global8 with the stem's ratio 0.5 as pruning_ratio_dict,
against pruning_families_deep_avx512.json's aligned rows (75.6-76.2 %, 31,888 FPS): TP lands
at 76.8-78.2 % (e.g. 32-24-24-32-24) and folds to 31,888 FPS too, x1.00 on every seed, top-1
TP - aligned +0.75 / -0.95 / +0.55 / -0.85 / +0.20 pt. The per-layer cap, not the policy,
takes DS-CNN past 27,793 FPS. Re-run against the flow with its shape trials (5 Dec 2026
23:00-23:08 at e03d316, four processes, seeds 0-7, against pruning_families_8seeds_avx512.json;
pruning_torch_pruning_deep_8seeds_avx512.json): TP lands at 76.8-78.2 % (aligned 75.6-76.7 %),
31,888 FPS on every seed (x1.00), LUT at 7,972 FPS 14,562-14,881 against aligned's
14,018-14,084, top-1 TP - aligned +0.20 / -0.90 / +1.40 / -0.85 / +0.20 / +1.85 / +0.70 /
-0.45 pt (median +0.20), bit-exact 20/20 each.

First machine's JSON (pruning_torch_pruning.json, 3 Dec 2026, joined with --combine). ResNet-8:
Torch-Pruning rows as in the run notes below (against the families JSON's aligned rows of
c589254 / c0c3c38). DS-CNN re-run at d9bdba8 (08:51-09:03, seeds 0-2; the families JSON with
the capped DS-CNN rows) against the flow with max_layer_sparsity 0.5: asked for the aligned
runs' 55.3 / 59.1 / 58.6 %, Torch-Pruning cuts 57.3 / 71.1 / 71.1 % (40s; 32s everywhere) and
folds to 25,510 / 27,793 / 27,793 FPS, the aligned runs' FPS (x1.00 each), 0.15 / 0.70 / 0.20
pt LESS accurate than aligned (85.75 / 84.75 / 83.70 % vs 85.90 / 85.45 / 83.90 %): at seeds
1/2 it needs 12 pt more of the MACs removed for the FPS aligned reaches. Seeds 3/4
(10:09-10:18, same code): TP cuts 71.1 % (32s) to 27,793 FPS, x1.00, and is 1.00 / 1.55 pt MORE
accurate (82.75 / 83.85 % vs 81.75 / 82.30 %); over seeds 0-4 TP - aligned is -0.15 / -0.70 /
-0.20 / +1.00 / +1.55 pt (median -0.15). Bit-exact on every TP model. At Torch-Pruning's
sparsity (--aligned-at-tp, 09:04-09:13 at 9912677; seed 4 of ResNet-8 not run: TP's 74.7 % is
below aligned's 75.1 %):
- ResNet-8 seeds 0/1/2/3, target 71.3 / 71.3 / 74.7 / 74.7 %: codesign lands on 73.7 / 75.8 /
  77.5 / 74.8 % (its granules and the fold search's 5 % allowance go past the target too),
  28,345 / 28,345 / 31,888 / 28,345 FPS against TP's 21,259 / 21,259 / 28,345 / 28,345: x1.33
  / x1.33 / x1.13 / x1.00 (x1.00 on seed 4 at the asked-for sparsity), median over 5 seeds
  x1.13; top-1 82.80 / 83.10 / 81.55 / 81.85 % vs TP's 83.55 / 82.85 / 81.50 / 81.65 %
  (-0.75 / +0.25 / +0.05 / +0.20 pt; seed 4 +0.80). So x1.1 at no worse accuracy (median) holds
  at Torch-Pruning's target, but codesign removed 0.1-4.5 pt more of the MACs: against TP's
  own landing points, codesign reaches 28,345 FPS from 73.0 % (families seed 2) where TP needs
  74.7 %, and 74.7-75.8 % give 28,345 on both sides. Shapes near TP's 71.3 % (one cut, no
  fine-tune, /tmp probe on seeds 0/1, 09:39): seed 0 4-16-28-8-40-56 (71.3 %) 21,259 FPS,
  4-12-28-12-40-56 (70.7 %) 22,676, 4-12-28-8-40-64 (72.1 %) 25,510, 4-12-28-8-40-56 (73.7 %)
  28,345; seed 1 keeps 28,345 from 75.8 % down to 73.1 % (4-8-20-16-40-56), 8-8-20-16-32-56
  (69.0 %) 21,259. At exactly TP's sparsity the gain is x1.00-1.07.
- DS-CNN seeds 0/1/2, target 57.3 / 71.1 / 71.1 %: 58.9 / 71.1 / 71.1 %, 27,793 FPS each
  (x1.09 / x1.00 / x1.00; at 71.1 % the cap leaves 32 channels everywhere, TP's shape), top-1
  -0.05 / -0.10 / -0.30 pt against TP. Median x1.00.
Goal (x1.1 at no worse accuracy at the same sparsity): not met on DS-CNN; on ResNet-8 only at
Torch-Pruning's targets with codesign landing deeper.

Run on the ResNet-8 flow at target 0.66 (3 Dec 2026 01:38-01:46 at d3c25b0, seeds
2/3/4 against the families JSON's aligned rows; seeds 0/1 keep the 0.65 shapes below;
pruning_torch_pruning_resnet8_target066.json): asked for 73.0 / 73.0 / 75.1 %, Torch-Pruning
cuts 74.7 % each (8-8-16-16-32-32), 81.50 / 81.65 / 81.45 % (+0.35 / +0.35 / -0.80 pt against
the aligned runs), 28,345 FPS each vs aligned 28,345 / 21,259 / 28,345: aligned / TP x1.00 /
x0.75 / x1.00. Over seeds 0-4, x1.00 median: the x1.1 goal is not met. Bit-exact on every TP
model.

Last run, ResNet-8 at 0.65 (2 Dec 2026, at c347c6d in a private worktree, 1 thread, load 4-6 on 2
shared cores; torch-pruning 1.6.1). The flow targets 0.65 in one step, its 3 epochs in one
fine-tune; both sides ran that recipe (Torch-Pruning's steps and epochs follow the flow), the
aligned side with --aligned-here in the same version of the estimates:
- ResNet-8: the board's lanes are 8 on every seed (the granularity of every 64-channel group),
  so `round_to` 8 is both variants. Torch-Pruning, asked for the aligned run's 66.1 / 66.7 /
  65.9 % (seeds 0/1/2), cuts 71.3 % each (8-8-16-16-40-40, at the smallest ratio on the grid
  that reaches the target in one step; two steps towards 55.8 % stopped at 67.3 %), top-1
  83.55 / 82.85 / 81.70 % vs aligned 83.80 / 82.75 / 81.80 % (-0.25 / +0.10 / -0.10 pt: TP
  less accurate on seeds 0 and 2, median -0.10), 21,259 FPS each vs aligned 21,259 each:
  aligned / TP x1.00 on every seed, median x1.00; LUT at the unpruned best FPS 19,186-19,187
  (it removed 5 pt more MACs) vs aligned 21,087 / 22,282 / 22,418. Bit-exact 20/20 on every
  Torch-Pruning model. Goal (x1.1 at no worse accuracy): accuracy no worse (median), FPS
  x1.00: not met. The JSON's "families JSON" columns compare with the families run, whose
  aligned side fine-tuned 2 + 1 epochs (81.50 / 81.30 / 80.50 %); with that split on both
  sides TP reached 80.75 / 81.95 / 79.90 % (-0.75 / +0.65 / -0.60 pt), also x1.00.
- Why not x1.1: on 18 kept-count shapes of seed 0 (one cut, no fine-tune;
  flows/resnet8_w4a4_fashion_pruned.yaml's header), FPS within the caps x the remaining MAC
  fraction lies within -12 / +2 % of the unpruned model's, so at equal MACs an allocation
  gains at most ~2 % over MAC-proportional FPS on this board (TP's shape sits at -14 %: the
  same FPS as the aligned run with 5 pt more MACs removed); Torch-Pruning's FPS edge in the
  run before came from its overshoot.
- The run before (target 0.55, two steps, the allocation summing every layer's cycles share):
  TP 67.3 % MACs (8-8-16-16-48-48), 82.40 / 81.40 / 81.05 % vs aligned 80.80 / 81.70 / 80.65 %,
  21,259 FPS vs aligned 17,007 / 18,222 / 18,222 (x0.80 / x0.86 / x0.86; same-run x0.75 /
  x0.73 / x0.75).

Last run, DS-CNN (2026-12-02; seeds 0-1 at 857314b, seed 2 at b1bd4ff..53a4ced in the shared
working tree, with other engineers' uncommitted edits; load average 5-14; not re-run: c347c6d
leaves DS-CNN's allocation unchanged, one producer per group):
- DS-CNN: the board's lanes are 8, so `round_to` 8 is both variants (one run). Torch-Pruning
  cut 71.1 / 57.3 / 57.3 % of the MACs (seeds 0/1/2; aligned 57.4 / 56.2 / 55.1 %), top-1
  80.65 / 80.10 / 79.90 % vs aligned 80.80 / 80.10 / 80.15 % (-0.15 / 0.00 / -0.25 pt), FPS
  within the caps 27,793 / 25,510 / 25,510 vs aligned 27,793 each: aligned / TP x1.00 / x1.09 /
  x1.09, median x1.09 (goal x1.1 at no worse accuracy: missed by 0.01; accuracy is no worse).
  Aligned re-run in the same process (seeds 1/2; seed 0 not re-run for lack of time): 57.0 /
  56.2 % MACs, 80.70 / 80.15 %, 25,510 / 27,793 FPS: x1.00 / x1.09 (median of the two
  x1.04), aligned +0.60 / +0.25 pt; seed 1's re-run lands on other counts (32-40-40-40-52)
  than the families JSON's, 25,510 FPS instead of 27,793. Bit-exact 20/20 on every
  Torch-Pruning model."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import warnings
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board
from codesign.train import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOWS = ("flows/resnet8_w4a4_fashion_pruned.yaml", "flows/dscnn_w4a4_fashion_pruned.yaml")
RATIO_GRID = 256
# Torch-Pruning's local pruning moves every group by the same ratio, so with `round_to` it
# lands on few sparsities (the same counts whichever importance ranks the channels); its global
# pruning ranks all groups' channels together (normalized Taylor scores, capped per layer by
# `max_pruning_ratio`, the flow's max_layer_sparsity where it has one) and lands nearer the
# target, up to where its channel ratio stops buying MACs (ResNet-8: about 70 %). A flow's
# prune.layer_max_sparsity goes to its `pruning_ratio_dict`: those layers are cut by exactly
# that ratio (their own scope), where codesign's cap is an upper bound


class Variant(NamedTuple):
    """One way a user runs Torch-Pruning."""

    name: str
    round_to: int | str  # 8, or "lanes": the board's lane granularity
    global_pruning: bool
    importance: str  # "taylor" (GroupTaylorImportance) or "magnitude" (its L2 norm of weights)


VARIANTS = (Variant("tp-round8", 8, False, "taylor"), Variant("tp-lanes", "lanes", False, "taylor"),
            Variant("tp-global8", 8, True, "taylor"),
            Variant("tp-magnitude8", 8, False, "magnitude"))
VARIANT_NAMES = tuple(v.name for v in VARIANTS)
# the row key of codesign's schedule re-run at the sparsity a variant landed on (--aligned-at-tp)
AT_KEYS = {"tp-round8": "aligned_at_tp", "tp-lanes": "aligned_at_tp",
           "tp-global8": "aligned_at_tp-global8", "tp-magnitude8": "aligned_at_tp"}


def tp_keep(model: Any, data: Any, ratio: float, round_to: int | None,
            global_pruning: bool = False, max_ratio: float = 1.0,
            layer_ratios: dict[str, float] | None = None,
            batches: int = 8, importance: str = "taylor") -> dict[str, list[int]]:
    """The channels Torch-Pruning's MetaPruner (`importance` taylor or magnitude; local, or
    global with `max_ratio` per layer) keeps in each codesign group; `layer_ratios` (layer name
    -> ratio) become its `pruning_ratio_dict`, which cuts those layers by exactly that ratio in
    their own scope."""
    import torch
    import torch_pruning as tp

    from codesign.prune import channel_groups

    groups = channel_groups(model, data.input_shape)
    names = {m: n for n, m in model.named_modules()}
    modules = dict(model.named_modules())
    ratio_dict = {modules[name]: r for name, r in (layer_ratios or {}).items()}
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d
                                                     | torch.nn.Conv1d)][-1]
    was_training = model.training
    model.eval()  # tracing and scoring must not move BatchNorm statistics
    example = torch.as_tensor(data.x_train[:1]).float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = (tp.importance.TaylorImportance() if importance == "taylor"
                  else tp.importance.MagnitudeImportance(p=2))
        pruner = tp.pruner.MetaPruner(model, example, importance=scorer,
                                      pruning_ratio=ratio, round_to=round_to,
                                      global_pruning=global_pruning,
                                      max_pruning_ratio=max_ratio, ignored_layers=[last],
                                      pruning_ratio_dict=ratio_dict or None)
        model.zero_grad()
        gen = torch.Generator().manual_seed(0)
        order = torch.randperm(len(data.x_train), generator=gen)
        for b in range(batches if importance == "taylor" else 0):  # Taylor scores need gradients
            idx = order[b * 64:(b + 1) * 64].numpy()
            x = torch.as_tensor(data.x_train[idx]).float()
            y = torch.as_tensor(data.y_train[idx]).long()
            torch.nn.functional.cross_entropy(model(x), y).backward()
        keep: dict[str, list[int]] = {}
        for group in pruner.step(interactive=True):
            root = names[group[0].dep.target.module]
            # Torch-Pruning roots a depthwise group at the depthwise conv, codesign at its producer
            owner = next((g for g in groups if root in (*g.producers, *g.members)), None)
            if owner is None:
                continue
            cut = {int(getattr(i, "idx", i)) for i in group[0].idxs}
            keep[owner.name] = [c for c in range(owner.channels) if c not in cut]
        model.zero_grad()
    model.train(was_training)
    return keep


def cut_to_sparsity(model: Any, data: Any, macs0: int, goal: float, round_to: int | None,
                    global_pruning: bool = False, max_ratio: float = 1.0,
                    layer_ratios: dict[str, float] | None = None, importance: str = "taylor"
                    ) -> tuple[dict[str, list[int]], float]:
    """Torch-Pruning's keep sets at the smallest ratio on the grid whose cut removes at least
    `goal` of the unpruned MACs (`macs0`), and the sparsity that cut reaches; when no ratio the
    search visits gets there (`round_to` can forbid it), the deepest cut it saw."""
    import copy

    from codesign.prune import model_cost, prune_channels

    def reached(keep: dict[str, list[int]]) -> float:
        trial = prune_channels(copy.deepcopy(model), keep, data.input_shape)
        return 1.0 - model_cost(trial, data.input_shape).macs / macs0

    lo, hi = 0, RATIO_GRID - 1  # ratio = k / RATIO_GRID; binary search on k
    best, deepest = None, ({}, 0.0)
    while lo <= hi:
        mid = (lo + hi) // 2
        keep = tp_keep(model, data, mid / RATIO_GRID, round_to, global_pruning, max_ratio,
                       layer_ratios, importance=importance)
        sparsity = reached(keep)
        if sparsity > deepest[1]:
            deepest = (keep, sparsity)
        if sparsity >= goal - 1e-9:
            best, hi = (keep, sparsity), mid - 1
        else:
            lo = mid + 1
    return best or deepest


def run_variant(model: Any, data: Any, board: Any, flow: Any, target: float,
                variant: Variant, round_to: int, reference_fps: float, seed: int,
                work: Path) -> dict[str, Any]:
    """`variant` of Torch-Pruning (`round_to`: its value on this board) on a copy of the
    unpruned `model`: the flow's steps towards `target`, the same fine-tunes, FINN's estimates."""
    from pruning import held_out_accuracy, verify_bit_exact

    from codesign.prune import model_cost, prune_channels
    from codesign.prune.schedule import finetune, measure_hardware, unpruned_teacher
    from codesign.prune.surgery import channel_counts
    from codesign.train import evaluate

    settings = flow.prune
    teacher = unpruned_teacher(model, settings)  # the flow's recipe: distils where codesign does
    global_pruning = variant.global_pruning
    max_ratio = settings.max_layer_sparsity if global_pruning else 1.0
    # a flow's per-layer caps as Torch-Pruning's per-layer ratios (exact, not caps)
    layer_ratios = dict(settings.layer_max_sparsity)
    macs0 = model_cost(model, data.input_shape).macs
    steps = []
    for step in range(1, settings.steps + 1):
        goal = 1.0 - (1.0 - target) ** (step / settings.steps)
        keep, sparsity = cut_to_sparsity(model, data, macs0, goal, round_to, global_pruning,
                                         max_ratio, layer_ratios, variant.importance)
        prune_channels(model, keep, data.input_shape)
        # a flow's fade epochs (codesign cuts after them) are fine-tune epochs here: same total
        finetune(model, data, flow.train, settings, settings.soft_epochs + settings.finetune_epochs,
                 seed + step, False, teacher)
        steps.append({"step": step, "goal": goal, "sparsity": sparsity,
                      "counts": channel_counts(model, data.input_shape)})
    finetune(model, data, flow.train, settings, settings.final_epochs, seed + 1000, False,
             teacher)
    point, _ = measure_hardware(model, data.input_shape, board, reference_fps, work / "hw")
    lut = point.resources_at_reference
    return {"round_to": round_to, "global_pruning": global_pruning,
            "importance": variant.importance,
            "max_pruning_ratio": max_ratio, "steps": steps,
            "accuracy": evaluate(model, data.x_test, data.y_test),
            "held_out": held_out_accuracy(model, flow),
            "macs_reduction": 1.0 - model_cost(model, data.input_shape).macs / macs0,
            "counts": channel_counts(model, data.input_shape), "fps": point.fps,
            "lut_at_reference": None if lut is None else lut["LUT"],
            "verification": verify_bit_exact(model, data, board, flow, work / "verify")}


def run_seed(flow: Any, board: Any, seed: int, aligned: dict[str, Any] | None, work: Path,
             variants: tuple[str, ...] = VARIANT_NAMES, ask: float | None = None
             ) -> dict[str, Any]:
    """The variants on the seed's unpruned model, each asked for the aligned run's sparsity
    (`aligned`, a families JSON row), or for `ask` (then no aligned figures)."""
    import copy

    from codesign.flow import train_flow_model
    from codesign.prune import channel_groups
    from codesign.prune.alignment import granularity
    from codesign.prune.schedule import measure_hardware
    from codesign.train import evaluate

    flow = flow.replace(seed=seed)
    model, data, _ = train_flow_model(flow, work, progress=False)
    point, profile = measure_hardware(model, data.input_shape, board, None, work / "unpruned")
    grain = granularity(channel_groups(model, data.input_shape), profile)
    target = aligned["aligned"]["macs_reduction"] if ask is None else ask
    row: dict[str, Any] = {
        "seed": seed, "unpruned_accuracy": evaluate(model, data.x_test, data.y_test),
        "unpruned_fps": point.fps, "granularity": grain, "target_sparsity": target}
    if ask is None:
        row["families_unpruned_accuracy"] = aligned["unpruned_accuracy"]
        row["aligned"] = {k: aligned["aligned"][k] for k in ("accuracy", "fps", "macs_reduction",
                                                            "counts")}
    done: dict[tuple[int, bool, str], tuple[str, dict[str, Any]]] = {}
    for variant in VARIANTS:
        name = variant.name
        if name not in variants:
            continue
        round_to = max(grain.values()) if variant.round_to == "lanes" else variant.round_to
        run = (round_to, variant.global_pruning, variant.importance)
        if run in done:  # the board's lanes are 8 too: the same run
            same_as, result = done[run]
            row[name] = {**result, "same_as": same_as}
            continue
        result = run_variant(copy.deepcopy(model), data, board, flow, target, variant,
                             round_to, point.fps, seed, work / name)
        done[run] = (name, result)
        if ask is None:
            result["aligned_vs_fps"] = (aligned["aligned"]["fps"] / result["fps"]
                                        if result["fps"] else None)
            result["accuracy_vs_aligned_points"] = 100 * (result["accuracy"]
                                                          - aligned["aligned"]["accuracy"])
        row[name] = result
    return row


def aligned_here(flow: Any, board: Any, seed: int, work: Path,
                 target: float | None = None, overrides: dict[str, Any] | None = None,
                 verify: bool = False) -> dict[str, Any]:
    """The aligned run again, in this process (the flow's calls: train_flow_model, then
    prune_model with the flow's settings), so that the Torch-Pruning variants and the aligned
    model are measured by one version of the estimates and the folding optimizer: the families
    JSON may come from an older one (ResNet-8 seed 1's unpruned model: 7,972 FPS there, 7,086
    at 53a4ced). `target`: the flow's schedule with this target sparsity instead (where
    Torch-Pruning's `round_to` steps overshoot, codesign at the sparsity it landed on).
    `overrides`: other prune settings (e.g. max_overshoot); `verify`: also verify the pruned
    model bit-exactly through the FINN path."""
    import dataclasses

    from pruning import held_out_accuracy, verify_bit_exact

    from codesign.flow import train_flow_model
    from codesign.prune import prune_model
    from codesign.train import evaluate

    flow = flow.replace(seed=seed)
    if target is not None:
        overrides = {**(overrides or {}), "target_sparsity": target}
    if overrides:
        flow = flow.replace(prune=dataclasses.replace(flow.prune, **overrides))
    model, data, _ = train_flow_model(flow, work, progress=False)
    unpruned_accuracy = evaluate(model, data.x_test, data.y_test)
    result = prune_model(model, data, board, flow.prune, flow.train,
                         reference_fps=flow.prune.reference_fps, workdir=work / "aligned",
                         seed=seed, progress=False)
    final, base = result.final, result.baseline
    lut = final.hardware.resources_at_reference
    return {"unpruned_accuracy": unpruned_accuracy, "unpruned_fps": base.hardware.fps,
            "accuracy": evaluate(model, data.x_test, data.y_test), "fps": final.hardware.fps,
            "held_out": held_out_accuracy(model, flow),
            "macs_reduction": 1.0 - final.macs / base.macs, "counts": dict(final.counts),
            "lut_at_reference": None if lut is None else lut["LUT"],
            "prune_seconds": result.seconds, "target_sparsity": flow.prune.target_sparsity,
            "budget_met": result.budget_met, "budget_note": result.budget_note,
            "search": [r.search for r in result.steps if r.search],
            "sensitivity": result.sensitivity,  # the allocation's weight per group, or None
            **({"verification": verify_bit_exact(model, data, board, flow, work / "verify")}
               if verify else {})}


def with_distill(flow: Any, distill: float | None) -> Any:
    """`flow` with prune.distill set to `distill` (None: the flow's own)."""
    import dataclasses

    if distill is None:
        return flow
    return flow.replace(prune=dataclasses.replace(flow.prune, distill=distill))


def overshoot_targets(tp_report: Path, variant: str) -> dict[str, dict[int, float]]:
    """Per flow and seed of a Torch-Pruning JSON: the sparsity `variant`'s cut landed on, where
    that is more than half a point past the aligned run's."""
    targets: dict[str, dict[int, float]] = {}
    for family in json.loads(tp_report.read_text())["families"]:
        for row in family["rows"]:
            if variant not in row:
                continue
            landed = row[variant]["macs_reduction"]
            if landed > row["aligned"]["macs_reduction"] + 0.005:
                targets.setdefault(family["flow"], {})[row["seed"]] = landed
    return targets


def with_ratios(row: dict[str, Any]) -> dict[str, Any]:
    """Each variant's FPS and accuracy against the aligned run measured in the same process
    (`aligned_here`) and against the aligned run at the variant's own sparsity
    (`AT_KEYS`), when the row has them."""
    for name in (n for n in VARIANT_NAMES if n in row):
        v = row[name]
        for key, other in (("aligned_here", row.get("aligned_here")),
                           ("aligned_at_tp", row.get(AT_KEYS[name]))):
            if other is not None:
                v[f"{key}_vs_fps"] = other["fps"] / v["fps"] if v["fps"] else None
                v[f"accuracy_vs_{key}_points"] = 100 * (v["accuracy"] - other["accuracy"])
    return row


def same_sparsity_ratio(row: dict[str, Any], name: str) -> float | None:
    """Aligned / Torch-Pruning FPS at one sparsity: against codesign re-run at the sparsity
    Torch-Pruning landed on where it overshot, else against the aligned run it was asked for."""
    v = row[name]
    return v.get("aligned_at_tp_vs_fps") or v.get("aligned_vs_fps")


def combine(parts: list[Path]) -> dict[str, Any]:
    """One report from separate runs; rows of the same flow and seed are merged (a run with
    --aligned-here adds its `aligned_here` to the Torch-Pruning row of that seed)."""
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        for family in json.loads(part.read_text())["families"]:
            entry = merged.setdefault(family["flow"], {**family, "rows": []})
            by_seed = {r["seed"]: r for r in entry["rows"]}
            for row in family["rows"]:
                if row["seed"] in by_seed:
                    by_seed[row["seed"]].update(row)
                else:
                    entry["rows"].append(row)
                    by_seed[row["seed"]] = row
    for family in merged.values():
        family["rows"] = [with_ratios(r) for r in sorted(family["rows"], key=lambda r: r["seed"])]
    return {"benchmark": "pruning_torch_pruning", "families": list(merged.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=Path, default=RESULTS / "pruning_families.json",
                        help="JSON of benchmarks/pruning_families.py (the aligned runs)")
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_torch_pruning.json")
    parser.add_argument("--combine", nargs="+", type=Path, default=None,
                        help="merge the JSON of separate runs (per family or seed) into --out")
    parser.add_argument("--variants", nargs="+", choices=VARIANT_NAMES, default=VARIANT_NAMES,
                        help="the Torch-Pruning variants to run (default: all)")
    parser.add_argument("--aligned-here", action="store_true",
                        help="only re-run the aligned pruning in this process (rows with "
                             "aligned_here, to --combine with the Torch-Pruning rows)")
    parser.add_argument("--aligned-at-tp", type=Path, default=None, metavar="TP_JSON",
                        help="only run the aligned pruning at the sparsity Torch-Pruning landed "
                             "on in TP_JSON, where it overshot (rows with aligned_at_tp, to "
                             "--combine with TP_JSON)")
    parser.add_argument("--at-variant", choices=VARIANT_NAMES, default="tp-round8",
                        help="with --aligned-at-tp: the variant whose landing sparsity to take")
    parser.add_argument("--distill", type=float, default=None,
                        help="prune.distill for every flow, on both sides (default: the flow's)")
    parser.add_argument("--ask", type=float, default=None, metavar="SPARSITY",
                        help="ask Torch-Pruning for this MAC sparsity instead of the aligned "
                             "runs' (rows without aligned figures: for seeds the families JSON "
                             "lacks, e.g. to then run benchmarks/pruning_same_sparsity.py)")
    args = parser.parse_args()
    console = Console(width=200)
    if args.combine:
        report = combine(args.combine)
        write_json(args.out, report)
        plot(report, args.out.with_suffix(".png"))
        print_report(console, report)
        return
    families = {f["flow"]: {r["seed"]: r for r in f["rows"]}
                for f in json.loads(args.families.read_text())["families"]}
    overshoot = (overshoot_targets(args.aligned_at_tp, args.at_variant) if args.aligned_at_tp
                 else None)
    report: dict[str, Any] = {"benchmark": "pruning_torch_pruning", "families": []}
    if args.distill is not None:
        report["distill"] = args.distill
    for path in args.flows:
        flow = with_distill(load_flow(ROOT / path), args.distill)
        board = flow_board(flow, load_board(flow.board))
        family: dict[str, Any] = {"flow": flow.name, "board": board.name, "rows": []}
        report["families"].append(family)
        for seed in args.seeds:
            if args.ask is None and seed not in families.get(flow.name, {}):
                console.print(f"{flow.name} seed {seed}: no aligned run in {args.families}")
                continue
            target = None if overshoot is None else overshoot.get(flow.name, {}).get(seed)
            if overshoot is not None and target is None:
                console.print(f"{flow.name} seed {seed}: Torch-Pruning did not overshoot")
                continue
            console.print(f"[bold]{flow.name}[/]: seed {seed}")
            with tempfile.TemporaryDirectory(prefix="codesign-tp-") as tmp:
                if target is not None:
                    row = {"seed": seed,
                           AT_KEYS[args.at_variant]: aligned_here(flow, board, seed, Path(tmp),
                                                                  target)}
                elif args.aligned_here:
                    row = {"seed": seed, "aligned_here": aligned_here(flow, board, seed, Path(tmp))}
                else:
                    row = run_seed(flow, board, seed, families.get(flow.name, {}).get(seed),
                                   Path(tmp), tuple(args.variants), args.ask)
                # the CPU's math kernels train other weights: name the machine of every row
                row["machine"] = machine()
                family["rows"].append(row)
            write_json(args.out, report)
    if args.aligned_here or overshoot is not None:
        console.print_json(data=report)
        return
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


def plot(report: dict[str, Any], path: Path) -> None:
    """Per family and seed: MAC sparsity and FPS within the caps, aligned (as the families
    JSON has it, and re-run in the same process where there is one) beside each variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.atomic import atomic_path

    fig, (spars_ax, fps_ax) = plt.subplots(1, 2, figsize=(14, 4))
    labels = []
    names = ("aligned", "aligned_here", *sorted(set(AT_KEYS.values())), *VARIANT_NAMES)
    rows = [(f["flow"], r) for f in report["families"] for r in f["rows"]]
    present = [n for n in names if any(n in r for _, r in rows)]  # a slot per series run
    width, seen = min(0.8 / max(len(present), 1), 0.3), set()
    for i, (flow, r) in enumerate(rows):
        labels.append(f"{flow.split('_')[0]} s{r['seed']}")
        for slot, name in enumerate(present):
            if name not in r:
                continue
            k = names.index(name)  # the same colour for a series in every report
            x = i + (slot - (len(present) - 1) / 2) * width
            label = {"aligned": "aligned (families JSON)",
                     "aligned_here": "aligned (same run)",
                     "aligned_at_tp": "aligned, target = where TP round8 landed",
                     "aligned_at_tp-global8": "aligned, target = where TP global8 landed"}.get(name, name)
            label = None if name in seen else label  # one legend entry per series
            seen.add(name)
            spars_ax.bar(x, 100 * r[name]["macs_reduction"], width, color=f"C{k}", label=label)
            fps_ax.bar(x, r[name]["fps"], width, color=f"C{k}", label=label)
    for ax, label in ((spars_ax, "MACs removed (%)"), (fps_ax, "FPS within the caps")):
        ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=30, ha="right")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    handles, names_ = spars_ax.get_legend_handles_labels()
    fig.legend(handles, names_, loc="lower center", ncol=len(names_), fontsize=8)
    fig.suptitle("codesign aligned vs Torch-Pruning's policy (codesign's surgery), same FINN path")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="codesign aligned vs Torch-Pruning (its policy, codesign's "
                        "surgery) at the same MAC sparsity, FPS within the same caps")
    for col in ("flow", "seed", "variant", "round_to", "MACs -", "top-1", "vs aligned pt",
                "FPS", "aligned FPS", "aligned / TP", "same run: aligned MACs -, top-1, FPS",
                "same run: aligned / TP", "TP's as target: aligned MACs -: counts, top-1, FPS",
                "there: aligned / TP", "counts", "bit-exact"):
        table.add_column(col)

    def ratio(value: float | None) -> str:
        return "-" if value is None else f"x{value:.2f}"

    for family in report["families"]:
        rows = [r for r in family["rows"] if any(name in r for name in VARIANT_NAMES)]
        for r in rows:
            here = r.get("aligned_here")
            for name in (n for n in VARIANT_NAMES if n in r):
                v, there = r[name], r.get(AT_KEYS[name])
                table.add_row(family["flow"], str(r["seed"]), name, str(v["round_to"]),
                              f"{v['macs_reduction']:.1%}", f"{100 * v['accuracy']:.2f}",
                              "-" if "aligned" not in r else
                              f"{v['accuracy_vs_aligned_points']:+.2f}", f"{v['fps']:,.0f}",
                              "-" if "aligned" not in r else f"{r['aligned']['fps']:,.0f}",
                              ratio(v.get("aligned_vs_fps")),
                              "-" if here is None else
                              f"{here['macs_reduction']:.1%}, {100 * here['accuracy']:.2f}, "
                              f"{here['fps']:,.0f}",
                              ratio(v.get("aligned_here_vs_fps")),
                              "-" if there is None else
                              f"{there['macs_reduction']:.1%}: "
                              f"{' '.join(map(str, there['counts'].values()))}, "
                              f"{100 * there['accuracy']:.2f}, {there['fps']:,.0f}",
                              ratio(v.get("aligned_at_tp_vs_fps")),
                              " ".join(map(str, v["counts"].values())),
                              "yes" if v["verification"]["passed"] else "NO")
        for name in VARIANT_NAMES:
            for key, what in (("aligned_vs_fps", "families JSON"),
                              ("aligned_here_vs_fps", "same run")):
                ratios = [r[name][key] for r in rows if r.get(name, {}).get(key)]
                if ratios:
                    console.print(f"{family['flow']} {name}: median aligned ({what}) / TP FPS "
                                  f"x{statistics.median(ratios):.2f} over {len(ratios)} seeds")
            same = [x for x in (same_sparsity_ratio(r, name) for r in rows if name in r) if x]
            if same:
                console.print(f"{family['flow']} {name}: median aligned / TP FPS, codesign "
                              f"re-run with TP's landing point as its target where TP overshot "
                              f"(it may land deeper: see the table) x{statistics.median(same):.2f}"
                              f" over {len(same)} seeds")
    console.print(table)

if __name__ == "__main__":
    main()
