"""Folding plans for a board: optimise over FINN's own estimates, apply the plan through FINN's
ApplyConfig, and check that FINN's analyses then report exactly what the plan predicted.

What is modelled: per-layer cycles and LUT/BRAM_18K/URAM/DSP exactly as FINN estimates them,
and (with `dwc=True`, the default) the data-width converters FINN's InsertDWC adds between
layers whose stream words differ, priced by the converter's own estimate and charged against
the budget. Stream FIFOs (codesign.finn.fifos) depend on the foldings of neighbouring layers:
the optimizer reserves only the skip-branch buffers' token count per fork candidate, and the
applied plan's totals are then charged for every FIFO at its safe depth (with_stream_fifos;
quick to compute, so every trial plan is priced so). Only the chosen plan gets the least-depth
search (fifo_sizing, seconds on large graphs): its FIFOs at the searched depths, never dearer
than safe ones, are the totals reported and the depths FINN's build is given. A faster plan
that would fit only at searched depths is not looked for: with every trial plan searched, CNV
(Pynq-Z1, Ultra96-V2) and ResNet-8 (Pynq-Z2, whole search) fold to the same FPS, 2-8x slower.
What is not modelled: converter cycles (FINN estimates 0), and anything past FINN's
analytical estimates (post-synthesis numbers differ).

I/O: the plan's figure of merit is the accelerator as built, min(compute, the board shell's I/O
bound; host_io.py). Compute faster than the I/O bound buys nothing, so when the fastest plan
outruns it, the planner takes the leanest plan whose compute still keeps up with the I/O (and a
min_resources target above the I/O bound is met at the bound). The bytes per frame depend on the
folding of the first and last layers (stream padding), so the bound is measured on the folded
graph and the leaner plan is kept only if its as-built FPS is no lower."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codesign.boards import RESOURCE_KINDS, Board
from codesign.errors import FoldingError
from codesign.finn._env import is_hw_node, quiet_finn
from codesign.finn.candidates import BuiltSpace, build_space
from codesign.finn.compile import HWGraph
from codesign.finn.costs import CostCache, dwc_cost, private_instance
from codesign.finn.estimates import Estimates, estimate
from codesign.finn.fifos import fifo_cost, skip_buffers
from codesign.finn.folding import apply_folding_config, target_cycles
from codesign.finn.host_io import IOBound, io_bound
from codesign.folding import FoldingPlan, gap_note, maximize_throughput, minimize_resources

OBJECTIVES = ("maximize", "min_resources")
FIFO_ROUNDS = 4  # solves at most, each with the budget less the stream FIFOs of the last
NOT_MODELLED = (
    "stream FIFOs in the optimizer's budget beyond the skip-branch buffers' token count (every "
    "FIFO is sized by codesign's stream model and priced in the totals after the plan is applied: "
    "at safe depths while plans are compared, the chosen plan at its searched depths)",
    "data-width converter cycles (FINN estimates them as 0)",
    "post-synthesis effects: all costs are FINN's analytical estimates",
)


@dataclass(frozen=True)
class Converter:
    """A StreamingDataWidthConverter FINN's InsertDWC will add between two layers."""

    producer: str
    consumer: str
    in_width: int
    out_width: int
    cost: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FoldReport:
    objective: str
    target_fps: float | None
    budget: dict[str, float]
    fps: float  # as built: min(compute, I/O)
    estimates: Estimates
    space: BuiltSpace
    converters: tuple[Converter, ...]
    converters_in_budget: bool
    not_modelled: tuple[str, ...] = field(default=NOT_MODELLED)

    def converter_totals(self) -> dict[str, float]:
        return {k: sum(c.cost.get(k, 0.0) for c in self.converters) for k in RESOURCE_KINDS}

    def to_dict(self) -> dict[str, Any]:
        est = self.estimates
        return {
            "objective": self.objective, "target_fps": self.target_fps, "budget": self.budget,
            "fps": self.fps, "compute_fps": est.compute_fps, "io_fps": est.io_fps,
            "bound": est.bound, "io": None if est.io is None else est.io.to_dict(),
            "space": self.space.to_dict(),
            "converters": [c.to_dict() for c in self.converters],
            "converter_totals": self.converter_totals(),
            "converters_in_budget": self.converters_in_budget,
            "not_modelled": list(self.not_modelled),
        }


