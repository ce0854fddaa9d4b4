"""Files a real FINN build picks up: the folding that was applied (folding_config.json), the
depth of every stream FIFO (fifo_config.json) and a DataflowBuildConfig
JSON for `finn build` (or finn.builder.build_dataflow_cfg) on a machine with Vivado. All are
written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.atomic import write_json
from codesign.errors import ConfigError
from codesign.finn.compile import HWGraph
from codesign.finn.fifos import fifo_config
from codesign.finn.folding import read_folding

# Board files say "zynq"/"alveo"; FINN's ShellFlowType spells them vivado_zynq/vitis_alveo.
SHELL_FLOWS = {"zynq": "vivado_zynq", "alveo": "vitis_alveo",
               "vivado_zynq": "vivado_zynq", "vitis_alveo": "vitis_alveo"}
# With a board FINN knows, a build can go all the way to a bitfile and driver; with only a
# part it can still stitch the IP and synthesise it out of context.
BOARD_OUTPUTS = ["estimate_reports", "stitched_ip", "bitfile", "pynq_driver", "deployment_package"]
PART_OUTPUTS = ["estimate_reports", "stitched_ip", "out_of_context_synth"]


def write_folding_config(hw: HWGraph, path: Path) -> Path:
    """The folding currently applied to `hw`, in FINN's folding_config.json format."""
    return write_json(path, read_folding(hw))


def write_fifo_config(hw: HWGraph, path: Path) -> Path:
    """FINN's fifo_config_file for `hw`: the depth of every stream FIFO its build inserts
    (codesign.finn.fifos), which FINN applies with auto_fifo_depths=False instead of sizing
    FIFOs by simulation (which needs Vivado)."""
    return write_json(path, fifo_config(hw))


def build_config(*, onnx_name: str, folding_name: str, part: str, clock_mhz: float,
                 board: str | None, shell: str, fifo_name: str | None = None) -> dict[str, Any]:
    if not clock_mhz > 0:
        raise ConfigError(f"clock_mhz must be positive, got {clock_mhz!r}")
    if shell not in SHELL_FLOWS:
        raise ConfigError(f"unknown shell {shell!r}; use one of {', '.join(SHELL_FLOWS)}")
    config: dict[str, Any] = {
        # Relative names: the config sits next to the model and folding file it refers to.
        "model_path": onnx_name,
        "output_dir": "finn_build_output",
        "synth_clk_period_ns": 1000.0 / clock_mhz,
        "fpga_part": part,
        "folding_config_file": folding_name,
        "generate_outputs": BOARD_OUTPUTS if board else PART_OUTPUTS,
    }
    if fifo_name:  # codesign's FIFO depths, instead of FINN's simulated sizing
        config["auto_fifo_depths"] = False
        config["fifo_config_file"] = fifo_name
    if board:
        config["board"] = board
        config["shell_flow_type"] = SHELL_FLOWS[shell]
    return config


def write_build_config(path: Path, *, onnx_name: str, folding_name: str, part: str,
                       clock_mhz: float, board: str | None, shell: str,
                       fifo_name: str | None = None) -> Path:
    """A JSON FINN's DataflowBuildConfig accepts; run `finn build <path> <onnx>` where it lies."""
    return write_json(path, build_config(onnx_name=onnx_name, folding_name=folding_name, part=part,
                                         clock_mhz=clock_mhz, board=board, shell=shell,
                                         fifo_name=fifo_name))
