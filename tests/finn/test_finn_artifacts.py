from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codesign.errors import ConfigError
from codesign.finn import apply_setfolding, read_folding, write_build_config, write_folding_config


def _write(tmp_path: Path, board: str | None, shell: str = "zynq", clock: float = 125.0) -> Path:
    (tmp_path / "folding_config.json").write_text('{"Defaults": {}}')
    return write_build_config(tmp_path / "finn_build_config.json", onnx_name="model.qonnx.onnx",
                              folding_name="folding_config.json", part="xc7z020clg400-1",
                              clock_mhz=clock, board=board, shell=shell)


@pytest.mark.parametrize(("board", "shell", "flow"), [
    ("Pynq-Z1", "zynq", "vivado_zynq"), ("U250", "alveo", "vitis_alveo"), (None, "zynq", None),
])
def test_finn_parses_the_build_config(tmp_path: Path, board: str | None, shell: str,
                                      flow: str | None) -> None:
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType

    path = _write(tmp_path, board, shell)
    cfg = DataflowBuildConfig.construct_from(path)
    assert cfg.synth_clk_period_ns == pytest.approx(8.0)
    assert cfg.fpga_part == "xc7z020clg400-1"
    assert cfg._resolve_fpga_part() == "xc7z020clg400-1"
    assert cfg.board == board
    assert (cfg.shell_flow_type.value if cfg.shell_flow_type else None) == flow
    # Relative file names resolve next to the config file.
    assert cfg.folding_config_file == (tmp_path / "folding_config.json").absolute()
    assert DataflowOutputType.ESTIMATE_REPORTS in cfg.generate_outputs
    assert (DataflowOutputType.BITFILE in cfg.generate_outputs) == (board is not None)
    assert json.loads(path.read_text())["model_path"] == "model.qonnx.onnx"


@pytest.mark.parametrize(("shell", "clock", "match"), [("sdaccel", 100.0, "shell"),
                                                        ("zynq", 0.0, "clock_mhz")])
def test_bad_build_config_options(tmp_path: Path, shell: str, clock: float, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _write(tmp_path, "Pynq-Z1", shell, clock)
    assert not (tmp_path / "finn_build_config.json").exists()


@pytest.mark.slow
def test_folding_config_file_is_what_was_applied(compiled: Any, tmp_path: Path) -> None:
    hw = apply_setfolding(compiled("cnn"), target_fps=50_000)
    path = write_folding_config(hw, tmp_path / "out" / "folding_config.json")
    assert json.loads(path.read_text()) == read_folding(hw)
    assert [p.name for p in path.parent.iterdir()] == ["folding_config.json"]  # no temp left
