"""The end every run shares: write the report (and the run's typed config), fail loudly on a
verification or simulation mismatch, then run the Vivado steps the flow asks for."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from codesign.atomic import write_text
from codesign.errors import ToolchainMissing, VerificationError
from codesign.finn.builder import run_hardware_steps
from codesign.finn.compile_graphs import FOLDED_PARTITION
from codesign.flow.accelerator import FIFO_CONFIG, FINN_DIR, FOLDING_CONFIG
from codesign.flow.report import write_report
from codesign.flow.results import FlowResult, HardwareOutcome, RunResult
from codesign.sim.run import check_simulation

FLOW_FILE = "flow.yaml"  # the run's flow as it ran (overrides applied), for `codesign simulate`
BOARD_FILE = "board.yaml"  # the board as the run used it (clock and caps overrides applied)


def write_run_config(result: RunResult, out_dir: Path) -> None:
    """The typed configuration of the run, as files the flow and board loaders read back."""
    write_text(out_dir / BOARD_FILE, yaml.safe_dump(result.board.to_file_dict(), sort_keys=False))
    if result.flow is not None:
        write_text(out_dir / FLOW_FILE, yaml.safe_dump(result.flow.to_file_dict(), sort_keys=False))


def finish_run(result: RunResult, out_dir: Path) -> FlowResult:
    """Write the estimate report, fail loudly on a verification mismatch, then run the hardware
    steps the flow asks for (they need Vivado; without it the estimate report is kept and a
    ToolchainMissing error says how to run them in docker)."""
    write_run_config(result, out_dir)
    files = write_report(result, out_dir)
    verification = result.accelerator.verification
    if not verification.passed:
        raise VerificationError(
            f"the hardware graph does not reproduce the Brevitas model bit-exactly "
            f"({verification.details}); see {out_dir / 'report.md'}. This is a bug in the "
            "toolchain path, please report it.")
    simulation = result.accelerator.simulation
    if simulation is not None:
        check_simulation(simulation.section, out_dir / "simulation.md")
        if simulation.rtl_missing is not None:
            raise ToolchainMissing(simulation.rtl_missing)
    if all(o == "estimates" for o in result.outputs):
        return FlowResult(out_dir, result, files)
    flow_file = result.flow.source if result.flow is not None else None
    fifo_config = out_dir / FIFO_CONFIG
    try:
        steps = run_hardware_steps(result.outputs, out_dir, result.board,
                                   out_dir / FINN_DIR / FOLDED_PARTITION, out_dir / FOLDING_CONFIG,
                                   fifo_config_path=fifo_config if fifo_config.is_file() else None,
                                   flow_file=flow_file)
    except ToolchainMissing as exc:
        missing = dataclasses.replace(result, hardware=HardwareOutcome(result.outputs, False,
                                                                       str(exc)))
        write_report(missing, out_dir)
        raise
    done = dataclasses.replace(result, hardware=HardwareOutcome(result.outputs, True, "", steps))
    return FlowResult(out_dir, done, write_report(done, out_dir))
