"""Exact folding optimization over a `FoldingSpace`.

Throughput: the bottleneck (max per-layer cycles) is one of finitely many candidate cycle
values, and "does a design with bottleneck <= T fit the budget?" is monotone in T. We bisect
over those values; each test is a 0/1 integer program (one candidate per layer, every resource
kind within budget, ties respected, link costs paid; see program.py) solved exactly with HiGHS
via `scipy.optimize.milp`. At the optimal T a second solve minimises resources (normalised by
the budget), so among the fastest designs the returned one is also the leanest. Exact with
respect to the cost table: whatever the table leaves out (e.g. FIFOs FINN sizes later) is not
modelled. Link costs (e.g. data-width converters) count against the budget but are reported
apart from `totals`, which is what the layers' own estimates add up to."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.boards import RESOURCE_KINDS
from codesign.folding.fits import fits, within
from codesign.folding.program import LEAN_SECONDS, Program, Solution, weights_for
from codesign.folding.space import Candidate, FoldingSpace


@dataclass(frozen=True)
class FoldingPlan:
    feasible: bool
    choices: Mapping[str, Candidate] = field(default_factory=dict)
    max_cycles: int = 0
    totals: Mapping[str, float] = field(default_factory=dict)  # layers + fixed cost
    solve_seconds: float = 0.0
    solves: int = 0
    message: str = ""
    link_costs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # non-zero only
    link_totals: Mapping[str, float] = field(default_factory=dict)
    # how far the weighted resource cost may be above the least (0.0: proven least; > 0 when
    # the least-resource solve hit its time limit, program.LEAN_SECONDS)
    gap: float = 0.0

    def grand_totals(self) -> dict[str, float]:
        """Everything the plan charges against the budget: totals plus link costs."""
        return {k: self.totals.get(k, 0.0) + self.link_totals.get(k, 0.0) for k in RESOURCE_KINDS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible, "max_cycles": self.max_cycles, "totals": dict(self.totals),
            "link_totals": dict(self.link_totals), "solve_seconds": self.solve_seconds,
            "solves": self.solves, "message": self.message, "gap": json_gap(self.gap),
            "layers": {n: {"attrs": c.as_dict(), "cycles": c.cycles, "cost": dict(c.cost)}
                       for n, c in self.choices.items()},
            "links": {n: dict(cost) for n, cost in self.link_costs.items()},
        }


def json_gap(gap: float) -> float | None:
    """A plan's gap for JSON: None where it is infinite (no design in time, not minimised)."""
    return gap if math.isfinite(gap) else None


def gap_note(gap: float | None) -> str:
    """'' for a proven least-resource design, else a sentence saying how close it is (None, as
    JSON keeps an infinite gap: no design was found in time, so it is not minimised)."""
    if gap is not None and gap <= 0:
        return ""
    if gap is None or math.isinf(gap):
        return (f"the least-resource search found no design within its {LEAN_SECONDS:.0f} s "
                "limit; this is the first design meeting the FPS within the budget, not the "
                "leanest")
    return (f"the least-resource search stopped at its {LEAN_SECONDS:.0f} s limit with a design "
            f"within {gap:.3%} of the least cost; the FPS is met exactly")


def _totals(space: FoldingSpace, choices: Mapping[str, Candidate]) -> dict[str, float]:
    return {k: space.fixed_cost.get(k, 0.0) + sum(c.cost[k] for c in choices.values())
            for k in RESOURCE_KINDS}


def _link_costs(space: FoldingSpace, choices: Mapping[str, Candidate]
                ) -> dict[str, Mapping[str, float]] | None:
    """Cost of every link for these choices; None if some link's port pair is illegal."""
    costs = {}
    for link in space.links:
        cost = link.cost(choices[link.producer].out_port, choices[link.consumer].in_port)
        if cost is None:
            return None
        costs[link.name] = cost
    return costs


