"""Folding plans for a board: FINN reproduces them exactly (also from a folding file on a fresh
compile), small graphs reach the brute-force optimum, caps and infeasible budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tiny_models import CLOCK_MHZ, PART, build_mlp, make_case

from codesign.boards import RESOURCE_KINDS, load_board
from codesign.errors import FoldingError
from codesign.finn import apply_folding_file, compile_to_hw, estimate, write_folding_config
from codesign.finn.candidates import build_space
from codesign.finn.plan import converters, fold_for_board, plan_config
from codesign.folding import brute_force, maximize_throughput

pytestmark = pytest.mark.slow

# Pynq-Z1 (the tiny models are compiled for its part and clock) with caps that bind for them.
TIGHT = {"LUT": 0.04, "BRAM_18K": 0.03, "DSP": 0.02}


@pytest.fixture(scope="module")
def pynq() -> Any:
    board = load_board("pynq-z1")
    assert board.part == PART and board.clock_mhz == CLOCK_MHZ
    return board


def fits(totals: dict[str, float], budget: dict[str, float]) -> bool:
    return all(totals[k] <= budget[k] + 1e-6 for k in RESOURCE_KINDS)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("objective", ["maximize", "min_resources"])
def test_folding_file_on_a_fresh_compile_reproduces_the_plan(
        compiled: Any, tiny_cases: Any, pynq: Any, tmp_path: Path, name: str,
        objective: str) -> None:
    board = pynq.with_caps(**TIGHT)
    target = 20_000.0 if objective == "min_resources" else None
    folded, plan, report = fold_for_board(compiled(name), board, objective, target)
    assert fits(plan.grand_totals(), board.budget())
    if target:
        assert report.fps >= target
    path = write_folding_config(folded, tmp_path / "folding_config.json")
    fresh = compile_to_hw(tiny_cases[name].onnx, part=PART, clock_mhz=CLOCK_MHZ,
                          workdir=tmp_path / "fresh")
    applied = apply_folding_file(fresh, path)
    est = estimate(applied)
    assert est.max_cycles == plan.max_cycles
    assert est.totals == dict(plan.totals)
    assert {la.name: la.cycles for la in est.layers} == {n: c.cycles for n, c in plan.choices.items()}
    assert sum(c.cost["LUT"] for c in converters(applied)) == plan.link_totals["LUT"]


@pytest.fixture(scope="module")
def small_graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny Brevitas MLPs: 2 layers (16->8->6) and 3 layers (16->8->6->4)."""
    directory = tmp_path_factory.mktemp("small")
    graphs = {}
    for name, hidden, classes in (("two", (8,), 6), ("three", (8, 6), 4)):
        case = make_case(name, lambda shape, h=hidden, c=classes, **kw: build_mlp(shape, h, c, **kw),
                         (1, 4, 4), directory)
        graphs[name] = compile_to_hw(case.onnx, part=PART, clock_mhz=CLOCK_MHZ,
                                     workdir=directory / f"w_{name}")
    return graphs


def budgets_for(space: Any) -> list[dict[str, float]]:
    """Budgets from generous to infeasible, spread over the space's LUT range."""
    least = sum(min(c.cost["LUT"] for c in la.candidates) for la in space.layers)
    most = sum(max(c.cost["LUT"] for c in la.candidates) for la in space.layers)
    out = []
    for frac, bram, dsp in ((1.0, 100, 100), (0.7, 3, 8), (0.5, 2, 0), (0.4, 100, 16),
                            (0.3, 100, 4), (0.2, 3, 2), (0.15, 1, 0), (0.1, 100, 0),
                            (0.05, 100, 0)):
        out.append({"LUT": least + frac * (most - least), "BRAM_18K": bram, "URAM": 0,
                    "DSP": dsp})
    out.append({"LUT": least - 1, "BRAM_18K": 100, "URAM": 0, "DSP": 100})
    return out


