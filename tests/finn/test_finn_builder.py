"""Hardware outputs -> FINN steps, Xilinx tool detection, the stop-before-any-step message, and
the FINN build config, all without Vivado (fake tool directories stand in for installs)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codesign.boards import load_board
from codesign.errors import BoardError, ConfigError, ToolchainMissing
from codesign.finn.builder import (
    OUTPUTS,
    PREPARE_STEPS,
    VITIS,
    VITIS_HLS,
    VIVADO,
    detect_xilinx_tools,
    expand_outputs,
    finn_build_config,
    missing_tools_message,
    plan_hardware,
    run_hardware_steps,
    unapplied_folding_nodes,
    validate_outputs,
)

NO_TOOLS: dict[str, str] = {"PATH": ""}


def _finn_builder_importable() -> None:
    """finn.builder.build_dataflow_steps imports finn.xsi.SimEngine, which needs Vivado; it is
    only a type hint there, so bind a stand-in unless the real one is loaded (DESIGN.md §4)."""
    import finn.xsi

    if "SimEngine" not in vars(finn.xsi):
        finn.xsi.SimEngine = object


def _tool(root: Path, binary: str) -> Path:
    (root / "bin").mkdir(parents=True, exist_ok=True)
    (root / "bin" / binary).write_text("#!/bin/sh\nexit 0\n")
    (root / "bin" / binary).chmod(0o755)
    return root


@pytest.fixture
def fake_xilinx(tmp_path: Path) -> dict[str, str]:
    """Environment of a sourced Vivado + Vitis HLS 2022.2 whose tools are stand-ins."""
    vivado = _tool(tmp_path / "Xilinx" / "Vivado" / "2022.2", "vivado")
    hls = _tool(tmp_path / "Xilinx" / "Vitis_HLS" / "2022.2", "vitis_hls")
    return {"XILINX_VIVADO": str(vivado), "XILINX_HLS": str(hls), "PATH": ""}


@pytest.mark.parametrize("outputs, expanded", [
    ([], ("estimates",)),
    (["estimates"], ("estimates",)),
    (["ip"], ("estimates", "ip")),
    (["stitched_ip"], ("estimates", "ip", "stitched_ip")),
    (["ooc_synth"], ("estimates", "ip", "stitched_ip", "ooc_synth")),
    (["power"], ("estimates", "ip", "stitched_ip", "ooc_synth", "power")),
    (["rtlsim_perf", "ip"], ("estimates", "ip", "stitched_ip", "rtlsim_perf")),
    (["driver"], ("estimates", "ip", "bitfile", "driver")),
    (list(reversed(OUTPUTS)), OUTPUTS),
])
def test_expand_outputs(outputs: list[str], expanded: tuple[str, ...]) -> None:
    assert expand_outputs(outputs) == expanded


def test_unknown_output_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'bitstream' is not a known output; choose from estimates, ip"):
        validate_outputs(["estimates", "bitstream"])
    assert validate_outputs(["ip", "ip", "estimates"]) == ("ip", "estimates")


@pytest.mark.parametrize("outputs, steps, finn_outputs", [
    (["estimates"], (), ("estimate_reports",)),
    (["ip"], ("step_assign_ddr_weight_offsets", "step_generate_hardware"), ("estimate_reports",)),
    (["stitched_ip"], ("step_assign_ddr_weight_offsets", "step_generate_hardware",
                       "step_create_stitched_ip"), ("estimate_reports", "stitched_ip")),
    (["rtlsim_perf"], ("step_assign_ddr_weight_offsets", "step_generate_hardware",
                       "step_create_stitched_ip", "step_measure_rtlsim_performance"),
     ("estimate_reports", "stitched_ip", "rtlsim_performance")),
    (["ooc_synth"], ("step_assign_ddr_weight_offsets", "step_generate_hardware",
                     "step_create_stitched_ip", "step_out_of_context_synthesis"),
     ("estimate_reports", "stitched_ip", "out_of_context_synth")),
    (["power"], ("step_assign_ddr_weight_offsets", "step_generate_hardware",
                 "step_create_stitched_ip", "step_out_of_context_synthesis",
                 "step_vivado_power_estimation"),
     ("estimate_reports", "stitched_ip", "out_of_context_synth")),
    (["bitfile"], ("step_assign_ddr_weight_offsets", "step_generate_hardware",
                   "step_prepare_synthesis", "step_synthesize_bitfile"),
     ("estimate_reports", "bitfile")),
    (["driver"], ("step_assign_ddr_weight_offsets", "step_generate_hardware",
                  "step_prepare_synthesis", "step_synthesize_bitfile", "step_make_driver",
                  "step_deployment_package"),
     ("estimate_reports", "bitfile", "pynq_driver", "deployment_package")),
])
def test_fake_vivado_selects_the_finn_steps(fake_xilinx: dict[str, str], outputs: list[str],
                                            steps: tuple[str, ...], finn_outputs: tuple[str, ...]) -> None:
    plan = plan_hardware(outputs, "zynq", fake_xilinx)
    assert plan.ready, plan.missing
    assert plan.steps == steps
    assert plan.finn_outputs == finn_outputs


@pytest.mark.slow  # importing FINN's builder takes seconds
def test_step_names_and_output_types_exist_in_finn(fake_xilinx: dict[str, str]) -> None:
    """Every name we hand FINN is one of finn-plus's registered steps / DataflowOutputTypes, in
    the order of its default step list; the preparation is the tail of its estimate-only list."""
    _finn_builder_importable()
    from finn.builder.build_dataflow_config import (
        DataflowOutputType,
        default_build_dataflow_steps,
        estimate_only_dataflow_steps,
    )
    from finn.builder.build_dataflow_steps import build_dataflow_step_lookup

    plan = plan_hardware(OUTPUTS, "zynq", fake_xilinx)
    steps = [*PREPARE_STEPS, *plan.steps]
    assert set(steps) <= set(build_dataflow_step_lookup)
    # FINN's power step is registered but not in its default list: it runs right after the
    # out-of-context synthesis whose routed checkpoint it reads
    assert steps[steps.index("step_vivado_power_estimation") - 1] == "step_out_of_context_synthesis"
    positions = [default_build_dataflow_steps.index(s) for s in steps
                 if s != "step_vivado_power_estimation"]
    assert positions == sorted(positions)
    assert {DataflowOutputType(v) for v in plan.finn_outputs}
    # everything FINN's builder runs after specialising the layers, up to its estimates
    after_specialise = estimate_only_dataflow_steps.index("step_specialize_layers") + 1
    assert [s for s in estimate_only_dataflow_steps[after_specialise:]
            if s != "step_target_fps_parallelization"] == list(PREPARE_STEPS)


def test_detection_without_tools() -> None:
    tools = detect_xilinx_tools(NO_TOOLS)
    assert tools.found == {}
    assert tools.problems[VIVADO] == "XILINX_VIVADO is not set and vivado is not on PATH"
    assert tools.problems[VITIS_HLS] == "XILINX_HLS is not set and vitis_hls is not on PATH"


def test_detection_from_environment_and_path(tmp_path: Path, fake_xilinx: dict[str, str]) -> None:
    assert detect_xilinx_tools(fake_xilinx).found == {
        VIVADO: Path(fake_xilinx["XILINX_VIVADO"]), VITIS_HLS: Path(fake_xilinx["XILINX_HLS"])}
    on_path = {"PATH": f"/nonexistent:{fake_xilinx['XILINX_VIVADO']}/bin"}
    assert detect_xilinx_tools(on_path).found == {VIVADO: Path(fake_xilinx["XILINX_VIVADO"])}
    # 2025.1 on: Vitis HLS is `vitis-run` inside the Vitis install
    merged = _tool(tmp_path / "2025.1" / "Vitis", "vitis-run")
    assert detect_xilinx_tools({"XILINX_HLS": str(merged)}).found[VITIS_HLS] == merged


@pytest.mark.parametrize("env_var, tool, binary", [
    ("XILINX_VIVADO", VIVADO, "vivado"),
    ("XILINX_HLS", VITIS_HLS, "vitis_hls"),
])
def test_detection_names_a_wrong_directory(tmp_path: Path, env_var: str, tool: str, binary: str) -> None:
    wrong = tmp_path / "Xilinx" / "2022.2"
    tools = detect_xilinx_tools({env_var: str(wrong)})
    assert tools.problems[tool] == f"{env_var}={wrong} has no bin/{binary}"


def test_detection_needs_a_version_in_the_vivado_path(tmp_path: Path) -> None:
    vivado = _tool(tmp_path / "vivado-latest", "vivado")
    tools = detect_xilinx_tools({"XILINX_VIVADO": str(vivado)})
    assert VIVADO not in tools.found and "does not name a Vivado version" in tools.problems[VIVADO]


def test_alveo_bitfile_needs_vitis_and_xrt(fake_xilinx: dict[str, str], tmp_path: Path) -> None:
    plan = plan_hardware(["ooc_synth", "bitfile"], "alveo", fake_xilinx)
    assert plan.missing == {VITIS: ("bitfile",)}
    message = missing_tools_message(plan)
    assert message.startswith("the hardware outputs bitfile need Vitis, which is not available")
    assert "XILINX_XRT" in message
    vitis = _tool(tmp_path / "Vitis" / "2022.2", "v++")
    env = {**fake_xilinx, "XILINX_VITIS": str(vitis), "XILINX_XRT": "/opt/xilinx/xrt",
           "PLATFORM_REPO_PATHS": "/opt/xilinx/platforms"}
    assert plan_hardware(["ooc_synth", "bitfile"], "alveo", env).ready


def test_missing_tools_message_names_outputs_tools_and_docker() -> None:
    plan = plan_hardware(["estimates", "bitfile", "driver"], "zynq", NO_TOOLS)
    assert plan.missing == {VIVADO: ("ip", "bitfile"), VITIS_HLS: ("ip",)}
    message = missing_tools_message(plan, "flows/my flow.yaml", "pynq-z2")
    assert message.startswith("the hardware outputs bitfile, driver (with ip, which they build "
                              "on) need Vivado and Vitis HLS, which are not available here")
    assert "XILINX_VIVADO is not set" in message
    assert "codesign docker run 'flows/my flow.yaml' --board pynq-z2 --xilinx" in message
    assert "outputs: [estimates]" in message


def _write_estimates(out_dir: Path) -> Path:
    report = out_dir / "report.json"
    report.write_text(json.dumps({"estimates": {"fps": 1000.0}}))
    return report


def test_estimates_only_needs_no_tools(tmp_path: Path) -> None:
    result = run_hardware_steps(["estimates"], tmp_path, load_board("pynq-z2"),
                                tmp_path / "model.onnx", tmp_path / "folding.json", env=NO_TOOLS)
    assert result.steps == () and result.postsynth is None
    assert not (tmp_path / "hardware").exists()


def test_without_vivado_stops_before_any_step_and_keeps_estimates(tmp_path: Path) -> None:
    """The flow writes its estimates report, then asks for hardware outputs: the runner must
    raise the clear error, create nothing, and leave the report alone. (Extend this with the
    flow once `outputs` is wired into run_flow.)"""
    report = _write_estimates(tmp_path)
    before = report.read_bytes()
    with pytest.raises(ToolchainMissing, match="need Vivado and Vitis HLS") as excinfo:
        run_hardware_steps(["estimates", "ooc_synth"], tmp_path, load_board("pynq-z2"),
                           tmp_path / "model.onnx", tmp_path / "folding.json",
                           flow_file="flows/tfc_w2a2_mnist5k.yaml", env=NO_TOOLS)
    assert "codesign docker run flows/tfc_w2a2_mnist5k.yaml --board Pynq-Z2" in str(excinfo.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert report.read_bytes() == before


def test_stop_happens_before_finn_is_imported(tmp_path: Path) -> None:
    """In a fresh interpreter: raising the ToolchainMissing must not have imported FINN."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from codesign.boards import load_board\n"
        "from codesign.errors import ToolchainMissing\n"
        "from codesign.finn.builder import run_hardware_steps\n"
        "try:\n"
        f"    run_hardware_steps(['bitfile'], Path({str(tmp_path)!r}), load_board('pynq-z2'),\n"
        "                       Path('m.onnx'), Path('f.json'), env={'PATH': ''})\n"
        "except ToolchainMissing:\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] in ('finn', 'qonnx')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bitfile_needs_a_finn_board(fake_xilinx: dict[str, str], tmp_path: Path) -> None:
    board = dataclasses.replace(load_board("pynq-z2"), finn_board=None)
    with pytest.raises(BoardError, match="has no finn_board"):
        run_hardware_steps(["bitfile"], tmp_path, board, tmp_path / "m.onnx",
                           tmp_path / "f.json", env=fake_xilinx)
    assert not (tmp_path / "hardware").exists()


