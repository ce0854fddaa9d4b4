import random

import pytest

from codesign.folding import (
    Candidate,
    FoldingSpace,
    LayerSpace,
    Tie,
    brute_force,
    maximize_throughput,
    minimize_resources,
    pareto_front,
)


def mvau_like_layer(name: str, mh: int, mw: int, rng: random.Random) -> LayerSpace:
    """PE | MH, SIMD | MW; cycles = MH/PE * MW/SIMD; LUT grows with PE*SIMD; BRAM shrinks with it."""
    cands = []
    for pe in [d for d in range(1, mh + 1) if mh % d == 0]:
        for simd in [d for d in range(1, mw + 1) if mw % d == 0]:
            par = pe * simd
            cost = {"LUT": 40 * par + rng.randint(0, 30), "BRAM_18K": max(1, 8 // par),
                    "URAM": 0, "DSP": par // 16}
            cands.append(Candidate.make({"PE": pe, "SIMD": simd}, (mh // pe) * (mw // simd), cost))
    return LayerSpace(name, "MVAU", tuple(cands))


def random_space(seed: int, n_layers: int) -> FoldingSpace:
    rng = random.Random(seed)
    dims = [rng.choice([4, 6, 8, 12]) for _ in range(n_layers + 1)]
    layers = tuple(mvau_like_layer(f"L{i}", dims[i + 1], dims[i], rng) for i in range(n_layers))
    return FoldingSpace(layers, fixed_cost={"LUT": 100.0})


BUDGETS = [
    {"LUT": 900, "BRAM_18K": 40, "URAM": 0, "DSP": 4},
    {"LUT": 3000, "BRAM_18K": 12, "URAM": 0, "DSP": 8},
    {"LUT": 500, "BRAM_18K": 100, "URAM": 10, "DSP": 0},
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("n_layers", [2, 3])
def test_optimizer_equals_brute_force(seed: int, budget: dict, n_layers: int) -> None:
    space = random_space(seed, n_layers)
    exact = brute_force(space, budget)
    plan = maximize_throughput(space, budget)
    assert plan.feasible == exact.feasible
    if exact.feasible:
        assert plan.max_cycles == exact.max_cycles
        for kind, limit in budget.items():
            assert plan.totals[kind] <= limit + 1e-6


def test_ties_are_respected() -> None:
    rng = random.Random(0)
    a = mvau_like_layer("swg", 8, 1, rng)  # only PE varies
    b = mvau_like_layer("pool", 8, 1, rng)
    space = FoldingSpace((a, b), ties=(Tie("swg", "PE", "pool", "PE"),))
    budget = {"LUT": 10_000, "BRAM_18K": 100, "URAM": 0, "DSP": 100}
    plan = maximize_throughput(space, budget)
    assert plan.choices["swg"].attr("PE") == plan.choices["pool"].attr("PE")
    assert plan.max_cycles == brute_force(space, budget).max_cycles


def test_infeasible_budget_names_the_resource_and_amount() -> None:
    space = random_space(1, 2)
    plan = maximize_throughput(space, {"LUT": 50, "BRAM_18K": 100, "URAM": 0, "DSP": 10})
    assert not plan.feasible
    assert "LUT" in plan.message and "over by" in plan.message


def test_minimize_resources_meets_the_cycle_target_with_least_lut() -> None:
    space = random_space(2, 3)
    budget = {"LUT": 100_000, "BRAM_18K": 1000, "URAM": 0, "DSP": 1000}
    target = 16
    plan = minimize_resources(space, budget, target, weights={"LUT": 1, "BRAM_18K": 0, "URAM": 0, "DSP": 0})
    assert plan.feasible and plan.max_cycles <= target
    exact = min(
        sum(min(c.cost["LUT"] for c in layer.candidates if c.cycles <= target) for layer in space.layers)
        for _ in [0])
    assert plan.totals["LUT"] == pytest.approx(exact + 100.0)


def test_pareto_front_is_monotone() -> None:
    space = random_space(3, 3)
    budget = {"LUT": 4000, "BRAM_18K": 100, "URAM": 0, "DSP": 100}
    front = pareto_front(space, budget)
    assert len(front) >= 2
    cycles = [p.max_cycles for p in front]
    luts = [p.totals["LUT"] for p in front]
    assert cycles == sorted(cycles) and luts == sorted(luts, reverse=True)
    assert front[0].max_cycles == maximize_throughput(space, budget).max_cycles


def _weighted(plan, budget: dict) -> float:
    totals = plan.grand_totals()
    return sum(totals[k] / budget[k] for k in budget if budget[k])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("budget", BUDGETS[:2])
def test_a_floor_above_the_fastest_bottleneck_buys_the_leanest_design_that_meets_it(
        seed: int, budget: dict) -> None:
    space = random_space(seed, 3)
    fastest = maximize_throughput(space, budget)
    assert fastest.feasible
    slower = [v for v in space.cycle_values() if v > fastest.max_cycles]
    floor = slower[len(slower) // 2] + 0.5  # e.g. an I/O bound between two cycle values
    at_floor = maximize_throughput(space, budget, floor_cycles=floor)
    assert fastest.max_cycles < at_floor.max_cycles <= floor
    # the same design minimize_resources finds for that bound, and never dearer than the fastest
    lean = minimize_resources(space, budget, floor)
    assert at_floor.choices == lean.choices
    assert _weighted(at_floor, budget) <= _weighted(fastest, budget) + 1e-9
    # a floor below what the budget reaches changes nothing
    below = maximize_throughput(space, budget, floor_cycles=fastest.max_cycles - 1)
    assert below.choices == fastest.choices


def _stopped_solver(monkeypatch: pytest.MonkeyPatch, keep_design: bool) -> list[dict]:
    """scipy's milp as HiGHS answers when a least-resource solve hits its time limit: status 1
    with its best design and gap so far, or with none yet. Records the options it was given."""
    import scipy.optimize

    real, calls = scipy.optimize.milp, []

    def milp(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        calls.append(dict(kwargs.get("options") or {}))
        if "time_limit" in calls[-1]:  # a least-resource solve; feasibility ones run to the end
            result.status, result.mip_gap = 1, 0.004
            result.x = result.x if keep_design else None
        return result

    monkeypatch.setattr(scipy.optimize, "milp", milp)
    return calls


@pytest.mark.parametrize("keep_design", [True, False], ids=["with-design", "before-any-design"])
def test_a_least_resource_solve_stopped_by_its_time_limit_keeps_the_fps(
        monkeypatch: pytest.MonkeyPatch, keep_design: bool) -> None:
    """The bottleneck comes from feasibility solves, which run to the end; the least-resource
    solve after them stops at LEAN_SECONDS with its design and gap, or, with no design yet, any
    feasible one at that bottleneck. The plan says which."""
    from codesign.folding import gap_note
    from codesign.folding.program import LEAN_SECONDS

    space, budget = random_space(3, 3), BUDGETS[1]
    exact = maximize_throughput(space, budget)
    calls = _stopped_solver(monkeypatch, keep_design)
    plan = maximize_throughput(space, budget)
    assert {c.get("time_limit") for c in calls} == {None, LEAN_SECONDS}
    assert plan.feasible and plan.max_cycles == exact.max_cycles
    assert all(plan.grand_totals()[k] <= budget[k] + 1e-6 for k in budget)
    if keep_design:
        assert plan.gap == 0.004 and plan.to_dict()["gap"] == 0.004
        assert gap_note(plan.gap).endswith("within 0.400% of the least cost; the FPS is met exactly")
    else:
        assert plan.gap == float("inf") and plan.to_dict()["gap"] is None  # JSON has no inf
        assert "not the leanest" in gap_note(plan.gap) == gap_note(None)
    assert gap_note(exact.gap) == "" and exact.gap == 0.0


def test_pareto_points_have_a_shorter_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _stopped_solver(monkeypatch, keep_design=True)
    front = pareto_front(random_space(1, 2), BUDGETS[1], "LUT", max_points=4, seconds=2.0)
    assert front and all(p.gap == 0.004 for p in front)
    assert {c.get("time_limit") for c in calls} == {None, 2.0}
