"""Skip-branch FIFOs of residual blocks: codesign's depth (codesign.finn.fifos) against what the
all-RTL pipeline needs in Verilator (codesign.sim.shortcuts), per block and fork PE.

Blocks (zoo resnet, W4A4, 1x10x10 input, RTL MVAUs on ZCU104): an identity block on 10x10x8
with the fork (and the thresholds and join around it) at PE 1, 2 and 8, and a strided block
with a 1x1 projection shortcut (10x10x4 -> 5x5x8). Every MVAU takes >= 2 cycles per output (at
one per cycle FINN's RTL MVU overflows its output queue under back-pressure). For each: the
pipeline's cycles/frame (every FIFO unlimited) vs FINN's estimate; codesign's depth; the
smallest depth without deadlock and the smallest at full rate (other FIFOs at codesign's
depth); cycles/frame at codesign's depth, one word less, and 2 words (run-time limits on the
simulation's FIFOs), and as FINN builds it (FINN's own FIFOs at codesign's depths). Prints a
table, writes benchmarks/results/skip_fifos.json.

Usage: python3 benchmarks/skip_fifos.py [--out benchmarks/results/skip_fifos.json]"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (1, 10, 10)
IDENTITY = {"MVAU_rtl_0": {"SIMD": 1, "PE": 8}, "MVAU_rtl_1": {"SIMD": 8, "PE": 8},
            "MVAU_rtl_2": {"SIMD": 8, "PE": 8}, "MVAU_rtl_3": {"SIMD": 8, "PE": 2}}
PROJECTION = {"MVAU_rtl_0": {"SIMD": 1, "PE": 4}, "ConvolutionInputGenerator_rtl_2": {"SIMD": 1},
              "MVAU_rtl_1": {"SIMD": 1, "PE": 1}, "MVAU_rtl_2": {"SIMD": 4, "PE": 2},
              "MVAU_rtl_3": {"SIMD": 8, "PE": 2}, "MVAU_rtl_4": {"SIMD": 8, "PE": 1}}
FORK_LAYERS = ("Thresholding_rtl_0", "DuplicateStreams_hls_0", "ElementwiseAdd_hls_0",
               "Thresholding_rtl_3")
CASES = {  # name -> (stem channels, stages, folding)
    "identity PE 1": (8, [[8, 1, 1]], IDENTITY),
    "identity PE 2": (8, [[8, 1, 1]], {**IDENTITY, **{n: {"PE": 2} for n in FORK_LAYERS}}),
    "identity PE 8": (8, [[8, 1, 1]], {**IDENTITY, **{n: {"PE": 8} for n in FORK_LAYERS}}),
    "projection PE 1": (4, [[8, 1, 2]], PROJECTION),
}


def run_case(name: str, work: Path, cache: Path) -> dict[str, Any]:
    import torch

    from codesign.export import export_qonnx
    from codesign.finn import apply_folding_config, apply_setfolding, compile_to_hw
    from codesign.models import build_model
    from codesign.sim.pipeline import simulate_pipeline

    stem, stages, folding = CASES[name]
    board = load_board("zcu104")
    torch.manual_seed(0)
    model = build_model("resnet", input_shape=SHAPE, num_classes=10, weight_bits=4, act_bits=4,
                        stem=stem, stages=stages, final_pool=1).eval()
    onnx = export_qonnx(model, SHAPE, work / "model.onnx")
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz, workdir=work / "finn",
                       mvau_rtl=True)
    hw = apply_folding_config(apply_setfolding(hw, target_fps=100_000), folding)
    x = np.random.default_rng(1).integers(0, 256, (8, *SHAPE)).astype(np.float32)
    start = time.perf_counter()
    sim = simulate_pipeline(hw, x, work / "sim", frames=8, cache=cache)
    (skip,) = sim.shortcuts
    built = sim.as_built
    return {"case": name, "bit_exact": sim.match, "cycles_per_frame": sim.cycles_per_frame,
            "estimated_cycles": sim.estimated_cycles, "seconds": time.perf_counter() - start,
            "as_built": None if built is None else built.__dict__, **skip.to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/skip_fifos.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="skip-fifos-") as tmp:
        for i, name in enumerate(CASES):
            rows.append(run_case(name, Path(tmp) / str(i), Path(tmp) / "cache"))
    table = Table(title="Skip-branch FIFOs: codesign's depth vs the all-RTL pipeline (words)")
    for column in ("block", "bit-exact", "cycles/frame (FINN)", "elements / PE", "codesign",
                   "no deadlock from", "full rate from", "at codesign's", "one less", "at 2",
                   "as built"):
        table.add_column(column, justify="right")
    for r in rows:
        by_depth = {run["depth"]: run for run in r["runs"] if run["other_fifos"] == "codesign"}

        def result(depth: int, runs: dict = by_depth) -> str:
            run = runs[depth]
            return run["outcome"] if run["outcome"] != "ran" else f"{run['cycles_per_frame']:,.0f}"

        table.add_row(r["case"], str(r["bit_exact"]),
                      f"{r['cycles_per_frame']:,.0f} ({r['estimated_cycles']:,})",
                      f"{r['elements']} / {r['fork_pe']}", str(r["model_depth"]),
                      str(r["deadlock_free_depth"]), str(r["full_rate_depth"]),
                      result(r["model_depth"]), result(max(1, r["model_depth"] - 1)), result(2),
                      "–" if r["as_built"] is None else (r["as_built"]["outcome"] if r["as_built"][
                          "outcome"] != "ran" else f"{r['as_built']['cycles_per_frame']:,.0f}"))
    Console(width=150).print(table)
    write_json(args.out, {"cases": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
