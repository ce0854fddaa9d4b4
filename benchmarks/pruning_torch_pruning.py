"""The peer a user would pick instead: Torch-Pruning (torch-pruning 1.6.1) on the pruned family
flows, at the MAC sparsity codesign's aligned schedule reached, through the same FINN build.

Torch-Pruning's own surgery does not leave a usable Brevitas model (benchmarks/
prune_group_discovery.py: a classifier with the wrong number of inputs after a flatten with
per-tensor quantizers, state dicts that no longer load with per-channel ones), so a user could
not compile what it cuts. What can be compared is its policy: its MetaPruner (GroupTaylorImportance,
local pruning, `round_to`) decides which channels of each coupled group go, and codesign's
Brevitas-consistent surgery (`prune_channels`) cuts exactly those. Per seed (the same
unpruned model as benchmarks/pruning_families.py: same flow, same seed):
1. the flow's `steps` prune -> fine-tune steps, each to the MAC sparsity of a geometric spread
   towards the aligned run's final sparsity (Torch-Pruning's ratio per step is the smallest, on
   a 1/256 grid, whose cut reaches that step's MACs: its local pruning with `round_to` moves
   every layer by whole multiples, so it can land well past the target, which the table shows),
   then `final_epochs`: the same epochs and learning rate as codesign's schedule;
2. variants: `round_to` = 8 (as users set it) and `round_to` = the board's lane granularity
   (codesign's granularity for the unpruned folding; Torch-Pruning takes one value for all
   layers, so the largest group granularity);
3. FINN's estimates on the flow's board (FPS within the caps as built, LUT at the unpruned best
   FPS), accuracy, and bit-exact verification, beside the aligned run's figures read from the
   families benchmark's JSON.

Usage: python3 benchmarks/pruning_torch_pruning.py [--families benchmarks/results/pruning_families.json]
       [--flows flows/a.yaml ...] [--seeds 0 1 2] [--out benchmarks/results/pruning_torch_pruning.json]
       python3 benchmarks/pruning_torch_pruning.py --combine a.json b.json [--out ...]
Needs `pip install torch-pruning==1.6.1` (not a codesign dependency)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesign.atomic import write_json
from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow.run import flow_board

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FLOWS = ("flows/resnet8_w4a4_fashion_pruned.yaml", "flows/dscnn_w4a4_fashion_pruned.yaml")
RATIO_GRID = 256


def tp_keep(model: Any, data: Any, ratio: float, round_to: int | None,
            batches: int = 8) -> dict[str, list[int]]:
    """The channels Torch-Pruning's MetaPruner (Taylor, local) keeps in each codesign group."""
    import torch
    import torch_pruning as tp

    from codesign.prune import channel_groups

    groups = channel_groups(model, data.input_shape)
    names = {m: n for n, m in model.named_modules()}
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d
                                                     | torch.nn.Conv1d)][-1]
    was_training = model.training
    model.eval()  # tracing and scoring must not move BatchNorm statistics
    example = torch.as_tensor(data.x_train[:1]).float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner = tp.pruner.MetaPruner(model, example, importance=tp.importance.TaylorImportance(),
                                      pruning_ratio=ratio, round_to=round_to,
                                      ignored_layers=[last])
        model.zero_grad()
        gen = torch.Generator().manual_seed(0)
        order = torch.randperm(len(data.x_train), generator=gen)
        for b in range(batches):
            idx = order[b * 64:(b + 1) * 64].numpy()
            x = torch.as_tensor(data.x_train[idx]).float()
            y = torch.as_tensor(data.y_train[idx]).long()
            torch.nn.functional.cross_entropy(model(x), y).backward()
        keep: dict[str, list[int]] = {}
        for group in pruner.step(interactive=True):
            root = names[group[0].dep.target.module]
            # Torch-Pruning roots a depthwise group at the depthwise conv, codesign at its producer
            owner = next((g for g in groups if root in (*g.producers, *g.members)), None)
            if owner is None:
                continue
            cut = {int(getattr(i, "idx", i)) for i in group[0].idxs}
            keep[owner.name] = [c for c in range(owner.channels) if c not in cut]
        model.zero_grad()
    model.train(was_training)
    return keep


