"""Design points of an exploration (codesign.flow.explore_points): constraints, the values a
trial reports to the search, and Pareto fronts. Pure functions: no training, no cluster."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from codesign.flow.explore_points import (
    DesignPoint,
    dominates,
    feasible,
    pareto_front,
    trial_values,
    trial_violations,
)
from codesign.flow.explore_trial import BoardPoint, variant_key
from codesign.space import parse_space

BASE = str(Path(__file__).resolve().parents[2] / "flows" / "tfc_w2a2_mnist5k.yaml")
OBJECTIVES = (("accuracy", "max"), ("fps", "max"), ("lut", "min"))


def space(**constraints: object):  # noqa: ANN201 - a SpaceConfig
    return parse_space({"name": "s", "base": BASE, "boards": ["pynq-z2", "zcu104"],
                        "objectives": dict(OBJECTIVES), "constraints": constraints,
                        "space": {"model.weight_bits": [1, 2]}})


def point(acc: float, fps: float, lut: float, fits: bool = True, board: str = "Pynq-Z2",
          trial: int = 0) -> DesignPoint:
    return DesignPoint(trial, (("model.weight_bits", 2),), acc,
                       BoardPoint(board, fits, fps, lut, 0.0, 0.0, 0.0, "f.json"),
                       f"/runs/{trial}", False)


GRID = [point(a, f, lut, trial=i) for i, (a, f, lut) in
        enumerate(itertools.product((0.8, 0.9), (1e5, 2e5), (1000.0, 2000.0)))]


def test_front_is_exactly_the_non_dominated_points() -> None:
    front = pareto_front(GRID, OBJECTIVES)
    assert [(p.accuracy, p.point.fps, p.point.lut) for p in front] == [(0.9, 2e5, 1000.0)]
    for p in GRID:
        assert (p in front) == (not any(dominates(q, p, OBJECTIVES) for q in GRID))


def test_trade_offs_all_stay_on_the_front() -> None:
    trade = [point(0.9, 1e5, 2000.0, trial=1), point(0.8, 2e5, 2000.0, trial=2),
             point(0.8, 1e5, 1000.0, trial=3), point(0.8, 1e5, 2000.0, trial=4)]
    assert {p.trial for p in pareto_front(trade, OBJECTIVES)} == {1, 2, 3}


def test_a_reused_variant_appears_once_on_the_front() -> None:
    same = [point(0.9, 1e5, 1000.0, trial=1), point(0.9, 1e5, 1000.0, trial=1)]
    assert len(pareto_front(same, OBJECTIVES)) == 1


@pytest.mark.parametrize(("constraints", "p", "ok"), [
    ({}, point(0.5, 1e5, 1.0), True),
    ({}, point(0.99, 1e5, 1.0, fits=False), False),
    ({"fits": False}, point(0.99, 1e5, 1.0, fits=False), True),
    ({"min_accuracy": 0.9}, point(0.89, 1e5, 1.0), False),
    ({"min_accuracy": 0.9}, point(0.9, 1e5, 1.0), True),
    ({"min_fps": 2e5}, point(0.9, 1e5, 1.0), False),
])
def test_constraints(constraints: dict[str, object], p: DesignPoint, ok: bool) -> None:
    s = space(**constraints)
    assert feasible(s, p) is ok
    assert (max(trial_violations(s, [p])) <= 0) is ok


def test_trial_values_are_the_envelope_of_its_feasible_board_points() -> None:
    s = space(min_fps=1.5e5)
    small = point(0.9, 1e5, 1000.0, board="Pynq-Z2")  # too slow: infeasible
    big = point(0.9, 4e5, 5000.0, board="ZCU104")
    huge = point(0.9, 8e5, 9000.0, board="U250")
    assert trial_values(s, [small, big, huge]) == [0.9, 8e5, 5000.0]
    assert max(trial_violations(s, [small, big, huge])) <= 0
    assert max(trial_violations(s, [small])) > 0


def test_variant_key_ignores_the_name_but_not_the_seed() -> None:
    flow = {"name": "a", "seed": 0, "model": {"weight_bits": 2}}
    assert variant_key(flow) == variant_key({**flow, "name": "b", "description": "x"})
    assert variant_key(flow) != variant_key({**flow, "seed": 1})
    assert variant_key(flow) != variant_key({**flow, "model": {"weight_bits": 4}})


def test_variant_key_follows_the_source_of_the_users_module(tmp_path: Path) -> None:
    """A trained variant of the user's own module is not reused once its code (the file, or a
    sibling it imports) changed; the same code gives the same key."""
    (tmp_path / "net.py").write_text("from blocks import make\n")
    (tmp_path / "blocks.py").write_text("def make(): return 1\n")
    flow = {"name": "a", "seed": 0, "model": {"module": f"{tmp_path}/net.py:make"}}
    first = variant_key(flow)
    assert variant_key({**flow, "name": "b"}) == first
    (tmp_path / "blocks.py").write_text("def make(): return 2\n")
    assert variant_key(flow) != first
