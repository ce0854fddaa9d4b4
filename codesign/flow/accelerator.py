"""The accelerator stages every flow and build share: compile for the board, fold, estimate,
check the fit, verify bit-exactly, optionally simulate, and write the artefacts FINN consumes.

`build_accelerator` returns an `AcceleratorResult`; nothing here builds report dicts (the report
writer does, from the typed result, when it writes report.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.boards import Board
from codesign.config import FoldingConfig, SimulateConfig
from codesign.errors import ConfigError
from codesign.finn import (
    Estimates,
    HWGraph,
    Verification,
    apply_folding_file,
    apply_setfolding,
    compile_to_hw,
    estimate,
    verify_against,
    write_build_config,
    write_fifo_config,
    write_folding_config,
)
from codesign.finn.baseline import SetFoldingPoint, SetFoldingSweep
from codesign.finn.compile_graphs import FOLDED_PARTITION
from codesign.finn.plan import FoldReport, fold_for_board
from codesign.flow.stages import StageTimer
from codesign.folding import BudgetCheck, FoldingPlan, check_board
from codesign.sim.report import write_simulation
from codesign.sim.run import simulate_hardware

FINN_DIR = "finn"
FOLDING_CONFIG = "folding_config.json"
BUILD_CONFIG = "finn_build_config.json"
FIFO_CONFIG = "fifo_config.json"  # every stream FIFO's depth (codesign.finn.fifos)


@dataclass(frozen=True)
class OptimizerOutcome:
    """What codesign's folding optimizer chose and how it got there."""

    plan: FoldingPlan
    report: FoldReport


@dataclass(frozen=True)
class FoldingOutcome:
    mode: str
    description: str
    target_fps: float | None  # SetFolding's target (mode setfolding)
    optimizer: OptimizerOutcome | None  # mode optimize
    # mode optimize with folding.compare_setfolding: FINN's fastest SetFolding design within the
    # same caps on the same graph (None: none fits), the baseline the optimizer is measured by
    setfolding_baseline: SetFoldingPoint | None = None
    compared: bool = False


@dataclass(frozen=True)
class SimulationOutcome:
    """codesign.sim's section (its own JSON document, also written as simulation.json) and,
    when Verilator was asked for but missing, why the RTL part did not run."""

    section: dict[str, Any]
    rtl_missing: str | None


@dataclass(frozen=True)
class AcceleratorResult:
    hw: HWGraph
    estimates: Estimates
    fit: BudgetCheck
    verification: Verification
    folding: FoldingOutcome
    simulation: SimulationOutcome | None


def describe_folding(folding: FoldingConfig) -> str:
    if folding.mode == "file":
        return f"from file {folding.file}"
    if folding.mode == "optimize":
        if folding.objective == "maximize":
            return "codesign optimizer: highest FPS within the board's caps"
        return f"codesign optimizer: least resources reaching {folding.target_fps:,.0f} FPS"
    return (f"FINN SetFolding at target {folding.target_fps:,.0f} FPS "
            f"(mvau_wwidth_max={folding.mvau_wwidth_max})")


def fold_stage(hw: HWGraph, board: Board, folding: FoldingConfig) -> tuple[HWGraph, FoldingOutcome]:
    """Apply the flow's folding to the compiled graph."""
    description = describe_folding(folding)
    if folding.mode == "file":
        if not folding.file or not Path(folding.file).is_file():
            raise ConfigError(f"folding file {folding.file} does not exist; pass a FINN "
                              "folding_config.json (e.g. one written by an earlier run)")
        return apply_folding_file(hw, Path(folding.file)), FoldingOutcome("file", description, None,
                                                                          None)
    if folding.mode == "optimize":
        target = folding.target_fps if folding.objective == "min_resources" else None
        folded, plan, report = fold_for_board(hw, board, folding.objective, target)
        baseline = (SetFoldingSweep(hw, board.host_io).best_fitting(board.budget())
                    if folding.compare_setfolding else None)
        return folded, FoldingOutcome("optimize", description, None, OptimizerOutcome(plan, report),
                                      baseline, folding.compare_setfolding)
    folded = apply_setfolding(hw, target_fps=folding.target_fps,
                              mvau_wwidth_max=folding.mvau_wwidth_max)
    return folded, FoldingOutcome("setfolding", description, folding.target_fps, None)


def simulation_stage(hw: HWGraph, onnx_path: Path, out_dir: Path, config: SimulateConfig,
                     model: Any, x_test: np.ndarray | None) -> SimulationOutcome:
    """Simulate the folded graph without hardware; writes simulation.json/md. A mismatch or a
    missing Verilator fails the run after its report is written (flow.finish)."""
    section = simulate_hardware(hw, onnx_path, x_test, out_dir / "simulation", model=model,
                                options=config)
    write_simulation(section, out_dir)
    return SimulationOutcome(section, section.get("rtl_not_run"))


def build_accelerator(
    onnx_path: Path,
    board: Board,
    folding: FoldingConfig,
    out_dir: Path,
    x_verify: np.ndarray,
    expected: np.ndarray,
    timer: StageTimer,
    *,
    simulate: SimulateConfig | None = None,
    model: Any = None,
    x_test: np.ndarray | None = None,
) -> AcceleratorResult:
    """Compile a QONNX model for `board`, fold it, estimate it and verify it bit-exactly against
    `expected` (the reference outputs on `x_verify`). With `simulate.enabled`, the folded graph
    is also simulated without hardware (codesign.sim) on `x_test`, with `model` (the Brevitas
    source, if any) as the chain's first stage."""
    with timer.stage("finn_compile"):
        hw = compile_to_hw(onnx_path, part=board.part, clock_mhz=board.clock_mhz,
                           workdir=out_dir / FINN_DIR, mvau_rtl=folding.mvau_rtl)
    with timer.stage("folding"):
        hw, outcome = fold_stage(hw, board, folding)
    with timer.stage("estimates"):
        est = estimate(hw, board.host_io)
        fit = check_board(est.totals, board)
    with timer.stage("verification"):
        verification = verify_against(hw, x_verify, expected)
    write_folding_config(hw, out_dir / FOLDING_CONFIG)
    write_fifo_config(hw, out_dir / FIFO_CONFIG)
    hw.model.save(str(out_dir / FINN_DIR / FOLDED_PARTITION))
    write_build_config(out_dir / BUILD_CONFIG, onnx_name=onnx_path.name,
                       folding_name=FOLDING_CONFIG, part=board.part,
                       clock_mhz=board.clock_mhz, board=board.finn_board, shell=board.shell,
                       fifo_name=FIFO_CONFIG)
    simulation = None
    if simulate is not None and simulate.enabled:
        with timer.stage("simulation"):
            simulation = simulation_stage(hw, onnx_path, out_dir, simulate, model, x_test)
    return AcceleratorResult(hw, est, fit, verification, outcome, simulation)
