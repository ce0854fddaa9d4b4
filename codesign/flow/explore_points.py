"""Design points of an exploration and the pure functions over them: the value of an objective,
the constraints, the values a trial reports to the search, and Pareto fronts.

A trial gives one point per board (`DesignPoint`). The search itself needs one vector per
trial; it gets the trial's envelope over its feasible board points (accuracy, the highest FPS,
the fewest LUTs, ... each reached by some board), so a configuration that is good on any board
is worth exploring. Fronts are computed over the real points, per board and across boards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codesign.flow.explore_trial import BoardPoint, TrialOutcome
from codesign.space import SpaceConfig

# a point that does not meet the constraints reports these to the search (worst values)
_WORST = {"max": 0.0, "min": 1e12}


@dataclass(frozen=True)
class DesignPoint:
    """One trained variant folded for one board, with the trial that made it."""

    trial: int
    params: tuple[tuple[str, object], ...]
    accuracy: float
    point: BoardPoint
    run_dir: str
    base: bool  # the base flow's own configuration

    def value(self, objective: str) -> float:
        if objective == "accuracy":
            return self.accuracy
        return float(getattr(self.point, objective))


def design_points(trial: int, params: dict[str, object], outcome: TrialOutcome,
                  base: bool = False) -> list[DesignPoint]:
    return [DesignPoint(trial, tuple(params.items()), outcome.accuracy, p, outcome.run_dir, base)
            for p in outcome.points]


def violations(space: SpaceConfig, point: DesignPoint) -> list[float]:
    """Optuna's constraint convention: one value per constraint, <= 0 when it is met."""
    c = space.constraints
    return [0.0 if point.point.fits or not c.fits else 1.0,
            0.0 if c.min_accuracy is None else c.min_accuracy - point.accuracy,
            0.0 if c.min_fps is None else (c.min_fps - point.point.fps) / c.min_fps]


def feasible(space: SpaceConfig, point: DesignPoint) -> bool:
    return all(v <= 0 for v in violations(space, point))


def trial_values(space: SpaceConfig, points: Sequence[DesignPoint]) -> list[float]:
    """The vector the search sees: per objective, the best value over the feasible points
    (over all points when none is feasible; the constraints then mark the trial infeasible)."""
    pool = [p for p in points if feasible(space, p)] or [p for p in points if p.point.fits]
    values = []
    for objective, direction in space.objectives:
        if not pool:
            values.append(points[0].accuracy if objective == "accuracy" else _WORST[direction])
            continue
        pick = max if direction == "max" else min
        values.append(pick(p.value(objective) for p in pool))
    return values


def trial_violations(space: SpaceConfig, points: Sequence[DesignPoint]) -> list[float]:
    """The violations of the trial's point closest to feasible (all <= 0: some board point
    meets every constraint)."""
    rows = [violations(space, p) for p in points] or [[1.0, 1.0, 1.0]]
    best = min(rows, key=lambda r: (sum(max(v, 0.0) for v in r), r))
    return best


def dominates(a: DesignPoint, b: DesignPoint, objectives: Sequence[tuple[str, str]]) -> bool:
    better = False
    for objective, direction in objectives:
        x, y = a.value(objective), b.value(objective)
        if direction == "min":
            x, y = -x, -y
        if x < y:
            return False
        better = better or x > y
    return better


def pareto_front(points: Sequence[DesignPoint],
                 objectives: Sequence[tuple[str, str]]) -> list[DesignPoint]:
    """The points no other point dominates, duplicates (the same variant reused) kept once."""
    front: list[DesignPoint] = []
    seen: set[tuple[str, str]] = set()
    for p in points:
        if any(dominates(q, p, objectives) for q in points):
            continue
        if (p.run_dir, p.point.board) in seen:
            continue
        seen.add((p.run_dir, p.point.board))
        front.append(p)
    return front
