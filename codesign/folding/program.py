"""The 0/1 integer program behind every folding solve, built once per (space, budget).

Variables: x[c] in {0, 1} per candidate (exactly one per layer) and, per link, y[p, q] >= 0
per legal port pair (continuous). Rows:
- one candidate per layer;
- every resource kind: candidate costs + link costs <= budget - fixed cost;
- ties: for each shared value v, (candidates of a with value v) - (of b with v) = 0;
- links: for each producer port p, sum_q y[p, q] = (candidates of the producer with out_port p),
  and the same for consumer ports. With integral x exactly one y is 1, that of the chosen pair;
  a pair with no y (illegal) cannot be chosen. So y needs no integrality and the program is
  exact.
A solve for a bottleneck bound T only changes the upper bounds of x, so bisection reuses the
matrix: 0 for candidates slower than T and for candidates another one meeting T dominates in
cost (prune.py: every resource kind including the worst link extra, same tied attributes).
Once cycles only have to stay below T they no longer distinguish candidates, so this removes
most of the space without losing an optimum, and each solve is small."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from codesign.boards import RESOURCE_KINDS
from codesign.folding.dominance import cost_dominance, undominated
from codesign.folding.fits import TOLERANCE
from codesign.folding.space import Candidate, FoldingSpace
from codesign.quiet import native_stdout_hidden

# Relative optimality gap for resource minimisation; HiGHS' default (1e-4) would leave a few
# dozen LUTs on the table on large devices.
MIP_REL_GAP = 1e-6
# Seconds a least-resource solve may take. Small models prove their optimum in well under a
# second; on ImageNet's MobileNet-v1 (57 layers, 4,092 candidates) HiGHS holds a design within
# 0.05 % of the least cost after 30 s but had not proven the 1e-6 gap after 30 minutes. At the
# limit the solve returns its best design and the gap left; the bottleneck bound (the FPS) is
# met either way.
LEAN_SECONDS = 30.0


@dataclass(frozen=True)
class Solution:
    """The candidate chosen per layer and how far its weighted cost may be above the least:
    0.0 when proven (or when any feasible design was asked for), else HiGHS's relative gap when
    the time limit stopped it (inf: it stopped before any design, so this one is the first
    feasible design found, not minimised)."""

    choices: dict[str, Candidate]
    gap: float = 0.0


def weights_for(budget: Mapping[str, float]) -> dict[str, float]:
    # A resource with zero budget cannot be used at all; elsewhere cost is a fraction of budget.
    return {k: (1.0 / budget[k]) if budget.get(k, 0) > 0 else 1e3 for k in RESOURCE_KINDS}


class Program:
    def __init__(self, space: FoldingSpace, budget: Mapping[str, float]) -> None:
        from scipy.sparse import coo_matrix

        self.space = space
        self.candidates: list[Candidate] = [c for layer in space.layers for c in layer.candidates]
        self.owner = np.array([li for li, layer in enumerate(space.layers)
                               for _ in layer.candidates], dtype=int)
        self.cycles = np.array([c.cycles for c in self.candidates], dtype=float)
        n_x = len(self.candidates)
        # link pair variables: (link index, out_port, in_port, cost)
        self.pairs: list[tuple[int, Hashable, Hashable, Mapping[str, float]]] = []
        names = [layer.name for layer in space.layers]
        start = np.searchsorted(self.owner, np.arange(len(names)))
        stop = np.append(start[1:], n_x)
        self._layer_range = {name: (int(a), int(b)) for name, a, b in zip(names, start, stop,
                                                                         strict=True)}
        for li, link in enumerate(space.links):
            for (p, q), cost in link.costs.items():
                self.pairs.append((li, p, q, cost))
        n = n_x + len(self.pairs)
        data: list[float] = []
        rows: list[int] = []
        cols: list[int] = []
        lo: list[float] = []
        hi: list[float] = []

        def add_row(entries: list[tuple[int, float]], low: float, high: float) -> None:
            r = len(lo)
            for col, value in entries:
                rows.append(r)
                cols.append(col)
                data.append(value)
            lo.append(low)
            hi.append(high)

        for a, b in self._layer_range.values():
            add_row([(i, 1.0) for i in range(a, b)], 1.0, 1.0)
        for kind in RESOURCE_KINDS:
            entries = [(i, c.cost[kind]) for i, c in enumerate(self.candidates) if c.cost[kind]]
            entries += [(n_x + j, float(cost.get(kind, 0.0)))
                        for j, (_, _, _, cost) in enumerate(self.pairs) if cost.get(kind, 0.0)]
            add_row(entries, -np.inf,
                    budget.get(kind, 0.0) - space.fixed_cost.get(kind, 0.0) + TOLERANCE)
        for tie in space.ties:
            a0, a1 = self._layer_range[tie.layer_a]
            b0, b1 = self._layer_range[tie.layer_b]
            values = {self.candidates[i].attr(tie.attr_a) for i in range(a0, a1)}
            values |= {self.candidates[i].attr(tie.attr_b) for i in range(b0, b1)}
            for v in values:
                entries = [(i, 1.0) for i in range(a0, a1) if self.candidates[i].attr(tie.attr_a) == v]
                entries += [(i, -1.0) for i in range(b0, b1)
                            if self.candidates[i].attr(tie.attr_b) == v]
                add_row(entries, 0.0, 0.0)
        for li, link in enumerate(space.links):
            p0, p1 = self._layer_range[link.producer]
            c0, c1 = self._layer_range[link.consumer]
            mine = [(j, p, q) for j, (lj, p, q, _) in enumerate(self.pairs) if lj == li]
            for port in {self.candidates[i].out_port for i in range(p0, p1)}:
                entries = [(n_x + j, 1.0) for j, p, _ in mine if p == port]
                entries += [(i, -1.0) for i in range(p0, p1) if self.candidates[i].out_port == port]
                add_row(entries, 0.0, 0.0)
            for port in {self.candidates[i].in_port for i in range(c0, c1)}:
                entries = [(n_x + j, 1.0) for j, _, q in mine if q == port]
                entries += [(i, -1.0) for i in range(c0, c1) if self.candidates[i].in_port == port]
                add_row(entries, 0.0, 0.0)
        self.n_x, self.n = n_x, n
        self.matrix = coo_matrix((data, (rows, cols)), shape=(len(lo), n)).tocsr()
        self.lo, self.hi = np.array(lo), np.array(hi)
        self.pair_cost = np.array([[float(cost.get(k, 0.0)) for k in RESOURCE_KINDS]
                                   for (_, _, _, cost) in self.pairs]).reshape(-1, len(RESOURCE_KINDS))
        self.cand_cost = np.array([[c.cost[k] for k in RESOURCE_KINDS] for c in self.candidates])
        self._dominance = cost_dominance(space)
        # Port ids, so a solve can drop the link pairs no remaining candidate can use.
        out_ids: dict[tuple[str, Hashable], int] = {}
        in_ids: dict[tuple[str, Hashable], int] = {}
        self.cand_out = np.array([out_ids.setdefault((names[li], c.out_port), len(out_ids))
                                  for li, c in zip(self.owner, self.candidates, strict=True)])
        self.cand_in = np.array([in_ids.setdefault((names[li], c.in_port), len(in_ids))
                                 for li, c in zip(self.owner, self.candidates, strict=True)])
        links = space.links
        # (a pair may name a port no candidate has any more, e.g. after pruning: never in play)
        self.pair_out = np.array([out_ids.setdefault((links[li].producer, p), len(out_ids))
                                  for li, p, _, _ in self.pairs], dtype=int)
        self.pair_in = np.array([in_ids.setdefault((links[li].consumer, q), len(in_ids))
                                 for li, _, q, _ in self.pairs], dtype=int)
        self._n_ports = (len(out_ids), len(in_ids))

    def useful(self, max_cycles: float) -> np.ndarray:
        """Candidates meeting `max_cycles` that no other candidate meeting it dominates."""
        mask = np.zeros(self.n_x, dtype=bool)
        for (a, b), weak in zip(self._layer_range.values(), self._dominance, strict=True):
            idx = np.flatnonzero(self.cycles[a:b] <= max_cycles)
            if len(idx):
                mask[a + idx[undominated(weak[np.ix_(idx, idx)])]] = True
        return mask

    def solve(self, max_cycles: float, weights: Mapping[str, float] | None,
              seconds: float = LEAN_SECONDS) -> Solution | None:
        """Candidates per layer within `max_cycles` and the budget: any feasible one when
        `weights` is None (fast: the solver stops at the first), else the one of least
        weighted cost, or the best found in `seconds` (with its gap). None if there is none."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        allowed = self.useful(max_cycles)
        if not np.all(np.bincount(self.owner[allowed], minlength=len(self.space.layers))):
            return None  # some layer cannot reach the bound at all
        present_out = np.zeros(self._n_ports[0], dtype=bool)
        present_out[self.cand_out[allowed]] = True
        present_in = np.zeros(self._n_ports[1], dtype=bool)
        present_in[self.cand_in[allowed]] = True
        pairs = present_out[self.pair_out] & present_in[self.pair_in]
        # Only the columns still in play go to the solver; the rest are fixed at 0.
        cols = np.concatenate([np.flatnonzero(allowed), self.n_x + np.flatnonzero(pairs)])
        n_cols = len(cols)
        if weights is None:
            objective = np.zeros(n_cols)
            options = {}
        else:
            w = np.array([weights.get(k, 0.0) for k in RESOURCE_KINDS])
            # Tie-break toward faster candidates, far below the value of one resource unit.
            full = np.concatenate([self.cand_cost @ w + 1e-12 * self.cycles, self.pair_cost @ w])
            objective = full[cols]
            options = {"mip_rel_gap": MIP_REL_GAP, "time_limit": seconds}
        integrality = (cols < self.n_x).astype(float)
        with native_stdout_hidden():  # HiGHS's stray printf (codesign.quiet)
            res = milp(objective, constraints=LinearConstraint(self.matrix[:, cols], self.lo,
                                                               self.hi),
                       integrality=integrality, bounds=Bounds(np.zeros(n_cols), np.ones(n_cols)),
                       options=options)
        stopped = res.status == 1 and weights is not None  # time limit, maybe with a design
        if stopped and res.x is None:  # no design yet: any one within the bound, not minimised
            found = self.solve(max_cycles, None)
            return None if found is None else Solution(found.choices, math.inf)
        if res.x is None or not (res.status == 0 or stopped):
            return None
        chosen = {}
        for i in cols[(res.x > 0.5) & (cols < self.n_x)]:
            chosen[self.space.layers[self.owner[i]].name] = self.candidates[i]
        return Solution(chosen, float(res.mip_gap) if stopped else 0.0)
