"""Network families on the boards: per family and board, FINN compile time to estimates, fold time,
codesign's FPS within the caps vs FINN's best fitting SetFolding (bisected target FPS x
mvau_wwidth_max, as in the folding benchmark), LUT/BRAM_18K, and bit-exact counts.

Usage: python3 benchmarks/families.py [--families cnn1d ...] [--boards pynq-z2 ...]
Writes benchmarks/results/families.json and .png, prints a table. The models are the zoo's,
untrained but with BatchNorm statistics calibrated on random inputs (compilation, folding and
bit-exactness do not depend on trained weights; a dead activation would make bit-exactness
trivial). Not a test: machines are shared, so times are single runs on a stated load."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from codesign.atomic import atomic_path, write_json
from codesign.boards import load_board
from codesign.export import export_qonnx
from codesign.finn import compile_to_hw, estimate, verify_against
from codesign.finn.baseline import SetFoldingSweep
from codesign.finn.plan import fold_for_board
from codesign.flow import reference_outputs
from codesign.models import build_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BOARDS = ("pynq-z2", "ultra96-v2", "zcu104", "u250")
# family -> (arch, input shape, options); bits are W2A2 throughout
FAMILIES: dict[str, tuple[str, tuple[int, ...], dict[str, Any]]] = {
    "cnn1d": ("cnn1d", (28, 28), {"preset": "kws-small"}),
}
VERIFY_SAMPLES = 8


def calibrated(arch: str, shape: tuple[int, ...], options: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = build_model(arch, input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                        **options)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.momentum = None
            module.bias.data.normal_(0.0, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(8):
            model(torch.randint(0, 256, (16, *shape)).float())
    return model.eval()


def measure(family: str, board_name: str, work: Path) -> dict[str, Any]:
    arch, shape, options = FAMILIES[family]
    board = load_board(board_name)
    model = calibrated(arch, shape, options)
    onnx = export_qonnx(model, shape, work / "model.onnx")
    start = time.perf_counter()
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz, workdir=work / "finn")
    compiled = time.perf_counter()
    folded, plan, report = fold_for_board(hw, board, "maximize")
    folding_s = time.perf_counter() - compiled
    baseline = SetFoldingSweep(hw).best_fitting(board.budget())
    x = np.random.default_rng(0).integers(0, 256, (VERIFY_SAMPLES, *shape)).astype(np.float32)
    x[0], x[1] = 0, 255
    check = verify_against(folded, x, reference_outputs(model, x))
    est = estimate(folded)
    return {
        "family": family, "board": board.name, "compile_s": compiled - start, "fold_s": folding_s,
        "fps": report.fps, "setfolding_fps": baseline.fps if baseline else None,
        "vs_setfolding": report.fps / baseline.fps if baseline else None,
        "lut": est.totals["LUT"], "bram_18k": est.totals["BRAM_18K"],
        "budget_lut": board.budget()["LUT"], "bit_exact": f"{check.matched}/{check.samples}",
        "layers": [n.op_type for n in folded.model.graph.node],
    }


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['family']}\n{r['board']}" for r in rows]
    ours = [r["fps"] for r in rows]
    theirs = [r["setfolding_fps"] or 0.0 for r in rows]
    pos = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
    ax.bar(pos - 0.2, theirs, 0.4, label="FINN SetFolding (best fitting)", color="tab:gray")
    ax.bar(pos + 0.2, ours, 0.4, label="codesign optimizer", color="tab:blue")
    for p, r in zip(pos, rows, strict=True):
        if r["vs_setfolding"]:
            ax.text(p + 0.2, r["fps"], f"×{r['vs_setfolding']:.2f}", ha="center", va="bottom",
                    fontsize=8)
    ax.set_xticks(pos, labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("FPS within the board's caps")
    ax.set_title("network families: codesign's folding vs FINN's SetFolding")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--boards", nargs="*", default=list(BOARDS))
    parser.add_argument("--out", type=Path, default=RESULTS / "families.json")
    args = parser.parse_args()
    rows = []
    for family in args.families:
        for board in args.boards:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(measure(family, board, Path(tmp)))
    write_json(args.out, {"benchmark": "families", "load_at_end": os.getloadavg()[0],
                          "results": rows})
    png = plot(rows, args.out.with_suffix(".png"))
    table = Table(title="network families on the boards (W2A2, untrained calibrated zoo models)")
    for col in ("family", "board", "compile s", "fold s", "FPS", "SetFolding FPS", "×", "LUT",
                "LUT budget", "BRAM_18K", "bit-exact"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["family"], r["board"], f"{r['compile_s']:.1f}", f"{r['fold_s']:.1f}",
                      f"{r['fps']:,.0f}",
                      "—" if r["setfolding_fps"] is None else f"{r['setfolding_fps']:,.0f}",
                      "—" if r["vs_setfolding"] is None else f"{r['vs_setfolding']:.2f}",
                      f"{r['lut']:,.0f}", f"{r['budget_lut']:,.0f}", f"{r['bram_18k']:,.0f}",
                      r["bit_exact"])
    Console(width=180).print(table)
    print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
