"""`codesign explore` measured: NSGA-II vs random vs grid at equal trial budgets (hypervolume of
the design points across boards, median of sampler seeds), the engine's overhead per trial, the
trainings the variant cache saved, and wall time with 1 vs 2 local Dask workers.

Usage: python3 benchmarks/explore.py [--space tfc|digits] [--only samplers|throughput]
                                     [--trials 24] [--seeds 0 1 2] [--throughput-trials 8]
Writes benchmarks/results/explore_tfc.json / explore_tfc.png (--space digits: explore.json /
explore.png) and prints a table; --only re-runs one part and keeps the other part's results.

Spaces. `tfc` is the issue's TFC space (flows/spaces/tfc_space_quick.yaml: base flow
flows/tfc_w2a2_mnist5k.yaml, boards Pynq-Z2 / Ultra96-V2 / ZCU104, objectives accuracy max,
FPS max, LUT min, constraints fits + min accuracy 0.90, weight bits [1, 2, 4], activation bits
[1, 2, 4], prune target sparsity 0.1-0.7) at a reduced training cost so that 3 samplers x 3
seeds x 24 trials run in under an hour on the shared 2-core machine. Reductions against the
issue's space: 5 training epochs (base flow 10); pruning in one step plus 3 final epochs (base
3 steps of 2 epochs, then 8); no unstructured-pruning control; 10 verification samples; no
simulation; no SetFolding comparison; sparsity on a 0.1 grid from 0.1 (0.0 is not a valid prune
target: an unpruned model has no prune section) so every sampler draws from the same 63
configurations (14 of them, W2A1 and W4A1, fail as recorded: 1-bit activations need 1-bit
weights). `digits` is a small space on sklearn digits (MLP 16-16, 1 epoch, Pynq-Z1 and ZCU104,
accuracy max and LUT min) that runs in minutes.

Hypervolume: of the feasible design points (every board) of a run, each objective mapped to
[0, 1] with the reference at 0: accuracy above the space's min_accuracy (0 without one) as a
fraction of what is left to 100 %; FPS over the highest FPS of any point of the comparison;
LUT saved against the largest board's LUT budget. Trained variants are shared between the
sampler runs through one cache (a fixed flow seed: the same configuration is the same variant),
so each configuration is trained once in the whole comparison. The engine's overhead per trial
is the run's wall time less the time its completed trials spent in the worker, per trial (it
includes the local cluster's start, Optuna's ask/tell on SQLite, the result files, and the
worker time of failed trials). The throughput part runs the same grid of trainable
configurations (no 1-bit activations) with empty caches on 1, then 2 worker processes.
Not a test: machines are shared, so say how loaded the machine was.

Last run (tfc, 2026-12-02, codesign cc2b835, samplers part only, 37 min wall, load average
8.6 at the start, 4.4 at the end, 5-10 in between, 1 worker): hypervolume median of seeds 0/1/2
NSGA-II 0.6570 (0.6570, 0.7155, 0.6239), random 0.6163 (0.6267, 0.6163, 0.6060), grid 0.7380
(0.7380, 0.6719, 0.7418): NSGA-II >= random on every seed (goal met); the grid sampler (the 63
configurations in a seeded shuffle, none asked twice) did best, NSGA-II asked 3-7 of its 24
trials for a configuration it had already run (cache hits, but trials of the budget).
216 trials, 176 complete, 40 failed (W2A1/W4A1, as expected); 49 trainings, 127 trials reused
a trained variant (23 of them a repeat within the same study, the rest shared between runs).
Median trial 36.9 s when it trains (5 epochs + one prune step + 3 epochs + 3 boards folded),
0.01 s when cached; engine overhead 0.87 s per trial (median of runs; 0.70 s after the 4.1 s
cluster start). Ranges over all feasible points: accuracy 0.904-0.952, FPS 1.02-2.04 M, LUT
77,035-9,933. For scale, one trial of the shipped flows/spaces/tfc_space.yaml (full base
flow: 10 epochs, 3 prune steps of 2 epochs + 8) took 60.2 s in the worker, 70 s wall, load 0.5
rising to 4.7. An earlier run of the same comparison that scaled LUT against ZCU104's
161,280-LUT budget (every point then 0.52-0.94, so the volume tracked the best accuracy found)
gave NSGA-II 0.3860, random 0.3672, grid 0.4418. Throughput (1 vs 2 local workers, `--only throughput`,
2026-12-02 at 46c3511, the machine otherwise idle: load 0.7 before, 1.9 after): the same 8
configurations trained from scratch took 109.9 s on one worker and 63.2 s on two, x1.74 (goal
>= 1.6); engine overhead 0.61 s per trial on one worker, 1.55 s on two (cluster start included)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from codesign.atomic import atomic_path, write_json
from codesign.flow.cluster import open_engine
from codesign.flow.explore import VARIANTS_DIR, ExploreResult, explore
from codesign.flow.explore_points import DesignPoint, feasible
from codesign.space import SpaceConfig, load_space

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TFC_SPACE = ROOT / "flows" / "spaces" / "tfc_space_quick.yaml"
SAMPLERS = ("nsga2", "random", "grid")
SPACES = ("tfc", "digits")
PARTS = ("samplers", "throughput")
SCHEMA = 2
# objective -> the board budget key a "min" resource objective is measured against
REFERENCE_MARGIN = 0.1  # the hypervolume's reference point: 10 % of each range beyond the worst


def space_doc(kind: str, tmp: Path) -> dict[str, Any]:
    """The space mapping of `kind`, its base flow as an absolute path."""
    if kind == "tfc":
        doc = yaml.safe_load(TFC_SPACE.read_text())
        doc["base"] = str((TFC_SPACE.parent / doc["base"]).resolve())
        return doc
    base = {"name": "bench", "seed": 3, "board": "pynq-z1", "dataset": {"name": "digits"},
            "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2,
                      "options": {"hidden": [16, 16]}},
            "train": {"epochs": 1, "batch_size": 64, "lr": 0.02},
            "folding": {"mode": "optimize", "objective": "min_resources", "target_fps": 1e6,
                        "compare_setfolding": False},
            "verify": {"samples": 5}}
    (tmp / "bench_flow.yaml").write_text(yaml.safe_dump(base))
    return {"name": "bench", "base": str(tmp / "bench_flow.yaml"), "boards": ["pynq-z1", "zcu104"],
            "objectives": {"accuracy": "max", "lut": "min"}, "constraints": {"fits": True},
            "space": {"model.weight_bits": [1, 2, 3, 4], "model.act_bits": [2, 3, 4],
                      "train.lr": {"low": 0.005, "high": 0.05, "step": 0.015}}}


def write_space(tmp: Path, doc: dict[str, Any], sampler: str, seed: int, trials: int,
                tag: str, dims: dict[str, Any] | None = None) -> Path:
    space = {**doc, "name": f"{doc['name']}_{tag}", "sampler": sampler, "trials": trials,
             "seed": seed, "space": {**doc["space"], **(dims or {})}}
    path = tmp / f"space_{tag}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def feasible_points(space: SpaceConfig, result: ExploreResult) -> list[DesignPoint]:
    return [p for t in result.trials for p in t.points() if feasible(space, p)]


def hypervolume_max(points: list[tuple[float, ...]]) -> float:
    """Exact volume dominated by `points` (every coordinate maximised, reference at 0), by
    slicing along the last coordinate (fine for the few dozen points of a run)."""
    points = [p for p in points if all(x > 0 for x in p)]
    if not points:
        return 0.0
    if len(points[0]) == 1:
        return max(p[0] for p in points)
    points.sort(key=lambda p: p[-1], reverse=True)
    volume = 0.0
    for i, p in enumerate(points):
        below = points[i + 1][-1] if i + 1 < len(points) else 0.0
        if p[-1] > below:
            volume += (p[-1] - below) * hypervolume_max([q[:-1] for q in points[: i + 1]])
    return volume


def objective_ranges(space: SpaceConfig, points: list[DesignPoint]) -> list[tuple[float, float]]:
    """Per objective, (worst, best) over `points` (the feasible points of the whole comparison)."""
    ranges = []
    for objective, direction in space.objectives:
        values = [p.value(objective) for p in points] or [0.0]
        worst, best = (min(values), max(values)) if direction == "max" else (max(values), min(values))
        ranges.append((worst, best))
    return ranges


def scaled(point: DesignPoint, objectives: tuple[tuple[str, str], ...],
           ranges: list[tuple[float, float]]) -> tuple[float, ...]:
    """The point's objectives on the comparison's range, worst 0 and best 1, shifted so that the
    reference sits 10 % of the range beyond the worst (a point at the worst value still counts)."""
    out = []
    for (objective, _), (worst, best) in zip(objectives, ranges, strict=True):
        u = 1.0 if best == worst else (point.value(objective) - worst) / (best - worst)
        out.append((u + REFERENCE_MARGIN) / (1.0 + REFERENCE_MARGIN))
    return tuple(out)


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


def run_row(result: ExploreResult, wall: float, startup: float) -> dict[str, Any]:
    done = [t.outcome for t in result.trials if t.outcome is not None]
    busy = sum(o.seconds for o in done)
    trials = len(result.trials)
    return {"wall_s": wall, "trials": trials, "complete": len(done),
            "failed": trials - len(done), "cached": result.cache_hits,
            "repeats_in_run": len(done) - len({o.key for o in done}),
            "trained_here": sum(1 for o in done if not o.cached),
            "trial_s": [o.seconds for o in done], "trial_cached": [o.cached for o in done],
            "trial_s_sum": busy, "overhead_per_trial_s": (wall - busy) / trials,
            "overhead_per_trial_after_start_s": (wall - startup - busy) / trials}


def engine_start_seconds() -> float:
    """Wall time to start and stop a local cluster of one worker (paid once per run)."""
    start = time.perf_counter()
    with open_engine(1):
        pass
    return time.perf_counter() - start


def summarise(kind: str, trials: int, seeds: list[int], startup: float, shared: Path,
              rows: dict[str, list[dict[str, Any]]],
              fronts: dict[tuple[str, int], tuple[SpaceConfig, list[DesignPoint]]]) -> dict[str, Any]:
    """The sampler comparison over the runs finished so far (hypervolumes on their union)."""
    union = [p for _, pts in fronts.values() for p in pts]
    space = next(iter(fronts.values()))[0]
    ranges = objective_ranges(space, union)
    for sampler, rs in rows.items():
        for r in rs:
            _, pts = fronts[sampler, r["seed"]]
            r["hypervolume"] = hypervolume_max([scaled(p, space.objectives, ranges) for p in pts])
            r["feasible_points"] = [{"trial": p.trial, "board": p.point.board,
                                     **{o: p.value(o) for o, _ in space.objectives}} for p in pts]
    trained = len([d for d in shared.iterdir() if not d.name.startswith(".")])
    every = [r for rs in rows.values() for r in rs]
    complete = sum(r["complete"] for r in every)
    fresh = [t for r in every for t, c in zip(r["trial_s"], r["trial_cached"], strict=True) if not c]
    reused = [t for r in every for t, c in zip(r["trial_s"], r["trial_cached"], strict=True) if c]
    done = [seed for seed in seeds if all((s, seed) in fronts for s in SAMPLERS)]
    return {
        "space": kind, "trials": trials, "seeds": seeds, "seeds_done": done,
        "objective_ranges": {o: {"worst": w, "best": b}
                             for (o, _), (w, b) in zip(space.objectives, ranges, strict=True)},
        "reference_margin": REFERENCE_MARGIN, "engine_start_s": startup, "runs": rows,
        "median_hypervolume": {s: statistics.median(r["hypervolume"] for r in rs)
                               for s, rs in rows.items() if rs},
        "trials_total": sum(r["trials"] for r in every), "complete_total": complete,
        "failed_total": sum(r["failed"] for r in every),
        "trainings": trained, "trainings_saved_by_cache": complete - trained,
        "trainings_saved_within_runs": sum(r["repeats_in_run"] for r in every),
        "median_trial_s_training": statistics.median(fresh) if fresh else None,
        "median_trial_s_cached": statistics.median(reused) if reused else None,
        "median_overhead_per_trial_s": statistics.median(r["overhead_per_trial_s"] for r in every),
        "median_overhead_per_trial_after_start_s": statistics.median(
            r["overhead_per_trial_after_start_s"] for r in every)}


def compare_samplers(tmp: Path, kind: str, trials: int, seeds: list[int],
                     save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Every sampler at every seed, in seed order (a deadline leaves whole seeds); `save` gets
    the summary after each run. A run already finished in `tmp` (--work) is resumed, not redone."""
    doc = space_doc(kind, tmp)
    shared = tmp / "shared_variants"
    startup = engine_start_seconds()
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SAMPLERS}
    fronts: dict[tuple[str, int], tuple[SpaceConfig, list[DesignPoint]]] = {}
    summary: dict[str, Any] = {}
    for seed in seeds:
        for sampler in SAMPLERS:
            path = write_space(tmp, doc, sampler, seed, trials, f"{sampler}_{seed}")
            space, result, wall = run(path, tmp / f"{sampler}_{seed}", shared, 1, trials)
            fronts[sampler, seed] = (space, feasible_points(space, result))
            rows[sampler].append({"seed": seed, **run_row(result, wall, startup)})
            print(f"{sampler} seed {seed}: {len(result.trials)} trials in {wall:.0f} s", flush=True)
            summary = summarise(kind, trials, seeds, startup, shared, rows, fronts)
            save(summary)
    return summary


