"""Hardware-aligned structured pruning vs the unpruned QAT model, vs unaligned structured pruning
at the same MAC sparsity, and vs unstructured magnitude pruning at the same sparsity.

For each flow (default: the pruned TFC/MNIST-5k and CNV/Fashion-MNIST flows in flows/), one run:
1. train the unpruned model exactly as the flow says (seeded);
2. aligned: prune a copy with the flow's `prune:` settings (kept counts aligned to the board,
   and the fold search trading granules between layers for FPS within the caps);
3. three unaligned baselines (`align: false`, granularity 1), each made to reach after every
   step the MAC sparsity the aligned run reached after that step (`step_sparsity`), so all
   compare at the same sparsity step by step:
   - criterion-unaligned: the same criterion, no hardware at all (`allocation: criterion`,
     channels go in global order of normalised importance): the issue's "unaligned" baseline;
   - hw-unaligned: our hardware-cost-aware allocation and fold search without the alignment
     (an ablation that isolates what the divisibility of the counts alone buys);
   - uniform-unaligned: the same fraction of every layer's channels (`allocation: uniform`);
4. unstructured: zero the same fraction of the unpruned weights (magnitude), no shape change;
   and unpruned-matched: the unpruned model trained on for as many epochs as the schedule
   fine-tunes (prune.epochs_added, fades included; same learning rate), so the accuracy
   loss is also measured against a model that had the same training, not only the flow's;
5. FINN's estimates for each on the flow's board: the highest FPS within the caps (folding
   optimizer, maximize) and the least resources reaching the reference FPS, after every step;
   and for the final models, the highest FPS when only 10 ... 70 % of the LUTs may be used
   (where the caps bind, rather than a stage pruning cannot change);
6. bit-exact verification of the aligned pruned model through the whole FINN path.

Usage: python3 benchmarks/pruning.py [--flows flows/a.yaml ...] [--out benchmarks/results/pruning.json]
Prints tables and the acceptance checks; writes JSON and one PNG per flow (accuracy vs LUT and
vs FPS, FPS vs sparsity per step, FPS vs LUT cap)."""

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
# (name, align, allocation): ours, then the baselines (module docstring, item 3)
VARIANTS = (("aligned", True, "hardware"), ("criterion-unaligned", False, "criterion"),
            ("hw-unaligned", False, "hardware"), ("uniform-unaligned", False, "uniform"))
BASELINES = tuple(name for name, _, _ in VARIANTS[1:])
LUT_CAPS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)  # fractions of the board's LUTs (0.7: FINN's default)


def train_baseline(flow: Any, work: Path) -> tuple[Any, Any]:
    from codesign.flow import train_flow_model

    model, data, _ = train_flow_model(flow, work, progress=False)
    return model, data


def verify_bit_exact(model: Any, data: Any, board: Any, flow: Any, work: Path) -> dict[str, Any]:
    from codesign.export import export_qonnx
    from codesign.flow import StageTimer, build_accelerator, reference_outputs

    x = data.x_test[: flow.verify.samples]
    onnx = export_qonnx(model, data.input_shape, work / "model.qonnx.onnx")
    acc = build_accelerator(onnx, board, flow.folding, work, x, reference_outputs(model, x),
                            StageTimer())
    return {"passed": acc.verification.passed, "details": acc.verification.details}


def held_out_accuracy(model: Any, flow: Any) -> dict[str, Any] | None:
    """Top-1 on the test samples the flow's `limit_test` leaves out (the rest of the dataset's
    test split after the same seeded shuffle: no step of the flow saw them), where there are
    any: a second, larger measure of accuracy, e.g. for differences the flow's test subset
    cannot resolve."""
    found = held_out_accuracies({"model": model}, flow)
    return None if found is None else {"samples": found["samples"],
                                       "accuracy": found["accuracy"]["model"]}


