"""Hardware-aware pruning of the network families (residual, depthwise-separable) over seeds,
against the issue's acceptance goals.

For each pruned family flow (default: flows/resnet8_w4a4_fashion_pruned.yaml and
flows/dscnn_w4a4_fashion_pruned.yaml) and each seed, with the flow's settings otherwise unchanged:
1. train the unpruned model, prune a copy with the flow's `prune:` section (aligned), and another
   criterion-unaligned to the same MAC sparsity after every step (benchmarks/pruning_seeds.py);
2. epoch-matched control: the unpruned model trained on for as many epochs as the schedule
   trained (prune.epochs_added: steps x (soft_epochs + finetune_epochs) + final_epochs), so
   the pruned model's loss is measured against a model with the same total training
   (benchmarks/pruning.py), on the flow's test set and on the test images its limit_test
   leaves out (held out: no step saw them);
3. FINN's estimates on the flow's board (with the flow's caps): LUT of the least-resource folding
   reaching the unpruned model's best FPS, and the best FPS within the caps, as built
   (min(compute, host I/O)) and the compute pipeline alone, for the unpruned, aligned and
   criterion-unaligned models;
4. bit-exact verification of the aligned pruned model through the whole FINN path.
Per seed and as medians per family, with the goals (issue 20): >= 50 % fewer MACs, >= 40 % fewer
LUT at the unpruned best FPS, >= 1.5x FPS within the caps, <= 1.0 pt loss vs the epoch-matched
control (also held out, where the flow leaves test images out), aligned >= 1.1x
criterion-unaligned FPS (median) and faster in every seed. The goals are
compared with what was measured; nothing here assumes a result.

Usage: python3 benchmarks/pruning_families.py [--flows flows/a.yaml ...] [--seeds 0 1 2]
       [--out benchmarks/results/pruning_families.json]
       python3 benchmarks/pruning_families.py --combine a.json b.json [--out ...]
         (one report from runs made separately, e.g. one process per family or per seeds:
         a flow's rows are joined and summarised again)
Prints a table; writes JSON and a PNG (per seed: loss vs the control, FPS gain, aligned /
unaligned FPS ratio).

Last runs (ResNet-8: 3 Dec 2026 05:57-06:34, private worktrees at 2cbd806 / c0c3c38, 1 thread
per process, two processes, load 2-3; the JSON's rows, joined with --combine). Both flows' fold search now
also tries a granule from the group, of those the bottleneck does not touch, that frees the
most LUTs (codesign/prune/fold_search.py); DS-CNN fine-tunes one step's 8 epochs in one call.
- ResNet-8 (target 0.66, one step, 3 epochs; seeds 0/1/2/3/4): counts 4-12-28-16-40-64 /
  8-8-20-20-32-56 / 4-8-24-16-32-64 / 4-12-12-28-24-64 / 4-12-20-16-24-64 (stem stream, b0.conv1,
  b1.conv1, b1 stream, b2.conv1, b2 stream), MACs -66.1 / -66.7 / -73.0 / -73.6 / -75.1 %, LUT
  at 7,086 FPS -43.4 / -38.6 / -45.8 / -47.2 / -48.7 %, FPS x3.00 / 3.00 / 4.00 / 4.00 / 4.00,
  loss vs the epoch-matched control -0.45 / +0.65 / +0.95 / +0.05 / -0.60 pt, aligned /
  criterion-unaligned x1.11 / 1.12 / 1.22 / 1.17 / 1.11, bit-exact 20/20 each. Medians: MACs
  -73.0 %, LUT -45.8 %, x4.00, loss +0.05 pt, x1.12: every goal met on all 5 seeds. Seed 3 is
  the search's LUT move (blocks.1.conv1 16 -> 12, b1's stream 24 -> 28: 25,195 -> 28,345 FPS
  before the fine-tune); seeds 0/1/2/4 land where they did before it. Its first version also
  tried the move with the other layers kept as they were; it took seed 1 to 8-4-20-20-32-56
  (-71.6 %, x3.43) and seed 4 to 4-12-20-16-16-64 (-78.1 %, x4.50, where the unaligned cut at
  that sparsity also folds to 31,888 FPS: x1.00), so that variant was dropped and both seeds
  re-run.
- DS-CNN (target 0.55, one step, 8 epochs, max_layer_sparsity 0.5; re-run 3 Dec 2026
  08:33-08:50 at f3f3b84, seeds 0/1/2; the ResNet-8 rows above kept): counts 32-40-40-40-60 /
  32-40-40-32-64 / 32-32-40-40-60, MACs -55.3 / -59.1 / -58.6 %, LUT at 7,972 FPS -42.8 /
  -45.0 / -44.4 %, 25,510 / 27,793 / 27,793 FPS (x3.20 / 3.49 / 3.49), top-1 85.90 / 85.45 /
  83.90 % vs the control trained 8 epochs more 86.55 / 85.80 / 83.60 %: loss +0.65 / +0.35 /
  -0.30 pt (median 0.35), aligned / unaligned x1.50 / 1.50 / 1.91, bit-exact 20/20 each: every
  goal met on all 3 seeds. Seeds 3 and 4, run afterwards as a check (09:43-10:08, code
  as at f1e5b85): 32-32-40-40-64 / 32-40-40-32-64, -57.7 / -59.1 %, LUT
  -44.8 / -44.7 %, x3.49 each, 81.75 / 82.30 % vs 83.15 / 83.70 %: loss +1.40 pt each, x1.28 /
  1.31; medians over seeds 0-4: loss +0.65 pt, MACs -58.6 %, LUT -44.7 %, x3.49, x1.50, every
  goal met (the loss on 3 of 5 seeds). Without the cap (c0c3c38): 24-40-40-40-64 / 24-40-40-40-64 /
  16-40-40-48-60, 27,793 FPS each, loss +1.95 / +1.60 / -0.35 pt (median 1.60: not met); with
  two steps of 1 + 1 epochs and a final epoch (7006f8c): +3.05 / +2.05 / +0.25 pt.

On the AVX512 EPYC machine at adcdf47 (4 Dec 2026 13:27-14:47, three processes at first, 1
thread each; pruning_families_avx512.json, the 75 % DS-CNN flow in
pruning_families_deep_avx512.json), after the fold search's window bottlenecks and held tied
groups: every goal met on every seed of all three flows (docs/pruning-measurements.md).

ResNet-8 with prune.shape_trials 8, as shipped since 5 Dec 2026 (10:43-11:37 at 972de19, AVX512
EPYC, two processes of 1 thread, seeds 0-2 and 3-4; pruning_families_shape_trials_avx512.json):
seeds 0/1/2/4 land as with the stem cap alone (pruning_families_stemcap_avx512.json). Seed 3
keeps 8-8-16-24-24-64 (-68.9 %, 21,259 FPS, loss vs the control -1.45 pt) over the search's
8-12-20-12-24-64 (-68.1 %, 21,259, -1.30 pt); the criterion-unaligned cut at -68.9 % folds to
21,259 FPS too (at -68.1 % it folded to 14,172): x1.00 there. Medians -72.4 % MACs, -48.2 % LUT,
x3.60, +0.55 pt, aligned / unaligned x1.33, bit-exact 20/20 each: every goal but "faster than
unaligned on every seed" (4 of 5). The first attempt stopped after the aligned prune of seed 0:
the unaligned control (no fold search) inherited shape_trials, which the settings check refuses;
the control now turns it off and is checked before training.

Held out (5 Dec 2026 15:38-17:20 at 2bdafaa, AVX512 EPYC, five processes of 1 thread, the four
family flows as shipped, seeds 0-4; pruning_families_heldout_avx512.json): each row also scores
the unpruned model, the control, the aligned and the unaligned model on the 8,000 test images
the flow's limit_test leaves out (`held_out`, `loss_vs_matched_held_out_points`). Every other
figure of all 20 rows reproduced the earlier runs exactly (pruning_families_shape_trials_,
_avx512 (DS-CNN 55 %), _deep_shape_trials_ and _kv260_shape_trials_avx512.json). Loss vs the
control, held out (on the flow's 2,000 test images):
- ResNet-8: +0.48 / +0.76 / +0.84 / -1.08 / -0.04 pt, median +0.48 (+0.55), 5 of 5 within 1.0;
- DS-CNN 55 %: +1.02 / +0.48 / +0.48 / +0.70 / -0.10, median +0.48 (+0.10), 4 of 5 (5 of 5);
- DS-CNN 75 %: +1.05 / +0.88 / +0.26 / +0.84 / +0.36, median +0.84 (+0.70), 4 of 5 (3 of 5);
- DS-CNN / KV260: +1.11 / -0.01 / +0.08 / -0.08 / -0.71, median -0.01 (+0.30), 4 of 5 (5 of 5).
The two measures differ by up to 1.19 pt on one seed (DS-CNN 75 % seed 2: +1.45 on the flow's
test set, +0.26 held out), as much as the goal itself: per-seed calls at 1.0 pt need the larger
set. Seed 0 misses by 0.02-0.11 pt on all three DS-CNN flows, against one control (the same
unpruned model fine-tuned 8 epochs: 85.78 % held out). Aligned minus criterion-unaligned
top-1, held out: ResNet-8 +0.71 to +2.91 pt on every seed; DS-CNN -0.61 to +1.16 (a wash).

ResNet-8 with the shape sweep (prune.fold_shapes 32, the flow otherwise as shipped; 5 Dec 2026
17:20-17:50, a worktree at 2bdafaa, two processes; pruning_families_resnet8_fold_shapes32_
avx512.json): seeds 0 and 3 keep their shapes (seed 3 still 21,259 FPS, x1.00 over unaligned),
every figure as without it; the aligned runs took 898 / 1,067 s. Not shipped.

Seeds 5-7 of the four flows as shipped (5 Dec 2026 18:19-20:10, a worktree at e7874ae, six
processes beside the recipe runs, 1 thread each), joined with seeds 0-4 above in
pruning_families_8seeds_avx512.json. Over 8 seeds, loss within 1.0 pt on the flow's test set
/ held out: ResNet-8 7 / 8 of 8, DS-CNN 55 % 8 / 6, 75 % 5 / 6, KV260 8 / 7; aligned faster
than criterion-unaligned on 7 / 8 / 7 / 7 of 8 (KV260 seed 6 ties at 72,886 FPS); medians
MACs -72.2 / -58.4 / -76.4 / -55.7 %, LUT -46.2 / -45.0 / -60.1 / -42.2 %, x3.60 / 3.49 /
4.00 / 2.62 FPS, bit-exact 8 of 8 each. Recipe tries on the DS-CNN misses
(pruning_families_dscnn_recipes_avx512.json, same worktree): the 55 % flow with 12 fine-tune
epochs (control 12 too, seeds 0-7): held-out loss median +0.39 pt, 7 of 8 within 1.0 (8
epochs: +0.66, 6 of 8), test set +0.72, 7 of 8 (8 epochs: +0.32, 8 of 8), the same counts and
FPS; the 75 % flow with 12 epochs, seeds 0/5: +1.01 / +1.29 pt held out (+1.05 / +1.36); the
55 % flow with distill 0.5 from the 2-epoch unpruned model, seed 0: +5.44 pt held out; with the
unpruned model trained 10 epochs before the cut (control 18), seed 0: +1.14, and with distill
0.5 from that model +1.66 (20:23-20:38). None shipped (docs/pruning-measurements.md).

Gradual soft masking before the cut (prune.soft_epochs, codesign/prune/fade.py), the 8 epochs
split between fade and fine-tune, the same 8-epoch controls (5 Dec 2026 21:05-22:34, a worktree
at 51179ed, 8 then 4 processes, 1 thread each; pruning_families_dscnn_fade_avx512.json): 75 %
flow with 3 + 5 epochs, seeds 0-7: held-out loss median +1.16 pt, 2 of 8 within 1.0 (cut at
once: +0.83, 6 of 8), test set +0.90, 5 of 8; with 1 + 7: +0.83, 5 of 8 held out, test set
+0.75, 5 of 8; the 55 % flow with 3 + 5, seeds 0-3: held out +1.10 / +0.79 / -0.51 / +0.79
(+1.02 / +0.48 / +0.48 / +0.70). Same FPS and LUT. Not shipped (docs/pruning-measurements.md).

ResNet-8 with target_sparsity 0.72 (5-6 Dec 2026 23:48-00:33 at 18c1d16, AVX512 EPYC, four
processes; pruning_families_resnet8_target072_avx512.json): MACs -77.3 %, LUT -52.0 %, x4.50
(medians), loss within 1.0 pt on 6 of 8 seeds (held out 5), aligned / unaligned x1.33 but x1.00
on seeds 3 and 4. Not shipped. The three seeds whose cuts tie in FPS in the 8-seed run, re-run
with the unaligned cut's LUT (6 Dec 00:48-01:08 at 86e59a5; pruning_families_ties_avx512.json, rows
reproduced exactly): LUT aligned / unaligned +3.4 % (ResNet-8 seed 3, top-1 +2.45 pt), -1.2 %
(75 % seed 0, -0.65 pt), -27.2 % (KV260 seed 6, 0.00 pt).

ResNet-8 without shape trials, as shipped since 6 Dec 2026 (seeds 3/5/6/7 re-run 01:48-02:19 at
204c7be, four processes; seeds 0/1/2/4 keep their 8-seed rows, where the trials had kept the fold
search's own pick; pruning_families_resnet8_no_trials_avx512.json): seed 3 8-12-20-12-24-64 at
68.1 % (x1.50 over unaligned; the trials' 68.9 % shape tied), medians MACs -72.2 %, LUT -46.0 %,
x3.60, loss +0.30 pt (held out +0.41), aligned / unaligned x1.50, faster on 8 of 8 seeds.

DS-CNN for KV260 with the fold search's shape sweep (flows/dscnn_w4a4_fashion_pruned_kv260.yaml,
prune.fold_shapes 32; 4 Dec 2026 15:59-16:52 at e1994a1, AVX512 EPYC, two or three processes,
1 thread each; pruning_families_kv260_avx512.json): counts 40-32-56-32-56 / 32-40-40-32-56 /
32-32-40-40-56 / 32-32-40-40-56 / 32-40-40-32-56, MACs -55.7 / -60.5 / -59.5 / -59.5 / -60.5 %,
LUT at 27,793 FPS -42.2 / -47.5 / -46.4 / -46.9 / -47.1 % (80,508 unpruned), 72,886 FPS on
every seed (x2.62), loss vs the epoch-matched control +0.95 / +0.90 / +0.10 / -0.10 / -0.25 pt,
aligned / criterion-unaligned x1.31 / 1.57 / 2.43 / 1.14 / 1.86 (median x1.57), bit-exact 20/20
each: every goal on every seed. Seed 0 without the sweep (the same flow, fold_shapes 0):
40-32-40-40-64, 63,776 FPS (x2.29), x1.15 over unaligned. The aligned schedule took 288-532 s
(138 s for seed 0 without the sweep).

Re-run on the EPYC machine at b7f7eb4 (4 Dec 2026 07:11-08:18, two processes, 1 thread each;
pruning_families_epyc.json): the fold search now tries the groups of every layer tied at the
bottleneck, each move also at the MACs the allocation removed. ResNet-8 seed 1 moves to
8-4-20-20-32-56 (-71.6 %, 24,295 FPS, x3.43, loss -0.30 pt, x1.14 over unaligned); seeds 0/2/3/4
land as before (x1.12 / 1.50 / 1.00 / 1.17); medians -67.5 % MACs, LUT -41.4 %, x3.00, loss -0.30
pt, aligned / unaligned x1.14. DS-CNN unchanged (x2.34 / 5.97 / 1.42 / 1.53 / 1.00, median x1.53).
Still tied: ResNet-8 seed 3 (21,259 both), DS-CNN seed 4 (27,793 both).

The same code on another kind of machine (3 Dec 2026 12:07-13:12 at 536cb0b, AMD EPYC with
AVX2, 1 thread per process, load 2-3; torch's kernels there train other weights from the same
seeds: unpruned 79.85 / 79.95 / 76.95 / 76.60 / 77.00 %; pruning_families_epyc.json):
- ResNet-8, seeds 0-4: counts 8-8-24-12-40-56 / 8-4-20-20-32-64 / 8-8-16-24-32-56 /
  8-8-20-16-32-64 / 4-12-20-24-32-64, MACs -67.2 / -70.3 / -66.8 / -67.7 / -67.5 %, LUT
  -45.7 / -42.9 / -39.8 / -41.4 / -39.5 %, 21,259 FPS on every seed (x3.00; the fold search
  found no move), loss vs the control +0.50 / +0.60 / +0.65 / -0.55 / -1.40 pt, bit-exact 20/20
  each; aligned / criterion-unaligned x1.12 / 1.00 / 1.50 / 1.00 / 1.00 (baseline before it gave
  back; re-run below). Medians: MACs -67.5 %,
  LUT -41.4 %, x3.00, loss +0.50 pt met; aligned / unaligned x1.00 median and faster on every
  seed NOT met: on seeds 1, 3 and 4 the unaligned cut folds to the same 21,259 FPS. At ~67.5 %
  of the MACs removed no shape gets further: on the 18 shapes of seed 0 (the ResNet flow's
  header) FPS x the remaining MAC fraction stays within 6,266-7,228, i.e. at most ~22,200 FPS
  here, below the next fold step (22,676); alignment wins only where the unaligned cut lands a
  step lower (seeds 0 and 2). On the first machine seeds 2-4 landed at 73-75 % (x4.00), where
  the unaligned cuts did not reach that step: which goals hold per seed is a draw of the
  machine as well as of the seed.
  Deeper, target 0.75 (3 Dec 2026 18:15-18:42 at dfdaffc, the flow otherwise unchanged, seeds
  0/1/3/4; seed 2 stopped): MACs -77.0 / -75.6 / -78.1 / -76.6 %, LUT -56.1 / -50.0 / -53.0 /
  -50.4 %, 30,864 / 28,345 / 31,888 / 31,888 FPS (x4.36 / 4.00 / 4.50 / 4.50), loss vs the
  control +1.20 / -0.80 / +0.90 / -1.00 pt, aligned / unaligned x1.03 / 1.00 / 1.00 / 1.12
  (the unaligned cuts reach 30,012 / 28,345 / 31,888 / 28,345 FPS at the same sparsity, though
  up to 8.3 pt less accurate: 82.75 / 82.05 / 71.55 / 79.60 % against 82.50 / 83.75 / 79.80 /
  81.70 %). A deeper target moves which seeds win, not the median ratio; the flow keeps 0.66.
- DS-CNN, seeds 0-4 (13:07-14:12, three processes joined with --combine; unpruned 76.55 /
  73.05 / 75.30 / 71.80 / 72.60 %): counts 32-40-32-40-64 / 32-48-40-32-64 / 32-32-40-40-60 /
  32-32-40-40-64 / 32-40-40-32-64, MACs -58.1 / -55.7 / -58.6 / -57.7 / -59.1 %, LUT -44.8 to
  -45.1 %, 27,793 FPS (x3.49) but seed 1 25,510 (x3.20), loss vs the control +1.65 / 0.00 /
  +1.05 / +0.70 / -0.15 pt (median 0.70, 3 of 5 within 1.0; the first machine's seeds 3 and 4
  lost 1.40 each, here 0.70 / -0.15), aligned / unaligned x2.20 / 5.97 / 1.74 / 1.53 / 1.00
  (median x1.74; seed 1's unaligned 37-43-37-39-53 folds to 4,276 FPS, below the unpruned
  model; seed 4's 32-34-38-40-57 reaches the aligned 27,793), bit-exact 20/20 each. Every
  median goal met; "faster than unaligned on every seed" not (seed 4).
  With max_layer_sparsity 0.4 instead of 0.5 (seed 0, aligned run alone, ad-hoc): 40-40-40-40-48,
  -55.5 %, 25,510 FPS, 85.25 % against the control's 86.60 %: +1.35 pt (0.5: +1.65).

Earlier runs (git history has their full notes):
- ResNet-8 before the LUT move (31c4fed): the same rows except seed 3 (4-12-16-24-24-64, x3.00,
  unaligned x0.88): every goal but "faster than unaligned on every seed".
- ResNet-8 at targets 0.65 / 0.675 / 0.70: LUT median -38.6 % (not met) / aligned vs unaligned
  x1.03 / x1.07 (not met) (pruning_families_resnet8_target0675.json, ..._target070.json).
  A 2 + 1 epoch split (the trainer restarts Adam and its cosine schedule per call): loss 1.85
  pt median instead of 0.30.
- DS-CNN with its unpruned model trained 5 epochs instead of 2 (pruning_families_dscnn_train5
  .json): loss 2.55 / 3.05 / 3.45 pt; under-training is not why DS-CNN loses accuracy.
- ResNet-8 with prune.fold_targets: true, EPYC machine, seeds 0-4 (3 Dec 2026 22:30-22:54, a
  worktree at 4482a74 with this file, the flow otherwise as shipped; pruning_families_resnet8_
  fold_targets_epyc.json): seeds 0/3/4 as without; seed 1 5-4-20-20-32-64 (-73.6 %, x4.00,
  -0.70 pt, x1.11), seed 2 5-8-16-24-32-56 (-71.8 %, x3.60, +0.05 pt, x1.01: the unaligned
  cut at that sparsity folds to 25,195 FPS). Medians MACs -67.7 %, LUT -44.8 %, x3.00, loss
  -0.55 pt, aligned / unaligned x1.01 (without: x1.00). Not shipped (the flow's notes in
  docs/pruning-measurements.md say why).
- EPYC machine again after the criterion baseline gives back (20db224; 3 Dec 2026 23:44-
  4 Dec 00:36, worktree at 20db224, seeds 0-4, two processes; pruning_families_epyc.json now
  holds this run). Aligned runs reproduced exactly. The unaligned cuts now sit 0.0-0.2 pt past the
  aligned sparsity (before: up to 1.8). ResNet-8 aligned / unaligned x1.125 / 1.00 / 1.50 /
  1.00 / 1.167 (median x1.125, was x1.00; seed 4's cut at 67.6 % folds to 18,222 FPS, at 68.0 %
  it reached 21,259); seeds 1 and 3 still tie at 21,259. DS-CNN x2.34 / 5.97 / 1.42 / 1.53 /
  1.00 (median x1.53); seed 4 still ties (32-34-38-40-58 at 59.1 %, 27,793 FPS).
- Where ResNet-8's ties come from (EPYC, 4 Dec 2026, untrained cuts of the flow's model,
  folded as here). At seed 3's 67.7 % all 14 granule-aligned shapes probed fold to 21,259 FPS,
  six of them with the 28x28 stage at its minimum (4-4-..): there the tie looks structural. At
  seed 1's 70.3 % it is not: 4-4-28-20-48-40, 4-4-28-20-56-32, 4-4-28-12-56-56 and
  4-4-20-16-56-56 (70.1-70.4 %) fold to 24,295 FPS (x1.14 over the tie) within the caps. The
  allocation does not reach them: on seed 1's trained model, its ceilings of one or two groups
  a granule lower give 22 distinct shapes at 66.1-71.6 %, all 21,259 FPS. Allocated instead at
  the 70.3 % the allocation itself removed (give-back on), 5 of 23 distinct shapes fold to
  24,295 FPS (71.2-72.3 %), e.g. 8-4-20-20-32-56 (blocks.2.conv2 one granule lower, 71.6 %).
  Tried in the fold search (each granule move also allocated at the MACs the allocation
  removed; patch not kept): both families, seeds 0-4, 4 Dec 04:05-05:25, reproduced every
  aligned row exactly, so it was not shipped. Traced on seed 1 (the patch, the same trained
  model): the bottleneck is stem.0 at 4,704 cycles, the first of several ties (the untrained
  cut's folding has eight of ten weight layers there); its group one granule lower gives
  4-16-28-16-32-64 / 4-16-32-8-32-64, and the relief group (most LUTs per granule, the
  proportional model) is blocks.2.conv1: 12-4-20-24-24-64 / 8-4-24-20-24-64, all 21,259 FPS.
  The group that pays, blocks.2.conv2 (one granule lower: 8-4-20-20-32-56, 24,295 FPS at 71.6
  %), is never tried: with ties at the bottleneck, the next step is to try every tied layer's
  groups (then measure whether the criterion-unaligned cut at the deeper sparsity reaches the
  same step).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pruning_seeds import within_1pt
from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOWS = ("flows/resnet8_w4a4_fashion_pruned.yaml", "flows/dscnn_w4a4_fashion_pruned.yaml")
SEEDS = (0, 1, 2)
# (summary key, comparison, goal): the acceptance goals of issue 20 for the families
GOALS = (("median_macs_reduction", ">=", 0.50), ("median_lut_reduction", ">=", 0.40),
         ("median_fps_gain", ">=", 1.5), ("median_loss_vs_matched_points", "<=", 1.0),
         ("median_aligned_vs_unaligned_fps", ">=", 1.1),
         ("min_aligned_vs_unaligned_fps", ">", 1.0), ("seeds_bit_exact_fraction", ">=", 1.0),
         # the loss goal again on the test images the flow leaves out (rows made since 5 Dec 2026)
         ("median_loss_vs_matched_held_out_points", "<=", 1.0))


def fps_within_caps(model: Any, input_shape: tuple[int, ...], board: Any,
                    work: Path) -> dict[str, Any]:
    """The best folding within the board's caps: FPS as built and of the compute pipeline."""
    from codesign.errors import FoldingError
    from codesign.prune import weight_layers
    from codesign.prune.profile import compile_model, fold_profile, layer_dims

    hw = compile_model(model, input_shape, board, work)
    names = weight_layers(model, input_shape)
    try:
        best = fold_profile(hw, names, board, objective="maximize",
                            dims=layer_dims(model, names))
    except FoldingError:
        return {"fps": 0.0, "compute_fps": 0.0, "bound": "does not fit"}
    est = best.estimates
    return {"fps": best.fps, "compute_fps": est.compute_fps, "bound": est.bound,
            "io_fps": est.io_fps, "lut": best.totals["LUT"]}


