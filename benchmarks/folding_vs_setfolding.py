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
Writes benchmarks/results/folding_vs_setfolding.json and Pareto JSON/PNG per pair, prints a
table and the acceptance checks. Not a test: the machine is shared, quote medians."""

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    specs = model_specs()
    parser.add_argument("--models", nargs="+", default=list(specs), choices=list(specs))
    parser.add_argument("--boards", nargs="+", default=list(BOARDS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.models:
            onnx = export_model(specs[name], work / f"{name}.onnx")
            for board_name in args.boards:
                board = load_board(board_name)
                print(f"» {name} on {board.name}", flush=True)
                rows.append(run_pair(name, onnx, board, work / f"{name}_{board.part}",
                                     args.repeats))
    checks = acceptance(rows)
    write_json(RESULTS / "folding_vs_setfolding.json",
               {"models": {n: {**specs[n], "shape": list(specs[n]["shape"])} for n in args.models},
                "rows": rows, "acceptance": checks})
    print_table(rows)
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")


if __name__ == "__main__":
    main()