@pytest.mark.slow  # importing FINN's builder takes seconds
@pytest.mark.parametrize("board_name, shell, outputs", [
    ("pynq-z2", "vivado_zynq", ["driver", "ooc_synth"]),
    ("u250", "vitis_alveo", ["stitched_ip"]),
])
def test_finn_build_config(fake_xilinx: dict[str, str], tmp_path: Path, board_name: str, shell: str,
                           outputs: list[str]) -> None:
    """The DataflowBuildConfig the runner hands FINN builds, passes FINN's own checks, and its
    step list (and the restart point of the hardware phase) resolves in FINN."""
    _finn_builder_importable()
    from finn.builder.build_dataflow import resolve_build_steps

    board = load_board(board_name)
    folding = tmp_path / "folding_config.json"
    folding.write_text(json.dumps({"Defaults": {}, "MVAU_hls_0": {"PE": 4, "SIMD": 8}}))
    plan = plan_hardware(outputs, board.shell, fake_xilinx)
    cfg = finn_build_config(plan, tmp_path / "hardware", board, folding)
    assert cfg.shell_flow_type.value == shell
    assert cfg._resolve_fpga_part() == board.part and cfg.board == board.finn_board
    assert cfg.synth_clk_period_ns == pytest.approx(1000.0 / board.clock_mhz)
    assert cfg.folding_config_file == folding and cfg.target_fps is None
    assert [o.value for o in cfg.generate_outputs] == list(plan.finn_outputs)
    assert cfg.stitched_ip_gen_dcp is ("ooc_synth" in outputs)
    resolved = [f.__name__ for f in resolve_build_steps(cfg)]
    assert resolved == [*PREPARE_STEPS, *plan.steps]
    restart = dataclasses.replace(cfg, start_step=plan.steps[0])
    assert [f.__name__ for f in resolve_build_steps(restart)] == list(plan.steps)
    assert json.loads(cfg.to_json())["steps"] == resolved


