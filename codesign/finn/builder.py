"""Hardware outputs of a flow mapped onto FINN builder steps, detection of the Xilinx tools
they need, and the thin runner that calls FINN's builder when the tools are present.

A flow's `outputs` name what a user wants (`ip`, `stitched_ip`, `rtlsim_perf`, `ooc_synth`,
`bitfile`, `driver`; `estimates` needs no tools). Without Vivado/Vitis HLS nothing here imports
FINN's builder: `run_hardware_steps` stops with a `ToolchainMissing` that says how to run the
same flow in docker, before any step runs."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign.boards import Board
from codesign.config import OUTPUTS  # flow files validate against them
from codesign.errors import BoardError, CompileError, ConfigError, FoldingError, ToolchainMissing
from codesign.finn.postsynth import compare_estimates, load_postsynth
from codesign.finn.power import PowerEstimate, load_power
from codesign.finn.xilinx import TOOL_SPECS, VITIS, VITIS_HLS, VIVADO, XilinxTools, detect_xilinx_tools

HARDWARE_DIRNAME = "hardware"  # FINN's build output (report/, stitched_ip/, bitfile/, deploy/)

# What each output needs first; mirrors FINN's step preconditions (OOC synthesis asserts a
# stitched IP, the Zynq driver needs the IODMAs the bitfile step inserts).
_PREREQUISITES: dict[str, tuple[str, ...]] = {
    "estimates": (), "ip": (), "stitched_ip": ("ip",), "rtlsim_perf": ("stitched_ip",),
    "ooc_synth": ("stitched_ip",), "power": ("ooc_synth",), "bitfile": ("ip",),
    "driver": ("bitfile",),
}
# finn-plus 1.6.1 builder steps per output, in the order of its default_build_dataflow_steps.
# step_generate_hardware = HLS/RTL code generation + HLS synthesis + FIFO sizing (in xsim).
_FINN_STEPS: dict[str, tuple[str, ...]] = {
    "estimates": (),
    "ip": ("step_assign_ddr_weight_offsets", "step_generate_hardware"),
    "stitched_ip": ("step_create_stitched_ip",),
    "rtlsim_perf": ("step_measure_rtlsim_performance",),
    "ooc_synth": ("step_out_of_context_synthesis",),
    "power": ("step_vivado_power_estimation",),  # report_power on the routed OOC checkpoint
    "bitfile": ("step_prepare_synthesis", "step_synthesize_bitfile"),
    "driver": ("step_make_driver", "step_deployment_package"),
}
# DataflowOutputType values that make those steps do their work instead of logging a skip.
_FINN_OUTPUT_TYPES: dict[str, tuple[str, ...]] = {
    "estimates": ("estimate_reports",), "ip": (), "stitched_ip": ("stitched_ip",),
    "rtlsim_perf": ("rtlsim_performance",), "ooc_synth": ("out_of_context_synth",), "power": (),
    "bitfile": ("bitfile",), "driver": ("pynq_driver", "deployment_package"),
}
# The builder starts from the specialised dataflow partition codesign compiled and verified
# (where FINN's own builder stands after step_specialize_layers), so the layer names of
# folding_config.json are the graph's: FINN applies the folding and writes its estimates.
PREPARE_STEPS = ("step_apply_folding_config", "step_minimize_bit_width",
                 "step_generate_estimate_reports")

def validate_outputs(outputs: Iterable[str]) -> tuple[str, ...]:
    """The requested outputs without duplicates; unknown names raise a ConfigError."""
    if isinstance(outputs, str):
        outputs = [outputs]
    seen: list[str] = []
    for name in outputs:
        if name not in OUTPUTS:
            raise ConfigError(f"outputs: {name!r} is not a known output; choose from "
                              f"{', '.join(OUTPUTS)}")
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def expand_outputs(outputs: Iterable[str]) -> tuple[str, ...]:
    """Requested outputs plus everything they depend on, in pipeline order; always estimates."""
    wanted = {"estimates"}
    todo = list(validate_outputs(outputs))
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
        todo.extend(p for p in _PREREQUISITES[name] if p not in wanted)
    return tuple(name for name in OUTPUTS if name in wanted)


def tools_needed(output: str, shell: str) -> tuple[str, ...]:
    """Xilinx tools one output's own steps call (prerequisites are separate outputs)."""
    if output in ("estimates", "driver"):
        return ()
    if output == "ip":  # Vitis HLS synthesises HLS layers, Vivado's xsim sizes the FIFOs
        return (VIVADO, VITIS_HLS)
    if output == "bitfile" and shell == "alveo":
        return (VIVADO, VITIS)
    return (VIVADO,)