def converters(hw: HWGraph) -> tuple[Converter, ...]:
    """The data-width converters FINN's InsertDWC would add to `hw` as folded, with FINN's
    estimate of each (post hoc, e.g. for a SetFolding result)."""
    model, found = hw.model, []
    with quiet_finn():
        for node in model.graph.node:
            producer = private_instance(node)
            for o, name in enumerate(node.output):
                for consumer_node in model.find_consumers(name):
                    if not is_hw_node(consumer_node):
                        continue
                    consumer = private_instance(consumer_node)
                    i = list(consumer_node.input).index(name)
                    if producer.get_folded_output_shape(o)[-1] == consumer.get_folded_input_shape(i)[-1]:
                        continue
                    width_in, width_out = producer.get_outstream_width(o), consumer.get_instream_width(i)
                    cost = dwc_cost(tuple(producer.get_normal_output_shape(o)),
                                    tuple(consumer.get_normal_input_shape(i)), int(width_in),
                                    int(width_out), producer.get_output_datatype(o).name, hw.part)
                    if cost is None:
                        raise FoldingError(f"FINN cannot convert the {width_in}-bit stream of "
                                           f"{node.name} to the {width_out}-bit input of "
                                           f"{consumer_node.name}; change their PE/SIMD")
                    found.append(Converter(node.name, consumer_node.name, int(width_in),
                                           int(width_out), dict(cost)))
    return tuple(found)


def plan_config(plan: FoldingPlan) -> dict[str, Any]:
    """The attributes the plan sets, in FINN's folding_config.json format."""
    config: dict[str, Any] = {"Defaults": {}}
    for name, candidate in plan.choices.items():
        if candidate.attrs:
            config[name] = candidate.as_dict()
    return config


def apply_plan(hw: HWGraph, plan: FoldingPlan) -> HWGraph:
    """`hw` folded as planned, through FINN's ApplyConfig (hw itself is left untouched)."""
    if not plan.feasible:
        raise FoldingError(f"cannot apply an infeasible folding plan: {plan.message}")
    return apply_folding_config(hw, plan_config(plan), source="folding plan")


def _reserved_skip_fifos(folded: HWGraph) -> dict[str, float]:
    """What the optimizer charged for skip-branch FIFOs: each fork candidate carries its
    buffers at their token-count depth (candidates._with_buffers)."""
    from qonnx.custom_op.registry import getCustomOp

    total = dict.fromkeys(RESOURCE_KINDS, 0.0)
    with quiet_finn():
        for buffer in skip_buffers(folded.model):
            fork = getCustomOp(folded.model.get_node_from_name(buffer.fork))
            pe = int(fork.get_nodeattr("PE"))
            dtype = fork.get_output_datatype(0).name
            for kind, value in fifo_cost(buffer.depth(pe), pe, buffer.bits, dtype, folded.part):
                total[kind] += value
    return total


def _unreserved_fifos(folded: HWGraph, est: Estimates) -> dict[str, float]:
    """The stream FIFOs' cost beyond what the optimizer reserved for skip buffers."""
    reserved = _reserved_skip_fifos(folded)
    return {k: max(0.0, sum(f.cost()[k] for f in est.fifos) - reserved[k]) for k in RESOURCE_KINDS}


def with_stream_fifos(plan: FoldingPlan, folded: HWGraph, est: Estimates) -> FoldingPlan:
    """`plan` with its totals charged for every stream FIFO at codesign's depths (they depend
    on neighbouring layers' foldings, so the optimizer reserves only the skip-branch buffers'
    token count): its layers must be FINN's estimate of the applied plan, exactly as before."""
    reserved = _reserved_skip_fifos(folded)
    fifos = {k: sum(f.cost()[k] for f in est.fifos) for k in RESOURCE_KINDS}
    layers = {k: plan.totals.get(k, 0.0) - reserved[k] for k in RESOURCE_KINDS}
    finn = {k: est.totals[k] - fifos[k] for k in RESOURCE_KINDS}
    if any(abs(layers[k] - finn[k]) > 1e-6 * max(1.0, abs(finn[k])) for k in RESOURCE_KINDS):
        raise RuntimeError(f"FINN estimates the applied plan's layers at {finn}, the plan "
                           f"predicted {layers}; please report this bug")
    return dataclasses.replace(plan, totals={k: est.totals[k] for k in RESOURCE_KINDS})


def check_reproduces(plan: FoldingPlan, est: Estimates) -> None:
    """FINN's estimates of the applied plan must be the plan's predictions, exactly."""
    mismatch = [k for k in RESOURCE_KINDS if est.totals[k] != plan.totals[k]]
    if est.max_cycles != plan.max_cycles or mismatch:
        raise RuntimeError(f"FINN estimates the applied plan at {est.max_cycles} cycles and "
                           f"{est.totals}, the plan predicted {plan.max_cycles} and "
                           f"{dict(plan.totals)}; please report this bug")


