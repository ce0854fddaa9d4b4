"""Resource-aware folding optimizer vs FINN's SetFolding, per (model, board).

Models (untrained: folding does not depend on weight values): the TFC flow's MLP (mlp preset
tfc, W2A2, 1x28x28), FINN's CNV (cnv preset, W2A2, 3x32x32) and the Fashion-MNIST CNV flow's
model (flows/cnv_w2a2_fashion.yaml, 1x28x28) if that flow exists. Boards: Pynq-Z1, Ultra96-V2,
ZCU104, U250 with their default caps.

FPS is the accelerator as built on both sides: min(compute pipeline, the board shell's I/O
bound; codesign.finn.host_io), with the compute figure and the binding one listed.

Baseline: the fastest SetFolding design that fits the budget, searched over the target FPS
(grid + bisection) for each mvau_wwidth_max in {36, 64, 128, 1024}. "Fits" counts the
data-width converters FINN inserts later for both sides (the optimizer charges them against
the budget); the FINN-estimate-only variant (converters ignored on both sides: optimizer with
dwc=False) is reported too. Optimizer time: a cold run (empty cost caches: pricing every
candidate with FINN, then the solves, applying the plan and FINN's check), median of 3; the
first run of a model also pays one-off imports (scipy.optimize), so it is listed as well.

Usage: python3 benchmarks/folding_vs_setfolding.py [--models tfc cnv ...] [--boards ...]
[--repeats N] [--keep-other-rows]. Writes benchmarks/results/folding_vs_setfolding.json and Pareto
JSON/PNG per pair, prints a table and the acceptance checks. --keep-other-rows keeps the JSON's
rows of pairs not re-run now; every row records when it ran (run_at), its repeats and the
codesign commit plus changed codesign files it ran on (codesign_tree; the tree is shared with
other engineers' work in progress). Not a test: the machine is shared, quote medians.

Last run (2026-12-03, the stream model's event loop compiled with numba: TFC at 31c4fed 00:48,
CNV and CNV-Fashion at 7006f8c 00:57-01:02 with cold repeats that also forget the sized FIFOs,
--repeats 3, load 2-3 beside a pruning run): the same FPS on every pair as below (CNV x1.78 /
x1.39 / x1.33 / x1.33, CNV-Fashion x1.33 / x1.10 / x1.00 / x1.00, TFC x1.00). Cold optimizer
time, median of 3: CNV 6.7 / 7.6 / 4.1 / 3.3 s (Pynq-Z1, Ultra96-V2, ZCU104, U250; 9.0 / 7.5 /
4.1 / 3.5 s for the first, which also loads numba's cached code), CNV-Fashion 1.0-1.4 s, TFC
0.1 s: every check passes, "cold optimizer time <= 10 s" included (it failed at 16.9-33.8 s in
the run below: the FIFO search then took ~10 s of CPU, now ~2-3 s).
Run before (2026-12-02 21:42-22:50 at 994f0e9, every model on the 4 boards, --repeats 1, load 2-3
beside two pruning benchmarks: trial plans priced with FIFOs at safe depths, the least-depth
search on the chosen plan and on SetFolding's best fitting design only): the same FPS on every
pair as the run below, CNV-Fashion included (x1.33 / x1.10 / x1.00 / x1.00, now on committed
code), CNV x1.78 / x1.39 / x1.33 / x1.33, TFC x1.00 everywhere. Checks: never over the caps,
never slower than SetFolding (both accountings), >= x1.2 on CNV for Pynq-Z1 and Ultra96-V2:
PASS. Cold optimizer time <= 10 s: FAIL, CNV 16.9-33.8 s single runs (space + solves 0.8-1.9 s;
the rest is mostly the FIFO search on the chosen plan, ~10 s of CPU at SEARCH_WORDS = 4M, and
the load), CNV-Fashion 3.6-4.9 s, TFC 0.2-0.6 s.
Run before (2026-12-02, as built: streaming FPS = min(compute, I/O), stream FIFOs priced in the
totals; load average 5-13 on the 2 shared cores, other engineers' suites and benchmarks beside):
  CNV and TFC on all four boards were re-run on clean commits with --repeats 1 (CNV/TFC on
  Pynq-Z1 and Ultra96-V2 at 92d6764, CNV/TFC on ZCU104 and U250 at 04aca90, CNV on Pynq-Z1
  again at 6f44d28, after the FIFO sizing change 78bd5c3: same result), so their optimizer
  times are single cold runs; the CNV-Fashion rows are a --repeats 3 run of 14:57-15:12 on
  53a4ced with the stream FIFO work of 8d732b9/92d6764 still uncommitted in the tree (no
  codesign_tree recorded; not re-run for lack of time).
  Optimizer vs best fitting SetFolding: CNV 2,713 vs 1,526 FPS on Pynq-Z1 (x1.78), 4,823 vs
  3,472 on Ultra96-V2 (x1.39), 10,629 vs 7,972 on ZCU104 and 21,259 vs 15,944 on U250 (x1.33
  each); TFC x1.00 everywhere (Pynq-Z1 1,020,408 I/O-bound, Ultra96-V2 1,020,408 compute-bound
  at 98 cycles, 34,073 LUT, SetFolding the same; ZCU104 2,040,816 and U250 4,081,633 I/O-bound);
  CNV-Fashion x1.33 / x1.10 / x1.00 / x1.00. Estimate-only accounting (converters ignored): CNV
  x1.78 / x1.28 / x1.33 / x1.33.
  The quoted "2.3x FINN's best fitting SetFolding" on CNV/Pynq-Z1 does not survive: a run of
  that pair on b1bd4ff (14:02, before the FIFO sizing commits 8d732b9 and 92d6764) gave 3,472
  vs 1,526 FPS (x2.28, 36,760 LUT); on the current code the optimizer's fastest fitting plan is
  2,713 FPS (36,864 cycles, 35,976 LUT + 364 converter LUT of the 37,240 budget), x1.78. Which
  FIFO depths push the 3,472 FPS plan over the budget was not isolated. TFC on Ultra96-V2 was
  1,562,500 FPS (48,085 LUT) in the previous committed run (ece4d14, before stream FIFOs were
  priced) and is 1,020,408 now, on both sides.
  Checks: never over the caps, FPS >= SetFolding on every pair (both accountings), >= x1.2 on
  CNV for Pynq-Z1 and Ultra96-V2: PASS. Cold optimizer time <= 10 s: FAIL under this load, CNV
  on Pynq-Z1 10.3 s (10.7 s at 92d6764) and Ultra96-V2 16.8 s single runs (space + solves
  1.5 + 0.7 s and 1.4 + 1.3 s of them; the rest is pricing FIFOs and applying/checking the plan),
  CNV-Fashion on Pynq-Z1 median 2.4 s of 22.0 / 2.3 / 2.4 s (the first pays one-off imports)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from codesign.atomic import write_json
from codesign.boards import RESOURCE_KINDS, Board, load_board
from codesign.config import load_flow
from codesign.export import export_qonnx
from codesign.finn import compile_to_hw
from codesign.finn.baseline import SetFoldingSweep
from codesign.finn.costs import CostCache, dwc_cost
from codesign.finn.fifo_pricing import forget_sized
from codesign.finn.plan import fold_for_board
from codesign.flow.pareto import pareto_data, plot_pareto
from codesign.models import build_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BOARDS = ("Pynq-Z1", "Ultra96-V2", "ZCU104", "U250")
SHAPES = {"mnist5k": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
NEEDS_20PCT = {("cnv", "Pynq-Z1"), ("cnv", "Ultra96-V2")}
TIME_LIMIT_S = 10.0


def model_specs() -> dict[str, dict[str, Any]]:
    tfc = load_flow(ROOT / "flows" / "tfc_w2a2_mnist5k.yaml")
    specs = {
        "tfc": {"arch": tfc.model.arch, "shape": SHAPES[tfc.dataset.name],
                "bits": (tfc.model.weight_bits, tfc.model.act_bits), "options": tfc.model.options},
        "cnv": {"arch": "cnv", "shape": (3, 32, 32), "bits": (2, 2), "options": {"preset": "cnv"}},
    }
    fashion = ROOT / "flows" / "cnv_w2a2_fashion.yaml"
    if fashion.is_file():
        flow = load_flow(fashion)
        specs["cnv_fashion"] = {"arch": flow.model.arch, "shape": SHAPES[flow.dataset.name],
                                "bits": (flow.model.weight_bits, flow.model.act_bits),
                                "options": flow.model.options}
    return specs


def export_model(spec: dict[str, Any], path: Path) -> Path:
    import torch

    torch.manual_seed(0)
    model = build_model(spec["arch"], input_shape=spec["shape"], num_classes=10,
                        weight_bits=spec["bits"][0], act_bits=spec["bits"][1], **spec["options"])
    return export_qonnx(model, spec["shape"], path)


def used(totals: dict[str, float], extra: dict[str, float]) -> dict[str, float]:
    return {k: totals[k] + extra.get(k, 0.0) for k in RESOURCE_KINDS}


def within(amounts: dict[str, float], budget: dict[str, float]) -> bool:
    return all(amounts[k] <= budget[k] + 1e-6 for k in RESOURCE_KINDS)


def run_pair(name: str, onnx: Path, board: Board, work: Path, repeats: int) -> dict[str, Any]:
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz, workdir=work)
    budget = board.budget()
    runs = []
    for _ in range(repeats):  # cold: fresh cost caches each time
        dwc_cost.cache_clear()
        forget_sized()  # FIFO depths are sized per folded graph and cached too
        start = time.perf_counter()
        _, plan, report = fold_for_board(hw, board, cache=CostCache())
        runs.append((time.perf_counter() - start, plan, report))
    seconds = [r[0] for r in runs]
    _, plan, report = runs[-1]
    _, plan_est, report_est = fold_for_board(hw, board, dwc=False)
    sweep = SetFoldingSweep(hw, board.host_io)
    base = sweep.best_fitting(budget, with_converters=True)
    base_est = sweep.best_fitting(budget, with_converters=False)
    pareto = pareto_data(report.space.space, board, hw.clock_mhz, plan, sweep.grid(count=6),
                         io_fps=report.estimates.io_fps)
    stem = f"pareto_{name}_{board.name.replace(' ', '_')}"
    write_json(RESULTS / f"{stem}.json", pareto)
    plot_pareto(pareto, RESULTS / f"{stem}.png")
    opt_used = plan.grand_totals()
    row = {
        "model": name, "board": board.name, "budget": budget, "clock_mhz": hw.clock_mhz,
        "optimizer": {
            "fps": report.fps, "compute_fps": report.estimates.compute_fps,
            "io_fps": report.estimates.io_fps, "bound": report.estimates.bound,
            "max_cycles": plan.max_cycles, "totals": dict(plan.totals),
            "converter_totals": dict(plan.link_totals), "fits": within(opt_used, budget),
            "seconds_median": statistics.median(seconds), "seconds": seconds,
            "space_seconds": [r[2].space.seconds for r in runs],
            "solve_seconds": [r[1].solve_seconds for r in runs], "solves": plan.solves,
            "space": report.space.to_dict(),
            "folding": {n: c.as_dict() for n, c in plan.choices.items()},
        },
        "baseline": base.to_dict() | {"fits": base.fits(budget)} if base else None,
        "ratio": report.fps / base.fps if base else None,
        "estimate_only": {
            "optimizer_fps": report_est.fps, "optimizer_totals": dict(plan_est.totals),
            "baseline": base_est.to_dict() if base_est else None,
            "ratio": report_est.fps / base_est.fps if base_est else None,
        },
        "setfolding_evaluations": len(sweep.seen()),
    }
    return row


def acceptance(rows: list[dict[str, Any]]) -> dict[str, bool]:
    checks = {
        "optimizer never over the caps": all(r["optimizer"]["fits"] for r in rows),
        "optimizer FPS >= baseline on every pair": all(
            r["baseline"] is None or r["optimizer"]["fps"] >= r["baseline"]["fps"] for r in rows),
        "optimizer FPS >= baseline (estimate-only accounting)": all(
            r["estimate_only"]["baseline"] is None
            or r["estimate_only"]["optimizer_fps"] >= r["estimate_only"]["baseline"]["fps"]
            for r in rows),
        ">= 1.2x on CNV for Pynq-Z1 and Ultra96-V2": all(
            r["ratio"] is not None and r["ratio"] >= 1.2 for r in rows
            if (r["model"], r["board"]) in NEEDS_20PCT),
        f"cold optimizer time <= {TIME_LIMIT_S:g} s (median)": all(
            r["optimizer"]["seconds_median"] <= TIME_LIMIT_S for r in rows),
    }
    return checks


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Folding optimizer vs best fitting FINN SetFolding")
    for col in ("model", "board", "SetFolding FPS (wwidth)", "optimizer FPS (bound)", "ratio",
                "opt time s (space+solve)", "opt LUT/BRAM/URAM/DSP (+DWC LUT)",
                "SetFolding LUT/BRAM/URAM/DSP (+DWC LUT)", "fits opt/base", "est-only ratio"):
        table.add_column(col, overflow="fold")

    def res(totals: dict[str, float], conv: dict[str, float]) -> str:
        return "/".join(f"{totals[k]:,.0f}" for k in RESOURCE_KINDS) + f" (+{conv['LUT']:,.0f})"

    for r in rows:
        o, b = r["optimizer"], r["baseline"]
        table.add_row(
            r["model"], r["board"],
            f"{b['fps']:,.0f} ({b['mvau_wwidth_max']})" if b else "none fits",
            f"{o['fps']:,.0f} ({o['bound']})", f"{r['ratio']:.2f}x" if r["ratio"] else "-",
            f"{o['seconds_median']:.1f} ({statistics.median(o['space_seconds']):.1f}+"
            f"{statistics.median(o['solve_seconds']):.1f})",
            res(o["totals"], o["converter_totals"]),
            res(b["totals"], b["converter_totals"]) if b else "-",
            f"{o['fits']}/{b['fits'] if b else '-'}",
            f"{r['estimate_only']['ratio']:.2f}x" if r["estimate_only"]["ratio"] else "-")
    Console(width=200).print(table)


def tree_state() -> dict[str, Any]:
    """The codesign commit a row was measured on and the codesign files changed on top of it
    (the tree is shared with other engineers' work in progress)."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"),
            "changed": git("status", "--porcelain", "--", "codesign").splitlines()}


