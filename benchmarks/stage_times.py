"""Per-stage wall time of the shipped flows (train, export, FINN compile, folding, estimates,
verification), plus repeated FINN compiles of each flow's QONNX model (median of several runs).

Usage: python3 benchmarks/stage_times.py [--flows flows/a.yaml ...] [--repeats 3] [--compile-only]
Writes benchmarks/results/stage_times.json (or compile_times.json with --compile-only) and prints a
table. --compile-only skips training: it exports the flow's model untrained (compilation and
folding do not depend on weight values) and times FINN compile to estimates. Not a test:
machines are shared, so quote medians."""

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


def compile_only(flow_paths: list[Path], repeats: int, out: Path) -> None:
    from codesign.data import load_dataset
    from codesign.export import export_qonnx
    from codesign.models import build_model
    from codesign.train import set_seed

    rows = []
    for flow_path in flow_paths:
        flow = load_flow(flow_path)
        board = load_board(flow.board)
        ds = flow.dataset
        data = load_dataset(ds.name, path=ds.path, seed=flow.seed, limit_train=8, limit_test=8)
        set_seed(flow.seed)
        model = build_model(flow.model.arch, input_shape=data.input_shape, num_classes=data.num_classes,
                            weight_bits=flow.model.weight_bits, act_bits=flow.model.act_bits,
                            **flow.model.options)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = export_qonnx(model, data.input_shape, Path(tmp) / "model.qonnx.onnx")
            times = compile_times(onnx_path, board.part, board.clock_mhz, repeats)
        rows.append({"flow": flow.name, "board": board.name, "runs_s": times,
                     "median_s": statistics.median(times)})
    write_json(out, {"benchmark": "finn_compile_to_estimates", "repeats": repeats, "results": rows})
    table = Table(title="FINN compile → estimates (s)")
    for col in ("flow", "board", "runs", "median"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["flow"], r["board"], ", ".join(f"{t:.2f}" for t in r["runs_s"]),
                      f"{r['median_s']:.2f}")
    Console().print(table)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", nargs="*", type=Path, default=DEFAULT_FLOWS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--compile-only", action="store_true")
    args = parser.parse_args()
    results_dir = ROOT / "benchmarks" / "results"
    if args.compile_only:
        compile_only(args.flows, args.repeats, args.out or results_dir / "compile_times.json")
        return
    args.out = args.out or results_dir / "stage_times.json"
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
            "stages_s": res.result.timings,
            "finn_compile_to_estimates_s": {"runs": compiles, "median": statistics.median(compiles)},
            "test_top1": res.result.accuracy.test_top1, "fps": res.result.accelerator.estimates.fps,
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
