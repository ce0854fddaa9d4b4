"""`codesign explore` measured: NSGA-II vs random vs grid at equal trial budgets (hypervolume of
the front across boards, median of seeds), wall time with 1 vs 2 local Dask workers, the
engine's overhead per trial, and the trainings the variant cache saved.

Usage: python3 benchmarks/explore.py [--trials 12] [--seeds 0 1 2] [--throughput-trials 6]
Writes benchmarks/results/explore.json and explore.png, prints a table. The space is a small
one on sklearn digits (MLP 16-16, 1 epoch, folded for Pynq-Z1 and ZCU104 at the least LUTs
reaching 1 M FPS) so the comparison runs in minutes; trained variants are shared between the
sampler runs (same configuration, same seed: the same variant), which the cache makes exact.
Not a test: machines are shared, so say how loaded the machine was."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from codesign.atomic import atomic_path, write_json
from codesign.boards import load_board
from codesign.flow.explore import VARIANTS_DIR, ExploreResult, explore
from codesign.flow.explore_points import feasible
from codesign.space import SpaceConfig, load_space

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SAMPLERS = ("nsga2", "random", "grid")


def write_space(tmp: Path, sampler: str, seed: int, flow_seed: int, trials: int) -> Path:
    base = {"name": "bench", "seed": flow_seed, "board": "pynq-z1", "dataset": {"name": "digits"},
            "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2,
                      "options": {"hidden": [16, 16]}},
            "train": {"epochs": 1, "batch_size": 64, "lr": 0.02},
            "folding": {"mode": "optimize", "objective": "min_resources", "target_fps": 1e6,
                        "compare_setfolding": False},
            "verify": {"samples": 5}}
    (tmp / "bench_flow.yaml").write_text(yaml.safe_dump(base))
    space = {"name": f"bench_{sampler}_{seed}", "base": "bench_flow.yaml",
             "boards": ["pynq-z1", "zcu104"], "objectives": {"accuracy": "max", "lut": "min"},
             "constraints": {"fits": True}, "sampler": sampler, "trials": trials, "seed": seed,
             "space": {"model.weight_bits": [1, 2, 3, 4], "model.act_bits": [2, 3, 4],
                       "train.lr": {"low": 0.005, "high": 0.05, "step": 0.015}}}
    path = tmp / f"space_{sampler}_{seed}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def hypervolume(space: SpaceConfig, result: ExploreResult) -> float:
    """Area dominated by the feasible points in (accuracy up, LUT down), normalised: accuracy
    in [0, 1], LUT as a fraction of the largest board's LUT budget (reference point (0, 1))."""
    worst = max(load_board(b).budget()["LUT"] for b in space.boards)
    points = sorted(((p.accuracy, p.point.lut / worst) for t in result.trials for p in t.points()
                     if feasible(space, p)), key=lambda xy: (-xy[0], xy[1]))
    area, best_lut = 0.0, 1.0
    for i, (acc, lut) in enumerate(points):  # sweep by decreasing accuracy
        next_acc = points[i + 1][0] if i + 1 < len(points) else 0.0
        best_lut = min(best_lut, lut)
        area += (acc - next_acc) * (1.0 - best_lut)
    return area


def run(space_file: Path, out: Path, shared: Path | None, workers: int,
        trials: int) -> tuple[SpaceConfig, ExploreResult, float]:
    out.mkdir(parents=True, exist_ok=True)
    if shared is not None and not (out / VARIANTS_DIR).exists():
        shared.mkdir(parents=True, exist_ok=True)
        os.symlink(shared, out / VARIANTS_DIR)
    space = load_space(space_file)
    start = time.perf_counter()
    result = explore(space, out, trials=trials, workers=workers)
    return space, result, time.perf_counter() - start


