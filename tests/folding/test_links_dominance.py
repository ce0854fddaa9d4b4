"""Links (pairwise stream costs, e.g. data-width converters) and dominance pruning in the
folding core, checked against exhaustive enumeration."""

import itertools
import random

import pytest

from codesign.boards import RESOURCE_KINDS
from codesign.folding import (
    Candidate,
    FoldingSpace,
    LayerSpace,
    Link,
    Tie,
    brute_force,
    explain_infeasible,
    maximize_throughput,
    minimize_resources,
    pareto_front,
    prune_dominated,
)


def layer(name: str, mh: int, mw: int, rng: random.Random, styles: bool = True) -> LayerSpace:
    """MVAU-like: PE | MH, SIMD | MW, optional 'distributed' style trading BRAM for LUT.
    The input port is SIMD (what the producer sees), the output port PE."""
    cands = []
    for pe in [d for d in range(1, mh + 1) if mh % d == 0]:
        for simd in [d for d in range(1, mw + 1) if mw % d == 0]:
            par = pe * simd
            for style in ("block", "distributed") if styles else ("block",):
                lut = 40 * par + rng.randint(0, 30) + (25 * par if style == "distributed" else 0)
                bram = 0 if style == "distributed" else max(1, 8 // par) + par // 8
                cost = {"LUT": lut, "BRAM_18K": bram, "URAM": 0, "DSP": par // 16}
                cands.append(Candidate.make({"PE": pe, "SIMD": simd, "ram_style": style},
                                            (mh // pe) * (mw // simd), cost,
                                            in_port=simd, out_port=pe))
    return LayerSpace(name, "MVAU", tuple(cands))


def converter_link(a: LayerSpace, b: LayerSpace, rng: random.Random, illegal: float) -> Link:
    """Free when the producer's PE equals the consumer's SIMD, else a converter whose LUTs
    grow with both widths; a fraction `illegal` of the mismatched pairs cannot be converted."""
    costs = {}
    for p in {c.out_port for c in a.candidates}:
        for q in {c.in_port for c in b.candidates}:
            if p == q:
                costs[(p, q)] = {}
            elif rng.random() >= illegal:
                costs[(p, q)] = {"LUT": 3 * (p + q) + rng.randint(0, 10)}
    return Link(a.name, b.name, costs, "converter")


def chain(seed: int, n_layers: int, illegal: float = 0.2, styles: bool = True) -> FoldingSpace:
    rng = random.Random(seed)
    dims = [rng.choice([4, 6, 8]) for _ in range(n_layers + 1)]
    layers = [layer(f"L{i}", dims[i + 1], dims[i], rng, styles) for i in range(n_layers)]
    links = [converter_link(a, b, rng, illegal) for a, b in itertools.pairwise(layers)]
    return FoldingSpace(tuple(layers), links=tuple(links), fixed_cost={"LUT": 50.0})


BUDGETS = [
    {"LUT": 700, "BRAM_18K": 12, "URAM": 0, "DSP": 2},
    {"LUT": 2500, "BRAM_18K": 6, "URAM": 0, "DSP": 8},
    {"LUT": 1200, "BRAM_18K": 40, "URAM": 0, "DSP": 0},
]


def grand(plan) -> dict:
    return plan.grand_totals()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("budget", BUDGETS)
def test_links_milp_equals_brute_force(seed: int, budget: dict) -> None:
    space = chain(seed, 3, styles=False)
    exact = brute_force(space, budget)
    plan = maximize_throughput(space, budget)
    assert plan.feasible == exact.feasible
    if exact.feasible:
        assert plan.max_cycles == exact.max_cycles
        assert all(grand(plan)[k] <= budget[k] + 1e-6 for k in RESOURCE_KINDS)
        for link in space.links:  # the chosen pair of every link is a legal one
            assert link.cost(plan.choices[link.producer].out_port,
                             plan.choices[link.consumer].in_port) is not None


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("budget", BUDGETS)
def test_pruning_keeps_the_optimum(seed: int, budget: dict) -> None:
    space = chain(seed, 2)
    pruned = prune_dominated(space)
    assert pruned.size() < space.size()
    exact = brute_force(space, budget)
    plan = maximize_throughput(pruned, budget)
    assert plan.feasible == exact.feasible
    if exact.feasible:
        assert plan.max_cycles == exact.max_cycles
        # the leanest design at the optimum survives pruning too
        assert brute_force(pruned, budget).max_cycles == exact.max_cycles


def test_pruning_never_merges_candidates_that_ties_tell_apart() -> None:
    rng = random.Random(3)
    swg = layer("swg", 8, 1, rng, styles=False)
    pool = layer("pool", 8, 1, rng, styles=False)
    cheap_pe = {"LUT": 1, "BRAM_18K": 0, "URAM": 0, "DSP": 0}
    # a candidate of pool that is cheaper and faster than every other, but with PE=3: no
    # swg candidate has that PE, so pruning must not let it stand in for the others
    odd = Candidate.make({"PE": 3, "SIMD": 1, "ram_style": "block"}, 1, cheap_pe)
    pool = LayerSpace("pool", "Pool", (*pool.candidates, odd))
    space = FoldingSpace((swg, pool), ties=(Tie("swg", "PE", "pool", "PE"),))
    pruned = prune_dominated(space)
    assert len(pruned.layer("pool").candidates) > 1
    budget = {"LUT": 10_000, "BRAM_18K": 100, "URAM": 0, "DSP": 100}
    assert maximize_throughput(pruned, budget).max_cycles == brute_force(space, budget).max_cycles


def test_an_illegal_pair_is_never_chosen_even_if_cheapest() -> None:
    rng = random.Random(0)
    a, b = layer("a", 4, 4, rng, styles=False), layer("b", 4, 4, rng, styles=False)
    only = {(p, q): {} for p in (1, 2, 4) for q in (1, 2, 4) if p == q}  # no converters at all
    space = FoldingSpace((a, b), links=(Link("a", "b", only),))
    plan = maximize_throughput(space, {"LUT": 10_000, "BRAM_18K": 100, "URAM": 0, "DSP": 100})
    assert plan.choices["a"].out_port == plan.choices["b"].in_port


@pytest.mark.parametrize("seed", range(4))
def test_minimize_resources_with_links_is_least_weighted_cost(seed: int) -> None:
    space = chain(seed, 2)
    budget = {"LUT": 100_000, "BRAM_18K": 1000, "URAM": 0, "DSP": 1000}
    weights = {"LUT": 1.0, "BRAM_18K": 0.0, "URAM": 0.0, "DSP": 0.0}
    bound = sorted(space.cycle_values())[len(space.cycle_values()) // 3]
    plan = minimize_resources(space, budget, bound, weights)
    best = None
    for combo in itertools.product(*(la.candidates for la in space.layers)):
        if max(c.cycles for c in combo) > bound:
            continue
        link = space.links[0].cost(combo[0].out_port, combo[1].in_port)
        if link is None:
            continue
        lut = sum(c.cost["LUT"] for c in combo) + link.get("LUT", 0.0)
        best = lut if best is None else min(best, lut)
    assert plan.feasible and plan.max_cycles <= bound
    assert grand(plan)["LUT"] - space.fixed_cost["LUT"] == pytest.approx(best)


def test_link_costs_are_reported_apart_from_layer_totals() -> None:
    space = chain(1, 3, illegal=0.0)
    plan = maximize_throughput(space, {"LUT": 100_000, "BRAM_18K": 1000, "URAM": 0, "DSP": 1000})
    layers_only = space.fixed_cost["LUT"] + sum(c.cost["LUT"] for c in plan.choices.values())
    assert plan.totals["LUT"] == layers_only
    assert plan.link_totals["LUT"] == sum(c.get("LUT", 0.0) for c in plan.link_costs.values())
    assert plan.to_dict()["link_totals"] == dict(plan.link_totals)


def test_infeasibility_counts_the_cheapest_links() -> None:
    space = chain(2, 2, illegal=0.0)
    least_layers = space.fixed_cost["LUT"] + sum(min(c.cost["LUT"] for c in la.candidates)
                                                 for la in space.layers)
    # links here cost at least 0 (matching ports are free): the bound is the layers' minimum
    message = explain_infeasible(space, {"LUT": least_layers - 10, "BRAM_18K": 1000, "URAM": 0,
                                         "DSP": 1000})
    assert "LUT" in message and "over by 10" in message


def test_pareto_front_with_links_is_monotone_and_within_budget() -> None:
    space = chain(4, 3, illegal=0.1)
    budget = {"LUT": 3000, "BRAM_18K": 60, "URAM": 0, "DSP": 100}
    front = pareto_front(space, budget, "LUT", max_points=12)
    assert len(front) >= 2
    luts = [grand(p)["LUT"] for p in front]
    assert [p.max_cycles for p in front] == sorted(p.max_cycles for p in front)
    assert luts == sorted(luts, reverse=True) and luts[0] <= budget["LUT"]
