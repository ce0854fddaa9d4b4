"""Vivado power figures read from FINN's power summary (format fixture, invented numbers; see
tests/fixtures/finn_reports/README.md), and how a report shows power with and without them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.errors import CompileError
from codesign.finn.power import PowerEstimate, load_power, parse_power_summary, power_instructions

ZYNQ = Path(__file__).parents[1] / "fixtures" / "finn_reports" / "zynq_build"


def test_summary_readings_and_simulated_headline() -> None:
    power = load_power(ZYNQ)
    assert power is not None and power.source == "report/power_estimate_summary.json"
    settings = [r.setting for r in power.readings]
    assert settings == ["sim", "12.5_0.5", "25_0.5", "50_0.5", "75_0.5", "100_0.5"]
    assert all(r.total_w == pytest.approx(r.static_w + r.dynamic_w) for r in power.readings)
    assert power.headline.setting == "sim"  # the design's own switching activity wins


@pytest.mark.parametrize("fps", [1000.0, 195312.5])
def test_energy_per_inference_is_power_over_throughput(fps: float) -> None:
    doc = load_power(ZYNQ).to_dict(fps)
    assert doc["total_w"] == 0.241 and doc["method"].startswith("switching activity simulated")
    assert doc["energy_per_inference_uj"] == pytest.approx(0.241 / fps * 1e6)
    assert doc["dynamic_energy_per_inference_uj"] == pytest.approx(0.136 / fps * 1e6)
    assert len(doc["readings"]) == 6


def test_without_simulation_the_vectorless_default_toggle_rate_is_the_headline() -> None:
    data = json.loads((ZYNQ / "report" / "power_estimate_summary.json").read_text())
    readings = parse_power_summary({k: v for k, v in data.items() if "_sim_" not in k})
    head = PowerEstimate(readings, "x").headline
    assert head.setting == "12.5_0.5" and head.total_w == 0.198
    assert head.description == "vectorless, toggle rate 12.5 %, static probability 0.5"


def test_no_power_step_means_no_figure(tmp_path: Path) -> None:
    assert load_power(tmp_path) is None


def test_incomplete_setting_names_the_missing_key() -> None:
    with pytest.raises(CompileError, match="lacks power_sim_dynamic"):
        parse_power_summary({"power_sim_total": 1.0, "power_sim_static": 0.5, "other": 3})


def test_instructions_name_the_output_and_the_docker_command() -> None:
    text = power_instructions("flows/tfc.yaml", "Pynq-Z2")
    assert "`power`" in text and "codesign docker run flows/tfc.yaml --board Pynq-Z2" in text
