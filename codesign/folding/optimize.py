"""Exact folding optimization over a `FoldingSpace`.

Throughput: the bottleneck (max per-layer cycles) is one of finitely many candidate cycle
values, and "does a design with bottleneck <= T fit the budget?" is monotone in T. We bisect
over those values; each test is a 0/1 integer program (one candidate per layer, every resource
kind within budget, ties respected) solved exactly with HiGHS via `scipy.optimize.milp`. At the
optimal T a second solve minimises resources (normalised by the budget), so among the fastest
designs the returned one is also the leanest. Exact with respect to the cost table: whatever
the table leaves out (e.g. FIFOs or data-width converters FINN inserts later) is not modelled."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.boards import RESOURCE_KINDS
from codesign.folding.space import Candidate, FoldingSpace


@dataclass(frozen=True)
class FoldingPlan:
    feasible: bool
    choices: Mapping[str, Candidate] = field(default_factory=dict)
    max_cycles: int = 0
    totals: Mapping[str, float] = field(default_factory=dict)
    solve_seconds: float = 0.0
    solves: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible, "max_cycles": self.max_cycles, "totals": dict(self.totals),
            "solve_seconds": self.solve_seconds, "solves": self.solves, "message": self.message,
            "layers": {n: {"attrs": c.as_dict(), "cycles": c.cycles, "cost": dict(c.cost)}
                       for n, c in self.choices.items()},
        }


def _totals(space: FoldingSpace, choices: Mapping[str, Candidate]) -> dict[str, float]:
    return {k: space.fixed_cost.get(k, 0.0) + sum(c.cost[k] for c in choices.values())
            for k in RESOURCE_KINDS}


def _weights(budget: Mapping[str, float]) -> dict[str, float]:
    # A resource with zero budget cannot be used at all; elsewhere cost is a fraction of budget.
    return {k: (1.0 / budget[k]) if budget.get(k, 0) > 0 else 1e3 for k in RESOURCE_KINDS}


def _solve(space: FoldingSpace, budget: Mapping[str, float], max_cycles: float,
           weights: Mapping[str, float]) -> dict[str, Candidate] | None:
    from scipy.optimize import Bounds, LinearConstraint, milp

    index: list[tuple[int, int]] = []  # variable -> (layer, candidate)
    for li, layer in enumerate(space.layers):
        index += [(li, ci) for ci in range(len(layer.candidates))]
    n = len(index)
    cand = [space.layers[li].candidates[ci] for li, ci in index]
    upper = np.array([1.0 if c.cycles <= max_cycles else 0.0 for c in cand])
    if any(upper[[i for i, (li, _) in enumerate(index) if li == layer_i]].sum() == 0
           for layer_i in range(len(space.layers))):
        return None
    rows, lo, hi = [], [], []
    for li in range(len(space.layers)):  # exactly one candidate per layer
        rows.append([1.0 if index[i][0] == li else 0.0 for i in range(n)])
        lo.append(1.0)
        hi.append(1.0)
    for kind in RESOURCE_KINDS:  # every resource within budget
        rows.append([c.cost[kind] for c in cand])
        lo.append(-np.inf)
        hi.append(budget.get(kind, 0.0) - space.fixed_cost.get(kind, 0.0) + 1e-6)
    names = [layer.name for layer in space.layers]
    for tie in space.ties:
        a, b = names.index(tie.layer_a), names.index(tie.layer_b)
        values = {c.attr(tie.attr_a) for c in space.layers[a].candidates}
        values |= {c.attr(tie.attr_b) for c in space.layers[b].candidates}
        for v in values:
            row = [0.0] * n
            for i, (li, _) in enumerate(index):
                if li == a and cand[i].attr(tie.attr_a) == v:
                    row[i] += 1.0
                if li == b and cand[i].attr(tie.attr_b) == v:
                    row[i] -= 1.0
            rows.append(row)
            lo.append(0.0)
            hi.append(0.0)
    objective = np.array([sum(weights[k] * c.cost[k] for k in RESOURCE_KINDS) + 1e-9 * c.cycles
                          for c in cand])
    res = milp(objective, constraints=LinearConstraint(np.array(rows), lo, hi),
               integrality=np.ones(n), bounds=Bounds(np.zeros(n), upper))
    if res.status != 0 or res.x is None:
        return None
    chosen = {}
    for i, (li, _) in enumerate(index):
        if res.x[i] > 0.5:
            chosen[space.layers[li].name] = cand[i]
    return chosen


def _plan(space: FoldingSpace, choices: Mapping[str, Candidate] | None, start: float, solves: int,
          message: str = "") -> FoldingPlan:
    seconds = time.perf_counter() - start
    if choices is None:
        return FoldingPlan(False, solve_seconds=seconds, solves=solves, message=message)
    bottleneck = max([c.cycles for c in choices.values()] + [space.fixed_cycles])
    return FoldingPlan(True, dict(choices), bottleneck, _totals(space, choices), seconds, solves, message)


def minimize_resources(space: FoldingSpace, budget: Mapping[str, float], max_cycles: float,
                       weights: Mapping[str, float] | None = None) -> FoldingPlan:
    """Leanest design whose bottleneck is at most `max_cycles` and that fits `budget`."""
    start = time.perf_counter()
    chosen = _solve(space, budget, max_cycles, weights or _weights(budget))
    msg = "" if chosen else f"no folding reaches {max_cycles:,.0f} cycles within the budget"
    return _plan(space, chosen, start, 1, msg)


def maximize_throughput(space: FoldingSpace, budget: Mapping[str, float]) -> FoldingPlan:
    """Smallest bottleneck (highest FPS) that fits `budget`, then the leanest design at it."""
    start = time.perf_counter()
    values = space.cycle_values()
    weights = _weights(budget)
    lo, hi, solves, best = 0, len(values) - 1, 0, None
    best = _solve(space, budget, values[hi], weights)
    solves += 1
    if best is None:
        return _plan(space, None, start, solves, explain_infeasible(space, budget))
    while lo < hi:  # invariant: values[hi] is feasible
        mid = (lo + hi) // 2
        found = _solve(space, budget, values[mid], weights)
        solves += 1
        if found is None:
            lo = mid + 1
        else:
            hi, best = mid, found
    return _plan(space, best, start, solves)


def explain_infeasible(space: FoldingSpace, budget: Mapping[str, float]) -> str:
    """Which resources are over budget even when each layer takes its cheapest candidate."""
    over = []
    for kind in RESOURCE_KINDS:
        least = space.fixed_cost.get(kind, 0.0) + sum(
            min(c.cost[kind] for c in layer.candidates) for layer in space.layers)
        if least > budget.get(kind, 0.0) + 1e-6:
            over.append(f"{kind} needs at least {least:,.0f} but the budget is "
                        f"{budget.get(kind, 0.0):,.0f} (over by {least - budget.get(kind, 0.0):,.0f})")
    if over:
        return "infeasible even at the smallest folding: " + "; ".join(over)
    return ("no single folding keeps every resource within budget at once, although each "
            "resource alone could be met; relax the caps or choose a larger board")


def pareto_front(space: FoldingSpace, budget: Mapping[str, float], kind: str = "LUT",
                 max_points: int = 40) -> list[FoldingPlan]:
    """Designs trading `kind` against throughput: for bottleneck targets spread over the
    feasible range, the design using the least `kind` (other resources within budget);
    dominated points are dropped."""
    fastest = maximize_throughput(space, budget)
    if not fastest.feasible:
        return []
    values = [v for v in space.cycle_values() if v >= fastest.max_cycles]
    step = max(1, math.ceil(len(values) / max_points))
    weights = {k: (1.0 if k == kind else 1e-6 * _weights(budget)[k]) for k in RESOURCE_KINDS}
    plans = [minimize_resources(space, budget, t, weights) for t in values[::step] + [values[-1]]]
    plans = [p for p in plans if p.feasible]
    front: list[FoldingPlan] = []
    for p in sorted(plans, key=lambda p: (p.max_cycles, p.totals[kind])):
        if not front or p.totals[kind] < front[-1].totals[kind] - 1e-9:
            front.append(p)
    return front


def brute_force(space: FoldingSpace, budget: Mapping[str, float]) -> FoldingPlan:
    """Reference optimum by enumeration (small spaces only): min bottleneck, then min weighted cost."""
    start = time.perf_counter()
    weights = _weights(budget)
    best_key, best = None, None
    for combo in itertools.product(*(layer.candidates for layer in space.layers)):
        choices = {layer.name: c for layer, c in zip(space.layers, combo, strict=True)}
        if any(choices[t.layer_a].attr(t.attr_a) != choices[t.layer_b].attr(t.attr_b)
               for t in space.ties):
            continue
        totals = _totals(space, choices)
        if any(totals[k] > budget.get(k, 0.0) + 1e-6 for k in RESOURCE_KINDS):
            continue
        bottleneck = max([c.cycles for c in combo] + [space.fixed_cycles])
        key = (bottleneck, sum(weights[k] * (totals[k] - space.fixed_cost.get(k, 0.0))
                               for k in RESOURCE_KINDS))
        if best_key is None or key < best_key:
            best_key, best = key, choices
    return _plan(space, best, start, 0, "" if best else explain_infeasible(space, budget))
