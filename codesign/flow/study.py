"""The Optuna boundary (DESIGN.md §8): the only module that imports `optuna`.

The study lives in `<out>/study.db` (SQLite, readable by `optuna-dashboard sqlite:///study.db`),
so re-running the same command resumes it: finished trials are kept and counted against the
budget, trials an interrupted session left running are marked failed ("interrupted") and their
configuration is queued again. Only the process that runs `codesign explore` talks to the
storage (ask/tell); workers never do."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codesign.errors import ConfigError
from codesign.flow.explore_points import DesignPoint, design_points, trial_values, trial_violations
from codesign.flow.explore_trial import BoardPoint, TrialOutcome
from codesign.models.user import module_source_digest
from codesign.space import SpaceConfig, flow_value

STUDY_DB = "study.db"
_OUTCOME = "outcome"
_REASON = "fail_reason"
_INTERRUPTED = "interrupted"
_BASE = "base_flow"
_FINGERPRINT = "space_fingerprint"
CONSTRAINT_NAMES = ("fits", "min_accuracy", "min_fps")  # the order of trial_violations


@dataclass(frozen=True)
class FinishedTrial:
    number: int
    complete: bool
    params: dict[str, Any]
    outcome: TrialOutcome | None  # None for a failed trial
    reason: str  # why it failed ("" when complete)
    base: bool  # the base flow's configuration

    def points(self) -> list[DesignPoint]:
        if self.outcome is None:
            return []
        return design_points(self.number, self.params, self.outcome, self.base)


def _sampler(space: SpaceConfig) -> Any:
    import optuna

    if space.sampler == "nsga2":
        population = min(50, max(4, space.trials // 3))  # a few generations within the budget
        return optuna.samplers.NSGAIISampler(seed=space.seed, population_size=population)
    if space.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=space.seed,
                                          n_startup_trials=min(10, max(2, space.trials // 3)))
    # grid: every grid point is queued when the study is created (codesign.flow.study.Study),
    # so interrupted points can be queued again; Optuna's GridSampler stops the study when the
    # grid is exhausted, which ask/tell does not allow, and ignores queued trials
    return optuna.samplers.RandomSampler(seed=space.seed)


def space_fingerprint(space: SpaceConfig) -> str:
    """A hash of everything that defines the search (not the trial budget or file names), the
    source of the user's own modules it trains included."""
    data = dataclasses.asdict(space)
    for key in ("trials", "source", "name"):
        data.pop(key)
    data["base"].pop("source")
    modules = [space.base.model.module] + [choice for d in space.dimensions
                                           if d.key == "model.module" for choice in d.choices or ()]
    sources = [module_source_digest(m) for m in modules if isinstance(m, str)]
    if sources:  # (a zoo space's fingerprint stays what it was)
        data["module_sources"] = sources
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def grid_size(space: SpaceConfig) -> int:
    size = 1
    for d in space.dimensions:
        size *= len(d.grid() or ())
    return size