def held_out_accuracies(models: dict[str, Any], flow: Any) -> dict[str, Any] | None:
    """`held_out_accuracy` of several models on the same held-out samples (loaded once):
    {"samples": n, "accuracy": {name: top-1}}, or None where the flow leaves none out."""
    from codesign.flow.stages import load_flow_data
    from codesign.train import evaluate

    limit = flow.dataset.limit_test
    if limit is None:
        return None
    whole = load_flow_data(flow.replace(dataset=dataclasses.replace(flow.dataset, limit_test=None)))
    if len(whole.y_test) <= limit:
        return None
    x, y = whole.x_test[limit:], whole.y_test[limit:]
    return {"samples": len(y), "accuracy": {name: evaluate(m, x, y) for name, m in models.items()}}


def unused_training(flow: Any, samples: int) -> tuple[Any, Any]:
    """Up to `samples` training images the flow's `limit_train` leaves out (the rest of the
    training split after the same seeded shuffle, in its order: no step trains on them), with
    their labels: a validation set for choices a flow makes, apart from every test image."""
    from codesign.flow.stages import load_flow_data

    limit = flow.dataset.limit_train
    if limit is None:
        raise SystemExit(f"{flow.name} trains on its whole training split (dataset.limit_train "
                         "unset): set limit_train so some training images are left for validation")
    whole = load_flow_data(flow.replace(dataset=dataclasses.replace(flow.dataset, limit_train=None)))
    return whole.x_train[limit: limit + samples], whole.y_train[limit: limit + samples]


def epoch_matched(model: Any, data: Any, flow: Any, steps: int) -> tuple[Any, int]:
    """A copy of the unpruned model trained on for the epochs the pruning schedule adds in the
    `steps` prune steps it took (fewer than the flow's where a budget of fps or fit was met
    early)."""
    from codesign.prune.schedule import finetune

    settings = flow.prune
    epochs = dataclasses.replace(settings, steps=steps).epochs_added
    matched = copy.deepcopy(model)
    finetune(matched, data, flow.train, settings, epochs, flow.seed + 2000, progress=False)
    return matched, epochs


def reached_per_step(result: Any, prune: Any) -> tuple[float, ...]:
    """The MAC sparsity a schedule run with settings `prune` had reached after each of its prune
    steps (a step that removed nothing repeats the one before), for another run to match step
    by step. A budget of fps or fit may stop before `prune.steps`: then the steps it took."""
    macs0 = result.baseline.macs
    final = 1 if prune.final_epochs > 0 and len(result.steps) > 1 else 0  # its own record
    steps = result.steps[-1].step - final
    if steps < 1:
        raise SystemExit(f"the aligned schedule pruned nothing ({result.budget_note}): "
                         "nothing for a control to match; ask for a deeper budget")
    after = {r.step: 1.0 - r.macs / macs0 for r in result.steps[1:] if r.step <= steps}
    reached, last = [], 0.0
    for step in range(1, steps + 1):
        last = after.get(step, last)
        reached.append(round(last, 6))
    return tuple(reached)


def step_comparison(schedules: dict[str, Any]) -> list[dict[str, Any]]:
    """Per step of the aligned schedule: each variant's MAC sparsity and FPS within the caps at
    that step (the baselines were run to the aligned run's sparsity after every step)."""
    by_step = {name: {s["step"]: s for s in sched["steps"]} for name, sched in schedules.items()}
    rows = []
    for step, ours in sorted(by_step["aligned"].items()):
        if step == 0:
            continue
        macs0 = by_step["aligned"][0]["macs"]
        row: dict[str, Any] = {"step": step}
        for name, steps in by_step.items():
            other = steps.get(step) or steps[max(k for k in steps if k <= step)]
            row[name] = {"sparsity": 1.0 - other["macs"] / macs0, "fps": other["hardware"]["fps"],
                         "counts": other["counts"]}
        for name in by_step:
            if name != "aligned":
                row[f"aligned_vs_{name}_fps"] = ours["hardware"]["fps"] / row[name]["fps"]
        rows.append(row)
    return rows