def _infeasible(board: Board, hw: HWGraph, space: BuiltSpace, objective: str,
                target_fps: float | None, plan: FoldingPlan) -> FoldingError:
    budget = board.budget()
    caps = ", ".join(f"{k}={board.caps[k]:g}" for k in RESOURCE_KINDS)
    if objective == "min_resources":
        fastest = maximize_throughput(space.space, budget)
        if fastest.feasible:
            best = hw.clock_mhz * 1e6 / fastest.max_cycles
            return FoldingError(f"no folding reaches {target_fps:,.0f} FPS within {board.name}'s "
                                f"budget (caps {caps}); the fastest that fits runs at "
                                f"{best:,.0f} FPS. Lower the target or raise the caps")
        plan = fastest
    return FoldingError(f"{board.name} (caps {caps}): {plan.message}. Raise the caps (e.g. "
                        "--caps LUT=0.9), pick a larger board, or shrink the model")


def fold_for_board(hw: HWGraph, board: Board, objective: str = "maximize",
                   target_fps: float | None = None, *, dwc: bool = True,
                   cache: CostCache | None = None, search_fifos: bool = True
                   ) -> tuple[HWGraph, FoldingPlan, FoldReport]:
    """Fold `hw` for `board`: the highest FPS within the budget (objective "maximize"), or the
    least resources (normalised by the budget) that reach `target_fps` ("min_resources").
    Returns the folded graph, the plan and a report; raises FoldingError if nothing fits.
    search_fifos=False leaves the chosen plan's FIFOs at their safe depths (the same plan and
    FPS, the totals a little higher; for callers that only compare FPS)."""
    if objective not in OBJECTIVES:
        raise FoldingError(f"unknown folding objective {objective!r}; use one of "
                           f"{', '.join(OBJECTIVES)}")
    if objective == "min_resources" and not (target_fps and target_fps > 0):
        raise FoldingError("objective min_resources needs a positive target_fps, e.g. 10000")
    if hw.part != board.part:
        raise FoldingError(f"the graph was compiled for {hw.part} but {board.name} has "
                           f"{board.part}; compile it for the board's part")
    budget = board.budget()
    space = build_space(hw, allow_uram=budget["URAM"] > 0, dwc=dwc, cache=cache)
    cycles = target_cycles(hw.clock_mhz, float(target_fps or 0)) if target_fps else 0

    def solve(left: dict[str, float], floor: float) -> FoldingPlan:
        if objective == "maximize":
            return maximize_throughput(space.space, left, floor)
        return minimize_resources(space.space, left, max(cycles, floor))

    def priced(plan: FoldingPlan, left: dict[str, float]) -> Priced:
        folded = apply_plan(hw, plan)
        plan, folded = _lean_at_io_bound(hw, board, plan, folded, lambda f: solve(left, f))
        est = estimate(folded, board.host_io, search_fifos=False)
        return with_stream_fifos(plan, folded, est), folded, est

    # The stream FIFOs' depths depend on the chosen foldings: solve, size and price them, and
    # solve again with the budget less what they took, until the plan with its FIFOs fits.
    rounds = _reserve_rounds(budget, lambda left: solve(left, 0.0), priced)
    last = rounds[-1][0]
    if not last.feasible:
        raise _infeasible(board, hw, space, objective, target_fps, last)
    fastest = rounds[0][0]
    plan, folded, est = rounds[-1]
    if objective == "maximize" and _fits(plan, budget) and plan.max_cycles > fastest.max_cycles:
        # The reserve is the FIFOs of a faster plan, often more than a slower plan's own: the
        # fastest bottleneck in between at which a plan fits with its own FIFOs, by bisection.
        between = [v for v in space.space.cycle_values()
                   if fastest.max_cycles <= v < plan.max_cycles]
        lo, hi = 0, len(between)
        while lo < hi:
            mid = (lo + hi) // 2
            at = between[mid]
            tried = _reserve_rounds(
                budget, lambda left, at=at: minimize_resources(space.space, left, at), priced)[-1]
            if not (tried[0].feasible and _fits(tried[0], budget)):
                lo = mid + 1
            else:
                (plan, folded, est), hi = tried, mid
    if search_fifos:
        plan, est = _with_searched_fifos(plan, folded, est, board)
    check_reproduces(plan, est)
    found = converters(folded)
    dwc_lut = sum(c.cost["LUT"] for c in found)
    if dwc and dwc_lut != plan.link_totals.get("LUT", 0.0):
        raise RuntimeError(f"the plan priced its data-width converters at "
                           f"{plan.link_totals.get('LUT', 0.0)} LUT, FINN's at {dwc_lut}; "
                           "please report this bug")
    where = ("counted against the budget" if dwc else
             "NOT in the objective or the budget check (reported after the fact)")
    io_note = "" if est.io is None else (
        f"As built {est.fps:,.0f} FPS, {est.bound}-bound (compute {est.compute_fps:,.0f}, I/O "
        f"{est.io.fps:,.0f} FPS through {board.name}'s {board.host_io.port_width_bits}-bit DMA "
        "port). ")
    lean_note = gap_note(plan.gap)
    io_note += f"{lean_note[0].upper()}{lean_note[1:]}. " if lean_note else ""
    plan = dataclasses.replace(plan, message=io_note + (
        f"{len(found)} data-width converters ({dwc_lut:,.0f} LUT) {where}; they are not in "
        "FINN's estimate totals. Not modelled: " + "; ".join(NOT_MODELLED)))
    report = FoldReport(objective, target_fps, budget, est.fps, est, space, found, dwc)
    return folded, plan, report