def run_seed(flow: Any, board: Any, seed: int, work: Path) -> dict[str, Any]:
    from pruning import epoch_matched, held_out_accuracies, reached_per_step, verify_bit_exact
    from pruning_seeds import prune_seed, seed_row

    from codesign.train import evaluate

    run = prune_seed(flow, board, seed, work)
    row = seed_row(run, seed)
    data = run.data
    steps = len(reached_per_step(run.aligned, flow.prune))
    matched, epochs = epoch_matched(run.model, data, flow.replace(seed=seed), steps)
    row["matched"] = {"epochs": epochs,
                      "accuracy": evaluate(matched, data.x_test, data.y_test)}
    row["loss_vs_matched_points"] = 100 * (row["matched"]["accuracy"]
                                           - row["aligned"]["accuracy"])
    held = held_out_accuracies({"unpruned": run.model, "matched": matched,
                                "aligned": run.aligned_model,
                                "criterion-unaligned": run.unaligned_model},
                               flow.replace(seed=seed))
    if held is not None:
        row["held_out"] = held
        row["loss_vs_matched_held_out_points"] = 100 * (held["accuracy"]["matched"]
                                                        - held["accuracy"]["aligned"])
    fps = {name: fps_within_caps(model, data.input_shape, board, work / f"fps-{name}")
           for name, model in (("unpruned", run.model), ("aligned", run.aligned_model),
                               ("criterion-unaligned", run.unaligned_model))}
    row["fps_within_caps"] = fps
    row["compute_fps_gain"] = (fps["aligned"]["compute_fps"] / fps["unpruned"]["compute_fps"]
                               if fps["unpruned"]["compute_fps"] else None)
    row["aligned_vs_criterion-unaligned_compute_fps"] = (
        fps["aligned"]["compute_fps"] / fps["criterion-unaligned"]["compute_fps"]
        if fps["criterion-unaligned"]["compute_fps"] else None)
    row["verification"] = verify_bit_exact(run.aligned_model, data, board,
                                           flow.replace(seed=seed), work / "verify")
    row["prune_seconds"] = {"aligned": run.aligned.seconds, "unaligned": run.unaligned.seconds}
    return row


