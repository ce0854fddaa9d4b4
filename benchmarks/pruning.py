"""Hardware-aligned structured pruning vs the unpruned QAT model, vs unaligned structured pruning
at the same MAC sparsity, and vs unstructured magnitude pruning at the same sparsity.

For each flow (default: the pruned TFC/MNIST-5k and CNV/Fashion-MNIST flows in flows/), one run:
1. train the unpruned model exactly as the flow says (seeded);
2. aligned: prune a copy with the flow's `prune:` settings (kept counts aligned to the board);
3. unaligned: prune another copy with the same settings but `align: false` (granularity 1)
   and the MAC sparsity the aligned run reached as its target; and the classic baseline, the
   same fraction of every layer's channels (`allocation: uniform`), unaligned, same target;
4. unstructured: zero the same fraction of the unpruned weights (magnitude), no shape change;
5. FINN's estimates for each on the flow's board: the highest FPS within the caps (folding
   optimizer, maximize) and the least resources reaching the reference FPS;
6. bit-exact verification of the aligned pruned model through the whole FINN path.

Usage: python3 benchmarks/pruning.py [--flows flows/a.yaml ...] [--out benchmarks/results/pruning.json]
Prints a table and the acceptance checks; writes JSON and one accuracy-vs-LUT/FPS PNG per flow."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOWS = ("flows/tfc_w2a2_mnist5k_pruned.yaml", "flows/cnv_w2a2_fashion_pruned.yaml")
# (name, align, allocation): ours; ours without alignment; the classic uniform-ratio baseline
VARIANTS = (("aligned", True, "hardware"), ("unaligned", False, "hardware"),
            ("uniform-unaligned", False, "uniform"))


def train_baseline(flow: Any, work: Path) -> tuple[Any, Any]:
    from codesign.flow import train_flow_model

    model, data, _ = train_flow_model(flow, work, progress=False)
    return model, data


def verify_bit_exact(model: Any, data: Any, board: Any, flow: Any, work: Path) -> dict[str, Any]:
    from codesign.export import export_qonnx
    from codesign.flow import StageTimer, build_hardware, reference_outputs

    x = data.x_test[: flow.verify.samples]
    onnx = export_qonnx(model, data.input_shape, work / "model.qonnx.onnx")
    hw = build_hardware(onnx, board, flow.folding, work, x, reference_outputs(model, x),
                        StageTimer())
    return {"passed": hw["_verification_passed"], "details": hw["_verification_details"]}


def run_case(path: str, console: Console) -> dict[str, Any]:
    from codesign.prune.driver import unstructured_control
    from codesign.prune.report import model_column
    from codesign.prune.schedule import prune_model

    flow = load_flow(ROOT / path)
    assert flow.prune is not None, f"{path} has no prune: section"
    board = load_board(flow.board)
    ref_fps = flow.prune.reference_fps  # None: the unpruned model's best FPS
    with tempfile.TemporaryDirectory(prefix="codesign-prune-bench-") as tmp:
        work = Path(tmp)
        console.print(f"[bold]{flow.name}[/]: training the unpruned model")
        model, data = train_baseline(flow, work)
        results: dict[str, Any] = {}
        settings = flow.prune
        for variant, align, allocation in VARIANTS:
            console.print(f"  pruning ({variant})")
            pruned = copy.deepcopy(model)
            settings = dataclasses.replace(settings, align=align, allocation=allocation)
            result = prune_model(pruned, data, board, settings, flow.train,
                                 reference_fps=ref_fps, workdir=work / variant, seed=flow.seed,
                                 progress=False)
            results[variant] = {"result": result.to_dict(), "model": pruned}
            ref_fps = result.reference_fps  # the unaligned run compares at the same FPS
            # ... and removes the MAC fraction the aligned run reached (granularity overshoots)
            achieved = 1.0 - result.final.macs / result.baseline.macs
            settings = dataclasses.replace(settings, target_sparsity=round(achieved, 4))
        aligned = results["aligned"]["result"]
        sparsity = 1.0 - aligned["steps"][-1]["macs"] / aligned["steps"][0]["macs"]
        console.print(f"  unstructured control at {sparsity:.1%}")
        control = unstructured_control(model, data, board, sparsity, ref_fps, work / "unstr")
        console.print("  bit-exact verification of the aligned pruned model")
        verification = verify_bit_exact(results["aligned"]["model"], data, board, flow,
                                        work / "verify")
    unpruned = model_column(aligned["steps"][0])
    columns = {"unpruned": unpruned,
               "aligned": model_column(aligned["steps"][-1]),
               "unaligned": model_column(results["unaligned"]["result"]["steps"][-1]),
               "uniform-unaligned": model_column(
                   results["uniform-unaligned"]["result"]["steps"][-1]),
               "unstructured": control}
    return {"flow": flow.name, "board": board.name, "reference_fps": ref_fps,
            "settings": dataclasses.asdict(flow.prune), "baseline_epochs": flow.train.epochs,
            "columns": columns, "verification": verification,
            "schedules": {k: v["result"] for k, v in results.items()},
            "checks": acceptance(columns)}


def _lut(column: dict[str, Any]) -> float | None:
    res = column.get("resources_at_reference")
    return None if res is None else float(res["LUT"])


def acceptance(c: dict[str, dict[str, Any]]) -> dict[str, Any]:
    base, ours = c["unpruned"], c["aligned"]
    lut_base, lut_ours = _lut(base), _lut(ours)
    return {
        "accuracy_loss_points": 100 * (base["accuracy"] - ours["accuracy"]),
        "macs_reduction": 1 - ours["macs"] / base["macs"],
        "lut_reduction": None if not lut_base or lut_ours is None else 1 - lut_ours / lut_base,
        "fps_gain": ours["fps_within_caps"] / base["fps_within_caps"],
        "aligned_vs_unaligned_fps": ours["fps_within_caps"] / c["unaligned"]["fps_within_caps"],
        "unaligned_macs_reduction": 1 - c["unaligned"]["macs"] / base["macs"],
        "aligned_vs_uniform_unaligned_fps": (ours["fps_within_caps"]
                                             / c["uniform-unaligned"]["fps_within_caps"]),
        "uniform_unaligned_macs_reduction": 1 - c["uniform-unaligned"]["macs"] / base["macs"],
        "unstructured_lut_change": (None if not lut_base or _lut(c["unstructured"]) is None
                                    else _lut(c["unstructured"]) / lut_base - 1),
        "unstructured_fps_gain": c["unstructured"]["fps_within_caps"] / base["fps_within_caps"],
    }


def plot_case(case: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for variant, style in (("aligned", "-o"), ("unaligned", "--s"), ("uniform-unaligned", ":^")):
        steps = case["schedules"][variant]["steps"]
        acc = [100 * s["accuracy"] for s in steps]
        lut = [(s["hardware"]["resources_at_reference"] or {}).get("LUT", np.nan) for s in steps]
        fps = [s["hardware"]["fps"] for s in steps]
        axes[0].plot(lut, acc, style, label=variant)
        axes[1].plot(fps, acc, style, label=variant)
    control = case["columns"]["unstructured"]
    axes[0].plot([_lut(control) or np.nan], [100 * control["accuracy"]], "x", ms=10,
                 color="tab:red", label="unstructured")
    axes[1].plot([control["fps_within_caps"]], [100 * control["accuracy"]], "x", ms=10,
                 color="tab:red", label="unstructured")
    axes[0].set_xlabel(f"LUT at {case['reference_fps']:,.0f} FPS")
    axes[1].set_xlabel(f"FPS within {case['board']}'s caps")
    for ax in axes:
        ax.set_ylabel("test top-1 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{case['flow']}: pruning schedules (first point = unpruned)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning.json")
    args = parser.parse_args()
    console = Console(width=150)
    cases = []
    for path in args.flows:
        case = run_case(path, console)
        plot_case(case, args.out.with_name(f"pruning_{case['flow']}.png"))
        cases.append(case)
        write_json(args.out, {"benchmark": "pruning", "cases": cases})
    table = Table(title="structured pruning aligned to the board vs baselines")
    for col in ("flow", "model", "top-1", "MACs", "LUT@ref", "FPS in caps", "channels"):
        table.add_column(col)
    for case in cases:
        for name, col in case["columns"].items():
            lut = _lut(col)
            table.add_row(case["flow"], name, f"{100 * col['accuracy']:.2f} %", f"{col['macs']:,}",
                          "no fit" if lut is None else f"{lut:,.0f}",
                          f"{col['fps_within_caps']:,.0f}",
                          " ".join(str(v) for v in col["counts"].values()))
    console.print(table)
    for case in cases:
        c = case["checks"]
        console.print(
            f"{case['flow']}: accuracy loss {c['accuracy_loss_points']:+.2f} pt (<= 1.0), MACs "
            f"-{c['macs_reduction']:.1%} (>= 50 %), LUT "
            + ("n/a" if c["lut_reduction"] is None else f"-{c['lut_reduction']:.1%}")
            + f" (>= 40 %), FPS x{c['fps_gain']:.2f} (>= 1.5), aligned/unaligned FPS "
            f"x{c['aligned_vs_unaligned_fps']:.2f}, vs uniform unaligned "
            f"x{c['aligned_vs_uniform_unaligned_fps']:.2f}, unstructured LUT change "
            + ("n/a" if c["unstructured_lut_change"] is None
               else f"{c['unstructured_lut_change']:+.1%}")
            + f", bit-exact {case['verification']['passed']}")


if __name__ == "__main__":
    main()