def test_unapplied_folding_nodes() -> None:
    requested = {"Defaults": {"PE": 1}, "MVAU_hls_0": {"PE": 2}, "MVAU_hls_9": {"PE": 2}}
    applied = {"MVAU_hls_0": {"PE": 2}, "Thresholding_rtl_0": {"PE": 1}}
    assert unapplied_folding_nodes(requested, applied) == ["MVAU_hls_9"]
    assert unapplied_folding_nodes({"Defaults": {}}, {}) == []


def _tiny_partition(tmp_path: Path) -> tuple[Path, Path, Any]:
    """A tiny MLP through codesign's own export, compile and folding, as a flow does it:
    (specialised partition, folding_config.json, codesign's estimates)."""
    import torch
    from brevitas.nn import QuantLinear, QuantReLU
    from torch import nn

    from codesign.export import export_qonnx
    from codesign.finn import apply_setfolding, compile_to_hw, estimate, write_folding_config

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = QuantLinear(16, 8, bias=False, weight_bit_width=2)
            self.act = QuantReLU(bit_width=2)
            self.fc2 = QuantLinear(8, 4, bias=False, weight_bit_width=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.act(self.fc1(x.flatten(1) / 255.0)))

    torch.manual_seed(0)
    onnx = export_qonnx(Tiny().eval(), (1, 4, 4), tmp_path / "model.qonnx.onnx")
    board = load_board("pynq-z2")
    hw = compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz, workdir=tmp_path / "finn")
    hw = apply_setfolding(hw, target_fps=2_000_000)
    folding = write_folding_config(hw, tmp_path / "folding_config.json")
    return tmp_path / "finn" / "05_partition_specialised.onnx", folding, estimate(hw)


