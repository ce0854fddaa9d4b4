"""Experiment harness (issue 20 item 4): the default TFC flow's aligned pruning with a forced
final shape, to separate what the first layer's width buys from what the recipe buys.

`prune.plan` normally allocates the whole target from the unpruned model; here the plan is
replaced by the given counts (codesign.prune.schedule.plan_floor patched for this process), the
target set to the MACs those counts remove, and every step keeps at least them, so the schedule
ends on exactly that shape. Aligned runs only (no criterion-unaligned baseline), per seed:
unpruned and pruned top-1, loss, counts, MACs and LUTs (at the unpruned best FPS) removed, and
every step's counts and accuracy. `--counts auto` keeps the flow's own plan (for recipe
variants such as a longer final fine-tune via --flow).

Usage: python3 benchmarks/pruning_forced_shapes.py --counts 28,48,48 --target 0.558
       [--flow F] [--no-align] [--seeds 0 1 ...] --out benchmarks/results/x.json

Last run (2 Dec 2026, Pynq-Z2, 2 processes of 4 seeds, load 3-16 on 2 shared cores), merged in
benchmarks/results/pruning_forced_shapes_tfc.json: 28-48-48 (first layer unaligned, align
false; PE 28 x SIMD 8 folds it in exactly the 98 cycles of the reference 1,020,408 FPS): MACs
-55.8 %, LUT -52.1..-52.3 %, losses 0.9/0.7/1.8/1.8/0.7/0.8/0.2/0.4 pt on seeds 0-7 (median
0.75): 6 of 8 within 1.0 pt with MACs and LUT -50 % or more, which the aligned 24-64-64 (5 of 8)
does not reach; the board granule of 8 for the first layer excludes 28. 32-64-32: LUT -47.9 %,
1.0/0.3/1.5/0.5 pt on seeds 0-3. Plan with 16 final epochs: 5 of 8."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("features.0", "features.3", "features.6")  # TFC's three hidden layers


def run(flow_path: Path, counts: str, target: float | None, align: bool, seeds: list[int],
        out: Path) -> list[dict[str, Any]]:
    import codesign.prune.schedule as schedule
    from codesign.atomic import write_json
    from codesign.boards import load_board
    from codesign.config import load_flow
    from codesign.flow import train_flow_model
    from codesign.flow.run import flow_board
    from codesign.prune import prune_model

    if counts != "auto":
        forced = dict(zip(NAMES, (int(c) for c in counts.split(",")), strict=True))
        schedule.plan_floor = lambda *args, **kwargs: dict(forced)  # the experiment's shape
    flow = load_flow(flow_path)
    assert flow.prune is not None and flow.prune.plan, f"{flow_path} needs prune.plan: true"
    settings = dataclasses.replace(flow.prune, align=align,
                                   target_sparsity=target or flow.prune.target_sparsity)
    flow = flow.replace(prune=settings)
    board = flow_board(flow, load_board(flow.board))
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        seeded = flow.replace(seed=seed)
        with tempfile.TemporaryDirectory(prefix="codesign-forced-") as tmp:
            model, data, _ = train_flow_model(seeded, Path(tmp), progress=False)
            result = prune_model(model, data, board, seeded.prune, seeded.train,
                                 reference_fps=seeded.prune.reference_fps,
                                 workdir=Path(tmp) / "aligned", seed=seed, progress=False)
        base, final = result.baseline, result.final
        lut = [s.hardware.resources_at_reference for s in (base, final)]
        rows.append({"seed": seed, "unpruned": base.accuracy, "pruned": final.accuracy,
                     "loss": 100 * (base.accuracy - final.accuracy), "counts": final.counts,
                     "macs": 1 - final.macs / base.macs,
                     "lut": None if None in lut else 1 - lut[1]["LUT"] / lut[0]["LUT"],
                     "fps": final.hardware.fps, "budget_met": result.budget_met,
                     "steps": [(s.counts, s.accuracy) for s in result.steps]})
        write_json(out, rows)  # after every seed
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", type=Path, default=ROOT / "flows" / "tfc_w2a2_mnist5k.yaml")
    parser.add_argument("--counts", required=True, help="e.g. 28,48,48, or auto")
    parser.add_argument("--target", type=float, default=None)
    parser.add_argument("--no-align", action="store_true")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(8)))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    run(args.flow, args.counts, args.target, not args.no_align, args.seeds, args.out)


if __name__ == "__main__":
    main()