def caps_sweep(models: dict[str, Any], input_shape: tuple[int, int, int], board: Any,
               fractions: tuple[float, ...], work: Path) -> dict[str, Any]:
    """The highest FPS of each final model when the design may use only `fraction` of the
    board's LUTs (the other caps as the board says): one FINN compile per model, one fold each."""
    from codesign.errors import FoldingError
    from codesign.prune import weight_layers
    from codesign.prune.profile import compile_model, fold_profile, layer_dims

    fps: dict[str, list[float]] = {}
    for name, model in models.items():
        hw = compile_model(model, input_shape, board, work / f"caps-{name}")
        layers = weight_layers(model, input_shape)
        dims = layer_dims(model, layers)
        fps[name] = []
        for fraction in fractions:
            try:
                profile = fold_profile(hw, layers, board.with_caps(LUT=fraction),
                                       objective="maximize", dims=dims)
                fps[name].append(profile.fps)
            except FoldingError:
                fps[name].append(0.0)
    ratios = {name: [a / b if b else None for a, b in zip(fps["aligned"], values, strict=True)]
              for name, values in fps.items() if name not in ("aligned", "unpruned")}
    return {"lut_caps": list(fractions), "fps": fps, "aligned_vs": ratios}


def run_case(path: str, console: Console) -> dict[str, Any]:
    from codesign.flow.prune import unstructured_control
    from codesign.prune import prune_model
    from codesign.prune.report import model_column

    flow = load_flow(ROOT / path)
    assert flow.prune is not None, f"{path} has no prune: section"
    board = load_board(flow.board)
    with tempfile.TemporaryDirectory(prefix="codesign-prune-bench-") as tmp:
        work = Path(tmp)
        console.print(f"[bold]{flow.name}[/]: training the unpruned model")
        model, data = train_baseline(flow, work)
        results: dict[str, Any] = {}
        settings, ref_fps = flow.prune, flow.prune.reference_fps  # None: unpruned's best FPS
        for variant, align, allocation in VARIANTS:
            console.print(f"  pruning ({variant})")
            pruned = copy.deepcopy(model)
            trials = flow.prune.shape_trials if allocation == "hardware" else 0  # needs the search
            settings = dataclasses.replace(settings, align=align, allocation=allocation,
                                           shape_trials=trials)
            result = prune_model(pruned, data, board, settings, flow.train,
                                 reference_fps=ref_fps, workdir=work / variant, seed=flow.seed,
                                 progress=False)
            results[variant] = {"result": result.to_dict(), "model": pruned}
            if variant == "aligned":
                # the baselines compare at the same FPS and, after every step, remove the MAC
                # fraction the aligned run had reached (its granularity overshoots the targets)
                ref_fps = result.reference_fps
                reached = reached_per_step(result, settings)
                settings = dataclasses.replace(settings, budget="sparsity", steps=len(reached),
                                               step_sparsity=reached,
                                               target_sparsity=reached[-1])
        aligned = results["aligned"]["result"]
        sparsity = 1.0 - aligned["steps"][-1]["macs"] / aligned["steps"][0]["macs"]
        console.print(f"  unstructured control at {sparsity:.1%}")
        control = unstructured_control(model, data, board, sparsity, ref_fps, work / "unstr")
        console.print(f"  FPS of the final models under LUT caps {LUT_CAPS}")
        sweep = caps_sweep({"unpruned": model, **{k: v["model"] for k, v in results.items()}},
                           data.input_shape, board, LUT_CAPS, work)
        console.print("  unpruned model trained on for the schedule's epochs")
        matched, extra_epochs = epoch_matched(model, data, flow, len(reached))
        console.print("  bit-exact verification of the aligned pruned model")
        verification = verify_bit_exact(results["aligned"]["model"], data, board, flow,
                                        work / "verify")
    from codesign.train import evaluate

    unpruned = model_column(aligned["steps"][0])
    columns = {"unpruned": unpruned,
               **{name: model_column(results[name]["result"]["steps"][-1])
                  for name, _, _ in VARIANTS},
               "unstructured": control}
    schedules = {k: v["result"] for k, v in results.items()}
    per_step = step_comparison(schedules)
    matched_accuracy = evaluate(matched, data.x_test, data.y_test)
    return {"flow": flow.name, "board": board.name, "reference_fps": ref_fps,
            "settings": dataclasses.asdict(flow.prune), "baseline_epochs": flow.train.epochs,
            # accuracy only: its hardware is the unpruned model's, not measured again
            "matched_unpruned": {"extra_epochs": extra_epochs,
                                 "accuracy": matched_accuracy},
            "columns": columns, "verification": verification, "schedules": schedules,
            "per_step": per_step, "caps_sweep": sweep,
            "checks": acceptance(columns, per_step, sweep, matched_accuracy)}


