"""Simulation without hardware of a 1-D convolutional net: the functional chain from the Brevitas
module through every compile stage (3-D QONNX, 4-D FINN graphs) is bit-exact, and its RTL layers
(1-D sliding windows, thresholds, FIFOs, width converters) are bit-exact in Verilator."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from codesign.config import SimulateConfig
from codesign.export import export_qonnx
from codesign.finn import apply_setfolding, compile_to_hw
from codesign.sim.run import simulate_hardware

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "finn"))
from conv1d_models import CHANNELS, LENGTH, kws_like  # noqa: E402

pytestmark = pytest.mark.slow


def test_1d_net_is_bit_exact_through_the_chain_and_in_verilator(tmp_path: Path,
                                                                 verilator_cache: Path) -> None:
    model = kws_like(2)
    onnx = export_qonnx(model, (CHANNELS, LENGTH), tmp_path / "model.onnx")
    hw = apply_setfolding(compile_to_hw(onnx, part="xc7z020clg400-1", clock_mhz=100.0,
                                        workdir=tmp_path / "finn"), target_fps=100_000)
    x = np.random.default_rng(0).integers(0, 256, (3, CHANNELS, LENGTH)).astype(np.uint8)
    options = SimulateConfig(samples=3, random_inputs=2, layer_frames=2, pipeline="off",
                             cache_dir=str(verilator_cache))
    section = simulate_hardware(hw, onnx, x, tmp_path / "sim", model=model,
                                stages_dir=tmp_path / "finn", options=options)
    assert section["passed"], section["summary"]
    stages = [s["name"] for s in section["chain"]["stages"]]
    assert stages[0] == "brevitas" and stages[-1] == "folded"
    swg = [s for s in section["layers"] if s["op_type"].startswith("ConvolutionInputGenerator")]
    assert len(swg) == 3 and all(s["match"] for s in swg)