@pytest.mark.parametrize("name,styles", [("two", True), ("three", False)])
def test_small_graphs_reach_the_brute_force_optimum(small_graphs: Any, name: str,
                                                    styles: bool) -> None:
    hw = small_graphs[name]
    full = build_space(hw, allow_uram=False, styles=styles, prune=False).space
    pruned = build_space(hw, allow_uram=False, styles=styles).space
    assert len(full.layers) <= 4
    for budget in budgets_for(full):
        exact = brute_force(full, budget)  # every combination, converters included
        plan = maximize_throughput(pruned, budget)
        assert plan.feasible == exact.feasible, budget
        if exact.feasible:
            assert plan.max_cycles == exact.max_cycles, budget
            assert fits(plan.grand_totals(), budget)


def test_an_infeasible_budget_names_the_resource_and_the_amount(compiled: Any,
                                                                pynq: Any) -> None:
    board = pynq.with_caps(LUT=0.005)  # 266 LUT: one MVAU alone needs 300
    with pytest.raises(FoldingError) as info:
        fold_for_board(compiled("mlp"), board)
    message = str(info.value)
    assert "LUT needs at least" in message and "over by" in message and "caps" in message


def test_an_unreachable_target_names_the_fastest_that_fits(compiled: Any, pynq: Any) -> None:
    board = pynq.with_caps(**TIGHT)
    _, fastest, report = fold_for_board(compiled("mlp"), board)
    with pytest.raises(FoldingError) as info:
        fold_for_board(compiled("mlp"), board, "min_resources", target_fps=report.fps * 1.5)
    assert f"{report.fps:,.0f} FPS" in str(info.value)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_tighter_caps_never_give_more_fps_and_are_always_met(compiled: Any, pynq: Any,
                                                             name: str) -> None:
    fps = []
    for lut in (0.04, 0.06, 0.2):
        board = pynq.with_caps(LUT=lut, BRAM_18K=0.05, DSP=0.05)
        _, plan, report = fold_for_board(compiled(name), board)
        assert fits(plan.grand_totals(), board.budget())
        fps.append(report.fps)
    assert fps == sorted(fps) and fps[0] < fps[-1]


def test_min_resources_is_no_dearer_than_the_fastest_design(compiled: Any, pynq: Any) -> None:
    board = pynq.with_caps(**TIGHT)
    _, fastest, fast_report = fold_for_board(compiled("cnn"), board)
    _, lean, lean_report = fold_for_board(compiled("cnn"), board, "min_resources",
                                          target_fps=fast_report.fps / 4)
    assert lean_report.fps >= fast_report.fps / 4
    weights = {k: 1 / v if v else 0 for k, v in board.budget().items()}
    assert (sum(weights[k] * lean.grand_totals()[k] for k in RESOURCE_KINDS)
            <= sum(weights[k] * fastest.grand_totals()[k] for k in RESOURCE_KINDS))


def test_converters_outside_the_budget_are_reported_as_such(compiled: Any, pynq: Any) -> None:
    _, plan, report = fold_for_board(compiled("cnn"), pynq.with_caps(**TIGHT), dwc=False)
    assert "NOT in the objective" in plan.message and not report.converters_in_budget
    assert plan.link_totals == {} or not any(plan.link_totals.values())


def test_a_graph_compiled_for_another_part_is_refused(compiled: Any) -> None:
    with pytest.raises(FoldingError, match="compile it for the board's part"):
        fold_for_board(compiled("mlp"), load_board("zcu104"))


def test_plan_config_is_finns_format_and_only_names_real_nodes(compiled: Any, pynq: Any) -> None:
    hw = compiled("cnn")
    _, plan, _ = fold_for_board(hw, pynq.with_caps(**TIGHT))
    config = plan_config(plan)
    assert config["Defaults"] == {}
    assert set(config) - {"Defaults"} <= {n.name for n in hw.model.graph.node}
    assert all(isinstance(v, dict) and v for k, v in config.items() if k != "Defaults")
