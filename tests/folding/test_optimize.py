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
