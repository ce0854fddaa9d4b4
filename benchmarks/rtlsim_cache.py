"""RTL simulation of the TFC flow's model with a cold and a warm Verilator build cache.

The model is the flow's (flows/tfc_w2a2_mnist5k.yaml: TFC 3x64, W2A2, MNIST-5k), trained for
`--epochs` (default 1; the cache does not care about accuracy), compiled for the flow's board
with RTL MVAUs (an all-RTL partition, so the whole pipeline is simulated too) and folded by
FINN's SetFolding at the flow's target FPS. One "RTL simulation" = every layer in Verilator
(with FIFOs and width converters) plus the whole pipeline, exactly what `codesign simulate`
runs. The first run starts from an empty cache; the re-runs reuse it. Prints a table, writes
benchmarks/results/rtlsim_cache.json (per-layer cycles vs estimate, pipeline, timings).

Usage: python3 benchmarks/rtlsim_cache.py [--flow flows/tfc_w2a2_mnist5k.yaml] [--warm 3]
       python3 benchmarks/rtlsim_cache.py --flow flows/cnv_w2a2_fashion.yaml --epochs 0 \
           --out benchmarks/results/rtlsim_cache_cnv.json   (per-layer numbers of the CNV flow)"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow

ROOT = Path(__file__).resolve().parents[1]


def prepare(flow_path: Path, epochs: int, work: Path) -> tuple[Any, Any, Any]:
    """(folded all-RTL HWGraph, test images, flow) for the flow's model."""
    import torch

    from codesign.data import load_dataset
    from codesign.export import export_qonnx
    from codesign.finn import apply_setfolding, compile_to_hw
    from codesign.models import build_model
    from codesign.train import set_seed, train_model

    flow = load_flow(flow_path)
    board = load_board(flow.board)
    ds = flow.dataset
    data = load_dataset(ds.name, path=ds.path, test_fraction=ds.test_fraction, seed=flow.seed,
                        limit_train=ds.limit_train, limit_test=ds.limit_test)
    set_seed(flow.seed)
    torch.set_num_threads(1)
    model = build_model(flow.model.arch, input_shape=data.input_shape, num_classes=data.num_classes,
                        weight_bits=flow.model.weight_bits, act_bits=flow.model.act_bits,
                        **flow.model.options)
    t = flow.train
    if epochs > 0:
        train_model(model, data, epochs=epochs, batch_size=t.batch_size, lr=t.lr,
                    optimizer=t.optimizer, seed=flow.seed, progress=False)
    onnx = export_qonnx(model, data.input_shape, work / "model.qonnx.onnx")
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=flow.clock_mhz or board.clock_mhz,
                       workdir=work / "finn", mvau_rtl=True)
    hw = apply_setfolding(hw, target_fps=flow.folding.target_fps,
                          mvau_wwidth_max=flow.folding.mvau_wwidth_max)
    return hw, data.x_test[:8], flow


def rtl_simulation(hw: Any, x: Any, work: Path, cache: Path) -> tuple[float, Any, Any]:
    """Every layer, then the whole pipeline if every layer is RTL (CNV keeps an HLS Pool)."""
    from codesign.sim import simulate_layers, simulate_pipeline
    from codesign.sim.pipeline import non_rtl_layers
    from codesign.sim.rtl_layers import stitch

    start = time.perf_counter()
    stitched = stitch(hw)  # HDL generated once for both, as codesign simulate does
    layers = simulate_layers(hw, x, work / "layers", frames=3, cache=cache, stitched=stitched)
    pipeline = None
    if not non_rtl_layers(hw):
        pipeline = simulate_pipeline(hw, x, work / "pipeline", frames=8, cache=cache,
                                     stitched=stitched)
    return time.perf_counter() - start, layers, pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flow", type=Path, default=ROOT / "flows" / "tfc_w2a2_mnist5k.yaml")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--warm", type=int, default=3, help="cached re-runs (median is quoted)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rtlsim_cache.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codesign-rtlsim-bench-") as tmp:
        work = Path(tmp)
        hw, x, flow = prepare(args.flow, args.epochs, work)
        cache = work / "verilator-cache"  # empty: the first run builds everything
        cold, layers, pipeline = rtl_simulation(hw, x, work / "cold", cache)
        builds = sum(1 for s in layers if s.mode == "verilator" and not s.cached_build)
        warm = []
        for i in range(args.warm):
            seconds, again, _ = rtl_simulation(hw, x, work / f"warm{i}", cache)
            assert all(s.cached_build for s in again if s.mode == "verilator")
            warm.append(seconds)
    speedup = cold / statistics.median(warm)
    rows = [s.to_dict() for s in layers]
    write_json(args.out, {
        "benchmark": "rtlsim_cache", "flow": flow.name, "epochs": args.epochs,
        "cold_s": cold, "warm_s": warm, "warm_median_s": statistics.median(warm),
        "speedup": speedup, "layer_builds_cold": builds, "layers": rows,
        "pipeline": pipeline.to_dict() if pipeline else None,
    })
    table = Table(title=f"RTL simulation of {flow.name} (RTL MVAUs, {len(layers)} layers incl. FIFOs/DWCs)")
    for col in ("layer", "op type", "mode", "bit-exact", "cycles/frame", "FINN estimate", "deviation"):
        table.add_column(col)
    for s in layers:
        dev = "–" if s.deviation_pct is None else f"{s.deviation_pct:+.1f} %"
        cycles = "–" if s.cycles_per_frame is None else f"{s.cycles_per_frame:,.0f}"
        table.add_row(s.name, s.op_type, s.mode, str(s.match), cycles,
                      f"{s.estimated_cycles:,}" if s.estimated_cycles else "–", dev)
    console = Console(width=140)
    console.print(table)
    if pipeline is not None:
        console.print(f"pipeline: {pipeline.cycles_per_frame:,.0f} cycles/frame vs "
                      f"{pipeline.estimated_cycles:,} estimated "
                      f"({pipeline.throughput_deviation_pct:+.1f} %), "
                      f"latency {pipeline.latency_cycles:,} vs {pipeline.estimated_latency_cycles:,}; "
                      f"bit-exact {pipeline.match}")
    console.print(f"cold cache {cold:.1f} s ({builds} layer builds + pipeline builds), warm "
                  f"{', '.join(f'{w:.1f}' for w in warm)} s (median {statistics.median(warm):.1f} s): "
                  f"speed-up {speedup:.1f}x")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
