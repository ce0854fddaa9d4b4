"""Per-stage wall time of the shipped flows (train, export, FINN compile, folding, estimates,
verification), plus repeated FINN compiles of each flow's QONNX model (median of several runs).

Usage: python3 benchmarks/stage_times.py [--flows flows/a.yaml ...] [--repeats 3]
Writes benchmarks/results/stage_times.json and prints a table. Not a test: machines are shared,
so quote medians."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.finn import compile_to_hw, estimate
from codesign.flow import run_flow

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FLOWS = [ROOT / "flows" / "tfc_w2a2_mnist5k.yaml", ROOT / "flows" / "cnv_w2a2_fashion.yaml"]


def compile_times(onnx_path: Path, part: str, clock_mhz: float, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as work:
            start = time.perf_counter()
            estimate(compile_to_hw(onnx_path, part=part, clock_mhz=clock_mhz, workdir=Path(work)))
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", nargs="*", type=Path, default=DEFAULT_FLOWS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "stage_times.json")
    args = parser.parse_args()
    results = []
    for flow_path in args.flows:
        flow = load_flow(flow_path)
        board = load_board(flow.board)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            res = run_flow(flow, board, Path(tmp) / "run", progress=False)
            total = time.perf_counter() - start
            compiles = compile_times(Path(tmp) / "run" / "model.qonnx.onnx", board.part,
                                     board.clock_mhz, args.repeats)
        results.append({
            "flow": flow.name, "board": board.name, "total_s": total,
            "stages_s": res.report["timings_s"],
            "finn_compile_to_estimates_s": {"runs": compiles, "median": statistics.median(compiles)},
            "test_top1": res.report["accuracy"]["test_top1"], "fps": res.report["estimates"]["fps"],
        })
    write_json(args.out, {"benchmark": "stage_times", "results": results})
    stages = sorted({s for r in results for s in r["stages_s"]}, key=list(results[0]["stages_s"]).index)
    table = Table(title="codesign per-stage wall time (s)")
    for col in ["flow", *stages, "total", "FINN compile→estimates (median)", "top-1"]:
        table.add_column(col)
    for r in results:
        table.add_row(r["flow"], *(f"{r['stages_s'].get(s, 0):.1f}" for s in stages),
                      f"{r['total_s']:.1f}", f"{r['finn_compile_to_estimates_s']['median']:.2f}",
                      f"{r['test_top1']:.2%}")
    Console().print(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
