"""`simulate_run`: simulate what `codesign run` or `codesign build` left in an output directory.

The run's own typed configuration (board.yaml, and flow.yaml for a flow run) is loaded with the
board and flow loaders, and the dataset and trained model are rebuilt by the same stages the
flow used (codesign.flow.stages), so the simulation sees exactly the model the run built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from codesign.boards import load_board
from codesign.config import SimulateConfig, load_flow
from codesign.errors import ConfigError, ToolchainMissing
from codesign.finn.compile_graphs import FOLDED_PARTITION, PARENT_GRAPH, load_hw_graph
from codesign.flow.accelerator import FINN_DIR
from codesign.flow.finish import BOARD_FILE, FLOW_FILE
from codesign.flow.report import write_document
from codesign.flow.run import QONNX_MODEL
from codesign.flow.stages import CHECKPOINT, load_flow_data, load_trained_model
from codesign.sim.report import write_simulation
from codesign.sim.run import simulate_hardware

REPORT_FILE = "report.json"


def _run_model_and_samples(out_dir: Path, samples: int) -> tuple[Any, np.ndarray | None]:
    """The trained Brevitas model and test samples of a flow run (None, None for a build)."""
    if not (out_dir / FLOW_FILE).is_file() or not (out_dir / CHECKPOINT).is_file():
        return None, None
    flow = load_flow(out_dir / FLOW_FILE)
    data = load_flow_data(flow)
    return load_trained_model(flow, data, out_dir), data.x_test[:samples]


def simulate_run(out_dir: Path, *, options: SimulateConfig | None = None,
                 x: np.ndarray | None = None) -> dict[str, Any]:
    """Simulate the accelerator a run left in `out_dir`; writes simulation.json and
    simulation.md there and adds the section to the run's report. Test samples come from the
    flow's dataset unless `x` is given. Returns the section; check_simulation(section) turns
    a mismatch into an error. Raises ToolchainMissing (after writing the Python results) when
    the RTL part needs a Verilator that is not installed."""
    options = options or SimulateConfig()
    out_dir = Path(out_dir)
    if not (out_dir / REPORT_FILE).is_file() or not (out_dir / BOARD_FILE).is_file():
        raise ConfigError(f"{out_dir} has no {REPORT_FILE} and {BOARD_FILE}; pass the output "
                          "directory of `codesign run` or `codesign build`")
    board = load_board(str(out_dir / BOARD_FILE))
    finn_dir = out_dir / FINN_DIR
    hw = load_hw_graph(finn_dir / PARENT_GRAPH, finn_dir / FOLDED_PARTITION, part=board.part,
                       clock_mhz=board.clock_mhz)
    model, samples = _run_model_and_samples(out_dir, options.samples)
    section = simulate_hardware(hw, out_dir / QONNX_MODEL, samples if x is None else x,
                                out_dir / "simulation", model=model, stages_dir=finn_dir,
                                options=options)
    write_simulation(section, out_dir)
    # The run's report gains (or refreshes) its simulation section, as if the run had made it.
    report = json.loads((out_dir / REPORT_FILE).read_text(encoding="utf-8"))
    report["simulation"] = section
    report.setdefault("artifacts", {})["simulation"] = "simulation.json, simulation.md"
    write_document(report, out_dir)
    if section.get("rtl_not_run"):
        raise ToolchainMissing(section["rtl_not_run"])
    return section