def _median(values: list[Any]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["aligned_vs_criterion-unaligned_fps"] for r in rows]
    held = [r["loss_vs_matched_held_out_points"] for r in rows
            if "loss_vs_matched_held_out_points" in r]  # rows made before 5 Dec 2026 have none
    summary = {
        "seeds": len(rows),
        "median_macs_reduction": _median([r["aligned"]["macs_reduction"] for r in rows]),
        "median_lut_reduction": _median([r["aligned"]["lut_reduction"] for r in rows]),
        "median_fps_gain": _median([r["fps_gain"] for r in rows]),
        "median_compute_fps_gain": _median([r["compute_fps_gain"] for r in rows]),
        "median_loss_vs_unpruned_points": _median([r["accuracy_loss_points"] for r in rows]),
        "median_loss_vs_matched_points": _median([r["loss_vs_matched_points"] for r in rows]),
        "seeds_within_1pt_of_matched": sum(within_1pt(r["loss_vs_matched_points"])
                                           for r in rows),
        "median_loss_vs_matched_held_out_points": _median(held),
        "seeds_within_1pt_of_matched_held_out": (sum(within_1pt(v) for v in held) if held
                                                 else None),
        "median_aligned_vs_unaligned_fps": _median(ratios),
        "min_aligned_vs_unaligned_fps": min((r for r in ratios if r is not None), default=None),
        "seeds_aligned_faster": sum(r is not None and r > 1.0 for r in ratios),
        "median_aligned_vs_unaligned_compute_fps": _median(
            [r["aligned_vs_criterion-unaligned_compute_fps"] for r in rows]),
        "seeds_bit_exact_fraction": sum(r["verification"]["passed"] for r in rows) / len(rows),
    }
    summary["goals"] = {key: {"goal": f"{op} {goal}", "measured": summary[key],
                              "met": _meets(summary[key], op, goal)}
                        for key, op, goal in GOALS}
    return summary