def cut_to_sparsity(model: Any, data: Any, macs0: int, goal: float,
                    round_to: int | None) -> tuple[dict[str, list[int]], float]:
    """Torch-Pruning's keep sets at the smallest ratio on the grid whose cut removes at least
    `goal` of the unpruned MACs (`macs0`), and the sparsity that cut reaches; when no ratio the
    search visits gets there (`round_to` can forbid it), the deepest cut it saw."""
    import copy

    from codesign.prune import model_cost, prune_channels

    def reached(keep: dict[str, list[int]]) -> float:
        trial = prune_channels(copy.deepcopy(model), keep, data.input_shape)
        return 1.0 - model_cost(trial, data.input_shape).macs / macs0

    lo, hi = 0, RATIO_GRID - 1  # ratio = k / RATIO_GRID; binary search on k
    best, deepest = None, ({}, 0.0)
    while lo <= hi:
        mid = (lo + hi) // 2
        keep = tp_keep(model, data, mid / RATIO_GRID, round_to)
        sparsity = reached(keep)
        if sparsity > deepest[1]:
            deepest = (keep, sparsity)
        if sparsity >= goal - 1e-9:
            best, hi = (keep, sparsity), mid - 1
        else:
            lo = mid + 1
    return best or deepest


def run_variant(model: Any, data: Any, board: Any, flow: Any, target: float,
                round_to: int | None, reference_fps: float, seed: int,
                work: Path) -> dict[str, Any]:
    from pruning import verify_bit_exact

    from codesign.prune import model_cost, prune_channels
    from codesign.prune.schedule import finetune, measure_hardware
    from codesign.prune.surgery import channel_counts
    from codesign.train import evaluate

    settings = flow.prune
    macs0 = model_cost(model, data.input_shape).macs
    steps = []
    for step in range(1, settings.steps + 1):
        goal = 1.0 - (1.0 - target) ** (step / settings.steps)
        keep, sparsity = cut_to_sparsity(model, data, macs0, goal, round_to)
        prune_channels(model, keep, data.input_shape)
        finetune(model, data, flow.train, settings, settings.finetune_epochs, seed + step, False)
        steps.append({"step": step, "goal": goal, "sparsity": sparsity,
                      "counts": channel_counts(model, data.input_shape)})
    finetune(model, data, flow.train, settings, settings.final_epochs, seed + 1000, False)
    point, _ = measure_hardware(model, data.input_shape, board, reference_fps, work / "hw")
    lut = point.resources_at_reference
    return {"round_to": round_to, "steps": steps,
            "accuracy": evaluate(model, data.x_test, data.y_test),
            "macs_reduction": 1.0 - model_cost(model, data.input_shape).macs / macs0,
            "counts": channel_counts(model, data.input_shape), "fps": point.fps,
            "lut_at_reference": None if lut is None else lut["LUT"],
            "verification": verify_bit_exact(model, data, board, flow, work / "verify")}