def _lut(column: dict[str, Any]) -> float | None:
    res = column.get("resources_at_reference")
    return None if res is None else float(res["LUT"])


def geomean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v]
    return float(np.exp(np.mean(np.log(kept)))) if kept else None


def acceptance(c: dict[str, dict[str, Any]], per_step: list[dict[str, Any]],
               sweep: dict[str, Any], matched_accuracy: float) -> dict[str, Any]:
    base, ours = c["unpruned"], c["aligned"]
    lut_base, lut_ours = _lut(base), _lut(ours)
    return {
        "accuracy_loss_points": 100 * (base["accuracy"] - ours["accuracy"]),
        "accuracy_loss_points_epoch_matched": 100 * (matched_accuracy - ours["accuracy"]),
        "macs_reduction": 1 - ours["macs"] / base["macs"],
        "lut_reduction": None if not lut_base or lut_ours is None else 1 - lut_ours / lut_base,
        "fps_gain": ours["fps_within_caps"] / base["fps_within_caps"],
        **{f"aligned_vs_{name}_fps": ours["fps_within_caps"] / c[name]["fps_within_caps"]
           for name in BASELINES},
        **{f"{name}_macs_reduction": 1 - c[name]["macs"] / base["macs"] for name in BASELINES},
        "unstructured_lut_change": (None if not lut_base or _lut(c["unstructured"]) is None
                                    else _lut(c["unstructured"]) / lut_base - 1),
        "unstructured_fps_gain": c["unstructured"]["fps_within_caps"] / base["fps_within_caps"],
        **{f"per_step_geomean_vs_{name}": geomean([r[f"aligned_vs_{name}_fps"] for r in per_step])
           for name in BASELINES},
        **{f"per_step_min_vs_{name}": min(r[f"aligned_vs_{name}_fps"] for r in per_step)
           for name in BASELINES},
        **{f"caps_geomean_vs_{name}": geomean(ratios)
           for name, ratios in sweep["aligned_vs"].items()},
    }


STYLES = (("aligned", "-o"), ("criterion-unaligned", "--s"), ("hw-unaligned", "-.d"),
          ("uniform-unaligned", ":^"))


