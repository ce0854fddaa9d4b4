"""FINN's SetFolding as a baseline: its designs at several targets, and the fastest one that
fits a budget (SetFolding itself never looks at resources).

SetFolding depends only on the graph, the target cycles and mvau_wwidth_max, so every result is
memoised per graph. The best fitting design is searched per mvau_wwidth_max over the target
FPS: a geometric grid from the slowest (everything folded) to the fastest target, then a
bisection between the fastest fitting grid point and the next one; the fastest fitting design
seen anywhere is kept (SetFolding's resources need not grow monotonically with the target).
Given the board's shell (`host_io`), "fastest" is the accelerator as built, min(compute, I/O),
the figure codesign's own folding is measured by."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from codesign.boards import RESOURCE_KINDS, HostIO
from codesign.finn.compile import HWGraph
from codesign.finn.estimates import estimate
from codesign.finn.folding import apply_setfolding, target_cycles
from codesign.finn.plan import converters
from codesign.folding.fits import fits

WWIDTHS = (36, 64, 128, 1024)


@dataclass(frozen=True)
class SetFoldingPoint:
    target_fps: float
    mvau_wwidth_max: int
    max_cycles: int
    fps: float  # as built: min(compute_fps, I/O) with a shell, else compute_fps
    totals: dict[str, float]  # FINN's estimate totals
    converter_totals: dict[str, float]  # data-width converters FINN adds later
    compute_fps: float = 0.0
    io_fps: float | None = None

    def fits(self, budget: Mapping[str, float], with_converters: bool = True) -> bool:
        extra = self.converter_totals if with_converters else {}
        return fits({k: self.totals[k] + extra.get(k, 0.0) for k in RESOURCE_KINDS}, budget)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SetFoldingSweep:
    """SetFolding results of one compiled graph, memoised by (target cycles, mvau_wwidth_max)."""

    def __init__(self, hw: HWGraph, host_io: HostIO | None = None) -> None:
        self.hw = hw
        self.host_io = host_io
        self._points: dict[tuple[int, int], SetFoldingPoint] = {}

    def point(self, target_fps: float, mvau_wwidth_max: int) -> SetFoldingPoint:
        """SetFolding's design at this target, its stream FIFOs at their safe depths (as
        codesign's optimizer prices its trial plans)."""
        key = (target_cycles(self.hw.clock_mhz, target_fps), mvau_wwidth_max)
        if key not in self._points:
            self._points[key] = self._evaluate(target_fps, mvau_wwidth_max, search_fifos=False)
        return self._points[key]

    def as_built(self, point: SetFoldingPoint) -> SetFoldingPoint:
        """`point` with its stream FIFOs at their searched depths (never dearer than safe ones),
        as codesign reports its own chosen plan."""
        return self._evaluate(point.target_fps, point.mvau_wwidth_max, search_fifos=True)

    def _evaluate(self, target_fps: float, mvau_wwidth_max: int, *, search_fifos: bool
                  ) -> SetFoldingPoint:
        folded = apply_setfolding(self.hw, target_fps=target_fps, mvau_wwidth_max=mvau_wwidth_max)
        est = estimate(folded, self.host_io, search_fifos=search_fifos)
        conv = {k: float(sum(c.cost.get(k, 0.0) for c in converters(folded)))
                for k in RESOURCE_KINDS}
        return SetFoldingPoint(float(target_fps), mvau_wwidth_max, est.max_cycles, est.fps,
                               dict(est.totals), conv, est.compute_fps, est.io_fps)

    def seen(self) -> tuple[SetFoldingPoint, ...]:
        """Every design evaluated so far."""
        return tuple(self._points.values())

    def fps_range(self) -> tuple[float, float]:
        """(slowest, fastest) targets worth trying: everything folded .. one cycle per frame
        in the slowest layer SetFolding can reach."""
        slowest = self.point(1.0, WWIDTHS[-1]).compute_fps
        fastest = self.point(self.hw.clock_mhz * 1e6, WWIDTHS[-1]).compute_fps
        return slowest, fastest

    def grid(self, count: int = 8, wwidths: Iterable[int] = WWIDTHS) -> list[SetFoldingPoint]:
        slowest, fastest = self.fps_range()
        targets = np.geomspace(slowest, fastest, count)
        return [self.point(float(t), w) for w in wwidths for t in targets]

    def best_fitting(self, budget: Mapping[str, float], *, with_converters: bool = True,
                     wwidths: Iterable[int] = WWIDTHS, grid: int = 12, steps: int = 12
                     ) -> SetFoldingPoint | None:
        """The fastest SetFolding design within `budget` (see module doc; among equally fast
        ones the leanest, budget-weighted), or None. Fitting is judged with the stream FIFOs at
        their safe depths, as codesign's optimizer judges its plans; the design returned has them
        at their searched depths (as_built), as codesign's chosen plan has."""
        slowest, fastest = self.fps_range()
        best: SetFoldingPoint | None = None

        def cost(p: SetFoldingPoint) -> float:
            return sum((p.totals[k] + p.converter_totals.get(k, 0.0)) / budget[k]
                       for k in RESOURCE_KINDS if budget.get(k, 0.0) > 0)

        def consider(p: SetFoldingPoint) -> bool:
            nonlocal best
            ok = p.fits(budget, with_converters)
            # at equal FPS (e.g. several designs at the I/O bound) the leaner one
            if ok and (best is None or p.fps > best.fps * (1 + 1e-9)
                       or (p.fps >= best.fps * (1 - 1e-9) and cost(p) < cost(best))):
                best = p
            return ok

        for w in wwidths:
            targets = list(np.geomspace(slowest, fastest, grid))
            fitting = [consider(self.point(float(t), w)) for t in targets]
            if not any(fitting):
                continue
            last = max(i for i, ok in enumerate(fitting) if ok)
            if last == len(targets) - 1:
                continue
            lo, hi = np.log(targets[last]), np.log(targets[last + 1])
            for _ in range(steps):  # invariant: exp(lo) fits, exp(hi) does not
                mid = (lo + hi) / 2
                if consider(self.point(float(np.exp(mid)), w)):
                    lo = mid
                else:
                    hi = mid
        return None if best is None else self.as_built(best)
