"""Whole-pipeline RTL simulation of a residual block in which every layer is RTL (issue 17 item
5): FINN's RTL pad/sliding-window/MVAU/threshold layers, FINN's ElementwiseAdd_rtl as the join,
codesign's broadcast module as the fork. Bit-exact against Python, throughput against FINN's
estimate, and the skip-branch FIFO against codesign's depth (codesign.finn.fifos): that depth
never deadlocks (in the identity block it is within the slack words of the smallest that does
not), FINN's default of 2 words deadlocks; keeping the full rate needs more than the token
count in the identity block (the count covers what the long branch takes in, not its
latency), not in the projection block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zoo_cases import calibrated

from codesign.boards import load_board
from codesign.finn.fifos import SLACK_WORDS
from codesign.sim.pipeline import non_rtl_layers, simulate_pipeline
from codesign.sim.shortcuts import FINN_MINIMUM

pytestmark = pytest.mark.slow
BOARD = load_board("zcu104")  # DSP48E2: RTL MVAUs without the 7-series narrow-weight rule
SHAPE = (1, 10, 10)
# Every MVAU takes >= 2 cycles per output (MW/SIMD >= 2): at one output per cycle FINN's RTL
# MVU trips its "Overflowing output queue" assertion under bursty back-pressure. SIMDs match
# their sliding windows, so every width converter has an integer ratio (RTL).
FOLDING = {"MVAU_rtl_0": {"SIMD": 1, "PE": 8}, "MVAU_rtl_1": {"SIMD": 8, "PE": 8},
           "MVAU_rtl_2": {"SIMD": 8, "PE": 8}, "MVAU_rtl_3": {"SIMD": 8, "PE": 2}}


def _compile(work: Path, stages: list[list[int]], stem: int, folding: dict) -> tuple[Any, Any, Path]:
    from codesign.export import export_qonnx
    from codesign.finn import apply_folding_config, apply_setfolding, compile_to_hw

    model = calibrated("resnet", (4, 4), SHAPE, stem=stem, stages=stages, final_pool=1)
    onnx = export_qonnx(model, SHAPE, work / "model.onnx")
    hw = compile_to_hw(onnx, part=BOARD.part, clock_mhz=BOARD.clock_mhz, workdir=work / "finn",
                       mvau_rtl=True)
    return model, apply_folding_config(apply_setfolding(hw, target_fps=100_000), folding), onnx


X = np.random.default_rng(1).integers(0, 256, (8, *SHAPE)).astype(np.float32)


@pytest.fixture(scope="module")
def identity_block(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    """stem conv -> identity block (two 3x3 convs, 10x10x8) -> linear, W4A4, RTL MVAUs."""
    return _compile(tmp_path_factory.mktemp("identity_block"), [[8, 1, 1]], 8, FOLDING)


def _check_common(sim: Any, estimate_pct: float) -> Any:
    """What holds for every block: bit-exact, throughput vs FINN's estimate, codesign's skip
    depth never deadlocks (as FINN builds it too) while FINN's default depth does. Returns the
    skip-FIFO check."""
    assert sim.match, sim.detail
    assert abs(sim.throughput_deviation_pct) <= estimate_pct, sim
    (skip,) = sim.shortcuts
    assert skip.join.startswith("ElementwiseAdd") and skip.fork.startswith("DuplicateStreams")
    assert skip.model_depth == -(-skip.elements // skip.fork_pe) + SLACK_WORDS
    assert skip.deadlock_free_depth <= skip.model_depth  # codesign's depth never deadlocks
    for others in ("codesign", "deep"):  # FINN's FIFO sizes, and the other FIFOs unlimited
        assert skip.run_at(skip.model_depth, others).outcome == "ran"
        assert skip.run_at(skip.model_depth, others).match
    assert skip.run_at(FINN_MINIMUM).deadlock  # an unsized skip FIFO deadlocks the block
    assert sim.to_dict()["shortcuts"][0]["runs"][0]["depth"] == skip.model_depth
    # as FINN builds it from codesign's fifo_config_file (FINN's own FIFOs at the stream model's
    # depths, not run-time limits): no deadlock, bit-exact, at FINN's estimated rate
    built = sim.as_built
    assert built is not None and built.outcome == "ran" and built.match, built
    assert built.cycles_per_frame == pytest.approx(sim.estimated_cycles, rel=0.05)
    assert sim.skip_fifos_ok
    return skip


def test_identity_block_runs_all_rtl_and_the_skip_fifo_is_sized(
        identity_block: tuple, verilator_cache: Path, tmp_path: Path) -> None:
    _, hw, _ = identity_block
    ops = [n.op_type for n in hw.model.graph.node]
    assert "DuplicateStreams_hls" in ops and "ElementwiseAdd_hls" in ops  # what FINN specialises
    assert non_rtl_layers(hw) == []  # both are built in RTL by the simulation
    sim = simulate_pipeline(hw, X, tmp_path, frames=8, cache=verilator_cache)
    skip = _check_common(sim, 5.0)  # measured: 920 vs 927 cycles/frame estimated
    assert sim.needed_depths_cycles_per_frame == pytest.approx(sim.cycles_per_frame, rel=0.01)
    assert skip.elements == (2 * SHAPE[2] + 3) * 8 - 1 and skip.fork_pe == 1
    # identity shortcut: the count is tight; within its slack (+ the join's input register) of
    # the smallest depth that does not deadlock (measured: 182 vs 185)
    assert skip.model_depth <= skip.deadlock_free_depth + SLACK_WORDS + 1
    # rate: at the token count the fork waits on the long branch's latency; the full rate
    # needs more (measured: 246 words; 5,417 cycles/frame at 185, against 1,007 with the skip
    # FIFO unlimited), and the paced run's occupancy covers it; the stream model's depths
    # (fifo_config_file) cover it too: as built 925 cycles/frame (6,365 at the token count)
    assert skip.run_at(skip.model_depth).cycles_per_frame > 3 * skip.reference_cycles_per_frame
    assert skip.model_depth < skip.full_rate_depth <= skip.needed_depth  # 185 < 246 <= 303


def test_projection_block_runs_all_rtl(verilator_cache: Path, tmp_path: Path) -> None:
    """A strided block with a 1x1 projection conv on the shortcut (10x10x4 -> 5x5x8): both
    branches compute, and the buffer builds up behind the projection, before the join."""
    folding = {"MVAU_rtl_0": {"SIMD": 1, "PE": 4}, "ConvolutionInputGenerator_rtl_2": {"SIMD": 1},
               "MVAU_rtl_1": {"SIMD": 1, "PE": 1}, "MVAU_rtl_2": {"SIMD": 4, "PE": 2},
               "MVAU_rtl_3": {"SIMD": 8, "PE": 2}, "MVAU_rtl_4": {"SIMD": 8, "PE": 1}}
    _, hw, _ = _compile(tmp_path / "model", [[8, 1, 2]], 4, folding)
    assert non_rtl_layers(hw) == []
    sim = simulate_pipeline(hw, X, tmp_path / "sim", frames=8, cache=verilator_cache)
    skip = _check_common(sim, 5.0)  # measured: 978 vs 1,008 cycles/frame estimated
    assert skip.elements < 10 * 10 * 4  # less than a frame of the fork's stream
    # here codesign's depth keeps the full rate (measured: from 124 words, codesign 134; as
    # FINN builds it 1,034 cycles/frame) and is far from a deadlock (from 53 words)
    assert skip.deadlock_free_depth < skip.full_rate_depth <= skip.model_depth
    assert sim.as_built.cycles_per_frame == pytest.approx(sim.estimated_cycles, rel=0.05)


def test_simulate_runs_the_residual_pipeline_and_reports_the_skip_fifo(
        identity_block: tuple, verilator_cache: Path, tmp_path: Path) -> None:
    """`codesign simulate` / `build --simulate` (simulate_hardware, pipeline auto) on a residual
    model: the whole pipeline runs instead of being skipped, and the report shows the skip FIFO;
    the RTL join is simulated per layer too."""
    from codesign.config import SimulateConfig
    from codesign.sim.report import render_simulation_markdown, summary_rows
    from codesign.sim.rtl_layers import simulate_layers
    from codesign.sim.run import simulate_hardware

    model, hw, onnx = identity_block
    options = SimulateConfig(samples=2, random_inputs=1, streams=False, rtl=False,
                             pipeline="auto", pipeline_frames=8, cache_dir=str(verilator_cache))
    section = simulate_hardware(hw, onnx, X[:2].astype(np.uint8), tmp_path / "run", model=model,
                                options=options)
    pipe = section["pipeline"]
    assert "pipeline bit-exact" in section["summary"]
    # the slowdown at codesign's depth is said, not hidden behind the estimate
    needs = f"needs {pipe['shortcuts'][0]['full_rate_depth']:,} words for full rate"
    assert "as built with codesign's FIFO depths" in section["summary"] and needs in section["summary"]
    assert pipe["status"] == "passed" and pipe["shortcuts"][0]["model_depth"] == 185
    assert "#### Skip-branch FIFOs" in render_simulation_markdown(section)
    assert any(k.startswith("skip FIFO") and "codesign 185 words" in v for k, v in summary_rows(section))
    layers = simulate_layers(hw, X, tmp_path / "layers", frames=3, cache=verilator_cache,
                             only=("ElementwiseAdd_rtl",))
    (join,) = [s for s in layers if s.mode == "verilator"]
    assert join.op_type == "ElementwiseAdd_rtl" and join.match, join.detail
    assert abs(join.deviation_pct) <= 5.0
    (fork,) = [s for s in layers if s.op_type == "DuplicateStreams_hls"]
    assert fork.mode == "python" and "codesign's RTL broadcast" in fork.detail
