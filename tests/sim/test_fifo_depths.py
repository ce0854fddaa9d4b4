"""Every stream FIFO of all-RTL pipelines at codesign's depths (codesign.finn.fifos) against
Verilator (codesign.sim.fifo_check): built as FINN builds them from codesign's fifo_config_file,
the pipelines run bit-exactly at FINN's estimated rate; each FIFO the model makes deeper than
FINN's minimum is at least what the pipeline needs for that rate (bisected with run-time
limits), and one word shallower the simulation stalls exactly where the model says it does
(more than 1 % slower or deadlocked; with the margin codesign keeps over the model's least,
neither does). How far the model's least is from the simulation's is bounded by the margin
rule and reported per FIFO by benchmarks/fifo_depths.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zoo_cases import calibrated

from codesign.boards import load_board
from codesign.sim.fifo_check import check_fifo_depths

pytestmark = pytest.mark.slow
BOARD = load_board("zcu104")  # Zynq UltraScale+: RTL MVAUs on DSP48E2


def _compile(work: Path, arch: str, bits: tuple[int, int], shape: tuple[int, ...], fps: float,
             folding: dict, **options: Any) -> tuple[Any, np.ndarray]:
    from codesign.export import export_qonnx
    from codesign.finn import apply_folding_config, apply_setfolding, compile_to_hw

    model = calibrated(arch, bits, shape, **options)
    onnx = export_qonnx(model, shape, work / "model.onnx")
    hw = compile_to_hw(onnx, part=BOARD.part, clock_mhz=BOARD.clock_mhz, workdir=work / "finn",
                       mvau_rtl=True)
    x = np.random.default_rng(1).integers(0, 256, (8, *shape)).astype(np.float32)
    return apply_folding_config(apply_setfolding(hw, target_fps=fps), folding), x


def _check_common(check: Any) -> None:
    built = check.as_built
    assert built.outcome == "ran" and built.match, built
    assert built.cycles_per_frame == pytest.approx(check.estimated_cycles, rel=0.02)
    assert check.model_cycles == pytest.approx(check.estimated_cycles, rel=0.02)
    for fifo in check.fifos:
        assert fifo.full_rate_depth <= fifo.depth, fifo  # never too shallow
        assert fifo.full_rate_depth <= fifo.margin_rule, fifo  # the margin covers the registers
        assert fifo.model_least <= fifo.depth <= max(fifo.safe, 2), fifo
        assert fifo.one_less.outcome == "ran" and fifo.one_less.match, fifo
        assert fifo.stalls == fifo.model_stalls, fifo  # one word shallower: the predicted verdict


def test_all_rtl_mlp_runs_at_its_rate_with_codesign_depths(verilator_cache: Path,
                                                           tmp_path: Path) -> None:
    """TFC W2A2, RTL MVAUs + thresholds, every MVAU >= 2 cycles per output (at one output per
    cycle FINN's RTL MVAU overflows its output queue when back-pressured, whatever the
    depths). The RTL MVAU's replay buffer takes the next vector in during its last pass, so
    the chain needs no FIFO deeper than a shallow one (measured: 1,024 cycles/frame as built
    = the estimate; only the input FIFO gets 6 words, of which it needs 1)."""
    folding = {"MVAU_rtl_0": {"SIMD": 28, "PE": 4}, "MVAU_rtl_1": {"SIMD": 8, "PE": 16},
               "MVAU_rtl_2": {"SIMD": 2, "PE": 2}, "MVAU_rtl_3": {"SIMD": 4, "PE": 5}}
    hw, x = _compile(tmp_path / "model", "mlp", (2, 2), (1, 28, 28), 100_000, folding,
                     preset="tfc")
    check = check_fifo_depths(hw, x, tmp_path / "sim", cache=verilator_cache)
    _check_common(check)
    assert len(check.depths) >= 2 * 4 and sum(d > 2 for d in check.depths.values()) <= 1


def test_conv_chain_needs_a_deep_fifo_and_gets_it(verilator_cache: Path, tmp_path: Path) -> None:
    """Two 3x3 convs on 12x12 and a linear layer, W4A4: the linear layer's MVAU reads its input
    vector in the first of its passes, so the FIFO before it must hold what the conv layer
    writes meanwhile (measured: model least 30 words, 34 needed in Verilator, least + margin
    42, codesign's depth the safe 37; FINN's depth 2 would throttle). The searched depths
    (least + margin, at most the safe depth) keep the rate as built."""
    hw, x = _compile(tmp_path / "model", "cnv", (4, 4), (1, 12, 12), 50_000,
                     {"MVAU_rtl_0": {"SIMD": 3, "PE": 4}}, channels=[8, 8], fc=[16], pool_every=2)
    check = check_fifo_depths(hw, x, tmp_path / "sim", cache=verilator_cache)
    _check_common(check)
    assert max(f.full_rate_depth for f in check.fifos) > 5  # more than a shallow FIFO holds


def test_identity_block_runs_at_full_rate_with_codesign_depths(verilator_cache: Path,
                                                               tmp_path: Path) -> None:
    """The residual identity block (10x10x8, fork at PE 1): with the skip FIFO at the token
    count (185 words) it ran at 6,365 cycles/frame as built; the stream model adds the long
    branch's latency (measured: 316 words, full rate from 246) and it runs at the estimate."""
    folding = {"MVAU_rtl_0": {"SIMD": 1, "PE": 8}, "MVAU_rtl_1": {"SIMD": 8, "PE": 8},
               "MVAU_rtl_2": {"SIMD": 8, "PE": 8}, "MVAU_rtl_3": {"SIMD": 8, "PE": 2}}
    hw, x = _compile(tmp_path / "model", "resnet", (4, 4), (1, 10, 10), 100_000, folding,
                     stem=8, stages=[[8, 1, 1]], final_pool=1)
    check = check_fifo_depths(hw, x, tmp_path / "sim", cache=verilator_cache)
    _check_common(check)
    skip = max(check.fifos, key=lambda f: f.depth)
    assert skip.producer.startswith("DuplicateStreams") and skip.consumer.startswith("ElementwiseAdd")
    assert skip.depth > 2 * 10 * 8 + 3 * 8 + 2  # beyond the token count of the shortcut