@dataclass(frozen=True)
class HardwarePlan:
    """What a flow's outputs ask FINN to do, and which tools are missing for it."""

    requested: tuple[str, ...]  # as the flow names them
    outputs: tuple[str, ...]  # requested outputs with their prerequisites, in pipeline order
    steps: tuple[str, ...]  # FINN builder steps after PREPARE_STEPS
    finn_outputs: tuple[str, ...]  # DataflowOutputType values
    shell: str
    tools: XilinxTools
    missing: Mapping[str, tuple[str, ...]]  # missing tool -> outputs that need it

    @property
    def hardware(self) -> tuple[str, ...]:
        return tuple(o for o in self.outputs if o != "estimates")

    @property
    def ready(self) -> bool:
        return not self.missing


def plan_hardware(outputs: Iterable[str], shell: str = "zynq",
                  env: Mapping[str, str] | None = None) -> HardwarePlan:
    requested = validate_outputs(outputs)
    expanded = expand_outputs(requested)
    tools = detect_xilinx_tools(env)
    missing: dict[str, list[str]] = {}
    for output in expanded:
        for tool in tools_needed(output, shell):
            if tool not in tools.found:
                missing.setdefault(tool, []).append(output)
    return HardwarePlan(
        requested=requested, outputs=expanded,
        steps=tuple(step for o in expanded for step in _FINN_STEPS[o]),
        finn_outputs=tuple(t for o in expanded for t in _FINN_OUTPUT_TYPES[o]),
        shell=shell, tools=tools, missing={t: tuple(o) for t, o in missing.items()},
    )


def missing_tools_message(plan: HardwarePlan, flow_file: str | os.PathLike[str] | None = None,
                          board: str | None = None) -> str:
    """One message naming the outputs that need absent tools, why they are absent, and the fix."""
    blocked = {o for outs in plan.missing.values() for o in outs}
    asked = [o for o in plan.requested if o != "estimates" and blocked & set(expand_outputs([o]))]
    implied = [o for o in plan.hardware if o in blocked and o not in asked]
    tools = list(plan.missing)
    reasons = "; ".join(f"{t}: {plan.tools.problems[t]}" for t in tools)
    verb = "is" if len(tools) == 1 else "are"
    flow = shlex.quote(str(flow_file)) if flow_file else "FLOW.yaml"
    board_arg = f" --board {shlex.quote(board)}" if board else ""
    message = (
        f"the hardware outputs {', '.join(asked)}"
        + (f" (with {', '.join(implied)}, which they build on)" if implied else "")
        + f" need {' and '.join(tools)}, which {verb} not "
        f"available here ({reasons}). The estimates are unaffected. Run the hardware steps in "
        f"docker with your Xilinx install mounted: `codesign docker build` once, then `codesign "
        f"docker run {flow}{board_arg} --xilinx /tools/Xilinx/Vivado/<version>`; or source "
        "settings64.sh of Vivado and Vitis HLS and run again. To skip them, set "
        "`outputs: [estimates]` in the flow."
    )
    if VITIS in plan.missing:
        message += (" Alveo bitfiles also need Vitis with XILINX_VITIS, XILINX_XRT and "
                    "PLATFORM_REPO_PATHS set, which the docker image does not provide.")
    return message


