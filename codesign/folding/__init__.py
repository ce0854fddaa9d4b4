"""Folding search: candidate spaces per layer (built from FINN's own per-node estimates by the
toolchain boundary) and an exact optimizer over them. Pure Python + scipy; no FINN imports."""

from codesign.folding.dominance import prune_dominated
from codesign.folding.fits import (
    BudgetCheck,
    ResourceUse,
    check_board,
    check_budget,
    fits,
    within,
)
from codesign.folding.optimize import (
    FoldingPlan,
    brute_force,
    explain_infeasible,
    gap_note,
    maximize_throughput,
    minimize_resources,
    pareto_front,
)
from codesign.folding.space import Candidate, FoldingSpace, LayerSpace, Link, Tie, divisors

__all__ = [
    "BudgetCheck", "ResourceUse", "check_board", "check_budget", "fits", "within",
    "Candidate", "FoldingPlan", "FoldingSpace", "LayerSpace", "Link", "Tie", "brute_force", "divisors",
    "explain_infeasible", "gap_note", "maximize_throughput", "minimize_resources", "pareto_front",
    "prune_dominated",
]
