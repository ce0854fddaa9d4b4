"""Time of codesign's stream FIFO model (codesign.finn.fifos.size_stream_fifos) on the graph of
every shipped flow: per flow (flows/*.yaml, its model untrained: timing does not depend on the
weights), the compiled graph unfolded and folded as the flow folds it (SetFolding at its target,
or the optimizer on its board), stitched as FINN's build stitches it; CPU and wall seconds
of the whole sizing (median of --repeats), stream words per frame, the least-depth search's
model runs (and whether fifo_sizing.SEARCH_WORDS ran out first), the FIFOs' total depth and
FINN's LUT estimate of them at the safe and at the searched depths. Before this model computed
event times it stepped every cycle in Python (~10 us per layer-cycle) and was skipped above
300,000 layer-cycles per frame.

Last run (2026-12-03 01:11-01:18 at 7006f8c, the event loop compiled with numba
(codesign.finn.stream_kernel), load ~3 (two pruning runs beside it), one run each, CPU s): TFC
0.30 unfolded / 0.005 folded, CNV 5.7 / 3.1, CNV-pruned 0.73 / 2.5, ResNet-8 0.75 / 2.3,
DS-CNN 3.2 / 2.3, cnn1d 0.077 / 0.023: 2.9-6.4x less CPU where the search runs (CNV folded
15.5 -> 3.1 s, ResNet-8 folded 14.6 -> 2.3 s), with the same model runs, depths and FIFO LUT
as the run below on every graph (the budget is in simulated words, so it buys the same runs).

Run before (2026-12-02, 2 shared cores, load ~3-5, codesign 2daeed7, least-depth search within
SEARCH_WORDS = 4M simulated words; CPU s, one run each): TFC 0.37 unfolded / 0.008 folded, CNV
16.3 / 15.5, CNV-pruned 0.85 / 15.9, ResNet-8 0.85 / 14.6, DS-CNN 15.5 / 12.2, cnn1d 0.30 /
0.049. FIFO LUT at safe -> searched depths (FINN's estimate): TFC 121 -> 80 / 303 -> 288, CNV
1,487 -> 1,487 (3 runs, the budget) / 1,307 -> 1,078, CNV-pruned 2,386 (not searched: over the
budget) / 2,904 -> 2,339, ResNet-8 6,838 (not searched) / 3,715 -> 3,395, DS-CNN 5,541 -> 5,341 /
2,309 -> 2,309 (11 runs, nothing cheaper keeps the rate), cnn1d 1,681 -> 1,592 / 966 -> 936.
Every search on CNV, ResNet-8 and DS-CNN stopped at the budget. Before the search (92d6764, load
~9-11, median of 3): TFC 0.032 / 0.009, CNV 0.49 / 0.67, CNV-pruned 0.86 / 0.19, ResNet-8 0.87 /
0.26, DS-CNN 0.19 / 0.28, cnn1d 0.32 / 0.056 (wall 3-8x that on this load).
The cycle stepper (d5352b4's code, budget lifted, same graphs, one run each, CPU s): TFC
unfolded 0.20, cnn1d 0.07 / 4.1, DS-CNN folded 7.9,
CNV-pruned folded 5.1, ResNet-8 folded 16.7, CNV folded 16.7; the unfolded CNNs not run (tens of
millions of layer-cycles per frame). The event-time engines give the stepper's results exactly
on every graph compared (tests/finn/test_stream_timing.py).

Usage: python3 benchmarks/stream_model_speed.py [--flows NAME ...] [--repeats 3]
Writes benchmarks/results/stream_model_speed.json and prints a table."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ("tfc_w2a2_mnist5k", "cnv_w2a2_fashion", "cnv_w2a2_fashion_pruned", "resnet8_w4a4_fashion",
         "dscnn_w4a4_fashion", "cnn1d_w2a2_mnist5k_rows")
SEQUENCE_SHAPE = (28, 28)  # MNIST rows as a sequence (dataset sequence: rows)


def flow_graphs(name: str, work: Path) -> dict[str, Any]:
    """{"unfolded": HWGraph, "folded": HWGraph} of a shipped flow."""
    from codesign.boards import load_board
    from codesign.config import load_flow
    from codesign.data import load_dataset
    from codesign.export import export_qonnx
    from codesign.finn import apply_setfolding, compile_to_hw
    from codesign.finn.plan import fold_for_board
    from codesign.models import build_model
    from codesign.train import set_seed

    flow = load_flow(ROOT / "flows" / f"{name}.yaml")
    board = load_board(flow.board)
    data = load_dataset(flow.dataset.name, path=flow.dataset.path, seed=flow.seed, limit_train=8,
                        limit_test=8)
    shape = SEQUENCE_SHAPE if flow.model.arch == "cnn1d" else data.input_shape
    set_seed(flow.seed)
    model = build_model(flow.model.arch, input_shape=shape, num_classes=data.num_classes,
                        weight_bits=flow.model.weight_bits, act_bits=flow.model.act_bits,
                        **flow.model.options)
    onnx = export_qonnx(model, shape, work / "model.onnx")
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz, workdir=work / "finn")
    if flow.folding.mode == "setfolding":
        folded = apply_setfolding(hw, target_fps=flow.folding.target_fps)
    else:
        folded = fold_for_board(hw, board, flow.folding.objective)[0]
    return {"unfolded": hw, "folded": folded}


def time_model(hw: Any, repeats: int) -> dict[str, Any]:
    from codesign.finn._env import quiet_finn
    from codesign.finn.fifos import (
        Pipeline,
        fifo_cost,
        fifo_price,
        size_stream_fifos,
        stitched_streams,
    )

    model = stitched_streams(hw)
    cpu, wall = [], []
    with quiet_finn():
        price = fifo_price(model, hw.part)
        safe = size_stream_fifos(model, price, search=False)  # warm: FINN's node classes imported
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            sized = size_stream_fifos(model, price)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        pipe = Pipeline(model)
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall), "cpu_runs_s": cpu,
            "words_per_frame": pipe.words_per_frame(), "layers": len(pipe.actors),
            "cycles_per_frame": sized.cycles_per_frame, "tightened": sized.tightened,
            "search_runs": sized.runs, "search_complete": sized.complete,
            "fifos": len(sized.fifos), "total_depth": sum(f.depth for f in sized.fifos),
            "safe_total_depth": sum(f.depth for f in safe.fifos),
            "fifo_lut": _lut(sized, hw.part, fifo_cost), "safe_fifo_lut": _lut(safe, hw.part, fifo_cost),
            "deep_fifos": sum(f.depth > 2 for f in sized.fifos)}


def _lut(sized: Any, part: str, fifo_cost: Any) -> float:
    return sum(dict(fifo_cost(f.depth, f.lanes, f.width // max(f.lanes, 1), f.dtype, part))["LUT"]
               for f in sized.fifos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", nargs="*", default=list(FLOWS), choices=FLOWS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/stream_model_speed.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="stream-speed-") as tmp:
        for name in args.flows:
            for variant, hw in flow_graphs(name, Path(tmp) / name).items():
                rows.append({"flow": name, "graph": variant, **time_model(hw, args.repeats)})
                print(f"{name} {variant}: {rows[-1]['cpu_s']:.3f} s CPU", flush=True)
    table = Table(title="Stream FIFO model: time per graph (median)")
    for column in ("flow", "graph", "layers", "words/frame", "cycles/frame", "search runs",
                   "FIFOs (deep)", "depth safe -> searched", "FIFO LUT safe -> searched",
                   "CPU s", "wall s"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["flow"], r["graph"], str(r["layers"]), f"{r['words_per_frame']:,}",
                      f"{r['cycles_per_frame']:,.0f}",
                      f"{r['search_runs']}" + ("" if r["search_complete"] else " (budget)"),
                      f"{r['fifos']} ({r['deep_fifos']})",
                      f"{r['safe_total_depth']:,} -> {r['total_depth']:,}",
                      f"{r['safe_fifo_lut']:,.0f} -> {r['fifo_lut']:,.0f}",
                      f"{r['cpu_s']:.3f}", f"{r['wall_s']:.3f}")
    Console(width=160).print(table)
    write_json(args.out, {"load_average": list(os.getloadavg()), "repeats": args.repeats,
                          "results": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