@dataclass(frozen=True)
class HardwareStepsResult:
    outputs: tuple[str, ...]
    steps: tuple[str, ...]
    output_dir: Path
    postsynth: dict[str, Any] | None  # codesign.finn.postsynth.load_postsynth of output_dir
    power: PowerEstimate | None = None  # Vivado's report_power, when the power step ran

    def to_dict(self, estimates: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Report section; with `estimates`, includes the estimate-vs-actual rows (power has a
        section of its own, codesign.flow.document)."""
        rows = (compare_estimates(estimates, self.postsynth)
                if estimates is not None and self.postsynth else [])
        return {"outputs": list(self.outputs), "finn_steps": list(self.steps),
                "output_dir": str(self.output_dir), "postsynth": self.postsynth,
                "comparison": rows}


def finn_build_config(plan: HardwarePlan, output_dir: Path, board: Board,
                      folding_config_path: Path, fifo_config_path: Path | None = None) -> Any:
    """FINN's DataflowBuildConfig for PREPARE_STEPS plus the plan's hardware steps; with a
    fifo_config.json FINN applies its depths instead of
    sizing FIFOs by simulation (codesign writes one for every graph: codesign.finn.fifos)."""
    from finn.builder.build_dataflow_config import (
        DataflowBuildConfig,
        DataflowOutputType,
        ShellFlowType,
    )

    shell = {"zynq": ShellFlowType.VIVADO_ZYNQ, "alveo": ShellFlowType.VITIS_ALVEO}[board.shell]
    cfg = DataflowBuildConfig(
        output_dir=str(output_dir), synth_clk_period_ns=board.clock_period_ns,
        board=board.finn_board, fpga_part=board.part, shell_flow_type=shell,
        folding_config_file=Path(folding_config_path).resolve(),
        generate_outputs=[DataflowOutputType(v) for v in plan.finn_outputs],
        steps=[*PREPARE_STEPS, *plan.steps], save_intermediate_models=True,
        # synthesising the stitched IP as well yields per-layer numbers for the OOC comparison
        stitched_ip_gen_dcp="ooc_synth" in plan.outputs,
        **({"auto_fifo_depths": False, "fifo_config_file": str(Path(fifo_config_path).resolve())}
           if fifo_config_path is not None else {}),
    )
    return DataflowBuildConfig.construct_from(cfg)  # FINN's own checks (folding file exists)


def unapplied_folding_nodes(requested: Mapping[str, Any], applied: Mapping[str, Any]) -> list[str]:
    """Layers of a folding config that FINN's build did not find in its graph."""
    return sorted(name for name in requested if name != "Defaults" and name not in applied)


def _prepare_finn(tools: XilinxTools, output_dir: Path) -> None:
    """What FINN's CLI does before a build: settings, XSI, tool paths; dependencies stay as
    installed (the docker image fetched them; nothing is downloaded here)."""
    for tool, (var, _) in TOOL_SPECS.items():
        if tool in tools.found:
            os.environ.setdefault(var, str(tools.found[tool]))
    build_dir = Path(os.environ.setdefault("FINN_BUILD_DIR", str(output_dir / "finn_tmp")))
    build_dir.mkdir(parents=True, exist_ok=True)
    from finn.interface.run_finn import prepare_finn
    from finn.interface.settings import FINNSettings

    settings = FINNSettings.init(flow_config=output_dir / "flow.yaml", finn_build_dir=build_dir,
                                 automatic_dependency_updates=False)
    hlslib = settings.finn_deps / "finn-hlslib"
    if not hlslib.is_dir():
        raise ToolchainMissing(f"FINN's HLS library is missing ({hlslib}); the codesign docker "
                               "image installs it, or run `finn deps update` once with internet")
    try:
        prepare_finn(settings, accept_defaults=True, batch=True)
    except SystemExit:
        raise ToolchainMissing("FINN could not prepare Vivado's simulator interface (XSI), see "
                               "the messages above; check that g++ and Vivado work") from None


def _run_builder(onnx_path: Path, cfg: Any, what: str) -> None:
    from finn.builder.build_dataflow import build_dataflow_cfg

    # FINN's builder swaps in its own stdout/stderr mirrors and root log handlers for good
    saved = sys.stdout, sys.stderr, logging.root.handlers[:], logging.root.level
    try:
        code = build_dataflow_cfg(str(onnx_path), cfg)
    finally:
        sys.stdout, sys.stderr, logging.root.handlers[:], _ = saved
        logging.root.setLevel(saved[3])
    if code != 0:
        report = Path(cfg.output_dir) / "report" / "time_per_step.json"
        raise CompileError(f"FINN's {what} failed; see {Path(cfg.output_dir) / 'build_dataflow.log'} "
                           f"(steps that finished are listed in {report})")


def prepare_in_finn(partition_path: Path, cfg: Any, folding_config_path: Path) -> None:
    """PREPARE_STEPS in FINN's builder (no Xilinx tools), then a check that every layer of the
    folding file landed on the graph, before hours of synthesis are spent."""
    _run_builder(partition_path, dataclasses.replace(cfg, stop_step=PREPARE_STEPS[-1]),
                 "folding step")
    requested = json.loads(Path(folding_config_path).read_text(encoding="utf-8"))
    applied_path = Path(cfg.output_dir) / "report" / "applied_folding_config.json"
    applied = json.loads(applied_path.read_text(encoding="utf-8")) if applied_path.is_file() else {}
    lost = unapplied_folding_nodes(requested, applied)
    if lost:
        raise FoldingError(f"FINN's build graph has no layers named {', '.join(lost)} from "
                           f"{folding_config_path}, so the hardware would not match the estimates; "
                           "pass the partition and the folding file of the same codesign compile")


def run_hardware_steps(outputs: Iterable[str], out_dir: Path, board: Board, onnx_path: Path,
                       folding_config_path: Path, *, fifo_config_path: Path | None = None,
                       flow_file: str | None = None,
                       env: Mapping[str, str] | None = None) -> HardwareStepsResult:
    """Run FINN's builder for the hardware outputs into `out_dir/hardware`. `onnx_path` is the
    specialised dataflow partition codesign compiled (finn/05_partition_specialised.onnx),
    `folding_config_path` the folding_config.json written for it, `fifo_config_path` its
    fifo_config.json if it has one.

    Raises ToolchainMissing before any step when a needed tool is absent, and FoldingError
    before any Vivado step when FINN's graph does not take the folding the estimates used."""
    plan = plan_hardware(outputs, board.shell, env)
    output_dir = Path(out_dir) / HARDWARE_DIRNAME
    if not plan.hardware:
        return HardwareStepsResult(plan.outputs, (), output_dir, None)
    if not plan.ready:
        raise ToolchainMissing(missing_tools_message(plan, flow_file, board.name))
    if "bitfile" in plan.outputs and board.finn_board is None:
        raise BoardError(f"board {board.name} has no finn_board, but FINN's bitfile step needs "
                         "one of its boards (a key of finn.util.basic.part_map); set finn_board "
                         "or drop bitfile/driver from outputs")
    output_dir.mkdir(parents=True, exist_ok=True)
    _prepare_finn(plan.tools, output_dir)
    cfg = finn_build_config(plan, output_dir, board, folding_config_path, fifo_config_path)
    prepare_in_finn(onnx_path, cfg, folding_config_path)
    # the hardware steps continue from the last intermediate model of the preparation
    _run_builder(onnx_path, dataclasses.replace(cfg, start_step=plan.steps[0]), "hardware build")
    return HardwareStepsResult(plan.outputs, plan.steps, output_dir, load_postsynth(output_dir),
                               load_power(output_dir))