def compare_samplers(tmp: Path, trials: int, seeds: list[int]) -> dict[str, Any]:
    shared = tmp / "shared_variants"
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SAMPLERS}
    for sampler in SAMPLERS:
        for seed in seeds:
            path = write_space(tmp, sampler, seed, flow_seed=3, trials=trials)
            space, result, wall = run(path, tmp / f"{sampler}_{seed}", shared, 1, trials)
            rows[sampler].append({
                "seed": seed, "hypervolume": hypervolume(space, result), "wall_s": wall,
                "trials": len(result.trials),
                "failed": sum(1 for t in result.trials if not t.complete),
                "cached": result.cache_hits})
    trained = len([d for d in shared.iterdir() if not d.name.startswith(".")])
    total = sum(r["trials"] for rs in rows.values() for r in rs)
    return {"runs": rows, "median_hypervolume": {s: statistics.median(r["hypervolume"] for r in rs)
                                                 for s, rs in rows.items()},
            "trials_total": total, "trainings": trained, "trainings_saved_by_cache": total - trained}


def compare_workers(tmp: Path, trials: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workers in (1, 2):
        # a fresh flow seed per run: every trial trains (no cache hit between the two runs)
        path = write_space(tmp, "grid", 0, flow_seed=100 + workers, trials=trials)
        _, result, wall = run(path, tmp / f"workers_{workers}", None, workers, trials)
        busy = sum(t.outcome.seconds for t in result.trials if t.outcome is not None)
        out[str(workers)] = {"wall_s": wall, "trials": len(result.trials), "trial_s_sum": busy,
                             "cached": result.cache_hits,
                             "overhead_per_trial_s": (wall * workers - busy) / len(result.trials)}
    out["throughput_ratio_2_vs_1"] = out["1"]["wall_s"] / out["2"]["wall_s"]
    return out


def plot(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    runs = doc["samplers"]["runs"]
    for i, sampler in enumerate(SAMPLERS):
        values = [r["hypervolume"] for r in runs[sampler]]
        left.scatter([i] * len(values), values, color=f"C{i}")
        left.hlines(statistics.median(values), i - 0.25, i + 0.25, color=f"C{i}")
    left.set_xticks(range(len(SAMPLERS)), SAMPLERS)
    left.set_ylabel("hypervolume (accuracy x LUT saved)")
    left.set_title(f"{doc['trials']} trials per run, median of {len(doc['seeds'])} seeds")
    workers = doc["workers"]
    right.bar(["1 worker", "2 workers"], [workers["1"]["wall_s"], workers["2"]["wall_s"]])
    right.set_ylabel("wall time (s)")
    right.set_title(f"{doc['throughput_trials']} trials: x{workers['throughput_ratio_2_vs_1']:.2f}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--throughput-trials", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codesign-explore-bench-") as tmp:
        doc: dict[str, Any] = {"trials": args.trials, "seeds": args.seeds,
                               "throughput_trials": args.throughput_trials,
                               "load_average_before": os.getloadavg()}
        doc["samplers"] = compare_samplers(Path(tmp), args.trials, args.seeds)
        doc["workers"] = compare_workers(Path(tmp), args.throughput_trials)
        doc["load_average_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "explore.json", doc)
    plot(doc, RESULTS / "explore.png")
    table = Table(title="codesign explore: samplers at equal budgets, 1 vs 2 workers")
    for column in ("measure", "value"):
        table.add_column(column)
    for sampler, hv in doc["samplers"]["median_hypervolume"].items():
        table.add_row(f"median hypervolume, {sampler}", f"{hv:.4f}")
    s = doc["samplers"]
    table.add_row("trials / trainings / saved by the cache",
                  f"{s['trials_total']} / {s['trainings']} / {s['trainings_saved_by_cache']}")
    w = doc["workers"]
    for n in ("1", "2"):
        table.add_row(f"{args.throughput_trials} trials on {n} worker(s)",
                      f"{w[n]['wall_s']:.1f} s wall, overhead {w[n]['overhead_per_trial_s']:.2f} "
                      "s/trial")
    table.add_row("throughput 2 vs 1 workers", f"x{w['throughput_ratio_2_vs_1']:.2f}")
    table.add_row("load average before / after",
                  f"{doc['load_average_before'][0]:.1f} / {doc['load_average_after'][0]:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
