"""Stream FIFO depths of all-RTL pipelines: codesign's stream model (codesign.finn.fifos) against
Verilator (codesign.sim.fifo_check), per pipeline.

Pipelines (W4A4 resp. W2A2, RTL MVAUs and thresholds on ZCU104): the TFC MLP at three foldings,
a conv chain (two 3x3 convs on 12x12, no pooling), the residual identity block (10x10x8) with
its fork at PE 1, 2 and 8, and the strided projection block. For each: FINN's cycles/frame,
the model's, the pipeline as FINN builds it from codesign's fifo_config_file (FINN's own FIFOs
at codesign's depths), the FIFOs the model makes deeper than FINN's minimum with their depth,
the run one word shallower (and the model's prediction for it) and the least depth that keeps
the rate (bisected with run-time limits, the others at codesign's depths). Prints a table, writes
benchmarks/results/fifo_depths.json and .png.

Also per FIFO deeper than FINN's minimum: its safe depth, the model's least (bisected, the others
at codesign's depths), least + margin (codesign.finn.fifo_sizing.margin_words) and whether one
word below codesign's depth stalls, in the model and in Verilator (> 1 % slower or deadlocked).

Re-run 3 Dec 2026 (18:24-18:37, AMD EPYC, at e7c34f4 beside a training run, 8 min of cases):
every figure below is the same; the model's verdict one word below codesign's depth is
Verilator's on 18 of 18 FIFOs (no stall in either), and the model's least minus Verilator's is
-17 to +43 words: -5 / -3 / -4 (conv chain), +43 / +22 / +7 (the identity block's skip FIFO at
fork PE 1 / 2 / 8), +9 to +11 (pad inputs), -1 (window inputs), -17 / +17 (projection join
and window input).
Last run before (2026-12-02, 2 shared cores, load ~5, 8 min; codesign 2bb959e: least depths searched
with the margin 30 % + 3 words, on every graph): every pipeline as built from codesign's depths
runs bit-exactly: MLPs 896 / 1,568 / 1,024 cycles/frame (= FINN's estimate, every FIFO at FINN's
minimum 2), conv chain 1,546 (estimate 1,536, +0.65 %; the limited run 1,543), identity block at
fork PE 1/2/8 925 (estimate 927), projection block 1,004 (estimate 1,008). Total FIFO depth
20/26/28 (MLPs), 107 -> 92 (conv chain), 458/271/151 and 224 unchanged (the residual blocks'
deep FIFOs are already the deepest of their FINN price). Per FIFO, model least / least + margin /
codesign / Verilator least (words): conv chain window input 16/24/24/21, linear inputs 3/7/7/6
and 30/42/37 (safe)/34; identity skip FIFO 316/414/316/273, 158/209/158/136, 40/55/40/33, pad
inputs 14/22/31/3-5, window inputs 16/24/19/17; projection join input 57/78/120/74, window input
29/41/52/12. The margin rule is never below Verilator's least (the tightest: 7 vs 6, 78 vs 74).
One word below codesign's depth: neither the model nor Verilator stalls anywhere (Verilator at
most 1,549 vs 1,543 limited on the conv chain, 928 vs 924 on the identity block's window inputs).
One word below the model's least the model stalls by construction; Verilator stalls there too
where it needs more than the model (conv chain, window inputs, projection join: the RTL layers'
pipeline registers the model lacks), and does not where it needs less (skip FIFOs, pad inputs,
projection window input: the model's strict rate criterion, FINN's estimate, is 2 % above
Verilator's 924 on the identity block).
Earlier run (codesign 92d6764, safe depths for every FIFO that matters): the same as-built
rates except the conv chain at 1,536 (FIFOs 44 and 37 words, least 16 and 34).

Usage: python3 benchmarks/fifo_depths.py [--out benchmarks/results/fifo_depths.json] [--only NAME]"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.finn.fifos import MARGIN_FRACTION, MARGIN_WORDS, margin_words

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from skip_fifos import CASES as BLOCKS  # noqa: E402

MLP_FOLDINGS = {
    "mlp setfolding": {},
    "mlp b": {"MVAU_rtl_0": {"SIMD": 16, "PE": 2}, "MVAU_rtl_1": {"SIMD": 32, "PE": 8},
              "MVAU_rtl_2": {"SIMD": 4, "PE": 1}, "MVAU_rtl_3": {"SIMD": 64, "PE": 1}},
    "mlp c": {"MVAU_rtl_0": {"SIMD": 28, "PE": 4}, "MVAU_rtl_1": {"SIMD": 8, "PE": 16},
              "MVAU_rtl_2": {"SIMD": 2, "PE": 2}, "MVAU_rtl_3": {"SIMD": 4, "PE": 5}},
}
CASES = [*MLP_FOLDINGS, "conv chain", *BLOCKS]


def compile_case(name: str, work: Path) -> tuple[Any, np.ndarray]:
    """(folded all-RTL HWGraph, inputs) of a case."""
    import torch

    from codesign.export import export_qonnx
    from codesign.finn import apply_folding_config, apply_setfolding, compile_to_hw
    from codesign.models import build_model

    board = load_board("zcu104")
    torch.manual_seed(0)
    if name in MLP_FOLDINGS:
        shape, bits, options, fps = (1, 28, 28), (2, 2), {"arch": "mlp", "preset": "tfc"}, 100_000
        folding = MLP_FOLDINGS[name]
    elif name == "conv chain":
        # the first conv at SIMD 3 of its 9 inputs: at SIMD = MW (SetFolding's choice) FINN's
        # RTL MVAU overflows its output queue when back-pressured, whatever the FIFO depths
        shape, bits, fps, folding = (1, 12, 12), (4, 4), 50_000, {"MVAU_rtl_0": {"SIMD": 3, "PE": 4}}
        options = {"arch": "cnv", "channels": [8, 8], "fc": [16], "pool_every": 2}
    else:
        stem, stages, folding = BLOCKS[name]
        shape, bits, fps = (1, 10, 10), (4, 4), 100_000
        options = {"arch": "resnet", "stem": stem, "stages": stages, "final_pool": 1}
    arch = options.pop("arch")
    model = build_model(arch, input_shape=shape, num_classes=10, weight_bits=bits[0],
                        act_bits=bits[1], **options).eval()
    onnx = export_qonnx(model, shape, work / "model.onnx")
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz, workdir=work / "finn",
                       mvau_rtl=True)
    hw = apply_folding_config(apply_setfolding(hw, target_fps=fps), folding)
    x = np.random.default_rng(1).integers(0, 256, (8, *shape)).astype(np.float32)
    return hw, x


def run_case(name: str, work: Path, cache: Path) -> dict[str, Any]:
    from codesign.sim.fifo_check import check_fifo_depths

    hw, x = compile_case(name, work)
    start = time.perf_counter()
    check = check_fifo_depths(hw, x, work / "sim", cache=cache)
    return {"case": name, "seconds": time.perf_counter() - start, **check.to_dict()}


def _cycles(run: dict[str, Any]) -> str:
    if run["outcome"] != "ran":
        return run["outcome"]
    return f"{run['cycles_per_frame']:,.0f}" + ("" if run["match"] else " (wrong)")


def _predicted(cycles: float | None) -> str:
    return "deadlock" if cycles is None else f"{cycles:,.0f}"


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [r["case"] for r in rows]
    ind = np.arange(len(rows))
    for offset, key, label in ((-0.2, "estimated_cycles", "FINN estimate"),
                               (0.2, "as_built", "as built, codesign's depths")):
        values = [r[key] if key == "estimated_cycles" else (r[key]["cycles_per_frame"] or 0)
                  for r in rows]
        ax1.bar(ind + offset, values, 0.4, label=label)
    ax1.set_xticks(ind, names, rotation=45, ha="right")
    ax1.set_ylabel("cycles / frame")
    ax1.legend()
    points = [(f["depth"], f["full_rate_depth"]) for r in rows for f in r["fifos"]]
    if points:
        depth, least = zip(*points, strict=True)
        ax2.scatter(depth, least)
        top = max(depth) * 1.05
        ax2.plot([0, top], [0, top], "k--", linewidth=0.8, label="model = least needed")
        ax2.set_xlabel("codesign's depth (words)")
        ax2.set_ylabel("least depth at full rate (Verilator)")
        ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fifo_depths.json")
    parser.add_argument("--only", action="append", choices=CASES)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fifo-depths-") as tmp:
        for i, name in enumerate(args.only or CASES):
            rows.append(run_case(name, Path(tmp) / str(i), Path(tmp) / "cache"))
            print(f"{name}: {rows[-1]['seconds']:.0f} s", flush=True)
    for r in rows:
        for f in r["fifos"]:
            f["margin_rule"] = f["model_least"] + margin_words(f["model_least"])
    console = Console(width=200)
    table = Table(title="Stream FIFOs: codesign's depths vs the all-RTL pipeline in Verilator")
    for column in ("pipeline", "cycles/frame FINN", "model", "as built", "FIFOs deeper than 2",
                   "total depth"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r["case"], f"{r['estimated_cycles']:,}", f"{r['model_cycles']:,.0f}",
                      _cycles(r["as_built"]), f"{len(r['fifos'])} of {len(r['depths'])}",
                      f"{sum(r['depths'].values()):,}")
    console.print(table)
    fifos = Table(title="Per FIFO deeper than FINN's minimum: safe depth, the model's least, "
                        "least + margin, codesign's depth, Verilator's least; one word less than "
                        "codesign's depth: does each stall?")
    for column in ("pipeline", "FIFO", "producer -> consumer", "safe", "model least",
                   "least+margin", "codesign", "Verilator least", "one less: model",
                   "one less: Verilator"):
        fifos.add_column(column, justify="right")
    for r in rows:
        for f in r["fifos"]:
            fifos.add_row(r["case"], f["name"].replace("StreamingFIFO_rtl_", "#"),
                          f"{f['producer']} -> {f['consumer']}", str(f["safe"]),
                          str(f["model_least"]), str(f["margin_rule"]),
                          str(f["depth"]) + ("" if f["searched"] else " (safe)"),
                          str(f["full_rate_depth"]),
                          _predicted(f["model_one_less"]) + (" stall" if f["model_stalls"] else ""),
                          _cycles(f["one_less"]) + (" stall" if f["stalls"] else ""))
    console.print(fifos)
    short = [(r["case"], f["name"]) for r in rows for f in r["fifos"]
             if f["margin_rule"] < f["full_rate_depth"]]
    print("margin rule below Verilator's least:", short or "nowhere")
    agree = [f["model_stalls"] == f["stalls"] for r in rows for f in r["fifos"]]
    print(f"one word below codesign's depth, the model's verdict is Verilator's on {sum(agree)} "
          f"of {len(agree)} FIFOs")
    off = {f"{r['case']} {f['name']}": f["model_least"] - f["full_rate_depth"]
           for r in rows for f in r["fifos"]}
    print("the model's least - Verilator's least (words):", off or "no FIFO deeper than 2")
    write_json(args.out, {"cases": rows, "margin": {"fraction": MARGIN_FRACTION,
                                                    "words": MARGIN_WORDS},
                          "margin_short_of_verilator": short,
                          "one_less_verdicts_agree": f"{sum(agree)} of {len(agree)}",
                          "model_least_minus_verilator_least": off})
    print(f"wrote {args.out} and {plot(rows, args.out.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
