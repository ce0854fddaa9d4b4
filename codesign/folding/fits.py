"""The one fits check: estimated resources against a board's budget (capacity x utilisation caps).

Every "does it fit" in codesign (the flow's verdict, the folding optimizer, FINN's SetFolding
baseline, `codesign fold`, the pruning profile) comes through `within`/`fits`, so they share one
tolerance: FINN's estimates are floats summed per layer, and a design that lands on its budget
exactly must not fail on rounding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from codesign.boards import RESOURCE_KINDS, Board

TOLERANCE = 1e-6  # resource units; far below one LUT, far above float summation error


def within(used: float, budget: float) -> bool:
    """True if `used` of one resource stays inside `budget` of it."""
    return used <= budget + TOLERANCE


def fits(used: Mapping[str, float], budget: Mapping[str, float]) -> bool:
    """True if every resource kind of `used` stays inside `budget` (a kind the budget lacks has
    a budget of 0)."""
    return all(within(float(used.get(k, 0.0)), float(budget.get(k, 0.0))) for k in RESOURCE_KINDS)


@dataclass(frozen=True)
class ResourceUse:
    kind: str
    used: float
    capacity: int
    cap: float  # fraction of what the shell leaves that the design may use
    budget: float  # (capacity - shell) * cap
    utilisation: float  # used / capacity (0 when the board has none and none is used)
    fits: bool
    shell: int = 0  # what the board's shell takes of the capacity


@dataclass(frozen=True)
class BudgetCheck:
    resources: tuple[ResourceUse, ...]

    @property
    def fits(self) -> bool:
        return all(r.fits for r in self.resources)

    @property
    def over(self) -> tuple[ResourceUse, ...]:
        return tuple(r for r in self.resources if not r.fits)

    def verdict(self) -> str:
        if self.fits:
            return "fits"
        parts = [f"{r.kind} {r.used:,.0f} > {r.budget:,.0f}" for r in self.over]
        return "does not fit (" + "; ".join(parts) + ")"

    def to_dict(self) -> dict[str, object]:
        return {
            "fits": self.fits,
            "verdict": self.verdict(),
            "resources": {r.kind: asdict(r) for r in self.resources},
        }


def _check(totals: Mapping[str, float], capacity: Mapping[str, int], caps: Mapping[str, float],
           budget: Mapping[str, float], shell: Mapping[str, int]) -> BudgetCheck:
    rows = []
    for kind in RESOURCE_KINDS:
        used = float(totals.get(kind, 0.0))
        cap_total = int(capacity.get(kind, 0))
        util = used / cap_total if cap_total else (0.0 if used == 0 else float("inf"))
        rows.append(ResourceUse(kind, used, cap_total, float(caps.get(kind, 1.0)),
                                float(budget[kind]), util, within(used, float(budget[kind])),
                                int(shell.get(kind, 0))))
    return BudgetCheck(tuple(rows))


def check_budget(
    totals: Mapping[str, float], capacity: Mapping[str, int], caps: Mapping[str, float]
) -> BudgetCheck:
    """Check every resource kind of `totals` against `capacity * caps` (no shell)."""
    budget = {k: int(capacity.get(k, 0)) * float(caps.get(k, 1.0)) for k in RESOURCE_KINDS}
    return _check(totals, capacity, caps, budget, {})


def check_board(totals: Mapping[str, float], board: Board) -> BudgetCheck:
    """The fits verdict on `board`: against `board.budget()`, where the board's shell takes
    its resources before the caps apply."""
    return _check(totals, board.resources, board.caps, board.budget(),
                  board.shell_resources or {})