def run_seed(flow: Any, board: Any, seed: int, aligned: dict[str, Any],
             work: Path) -> dict[str, Any]:
    import copy

    from codesign.flow import train_flow_model
    from codesign.prune import channel_groups
    from codesign.prune.alignment import granularity
    from codesign.prune.schedule import measure_hardware
    from codesign.train import evaluate

    flow = flow.replace(seed=seed)
    model, data, _ = train_flow_model(flow, work, progress=False)
    point, profile = measure_hardware(model, data.input_shape, board, None, work / "unpruned")
    grain = granularity(channel_groups(model, data.input_shape), profile)
    target = aligned["aligned"]["macs_reduction"]
    row: dict[str, Any] = {
        "seed": seed, "unpruned_accuracy": evaluate(model, data.x_test, data.y_test),
        "families_unpruned_accuracy": aligned["unpruned_accuracy"], "unpruned_fps": point.fps,
        "granularity": grain, "target_sparsity": target,
        "aligned": {k: aligned["aligned"][k] for k in ("accuracy", "fps", "macs_reduction",
                                                      "counts")}}
    done: dict[int, dict[str, Any]] = {}
    for name, round_to in (("tp-round8", 8), ("tp-lanes", max(grain.values()))):
        if round_to in done:  # the board's lanes are 8 too: the same run
            row[name] = {**done[round_to], "same_as": "tp-round8"}
            continue
        result = run_variant(copy.deepcopy(model), data, board, flow, target, round_to,
                             point.fps, seed, work / name)
        done[round_to] = result
        result["aligned_vs_fps"] = (aligned["aligned"]["fps"] / result["fps"]
                                    if result["fps"] else None)
        result["accuracy_vs_aligned_points"] = 100 * (result["accuracy"]
                                                      - aligned["aligned"]["accuracy"])
        row[name] = result
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=Path, default=RESULTS / "pruning_families.json",
                        help="JSON of benchmarks/pruning_families.py (the aligned runs)")
    parser.add_argument("--flows", nargs="+", default=list(FLOWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning_torch_pruning.json")
    parser.add_argument("--combine", nargs="+", type=Path, default=None,
                        help="merge the JSON of separate runs (per family or seed) into --out")
    args = parser.parse_args()
    console = Console(width=200)
    if args.combine:
        merged: dict[str, dict[str, Any]] = {}
        for part in args.combine:
            for family in json.loads(part.read_text())["families"]:
                merged.setdefault(family["flow"], {**family, "rows": []})["rows"] += family["rows"]
        for family in merged.values():
            family["rows"].sort(key=lambda r: r["seed"])
        report = {"benchmark": "pruning_torch_pruning", "families": list(merged.values())}
        write_json(args.out, report)
        plot(report, args.out.with_suffix(".png"))
        print_report(console, report)
        return
    families = {f["flow"]: {r["seed"]: r for r in f["rows"]}
                for f in json.loads(args.families.read_text())["families"]}
    report: dict[str, Any] = {"benchmark": "pruning_torch_pruning", "families": []}
    for path in args.flows:
        flow = load_flow(ROOT / path)
        board = flow_board(flow, load_board(flow.board))
        family: dict[str, Any] = {"flow": flow.name, "board": board.name, "rows": []}
        report["families"].append(family)
        for seed in args.seeds:
            if seed not in families.get(flow.name, {}):
                console.print(f"{flow.name} seed {seed}: no aligned run in {args.families}")
                continue
            console.print(f"[bold]{flow.name}[/]: seed {seed}")
            with tempfile.TemporaryDirectory(prefix="codesign-tp-") as tmp:
                family["rows"].append(run_seed(flow, board, seed, families[flow.name][seed],
                                               Path(tmp)))
            write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print_report(console, report)


def plot(report: dict[str, Any], path: Path) -> None:
    """Per family and seed: MAC sparsity and FPS within the caps, aligned beside each variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.atomic import atomic_path

    fig, (spars_ax, fps_ax) = plt.subplots(1, 2, figsize=(12, 4))
    labels, names = [], ("aligned", "tp-round8", "tp-lanes")
    rows = [(f["flow"], r) for f in report["families"] for r in f["rows"]]
    for i, (flow, r) in enumerate(rows):
        labels.append(f"{flow.split('_')[0]} s{r['seed']}")
        for k, name in enumerate(names):
            x = i + (k - 1) * 0.27
            spars_ax.bar(x, 100 * r[name]["macs_reduction"], 0.27, color=f"C{k}",
                         label=name if i == 0 else None)
            fps_ax.bar(x, r[name]["fps"], 0.27, color=f"C{k}", label=name if i == 0 else None)
    for ax, label in ((spars_ax, "MACs removed (%)"), (fps_ax, "FPS within the caps")):
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    spars_ax.legend(fontsize=8)
    fig.suptitle("codesign aligned vs Torch-Pruning's policy (codesign's surgery), same FINN path")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="codesign aligned vs Torch-Pruning (its Taylor policy, codesign's "
                        "surgery) at the same MAC sparsity, FPS within the same caps")
    for col in ("flow", "seed", "variant", "round_to", "MACs -", "top-1", "vs aligned pt",
                "FPS", "aligned FPS", "aligned / TP", "counts", "bit-exact"):
        table.add_column(col)
    for family in report["families"]:
        for r in family["rows"]:
            for name in ("tp-round8", "tp-lanes"):
                v = r[name]
                table.add_row(family["flow"], str(r["seed"]), name, str(v["round_to"]),
                              f"{v['macs_reduction']:.1%}", f"{100 * v['accuracy']:.2f}",
                              f"{v['accuracy_vs_aligned_points']:+.2f}", f"{v['fps']:,.0f}",
                              f"{r['aligned']['fps']:,.0f}",
                              "-" if v["aligned_vs_fps"] is None else f"x{v['aligned_vs_fps']:.2f}",
                              " ".join(map(str, v["counts"].values())),
                              "yes" if v["verification"]["passed"] else "NO")
        for name in ("tp-round8", "tp-lanes"):
            ratios = [r[name]["aligned_vs_fps"] for r in family["rows"]
                      if r[name]["aligned_vs_fps"]]
            if ratios:
                console.print(f"{family['flow']} {name}: median aligned / TP FPS "
                              f"x{statistics.median(ratios):.2f} over {len(ratios)} seeds")
    console.print(table)


if __name__ == "__main__":
    main()