class Study:
    """An Optuna study of `space` stored in `out_dir`."""

    def __init__(self, space: SpaceConfig, out_dir: Path) -> None:
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        self.space = space
        self.path = out_dir / STUDY_DB
        directions = ["maximize" if d == "max" else "minimize" for _, d in space.objectives]
        self.study = optuna.create_study(storage=f"sqlite:///{self.path}", study_name=space.name,
                                         directions=directions, sampler=_sampler(space),
                                         load_if_exists=True)
        fingerprint = space_fingerprint(space)
        known = self.study.user_attrs.get(_FINGERPRINT)
        if known is None:
            self.study.set_user_attr(_FINGERPRINT, fingerprint)
        elif known != fingerprint:
            raise ConfigError(
                f"{self.path} holds a study of a different space (base flow, boards, objectives, "
                "constraints, sampler, seed or dimensions changed; only trials may change to "
                "resume); give a new --out directory or restore the space file")
        self._recover()

    def _recover(self) -> None:
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False)
        for t in trials:
            if t.state == TrialState.RUNNING:  # left behind by an interrupted session
                # mark it before it is finished (a finished trial's attributes are frozen)
                self.study._storage.set_trial_user_attr(t._trial_id, _INTERRUPTED, True)
                self.study.tell(t.number, state=TrialState.FAIL)
                self.study.enqueue_trial(t.params, user_attrs={_BASE: t.user_attrs.get(_BASE, False)})
        if trials:
            return
        # the base flow's point: its own values, with the settings the space fixes (one choice)
        base = {d.key: d.choices[0] if d.choices is not None and len(d.choices) == 1
                else flow_value(self.space.base, d.key) for d in self.space.dimensions}
        inside = all(self._inside(k, v) for k, v in base.items())
        if inside:
            self.study.enqueue_trial(base, user_attrs={_BASE: True})
        if self.space.sampler == "grid":
            keys = [d.key for d in self.space.dimensions]
            grid = list(itertools.product(*(d.grid() or () for d in self.space.dimensions)))
            # in a seeded random order, as Optuna's GridSampler visits it: a budget smaller than
            # the grid samples all of it rather than one corner
            random.Random(self.space.seed).shuffle(grid)
            for values in grid:
                point = dict(zip(keys, values, strict=True))
                if not (inside and point == base):
                    self.study.enqueue_trial(point, user_attrs={_BASE: False})

    def _inside(self, key: str, value: Any) -> bool:
        dim = self.space.dimension(key)
        values = dim.grid() if self.space.sampler == "grid" else dim.choices
        if values is not None:
            return value in values
        return isinstance(value, int | float) and dim.low <= value <= dim.high  # type: ignore[operator]

    def _snap(self, key: str, value: Any) -> Any:
        dim = next((d for d in self.space.dimensions if d.key == key), None)
        return value if dim is None else dim.snap(value)

    def finished_count(self) -> int:
        """Trials that count against the budget: complete or failed, not interrupted."""
        return sum(1 for t in self.study.get_trials(deepcopy=False)
                   if t.state.is_finished() and not t.user_attrs.get(_INTERRUPTED))

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for d in self.space.dimensions:
            if self.space.sampler == "grid" or d.choices is not None:
                params[d.key] = trial.suggest_categorical(d.key, list(d.grid() or ()))
            elif d.integer:
                params[d.key] = trial.suggest_int(d.key, int(d.low or 0), int(d.high or 0),
                                                  step=int(d.step or 1), log=d.log)
            else:
                params[d.key] = d.snap(trial.suggest_float(d.key, float(d.low or 0),
                                                           float(d.high or 0), step=d.step, log=d.log))
        return trial, params

    def complete(self, trial: Any, params: dict[str, Any], outcome: TrialOutcome) -> None:
        points = design_points(trial.number, params, outcome)
        raw = json.loads(json.dumps(asdict(outcome)))
        # relative to the output directory, so that a moved or copied directory keeps its links
        raw["run_dir"] = os.path.relpath(outcome.run_dir, self.path.parent)
        trial.set_user_attr(_OUTCOME, raw)
        # Optuna 5's constraint API (constraints_func is deprecated): <= 0 means met; NSGA-II
        # and TPE rank infeasible trials after feasible ones
        for name, value in zip(CONSTRAINT_NAMES, trial_violations(self.space, points), strict=True):
            trial.set_constraint(name, value)
        self.study.tell(trial, trial_values(self.space, points))

    def fail(self, trial: Any, reason: str, interrupted: bool = False) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr(_REASON, reason)
        if interrupted:
            trial.set_user_attr(_INTERRUPTED, True)
        self.study.tell(trial, state=TrialState.FAIL)
        if interrupted:
            self.study.enqueue_trial(trial.params, user_attrs={_BASE: trial.user_attrs.get(_BASE,
                                                                                          False)})

    def finished(self) -> list[FinishedTrial]:
        """Every trial that counts (complete or failed), with its outcome, in trial order."""
        out = []
        for t in self.study.get_trials(deepcopy=False):
            if not t.state.is_finished() or t.user_attrs.get(_INTERRUPTED):
                continue
            raw = t.user_attrs.get(_OUTCOME)
            outcome = None
            if raw is not None and t.values is not None:
                outcome = TrialOutcome(**{**raw, "run_dir": str(self.path.parent / raw["run_dir"]),
                                          "points": tuple(BoardPoint(**p) for p in raw["points"])})
            params = {k: self._snap(k, v) for k, v in t.params.items()}
            out.append(FinishedTrial(t.number, outcome is not None, params, outcome,
                                     t.user_attrs.get(_REASON, ""), bool(t.user_attrs.get(_BASE))))
        return out