def plot_case(case: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (acc_lut, acc_fps), (fps_sparsity, fps_caps) = axes
    for variant, style in STYLES:
        steps = case["schedules"][variant]["steps"]
        acc = [100 * s["accuracy"] for s in steps]
        lut = [(s["hardware"]["resources_at_reference"] or {}).get("LUT", np.nan) for s in steps]
        fps = [s["hardware"]["fps"] for s in steps]
        sparsity = [100 * (1 - s["macs"] / steps[0]["macs"]) for s in steps]
        acc_lut.plot(lut, acc, style, label=variant)
        acc_fps.plot(fps, acc, style, label=variant)
        fps_sparsity.plot(sparsity, fps, style, label=variant)
    sweep = case["caps_sweep"]
    for variant, style in (*STYLES, ("unpruned", "-x")):
        fps_caps.plot([100 * c for c in sweep["lut_caps"]], sweep["fps"][variant], style,
                      label=variant)
    control = case["columns"]["unstructured"]
    acc_lut.plot([_lut(control) or np.nan], [100 * control["accuracy"]], "x", ms=10,
                 color="tab:red", label="unstructured")
    acc_fps.plot([control["fps_within_caps"]], [100 * control["accuracy"]], "x", ms=10,
                 color="tab:red", label="unstructured")
    acc_lut.set_xlabel(f"LUT at {case['reference_fps']:,.0f} FPS")
    acc_fps.set_xlabel(f"FPS within {case['board']}'s caps")
    fps_sparsity.set_xlabel("MACs removed (%), per schedule step")
    fps_sparsity.set_ylabel(f"FPS within {case['board']}'s caps")
    fps_caps.set_xlabel(f"LUT cap (% of {case['board']}), final models")
    fps_caps.set_ylabel("highest FPS")
    for ax in (acc_lut, acc_fps):
        ax.set_ylabel("test top-1 (%)")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{case['flow']}: pruning schedules (first point = unpruned)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_comparisons(console: Console, case: dict[str, Any]) -> None:
    steps = Table(title=f"{case['flow']}: FPS within the caps per step, baselines at the "
                        "aligned run's sparsity")
    names = ("aligned", *BASELINES)
    for col in ("step", "sparsity % " + " / ".join(n.split("-")[0] for n in names),
                *(f"FPS {n}" for n in names), *(f"x vs {n.split('-')[0]}" for n in BASELINES)):
        steps.add_column(col)
    for r in case["per_step"]:
        steps.add_row(str(r["step"]), " / ".join(f"{100 * r[n]['sparsity']:.1f}" for n in names),
                      *(f"{r[n]['fps']:,.0f}" for n in names),
                      *(f"{r[f'aligned_vs_{n}_fps']:.2f}" for n in BASELINES))
    console.print(steps)
    sweep = case["caps_sweep"]
    caps = Table(title=f"{case['flow']}: highest FPS of the final models under a LUT cap")
    caps.add_column("model")
    for c in sweep["lut_caps"]:
        caps.add_column(f"LUT {c:.0%}")
    for name, values in sweep["fps"].items():
        caps.add_row(name, *(f"{v:,.0f}" for v in values))
    for name, ratios in sweep["aligned_vs"].items():
        caps.add_row(f"aligned / {name}", *("-" if r is None else f"x{r:.2f}" for r in ratios))
    console.print(caps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning.json")
    args = parser.parse_args()
    console = Console(width=150)
    args.out.parent.mkdir(parents=True, exist_ok=True)
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
        print_comparisons(console, case)
    for case in cases:
        c = case["checks"]
        console.print(
            f"{case['flow']}: accuracy loss {c['accuracy_loss_points']:+.2f} pt (<= 1.0; "
            f"{c['accuracy_loss_points_epoch_matched']:+.2f} vs the epoch-matched unpruned), MACs "
            f"-{c['macs_reduction']:.1%} (>= 50 %), LUT "
            + ("n/a" if c["lut_reduction"] is None else f"-{c['lut_reduction']:.1%}")
            + f" (>= 40 %), FPS x{c['fps_gain']:.2f} (>= 1.5), unstructured LUT change "
            + ("n/a" if c["unstructured_lut_change"] is None
               else f"{c['unstructured_lut_change']:+.1%}")
            + f", bit-exact {case['verification']['passed']}")
        for name in BASELINES:
            console.print(
                f"  aligned / {name} FPS: final x{c[f'aligned_vs_{name}_fps']:.2f}, per step "
                f"geomean x{c[f'per_step_geomean_vs_{name}']:.2f} (min "
                f"x{c[f'per_step_min_vs_{name}']:.2f}), under LUT caps geomean "
                f"x{c[f'caps_geomean_vs_{name}']:.2f}")

if __name__ == "__main__":
    main()
