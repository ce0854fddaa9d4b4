"""simulate_run on a real flow run: reads the output directory (model checkpoint,
QONNX file, FINN stage graphs, folded partition), writes simulation.json and .md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from codesign.config import SimulateConfig
from codesign.errors import ConfigError, ToolchainMissing, VerificationError
from codesign.flow import simulate_run
from codesign.sim.report import render_simulation_markdown
from codesign.sim.run import check_simulation


@pytest.fixture(scope="module")
def flow_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codesign.cli import main

    tmp = tmp_path_factory.mktemp("simflow")
    flow = {"name": "simtiny", "seed": 1, "board": "pynq-z1", "dataset": {"name": "digits"},
            "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2, "options": {"hidden": [16]}},
            "train": {"epochs": 1, "batch_size": 64, "lr": 0.02},
            "folding": {"mode": "setfolding", "target_fps": 200_000}, "verify": {"samples": 5}}
    (tmp / "flow.yaml").write_text(yaml.safe_dump(flow))
    assert main(["run", str(tmp / "flow.yaml"), "--out", str(tmp / "out"), "--quiet"]) == 0
    return tmp / "out"


@pytest.mark.slow
def test_flow_outputs_are_simulated(flow_out: Path, verilator_cache: Path) -> None:
    options = SimulateConfig(samples=4, random_inputs=2, layer_frames=2,
                                cache_dir=str(verilator_cache))
    section = simulate_run(flow_out, options=options)
    check_simulation(section)  # passes silently
    written = json.loads((flow_out / "simulation.json").read_text())
    assert written == json.loads(json.dumps(section))
    assert written["schema"] == "codesign.simulation/1" and written["passed"]
    chain = written["chain"]
    assert chain["stages"][0]["name"] == "brevitas"  # the trained model came from model.pt
    assert chain["inputs"] == {"test": 4, "random": 2, "min": 1, "max": 1}
    modes = {s["op_type"]: s["mode"] for s in written["layers"]}
    assert modes["MVAU_hls"] == "python" and modes["StreamingFIFO_rtl"] == "verilator"
    assert all(s["match"] for s in written["layers"] if s["mode"] == "verilator")
    assert written["pipeline"]["status"] == "skipped" and "mvau_rtl" in written["pipeline"]["reason"]
    assert written["streams"]["passed"] == written["streams"]["checked"] > 0
    markdown = (flow_out / "simulation.md").read_text()
    assert markdown.startswith("## Simulation without hardware")
    for text in ("MVAU_hls_0", "StreamingFIFO_rtl", "| brevitas |", "Not simulated"):
        assert text in markdown


@pytest.mark.slow
def test_missing_verilator_keeps_the_python_results(flow_out: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "verilator", None)
    with pytest.raises(ToolchainMissing, match="verilator"):
        simulate_run(flow_out, options=SimulateConfig(samples=2, random_inputs=1,
                                                                  cache_dir=str(tmp_path)))
    written = json.loads((flow_out / "simulation.json").read_text())
    assert written["chain"]["passed"] and "verilator" in written["rtl_not_run"]
    assert "RTL simulation" in render_simulation_markdown(written)


def test_a_failed_check_raises(tmp_path: Path) -> None:
    section = {"passed": False, "summary": "stage 'folded' differs from 'hw_layers'"}
    with pytest.raises(VerificationError, match="folded.*simulation.json"):
        check_simulation(section, tmp_path / "simulation.json")


def test_missing_report_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no report.json"):
        simulate_run(tmp_path)


@pytest.mark.parametrize(("field", "value"), [("pipeline", "sometimes"), ("layer_frames", 0),
                                              ("random_inputs", -1)])
def test_bad_options_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"simulate.{field}"):
        SimulateConfig(**{field: value})


@pytest.mark.slow
def test_a_model_without_test_data_is_simulated_on_random_inputs(zoo, tmp_path: Path) -> None:
    """As for `codesign build` of a QONNX file: no Brevitas model, no test set."""
    from codesign.sim.run import simulate_hardware

    case = zoo("mlp-tfc", (2, 2))
    options = SimulateConfig(random_inputs=3, rtl=False, pipeline="off")
    section = simulate_hardware(case.hw, case.onnx, None, tmp_path, options=options)
    assert section["passed"], section["summary"]
    assert section["chain"]["stages"][0]["name"] == "qonnx"
    assert section["chain"]["inputs"] == {"random": 3, "min": 1, "max": 1}
    assert "layers" not in section and section["pipeline"]["status"] == "skipped"
    assert section["streams"]["checked"] > 0