@pytest.mark.slow  # Brevitas export, codesign's FINN compile and two short FINN builds
def test_preparation_runs_in_finn(tmp_path: Path, fake_xilinx: dict[str, str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's first phase through FINN's real builder (no Xilinx tool runs in it), from
    the partition codesign compiled: the folding lands on every layer, FINN's estimates equal
    codesign's, a folding naming a missing layer is caught, and the hardware phase restarts
    from the preparation's last model."""
    from codesign.errors import FoldingError
    from codesign.finn.builder import _run_builder, prepare_in_finn

    _finn_builder_importable()
    (tmp_path / "finn_tmp").mkdir()
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path / "finn_tmp"))
    monkeypatch.setenv("XILINX_VIVADO", fake_xilinx["XILINX_VIVADO"])  # FINN records it at the end
    partition, folding, estimates = _tiny_partition(tmp_path)
    board = load_board("pynq-z2")
    plan = plan_hardware(["ip"], board.shell, fake_xilinx)
    cfg = finn_build_config(plan, tmp_path / "hardware", board, folding)

    prepare_in_finn(partition, cfg, folding)
    report = tmp_path / "hardware" / "report"
    requested = json.loads(folding.read_text())
    applied = json.loads((report / "applied_folding_config.json").read_text())
    for layer, attrs in requested.items():
        assert {k: applied[layer][k] for k in attrs} == attrs, layer
    finn_total = json.loads((report / "estimate_layer_resources.json").read_text())["total"]
    # FINN's estimate reports leave out the stream FIFOs its full build inserts; codesign adds them
    layers = {k: v - sum(f.cost()[k] for f in estimates.fifos) for k, v in estimates.totals.items()}
    assert {k: finn_total[k] for k in estimates.totals} == pytest.approx(layers)
    assert type(sys.stdout).__name__ != "PrintLogger"  # FINN's stdout mirror was undone

    first = plan.steps[0]
    _run_builder(partition, dataclasses.replace(cfg, start_step=first, stop_step=first), "restart")
    assert (tmp_path / "hardware" / "intermediate_models" / f"{first}.onnx").is_file()

    missing = tmp_path / "other_folding.json"
    missing.write_text(json.dumps({"Defaults": {}, "MVAU_hls_7": {"PE": 2}}))
    with pytest.raises(FoldingError, match="no layers named MVAU_hls_7"):
        prepare_in_finn(partition, dataclasses.replace(cfg, folding_config_file=missing), missing)


def test_missing_finn_dependencies_stop_before_any_step(tmp_path: Path, fake_xilinx: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the tools present but FINN's HLS library absent (not fetched, no docker image), the
    runner stops with a ToolchainMissing instead of failing inside Vitis HLS."""
    for name, value in {**fake_xilinx, "HOME": str(tmp_path / "home"),
                        "FINN_DEPS": str(tmp_path / "finn_deps"),
                        "FINN_BUILD_DIR": str(tmp_path / "finn_tmp")}.items():
        monkeypatch.setenv(name, value)
    for touched in ("FINN_DEPS_DEFINITIONS", "NUM_DEFAULT_WORKERS"):  # FINN's settings export
        monkeypatch.delenv(touched, raising=False)  # these; monkeypatch restores them afterwards
    (tmp_path / "home").mkdir()
    with pytest.raises(ToolchainMissing, match="FINN's HLS library is missing"):
        run_hardware_steps(["ip"], tmp_path, load_board("pynq-z2"), tmp_path / "model.onnx",
                           tmp_path / "folding.json")
    assert not (tmp_path / "hardware" / "report").exists()