def merged_with_previous(rows: list[dict[str, Any]], models: dict[str, Any]
                         ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows run now, plus the previous JSON's rows of pairs not run now (each row keeps
    its own run_at), in the previous order with new pairs after."""
    path = RESULTS / "folding_vs_setfolding.json"
    if not path.is_file():
        return rows, models
    import json

    previous = json.loads(path.read_text())
    fresh = {(r["model"], r["board"]): r for r in rows}
    merged = [fresh.pop((r["model"], r["board"]), r) for r in previous["rows"]]
    return merged + list(fresh.values()), {**previous["models"], **models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    specs = model_specs()
    parser.add_argument("--models", nargs="+", default=list(specs), choices=list(specs))
    parser.add_argument("--boards", nargs="+", default=list(BOARDS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep-other-rows", action="store_true",
                        help="keep the JSON's rows of the (model, board) pairs not re-run now")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, tree = [], tree_state()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.models:
            onnx = export_model(specs[name], work / f"{name}.onnx")
            for board_name in args.boards:
                board = load_board(board_name)
                print(f"» {name} on {board.name}", flush=True)
                row = run_pair(name, onnx, board, work / f"{name}_{board.part}", args.repeats)
                rows.append(row | {"run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "repeats": args.repeats, "codesign_tree": tree})
    models = {n: {**specs[n], "shape": list(specs[n]["shape"])} for n in args.models}
    if args.keep_other_rows:
        rows, models = merged_with_previous(rows, models)
    checks = acceptance(rows)
    write_json(RESULTS / "folding_vs_setfolding.json",
               {"models": models, "rows": rows, "acceptance": checks})
    print_table(rows)
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")


if __name__ == "__main__":
    main()