def _meets(value: float | None, op: str, goal: float) -> bool | None:
    if value is None:
        return None
    value = round(value, 6)  # as within_1pt: float noise on a goal's boundary is not a miss
    return {">=": value >= goal, "<=": value <= goal, ">": value > goal}[op]


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.atomic import atomic_path

    families = report["families"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    panels = (("loss_vs_matched_points", "top-1 loss vs epoch-matched unpruned (pt)", 1.0),
              ("fps_gain", "FPS within caps, pruned / unpruned", 1.5),
              ("aligned_vs_criterion-unaligned_fps", "FPS within caps, aligned / unaligned", 1.1))
    width = 0.8 / max(1, len(families))
    # one slot per seed any family ran, so a family run on other seeds lines up by seed
    slot = {seed: i for i, seed in enumerate(sorted({r["seed"] for f in families
                                                     for r in f["rows"]}))}
    io_label: str | None = "aligned design at the host I/O bound"
    for ax, (key, label, goal) in zip(axes, panels, strict=True):
        held_label: str | None = "held out (on its flow's bar)"
        for k, family in enumerate(families):
            rows = family["rows"]
            xs = [slot[r["seed"]] + (k - (len(families) - 1) / 2) * width for r in rows]
            bars = ax.bar(xs, [r[key] or 0 for r in rows], width, label=family["flow"])
            if key != "loss_vs_matched_points":  # FPS panels: no policy gains past the bound
                at_io = [b for b, r in zip(bars, rows, strict=True) if _aligned_at_io(r)]
                for bar in at_io:
                    bar.set_hatch("//")
                    bar.set_edgecolor("white")
                if at_io and io_label:
                    ax.bar([0], [0], 0, color="white", edgecolor="grey", hatch="//",
                           label=io_label)
                    io_label = None
            if key == "loss_vs_matched_points":  # the same loss on the held-out images
                held = [(x, r["loss_vs_matched_held_out_points"])
                        for x, r in zip(xs, rows, strict=True)
                        if "loss_vs_matched_held_out_points" in r]
                if held:  # on its family's bar, in black so it shows inside the bar too
                    ax.plot([x for x, _ in held], [v for _, v in held], "D", mfc="white",
                            mec="black", mew=1.2, ms=6, zorder=3,
                            label=held_label)
                    held_label = None  # one legend entry for all flows
        ax.axhline(goal, color="k", ls="--", lw=1, label="issue 20's goal")
        ax.annotate(f"goal {goal:g}", (1.0, goal), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", fontsize=8,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1}, zorder=4)
        ax.set_ylabel(label, fontsize=9)
        ax.set_xticks(list(slot.values()), [str(seed) for seed in slot])
        ax.set_xlabel("seed")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = [], []  # below the panels: no bar hidden
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8)
    fig.suptitle("hardware-aware pruning of the network families, per seed")
    fig.tight_layout(rect=(0, 0.06 * (1 + (len(labels) - 1) // 5), 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _aligned_at_io(row: dict[str, Any]) -> bool:
    """Whether the seed's aligned design is bound by the shell's host I/O (rows made before
    the as-built estimates have no bound)."""
    return row.get("fps_within_caps", {}).get("aligned", {}).get("bound") == "io"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "NOT met"


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="pruned family flows per seed (FPS within the same caps, as built; "
                        "LUT at the unpruned model's best FPS)")
    for col in ("flow", "seed", "unpruned", "matched", "aligned", "loss vs matched",
                "held out", "MACs -",
                "LUT -", "FPS unpruned", "FPS aligned", "FPS x", "compute x", "unaligned FPS",
                "aligned/unaligned", "bit-exact"):
        table.add_column(col)
    for family in report["families"]:
        for r in family["rows"]:
            a = r["aligned"]
            table.add_row(
                family["flow"], str(r["seed"]), f"{100 * r['unpruned_accuracy']:.2f}",
                f"{100 * r['matched']['accuracy']:.2f}", f"{100 * a['accuracy']:.2f}",
                f"{r['loss_vs_matched_points']:+.2f}",
                _signed(r.get("loss_vs_matched_held_out_points")),
                f"{a['macs_reduction']:.1%}",
                "-" if a["lut_reduction"] is None else f"{a['lut_reduction']:.1%}",
                f"{r['unpruned_fps']:,.0f}", f"{a['fps']:,.0f}", f"x{r['fps_gain']:.2f}",
                "-" if r["compute_fps_gain"] is None else f"x{r['compute_fps_gain']:.2f}",
                f"{r['criterion-unaligned']['fps']:,.0f}",
                "-" if r["aligned_vs_criterion-unaligned_fps"] is None
                else f"x{r['aligned_vs_criterion-unaligned_fps']:.2f}",
                "yes" if r["verification"]["passed"] else "NO")
        s = family["summary"]
        table.add_row(family["flow"], "median", "", "", "",
                      f"{s['median_loss_vs_matched_points']:+.2f}",
                      _signed(s["median_loss_vs_matched_held_out_points"]),
                      f"{s['median_macs_reduction']:.1%}",
                      "-" if s["median_lut_reduction"] is None
                      else f"{s['median_lut_reduction']:.1%}", "", "",
                      f"x{s['median_fps_gain']:.2f}", f"x{s['median_compute_fps_gain']:.2f}", "",
                      f"x{s['median_aligned_vs_unaligned_fps']:.2f}",
                      f"{s['seeds_bit_exact_fraction']:.0%}", end_section=True)
    console.print(table)
    for family in report["families"]:
        goals = family["summary"]["goals"]
        console.print(f"{family['flow']} ({family['summary']['seeds']} seeds): " + "; ".join(
            f"{key} {g['goal']}: {_verdict(g['met'])}"
            for key, g in goals.items()))
        s = family["summary"]
        held = s["seeds_within_1pt_of_matched_held_out"]
        console.print(f"{family['flow']}: loss <= 1.0 pt on {s['seeds_within_1pt_of_matched']} of "
                      f"{s['seeds']} seeds (held out: "
                      f"{'not measured' if held is None else held}); aligned faster than "
                      f"criterion-unaligned on {s['seeds_aligned_faster']} of {s['seeds']}")


def run_family(path: str, seeds: list[int], out: Path, report: dict[str, Any],
               console: Console) -> None:
    flow = load_flow(ROOT / path)
    assert flow.prune is not None, f"{path} has no prune: section"
    board = flow_board(flow, load_board(flow.board))
    family: dict[str, Any] = {"flow": flow.name, "board": board.name,
                              "caps": dict(board.caps), "rows": []}
    report["families"].append(family)
    for seed in seeds:
        console.print(f"[bold]{flow.name}[/]: seed {seed}")
        with tempfile.TemporaryDirectory(prefix="codesign-prune-families-") as tmp:
            family["rows"].append(run_seed(flow, board, seed, Path(tmp)))
        family["summary"] = summarise(family["rows"])
        write_json(out, report)  # after every seed: a long run keeps what it measured


def combine(parts: list[list[dict[str, Any]]], key: str = "seed",
            summarise_rows: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None
            ) -> list[dict[str, Any]]:
    """Families of runs made separately as one list: a flow's rows from several runs (other
    seeds, or whatever `key` tells rows apart) are joined, sorted by `key`, and summarised
    again (`summarise_rows`, default this benchmark's)."""
    joined: dict[str, dict[str, Any]] = {}
    for families in parts:
        for family in families:
            if family["flow"] not in joined:
                joined[family["flow"]] = {**family, "rows": []}
            seen = {row[key] for row in joined[family["flow"]]["rows"]}
            clash = seen & {row[key] for row in family["rows"]}
            if clash:
                raise SystemExit(f"{family['flow']}: {key} {min(clash)} is in two of the files "
                                 "to combine; keep one")
            joined[family["flow"]]["rows"].extend(family["rows"])
    for family in joined.values():
        family["rows"].sort(key=lambda row: row[key])
        family["summary"] = (summarise_rows or summarise)(family["rows"])
    return list(joined.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--combine", nargs="+", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_families.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    console = Console(width=200)
    report: dict[str, Any] = {"benchmark": "pruning_families", "families": []}
    if args.combine:
        import json

        report["families"] = combine([json.loads(part.read_text())["families"]
                                      for part in args.combine])
        write_json(args.out, report)
    else:
        for path in args.flows:
            run_family(path, args.seeds, args.out, report, console)
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


if __name__ == "__main__":
    main()
