"""`explore`: design-space exploration of a space file (`codesign explore SPACE.yaml`).

The search (Optuna, codesign.flow.study) asks for configurations; each becomes the base flow
with the sampled keys applied, and runs as one task on the Dask engine (codesign.flow.cluster):
train (+ prune), export and compile once, then fold for every board (codesign.flow.
explore_trial). Results are told back as they arrive, so the study file always holds every
finished trial; a trial that raises or loses its worker is recorded as failed with its reason,
and Ctrl-C stops the running trials (queued again on the next run) and keeps the rest.

Output directory: study.db (the Optuna study), variants/<hash>/ (one run directory per trained
variant), results.json, points.csv, pareto.png, report.md (codesign.flow.explore_report)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codesign.errors import ConfigError
from codesign.flow.cluster import HARDWARE, Engine, TaskFailed, open_engine
from codesign.flow.explore_points import feasible
from codesign.flow.explore_report import write_results
from codesign.flow.explore_trial import TrialSpec, evaluate_trial
from codesign.flow.study import FinishedTrial, Study, grid_size
from codesign.space import SpaceConfig, apply_overrides

VARIANTS_DIR = "variants"


@dataclass(frozen=True)
class TrialRow:
    """One line of the live progress table."""

    number: int
    state: str  # running | done | cached | failed
    params: tuple[tuple[str, Any], ...]
    accuracy: float | None = None
    best_fps: float | None = None  # highest FPS over the boards where it fits
    seconds: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class ExploreProgress:
    rows: tuple[TrialRow, ...]
    budget: int
    finished: int
    engine: str
    # (objective, direction, best value over the feasible points so far)
    best: tuple[tuple[str, str, float], ...] = ()


@dataclass(frozen=True)
class ExploreResult:
    out_dir: Path
    trials: tuple[FinishedTrial, ...]
    new_trials: int  # finished in this session
    cache_hits: int  # trials of this session that reused a trained variant
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def best_so_far(space: SpaceConfig, trials: list[FinishedTrial]) -> tuple[tuple[str, str, float], ...]:
    """Per objective, the best value any feasible design point has reached."""
    points = [p for t in trials for p in t.points() if feasible(space, p)]
    if not points:
        return ()
    return tuple((o, d, (max if d == "max" else min)(p.value(o) for p in points))
                 for o, d in space.objectives)


def _row(number: int, params: dict[str, Any], trial: FinishedTrial | None) -> TrialRow:
    if trial is None:
        return TrialRow(number, "running", tuple(params.items()))
    if trial.outcome is None:
        return TrialRow(number, "failed", tuple(params.items()), reason=trial.reason)
    o = trial.outcome
    fitting = [p.fps for p in o.points if p.fits]
    return TrialRow(number, "cached" if o.cached else "done", tuple(params.items()), o.accuracy,
                    max(fitting) if fitting else None, o.seconds)


def _submit(engine: Engine, study: Study, space: SpaceConfig, out_dir: Path,
            pending: dict[Any, tuple[Any, dict[str, Any]]]) -> None:
    trial, params = study.ask()
    try:
        flow = apply_overrides(space.base, params).replace(name=space.name)
    except ConfigError as exc:  # a combination the flow schema rejects: a failed trial
        study.fail(trial, str(exc))
        return
    spec = TrialSpec(flow.to_file_dict(), space.boards, str(out_dir / VARIANTS_DIR))
    if spec.needs_hardware and not engine.has_resource(HARDWARE):
        study.fail(trial, f"outputs {', '.join(flow.outputs)} need Vivado, and no worker declares "
                          f"the '{HARDWARE}' resource; start workers with `dask worker "
                          f"ADDR --resources {HARDWARE}=N` (N licences)")
        return
    pending[engine.submit(evaluate_trial, spec, hardware=spec.needs_hardware)] = (trial, params)


def _collect(engine: Engine, study: Study, pending: dict[Any, tuple[Any, dict[str, Any]]],
             handle: Any, rows: dict[int, TrialRow]) -> FinishedTrial:
    """Tell the study how the task behind `handle` ended."""
    trial, params = pending.pop(handle)
    try:
        study.complete(trial, params, engine.result(handle))
    except TaskFailed as exc:
        study.fail(trial, exc.reason)
    done = next(t for t in study.finished() if t.number == trial.number)
    rows[trial.number] = _row(trial.number, params, done)
    return done


def explore(space: SpaceConfig, out_dir: Path, *, trials: int | None = None, workers: int = 1,
            scheduler: str | None = None,
            on_progress: Callable[[ExploreProgress], None] | None = None) -> ExploreResult:
    """Run (or resume) the exploration of `space` into `out_dir` until `trials` trials (default:
    the space's) have finished, on a local cluster of `workers` processes or on the Dask
    cluster at `scheduler`."""
    start = time.perf_counter()
    budget = trials if trials is not None else space.trials
    if budget < 1:
        raise ConfigError(f"--trials {budget}: give at least 1")
    if space.sampler == "grid":
        budget = min(budget, grid_size(space))
    new: list[FinishedTrial] = []
    with open_engine(workers, scheduler) as engine:  # first: an unreachable cluster writes nothing
        out_dir.mkdir(parents=True, exist_ok=True)
        study = Study(space, out_dir)
        rows = {t.number: _row(t.number, t.params, t) for t in study.finished()}
        pending: dict[Any, tuple[Any, dict[str, Any]]] = {}

        def report() -> None:
            if on_progress is not None:
                finished = study.finished()
                on_progress(ExploreProgress(tuple(rows[k] for k in sorted(rows)), budget,
                                            len(finished), engine.description,
                                            best_so_far(space, finished)))

        try:
            while True:
                while len(pending) < engine.slots() and study.finished_count() + len(pending) < budget:
                    _submit(engine, study, space, out_dir, pending)
                for trial, params in pending.values():
                    rows.setdefault(trial.number, _row(trial.number, params, None))
                report()
                if not pending:
                    break
                for handle in engine.wait_any(list(pending)):
                    new.append(_collect(engine, study, pending, handle, rows))
        except KeyboardInterrupt:
            # trials that ended before the interrupt are kept; the others are queued again
            new += [_collect(engine, study, pending, h, rows) for h in engine.finished(list(pending))]
            engine.cancel(list(pending))
            for trial, _ in pending.values():
                study.fail(trial, "interrupted", interrupted=True)
            write_results(space, study.finished(), out_dir)
            raise
    files = write_results(space, study.finished(), out_dir)
    return ExploreResult(out_dir, tuple(study.finished()), len(new),
                         sum(1 for t in new if t.outcome is not None and t.outcome.cached), files,
                         time.perf_counter() - start)