def compare_workers(tmp: Path, kind: str, trials: int) -> dict[str, Any]:
    doc = space_doc(kind, tmp)
    # the same configurations for both runs, none that fails, each trained afresh (own cache)
    dims = {"model.act_bits": [2, 4]} if kind == "tfc" else None
    out: dict[str, Any] = {"space": kind, "trials": trials}
    for workers in (1, 2):
        path = write_space(tmp, doc, "grid", 0, trials, f"workers_{workers}", dims)
        _, result, wall = run(path, tmp / f"workers_{workers}", None, workers, trials)
        row = run_row(result, wall, 0.0)
        # the overhead of a run on N workers: its wall time N times over, less the busy time
        row["overhead_per_trial_s"] = (wall * workers - row["trial_s_sum"]) / row["trials"]
        del row["overhead_per_trial_after_start_s"]
        out[str(workers)] = row
        print(f"{workers} worker(s): {len(result.trials)} trials in {wall:.0f} s", flush=True)
    out["throughput_ratio_2_vs_1"] = out["1"]["wall_s"] / out["2"]["wall_s"]
    return out


def plot(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    s = doc.get("samplers")
    if s:
        for i, sampler in enumerate(SAMPLERS):
            values = [r["hypervolume"] for r in s["runs"][sampler]]
            if not values:
                continue
            left.scatter([i] * len(values), values, color=f"C{i}")
            left.hlines(statistics.median(values), i - 0.25, i + 0.25, color=f"C{i}")
        left.set_xticks(range(len(SAMPLERS)), SAMPLERS)
        left.set_ylabel("hypervolume (normalised objectives)")
        left.set_title(f"{s['space']}: {s['trials']} trials per run, "
                       f"{len(s['seeds_done'])} seed(s)")
    w = doc.get("workers")
    if w:
        right.bar(["1 worker", "2 workers"], [w["1"]["wall_s"], w["2"]["wall_s"]])
        right.set_ylabel("wall time (s)")
        right.set_title(f"{w['trials']} trials: throughput x{w['throughput_ratio_2_vs_1']:.2f}")
    else:
        right.text(0.5, 0.5, "1 vs 2 workers: not run yet\n(--only throughput)", ha="center")
        right.set_axis_off()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def print_table(doc: dict[str, Any]) -> None:
    table = Table(title=f"codesign explore ({doc['space']} space): samplers, cache, workers")
    for column in ("measure", "value"):
        table.add_column(column)
    s = doc.get("samplers")
    if s:
        for sampler, hv in s["median_hypervolume"].items():
            per_seed = ", ".join(f"{r['hypervolume']:.4f}" for r in s["runs"][sampler])
            table.add_row(f"hypervolume {sampler} (median; per seed)", f"{hv:.4f}; {per_seed}")
        table.add_row("trials / complete / failed", f"{s['trials_total']} / {s['complete_total']}"
                      f" / {s['failed_total']}")
        table.add_row("trainings / saved by the cache (of which within a run)",
                      f"{s['trainings']} / {s['trainings_saved_by_cache']} "
                      f"({s['trainings_saved_within_runs']})")
        table.add_row("median trial s: training / cached",
                      f"{s['median_trial_s_training'] or 0:.1f} / {s['median_trial_s_cached'] or 0:.2f}")
        table.add_row("engine overhead per trial (median of runs): all / after cluster start",
                      f"{s['median_overhead_per_trial_s']:.2f} / "
                      f"{s['median_overhead_per_trial_after_start_s']:.2f} s "
                      f"(cluster start {s['engine_start_s']:.1f} s)")
        table.add_row("load average before / after (samplers)",
                      f"{s['load_average_before'][0]:.1f} / {s['load_average_after'][0]:.1f}")
    w = doc.get("workers")
    if w:
        for n in ("1", "2"):
            table.add_row(f"{w['trials']} trials on {n} worker(s)",
                          f"{w[n]['wall_s']:.1f} s wall, overhead {w[n]['overhead_per_trial_s']:.2f} s/trial")
        table.add_row("throughput 2 vs 1 workers", f"x{w['throughput_ratio_2_vs_1']:.2f}")
        table.add_row("load average before / after (workers)",
                      f"{w['load_average_before'][0]:.1f} / {w['load_average_after'][0]:.1f}")
    Console().print(table)


def git_commit() -> str | None:
    if os.environ.get("CODESIGN_COMMIT"):
        return os.environ["CODESIGN_COMMIT"]
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=SPACES, default="tfc")
    parser.add_argument("--only", choices=PARTS, default=None, help="run one part, keep the other")
    parser.add_argument("--trials", type=int, default=None, help="default: tfc 24, digits 12")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--throughput-trials", type=int, default=None,
                        help="default: tfc 8, digits 6")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where JSON and PNG go")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the studies and trained variants here (default: a temporary "
                             "directory); re-running with it resumes the sampler runs")
    args = parser.parse_args()
    trials = args.trials or (24 if args.space == "tfc" else 12)
    throughput_trials = args.throughput_trials or (8 if args.space == "tfc" else 6)
    stem = "explore_tfc" if args.space == "tfc" else "explore"
    json_path = args.results / f"{stem}.json"
    doc: dict[str, Any] = {}
    if args.only and json_path.is_file():
        old = json.loads(json_path.read_text())
        doc = old if old.get("schema") == SCHEMA else {}
    doc.update({"schema": SCHEMA, "space": args.space, "codesign_commit": git_commit()})

    def save() -> None:
        args.results.mkdir(parents=True, exist_ok=True)
        write_json(json_path, doc)
        plot(doc, args.results / f"{stem}.png")

    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="codesign-explore-bench-")))
        if args.only in (None, "samplers"):
            before = os.getloadavg()
            (work / "samplers").mkdir(parents=True, exist_ok=True)

            def save_samplers(part: dict[str, Any]) -> None:
                doc["samplers"] = {**part, "load_average_before": before,
                                   "load_average_after": os.getloadavg()}
                save()

            compare_samplers(work / "samplers", args.space, trials, args.seeds, save_samplers)
        if args.only in (None, "throughput"):
            before = os.getloadavg()
            (work / "workers").mkdir(parents=True, exist_ok=True)
            part = compare_workers(work / "workers", args.space, throughput_trials)
            doc["workers"] = {**part, "load_average_before": before,
                              "load_average_after": os.getloadavg(), "cpus": os.cpu_count()}
            save()
    print_table(doc)


if __name__ == "__main__":
    main()