Priced = tuple[FoldingPlan, HWGraph, Estimates]


def _reserve_rounds(budget: dict[str, float], solve: Callable[[dict[str, float]], FoldingPlan],
                    priced: Callable[[FoldingPlan, dict[str, float]], Priced]) -> list[Priced]:
    """Solve within `budget` less a reserve for the stream FIFOs, price the plan with its FIFOs,
    and, while it does not fit, solve again with the reserve raised by the FIFOs its plan needed
    beyond it (at most FIFO_ROUNDS solves). Every round's priced plan; the last one fits, is
    infeasible (then it is the solver's plan, folded graph and estimates are None), or the
    rounds ran out."""
    reserve = dict.fromkeys(RESOURCE_KINDS, 0.0)
    rounds: list[Any] = []
    for _ in range(FIFO_ROUNDS):
        left = {k: max(0.0, budget[k] - reserve[k]) for k in RESOURCE_KINDS}
        plan = solve(left)
        if not plan.feasible:
            rounds.append((plan, None, None))
            break
        plan, folded, est = priced(plan, left)
        rounds.append((plan, folded, est))
        if _fits(plan, budget):
            break
        extra = _unreserved_fifos(folded, est)
        reserve = {k: max(reserve[k], extra[k]) for k in RESOURCE_KINDS}
    return rounds


def _with_searched_fifos(plan: FoldingPlan, folded: HWGraph, safe: Estimates, board: Board
                         ) -> tuple[FoldingPlan, Estimates]:
    """The chosen plan, priced with its FIFOs at safe depths, with them at their searched
    depths instead (the accelerator as built): the same layers, and no FIFO dearer than at its
    safe depth (fifo_sizing), so the plan still fits."""
    est = estimate(folded, board.host_io)
    searched = dataclasses.replace(plan, totals={k: est.totals[k] for k in RESOURCE_KINDS})
    if any(est.totals[k] > safe.totals[k] + 1e-6 for k in RESOURCE_KINDS):
        raise RuntimeError(f"the FIFOs at their searched depths cost more ({est.totals}) than at "
                           f"their safe depths ({safe.totals}); please report this bug")
    return searched, est


def _fits(plan: FoldingPlan, budget: dict[str, float]) -> bool:
    used = plan.grand_totals()
    return all(used[k] <= budget[k] + 1e-6 for k in RESOURCE_KINDS)


def _as_built(hw: HWGraph, plan: FoldingPlan, io: IOBound) -> float:
    return min(hw.clock_mhz * 1e6 / plan.max_cycles, io.fps)


def _lean_at_io_bound(hw: HWGraph, board: Board, plan: FoldingPlan, folded: HWGraph,
                      solve: Callable[[float], FoldingPlan]) -> tuple[FoldingPlan, HWGraph]:
    """If `plan`'s compute outruns the I/O bound, the leanest plan that still keeps up with it
    (module doc); else `plan` itself."""
    io = io_bound(folded, board.host_io)
    io_cycles = hw.clock_mhz * 1e6 / io.fps
    if plan.max_cycles >= io_cycles:
        return plan, folded
    leaner = solve(io_cycles)
    if not leaner.feasible or leaner.choices == plan.choices:
        return plan, folded
    lean_folded = apply_plan(hw, leaner)
    if _as_built(hw, leaner, io_bound(lean_folded, board.host_io)) < _as_built(hw, plan, io) * (
            1 - 1e-9):
        return plan, folded  # the leaner folding pads the first/last stream: it would cost FPS
    return dataclasses.replace(leaner, solves=plan.solves + leaner.solves,
                               solve_seconds=plan.solve_seconds + leaner.solve_seconds), lean_folded