def _sum_links(costs: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    return {k: float(sum(c.get(k, 0.0) for c in costs.values())) for k in RESOURCE_KINDS}


def _weights(budget: Mapping[str, float]) -> dict[str, float]:
    return weights_for(budget)


def _plan(space: FoldingSpace, solution: Solution | None, start: float, solves: int,
          message: str = "") -> FoldingPlan:
    seconds = time.perf_counter() - start
    if solution is None:
        return FoldingPlan(False, solve_seconds=seconds, solves=solves, message=message)
    choices = solution.choices
    bottleneck = max([c.cycles for c in choices.values()] + [space.fixed_cycles])
    links = _link_costs(space, choices) or {}
    nonzero = {n: dict(c) for n, c in links.items() if any(c.get(k, 0.0) for k in RESOURCE_KINDS)}
    return FoldingPlan(True, dict(choices), bottleneck, _totals(space, choices), seconds, solves,
                       message, nonzero, _sum_links(links), solution.gap)


def minimize_resources(space: FoldingSpace, budget: Mapping[str, float], max_cycles: float,
                       weights: Mapping[str, float] | None = None) -> FoldingPlan:
    """Leanest design whose bottleneck is at most `max_cycles` and that fits `budget`."""
    start = time.perf_counter()
    chosen = Program(space, budget).solve(max_cycles, weights or _weights(budget))
    msg = "" if chosen else f"no folding reaches {max_cycles:,.0f} cycles within the budget"
    return _plan(space, chosen, start, 1, msg)


def _fastest(program: Program, budget: Mapping[str, float]) -> tuple[int | None, int]:
    """(smallest feasible bottleneck bound or None, number of solves) by bisection."""
    values = program.space.cycle_values()
    lo, hi, solves = 0, len(values) - 1, 1
    if program.solve(values[hi], None) is None:
        return None, solves
    while lo < hi:  # invariant: values[hi] is feasible
        mid = (lo + hi) // 2
        solves += 1
        if program.solve(values[mid], None) is None:
            lo = mid + 1
        else:
            hi = mid
    return values[hi], solves


def maximize_throughput(space: FoldingSpace, budget: Mapping[str, float],
                        floor_cycles: float = 0.0) -> FoldingPlan:
    """Smallest bottleneck (highest FPS) that fits `budget`, then the leanest design at it.
    A bottleneck below `floor_cycles` buys nothing (e.g. the design is I/O bound there): the
    plan is then the leanest design whose bottleneck is at most `floor_cycles`."""
    start = time.perf_counter()
    program = Program(space, budget)
    bound, solves = _fastest(program, budget)
    if bound is None:
        return _plan(space, None, start, solves, explain_infeasible(space, budget))
    best = program.solve(max(bound, floor_cycles), _weights(budget))
    return _plan(space, best, start, solves + 1)


def explain_infeasible(space: FoldingSpace, budget: Mapping[str, float]) -> str:
    """Which resources are over budget even when each layer takes its cheapest candidate
    (and each link its cheapest legal port pair)."""
    over = []
    for kind in RESOURCE_KINDS:
        least = space.fixed_cost.get(kind, 0.0) + sum(
            min(c.cost[kind] for c in layer.candidates) for layer in space.layers)
        least += sum(min((c.get(kind, 0.0) for c in link.costs.values()), default=0.0)
                     for link in space.links)
        if not within(least, budget.get(kind, 0.0)):
            over.append(f"{kind} needs at least {least:,.0f} but the budget is "
                        f"{budget.get(kind, 0.0):,.0f} (over by {least - budget.get(kind, 0.0):,.0f})")
    if over:
        return "infeasible even at the smallest folding: " + "; ".join(over)
    return ("no single folding keeps every resource within budget at once, although each "
            "resource alone could be met; relax the caps or choose a larger board")


def pareto_front(space: FoldingSpace, budget: Mapping[str, float], kind: str = "LUT",
                 max_points: int = 40, seconds: float = 5.0) -> list[FoldingPlan]:
    """Designs trading `kind` against throughput: for bottleneck targets spread over the
    feasible range, the design using the least `kind` (other resources within budget), or the
    best found in `seconds` per target (its plan's `gap` says how far it may be from the least);
    dominated points are dropped."""
    start = time.perf_counter()
    program = Program(space, budget)
    fastest, _ = _fastest(program, budget)
    if fastest is None:
        return []
    values = [v for v in space.cycle_values() if v >= fastest]
    # Targets evenly spread in log(cycles), so the front is sampled across orders of magnitude.
    picks = np.unique(np.round(np.geomspace(1, len(values), num=min(max_points, len(values))))
                      ).astype(int) - 1 if len(values) > 1 else np.array([0])
    targets = [values[i] for i in picks]
    budget_weights = _weights(budget)
    weights = {k: (1.0 / max(budget.get(k, 0.0), 1.0) if k == kind else 1e-3 * budget_weights[k])
               for k in RESOURCE_KINDS}
    plans = [_plan(space, program.solve(t, weights, seconds), start, 1) for t in targets]
    plans = [p for p in plans if p.feasible]
    front: list[FoldingPlan] = []
    for p in sorted(plans, key=lambda p: (p.max_cycles, p.grand_totals()[kind])):
        if not front or p.grand_totals()[kind] < front[-1].grand_totals()[kind] - 1e-9:
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
        links = _link_costs(space, choices)
        if links is None:
            continue
        extra = _sum_links(links)
        totals = _totals(space, choices)
        if not fits({k: totals[k] + extra[k] for k in RESOURCE_KINDS}, budget):
            continue
        bottleneck = max([c.cycles for c in combo] + [space.fixed_cycles])
        key = (bottleneck, sum(weights[k] * (totals[k] + extra[k] - space.fixed_cost.get(k, 0.0))
                               for k in RESOURCE_KINDS))
        if best_key is None or key < best_key:
            best_key, best = key, choices
    return _plan(space, Solution(best) if best else None, start, 0,
                 "" if best else explain_infeasible(space, budget))
