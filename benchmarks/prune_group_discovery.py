"""Issue 20 item 1's decision, measured: coupled channel groups from Torch-Pruning's
DependencyGraph or from codesign.prune's own fx walk (prune/spaces.py), on the zoo's residual,
depthwise-separable and 1-D models, with per-tensor and per-channel (weights + activations,
shared residual quantizer included) Brevitas quantizers.

Per model and tool: discovery time (median of --repeats), the groups found (members, consumers,
BatchNorms; compared as sets of layer names), how many per-channel quantizer tensors the groups
reach (the ones surgery must cut), and whether cutting the odd channels of every group gives a
model that runs, reloads its own state dict and equals the unpruned model with those channels
zeroed (codesign) / runs at all (Torch-Pruning, whose own pruner does the cut).

Usage: python3 benchmarks/prune_group_discovery.py [--repeats 5]   (needs `pip install
torch-pruning`; it is not a codesign dependency). Writes benchmarks/results/
prune_group_discovery.json and prints a table. Machines are shared: quote medians."""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.atomic import write_json  # noqa: E402
from codesign.prune import channel_groups, prune_channels  # noqa: E402
from tests.prune.families import FAMILIES, family_model  # noqa: E402
from tests.prune.test_coupled import _removal_and_reference  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
QUANTS = ("per-tensor", "per-channel")
LAYERS = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm1d,
          torch.nn.BatchNorm2d)


def _median_time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _per_channel_tensors(model: torch.nn.Module, names: set[str]) -> int:
    """Quantizer parameters/buffers with more than one entry under the named modules."""
    modules = dict(model.named_modules())
    return sum(1 for n in names for key, t in modules[n].named_parameters()
               if "quant" in key and t.numel() > 1)


def _quantizer_modules(model: torch.nn.Module) -> set[str]:
    from brevitas import nn as qnn

    return {n for n, m in model.named_modules()
            if isinstance(m, qnn.QuantReLU | qnn.QuantIdentity | qnn.QuantHardTanh)}


def ours(family: str, quant: str, repeats: int) -> dict[str, Any]:
    model, shape = family_model(family, quant)
    seconds, groups = _median_time(lambda: channel_groups(model, shape), repeats)
    sets = sorted(sorted({*g.members, *g.consumers, *g.batchnorms}) for g in groups)
    quantizers = {f for g in groups for f in g.followers} & _quantizer_modules(model)
    removed, reference = _removal_and_reference(model, shape)
    prune_channels(model, {g.name: [c for c in range(g.channels) if c not in removed[g.name]]
                           for g in groups}, shape)
    x = torch.randint(0, 256, (8, *shape)).float()
    with torch.no_grad():
        diff = float((model(x) - reference(x)).abs().max())
        again = copy.deepcopy(model)
        again.load_state_dict(model.state_dict())
        reloads = bool(torch.equal(again(x), model(x)))
    return {"seconds": seconds, "groups": sets, "quantizer_tensors_cut":
            _per_channel_tensors(model, quantizers), "runs": True, "reloads": reloads,
            "max_abs_diff_vs_zeroing": diff}


def torch_pruning(family: str, quant: str, repeats: int) -> dict[str, Any]:
    import torch_pruning as tp

    model, shape = family_model(family, quant)
    example = torch.randint(0, 256, (1, *shape)).float()
    roots = [torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear]
    names = {m: n for n, m in model.named_modules()}

    def discover() -> list:
        graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
        return [g for g in graph.get_all_groups(root_module_types=roots)
                if g[0][0].target.module is not model.classifier]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds, groups = _median_time(discover, repeats)
        sets = sorted(sorted({names[d.target.module] for d, _ in g
                              if isinstance(d.target.module, LAYERS)}) for g in groups)
        quantizers = {names[d.target.module] for g in groups for d, _ in g
                      if d.target.module in names} & _quantizer_modules(model)
        removed, reference = _removal_and_reference(model, shape)  # the same channels as ours
        ours_groups = {g.name: g for g in channel_groups(model, shape)}
        for group in groups:
            root = names[group[0][0].target.module]
            owner = next((g for g in ours_groups.values() if root in g.producers), None)
            if owner is not None:
                group.prune(idxs=removed[owner.name])
    x = torch.randint(0, 256, (8, *shape)).float()
    result = {"seconds": seconds, "groups": sets, "quantizer_tensors_cut":
              _per_channel_tensors(model, quantizers), "runs": False, "reloads": False,
              "max_abs_diff_vs_zeroing": None, "error": None}
    try:
        with torch.no_grad():
            result["max_abs_diff_vs_zeroing"] = float((model(x) - reference(x)).abs().max())
            result["runs"] = True
            again = copy.deepcopy(model)
            again.load_state_dict(model.state_dict())
            result["reloads"] = bool(torch.equal(again(x), model(x)))
    except RuntimeError as exc:
        result["error"] = str(exc).splitlines()[0][:120]
    return result


def _diff(result: dict[str, Any]) -> str:
    value = result["max_abs_diff_vs_zeroing"]
    return "-" if value is None else f"{value:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for family in sorted(FAMILIES):
        for quant in QUANTS:
            mine = ours(family, quant, args.repeats)
            theirs = torch_pruning(family, quant, args.repeats)
            rows.append({"family": family, "quant": quant, "codesign": mine,
                         "torch_pruning": theirs,
                         "same_groups": mine["groups"] == theirs["groups"]})
    table = Table("family", "quantizers", "codesign s", "TP s", "same groups",
                  "quantizer tensors in groups (ours/TP)", "pruned runs + reloads (ours/TP)",
                  "max|diff| vs zeroing (ours/TP)", title="coupled channel group discovery")
    for r in rows:
        mine, theirs = r["codesign"], r["torch_pruning"]
        table.add_row(r["family"], r["quant"], f"{mine['seconds']:.3f}",
                      f"{theirs['seconds']:.3f}", str(r["same_groups"]),
                      f"{mine['quantizer_tensors_cut']}/{theirs['quantizer_tensors_cut']}",
                      f"{mine['runs'] and mine['reloads']}/{theirs['runs'] and theirs['reloads']}",
                      f"{_diff(mine)}/{_diff(theirs)}")
    Console().print(table)
    for r in rows:
        if r["torch_pruning"]["error"]:
            print(f"TP {r['family']} {r['quant']}: {r['torch_pruning']['error']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "prune_group_discovery.json", {"repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
