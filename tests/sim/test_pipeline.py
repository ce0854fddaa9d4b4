"""Whole-pipeline RTL simulation of an all-RTL MLP: bit-exact, throughput within 10 % of
FINN's estimate, and FIFO depths that keep that throughput when the pipeline is rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.errors import CompileError
from codesign.sim.pipeline import simulate_pipeline


@pytest.mark.slow
def test_all_rtl_mlp_pipeline(zoo, verilator_cache: Path, tmp_path: Path) -> None:
    from codesign.finn import apply_folding_config

    case = zoo("mlp-tfc", (2, 2), mvau_rtl=True)
    # Unequal folding on purpose: width converters between layers, and a faster middle layer.
    hw = apply_folding_config(case.hw, {"MVAU_rtl_1": {"SIMD": 4}, "MVAU_rtl_2": {"PE": 2}})
    sim = simulate_pipeline(hw, case.x, tmp_path, frames=6, cache=verilator_cache)
    assert sim.match, sim.detail
    assert sim.frames == 6
    assert abs(sim.throughput_deviation_pct) <= 10.0, sim
    assert sim.fps == pytest.approx(sim.clock_mhz * 1e6 / sim.cycles_per_frame)
    # pipelining makes the first frame faster than the sum of all layers' cycles
    assert 0 < sim.latency_cycles <= sim.estimated_latency_cycles
    assert sim.paced_cycles_per_frame == pytest.approx(sim.cycles_per_frame, rel=0.01)
    # the measured depths suffice: rebuilt with them, the pipeline keeps its throughput
    assert sim.needed_depths_cycles_per_frame == pytest.approx(sim.cycles_per_frame, rel=0.01)
    assert sim.fifos and all(1 <= f.needed_depth <= f.simulated_depth for f in sim.fifos)
    neighbours = {f.producer for f in sim.fifos} | {f.consumer for f in sim.fifos}
    assert {"input", "output"} <= neighbours
    assert any(n.startswith("StreamingDataWidthConverter") for n in neighbours)
    assert set(sim.layers) == {n.name for n in hw.model.graph.node}
    assert sim.to_dict()["fifos"][0]["name"] == sim.fifos[0].name


@pytest.mark.slow
def test_pipeline_needs_every_layer_in_rtl(zoo, tmp_path: Path) -> None:
    case = zoo("cnv-small", (2, 2))  # MVAU_hls and Pool_hls
    with pytest.raises(CompileError, match=r"MVAU_hls_0 \(MVAU_hls\).*mvau_rtl=True"):
        simulate_pipeline(case.hw, case.x, tmp_path)


@pytest.mark.slow
def test_a_stalled_pipeline_is_a_failed_check(zoo, verilator_cache: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole-pipeline run is bounded too: out of cycles, it is recorded as failed (with the
    reason) and the simulation fails, instead of raising out of the run or hanging."""
    from codesign.config import SimulateConfig
    from codesign.errors import VerificationError
    from codesign.finn import apply_folding_config
    from codesign.sim import pipeline
    from codesign.sim.report import render_simulation_markdown, summary_rows
    from codesign.sim.run import check_simulation, simulate_hardware

    case = zoo("mlp-tfc", (2, 2), mvau_rtl=True)
    hw = apply_folding_config(case.hw, {"MVAU_rtl_1": {"SIMD": 4}, "MVAU_rtl_2": {"PE": 2}})
    monkeypatch.setattr(pipeline, "cycle_budget", lambda estimate, beats, frames: (50, 10_000))
    options = SimulateConfig(samples=2, random_inputs=1, streams=False, rtl=False, pipeline="on",
                                pipeline_frames=4, cache_dir=str(verilator_cache))
    section = simulate_hardware(hw, case.onnx, case.x, tmp_path, model=case.model, options=options)
    assert section["chain"]["passed"] and not section["passed"]
    pipe = section["pipeline"]
    assert pipe["status"] == "failed" and "ran out of its cycle budget after 50 cycles" in pipe["reason"]
    assert "pipeline FAILED" in section["summary"]
    assert ("pipeline", f"failed: {pipe['reason']}") in summary_rows(section)
    assert "**FAILED**" in render_simulation_markdown(section)
    with pytest.raises(VerificationError, match="pipeline FAILED"):
        check_simulation(section)
