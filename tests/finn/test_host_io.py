"""The shell's I/O bound (codesign.finn.host_io) from the board data, and the accelerator as
built: a TFC-style MLP with 8-bit 784-pixel input on Pynq-Z2 is I/O-bound, a CNV-style CNN stays
compute-bound, and the folding optimizer stops buying compute at the I/O bound."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
from tiny_models import build_cnv, build_mlp, make_case

from codesign.boards import HostIO, load_board
from codesign.errors import ConfigError
from codesign.finn import compile_to_hw, estimate
from codesign.finn.baseline import SetFoldingSweep
from codesign.finn.host_io import DEFAULT_BATCH_FRAMES, BatchCost, io_bound
from codesign.finn.plan import fold_for_board

PIXELS = 28 * 28  # TFC input: 784 pixels of 8 bits


@pytest.fixture(scope="module")
def tfc_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tfc")
    case = make_case("tfc", lambda shape, bits: build_mlp(shape, hidden=(64, 64, 64), bits=bits),
                     (1, 28, 28), directory, batches=2, samples=2)
    return case.onnx


@pytest.fixture(scope="module")
def tfc(tfc_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """compile(board name) -> the TFC-style graph compiled for that board's part and clock."""
    cache: dict[str, Any] = {}

    def compile_for(name: str) -> Any:
        if name not in cache:
            board = load_board(name)
            cache[name] = compile_to_hw(tfc_onnx, part=board.part, clock_mhz=board.clock_mhz,
                                        workdir=tmp_path_factory.mktemp(f"tfc_{name}"))
        return cache[name]

    return compile_for


@pytest.mark.parametrize(
    ("name", "port_bits", "words", "fps_in"),
    [
        # 784 x 8 bit = 6,272 bits; FINN's IODMA width gcd(6272, 64) = 64: 98 words at 100 MHz
        ("pynq-z2", 64, 98, 100e6 / 98),
        # gcd(6272, 512) = 128 (6272 = 2^7 x 49): 49 words at 200 MHz; PCIe's 15.75 GB/s would
        # allow 20.1 M frames/s, so the kernel's port binds
        ("u250", 128, 49, 200e6 / 49),
    ],
)
def test_io_bound_from_the_board_data(tfc: Any, name: str, port_bits: int, words: int,
                                      fps_in: float) -> None:
    board = load_board(name)
    hw = tfc(name)
    io = io_bound(hw, board.host_io)
    [into] = [t for t in io.transfers if t.direction == "in"]
    assert into.bits_per_frame == PIXELS * 8 and io.bytes_per_frame("in") == PIXELS
    assert into.port_bits == port_bits == math.gcd(PIXELS * 8, board.host_io.port_width_bits)
    assert into.words_per_frame == words
    assert io.port_clock_mhz == board.clock_mhz  # both FINN shells clock the port at the kernel's
    assert io.fps_in == pytest.approx(fps_in)
    [out] = [t for t in io.transfers if t.direction == "out"]
    assert out.bits_per_frame % 8 == 0 and out.bits_per_frame % out.port_bits == 0
    assert io.fps_out == pytest.approx(
        min(board.clock_mhz * 1e6 / out.words_per_frame,
            (board.host_io.link_gbytes_per_s or math.inf) * 1e9 / out.bytes_per_frame))
    assert io.fps == min(io.fps_in, io.fps_out) == pytest.approx(fps_in)


def test_a_slow_host_link_caps_each_direction(tfc: Any) -> None:
    hw = tfc("u250")
    io = io_bound(hw, HostIO(port_width_bits=512, port_clock_mhz=None, link_gbytes_per_s=0.5))
    assert io.fps_in == pytest.approx(0.5e9 / PIXELS)
    assert io.fps == io.fps_in


@pytest.mark.parametrize(("frames", "overhead_ms", "streaming_fps"),
                         [(1000, 0.5, 1e6), (10000, 0.5, 1e6), (100, 2.0, 3000.0),
                          (1, 0.5, 1e6), (1000, None, 1e6), (1000, 0.0, 2.5e5)])
def test_a_batch_costs_its_fixed_overhead_plus_streaming(frames: int, overhead_ms: float | None,
                                                          streaming_fps: float) -> None:
    batch = BatchCost(frames, overhead_ms)
    seconds = (overhead_ms or 0.0) / 1e3 + frames / streaming_fps
    assert batch.seconds(streaming_fps) == pytest.approx(seconds)
    assert batch.fps(streaming_fps) == pytest.approx(frames / seconds)
    assert batch.fps(streaming_fps) <= streaming_fps  # never faster than streaming
    if overhead_ms:  # the fixed part weighs less the larger the batch
        assert BatchCost(frames * 10, overhead_ms).fps(streaming_fps) > batch.fps(streaming_fps)
    else:
        assert batch.fps(streaming_fps) == pytest.approx(streaming_fps)


@pytest.mark.parametrize(("frames", "frame_us", "streaming_fps"),
                         [(1000, 0.06, 1e6), (10000, 0.06, 1e6), (100, 1.0, 3000.0),
                          (1000, None, 1e6), (1000, 0.0, 2.5e5)])
def test_each_frame_adds_its_overhead_to_the_batch(frames: int, frame_us: float | None,
                                                   streaming_fps: float) -> None:
    batch = BatchCost(frames, 0.2, frame_us)
    seconds = 0.2e-3 + frames * (1 / streaming_fps + (frame_us or 0.0) * 1e-6)
    assert batch.seconds(streaming_fps) == pytest.approx(seconds)
    # the per-frame part does not fade with the batch: at most 1 / (1 / fps + overhead)
    assert BatchCost(frames * 1000, 0.2, frame_us).fps(streaming_fps) == pytest.approx(
        1 / (1 / streaming_fps + (frame_us or 0.0) * 1e-6), rel=1e-3)


@pytest.mark.parametrize("frames", [0, -5, 2.5, True])
def test_a_batch_needs_a_whole_number_of_frames(frames: Any) -> None:
    with pytest.raises(ConfigError, match="batch_frames"):
        BatchCost(frames, 0.5)


@pytest.mark.parametrize(("name", "frames"), [("pynq-z2", DEFAULT_BATCH_FRAMES), ("pynq-z2", 10),
                                              ("u250", DEFAULT_BATCH_FRAMES)])
def test_the_io_bound_carries_the_boards_batch_cost(tfc: Any, name: str, frames: int) -> None:
    board = load_board(name)
    io = io_bound(tfc(name), board.host_io, batch_frames=frames)
    assert io.batch == BatchCost(frames, board.host_io.batch_overhead_ms,
                                 board.host_io.frame_overhead_us)
    assert io.to_dict()["batch"] == {"frames": frames,
                                     "overhead_ms": board.host_io.batch_overhead_ms,
                                     "frame_overhead_us": board.host_io.frame_overhead_us}
    compute = 2 * io.fps  # I/O binds: the batch streams at the I/O rate
    assert io.batch_fps(compute) == pytest.approx(io.batch.fps(io.fps))
    assert io.batch_fps(io.fps / 2) == pytest.approx(io.batch.fps(io.fps / 2))  # compute binds


def test_tfc_on_pynq_z2_is_io_bound(tfc: Any) -> None:
    board = load_board("pynq-z2")
    _, plan, report = fold_for_board(tfc("pynq-z2"), board)
    est = report.estimates
    assert est.bound == "io" and est.io is not None
    assert est.io.bytes_per_frame("in") == PIXELS
    assert est.fps == report.fps == pytest.approx(100e6 / (PIXELS * 8 / 64))  # 1,020,408 FPS
    assert est.compute_fps == pytest.approx(100e6 / plan.max_cycles)
    assert est.compute_fps >= est.fps
    as_dict = est.to_dict()
    assert as_dict["bound"] == "io" and as_dict["io_fps"] == pytest.approx(est.fps)
    assert as_dict["compute_fps"] == est.compute_fps and as_dict["fps"] == est.fps
    assert report.to_dict()["bound"] == "io"


def test_the_optimizer_buys_no_compute_past_the_io_bound(tfc: Any) -> None:
    hw = tfc("pynq-z2")
    board = load_board("pynq-z2").with_caps(LUT=1.0)  # room to compute faster than the DMA port
    # the same board with a 1024-bit port: FINN's IODMA width becomes gcd(6272, 1024) = 128 bits
    wide = dataclasses.replace(board, host_io=HostIO(1024, None, None))
    fast_graph, fast, fast_report = fold_for_board(hw, wide)
    lean_graph, lean, lean_report = fold_for_board(hw, board)
    assert fast_report.estimates.bound == "compute"
    assert lean_report.estimates.bound == "io"
    assert fast.max_cycles < lean.max_cycles <= PIXELS * 8 / 64
    # strictly cheaper, and the faster folding would not run faster behind the 64-bit port
    assert lean.grand_totals()["LUT"] < fast.grand_totals()["LUT"]
    behind_port = estimate(fast_graph, board.host_io)
    assert behind_port.fps == pytest.approx(lean_report.fps)
    assert behind_port.bound == "io"


def test_a_target_above_the_io_bound_is_met_at_the_bound(tfc: Any) -> None:
    hw = tfc("pynq-z2")
    board = load_board("pynq-z2").with_caps(LUT=1.0)
    _, at_bound, report = fold_for_board(hw, board, "min_resources", target_fps=1.5e6)
    _, fastest, _ = fold_for_board(hw, board)
    assert report.fps == pytest.approx(report.estimates.io_fps)
    assert report.fps < 1.5e6
    assert at_bound.choices == fastest.choices  # both: the leanest folding at the I/O bound


def test_setfolding_baseline_is_measured_as_built(tfc: Any) -> None:
    hw = tfc("pynq-z2")
    board = load_board("pynq-z2")
    point = SetFoldingSweep(hw, board.host_io).best_fitting(board.budget(), grid=6, steps=4,
                                                           wwidths=(1024,))
    assert point is not None
    assert point.io_fps == pytest.approx(100e6 / 98)
    assert point.fps == pytest.approx(min(point.compute_fps, point.io_fps))


def test_a_cnv_style_cnn_stays_compute_bound(tmp_path: Path) -> None:
    case = make_case("cnv", lambda shape, bits: build_cnv(shape, bits=bits), (3, 32, 32), tmp_path,
                     batches=1, samples=2)
    board = load_board("pynq-z2")
    hw = compile_to_hw(case.onnx, part=board.part, clock_mhz=board.clock_mhz,
                       workdir=tmp_path / "work")
    _, plan, report = fold_for_board(hw, board)
    est = report.estimates
    assert est.bound == "compute" and est.io is not None
    assert est.io.bytes_per_frame("in") == 3 * 32 * 32  # 8-bit RGB pixels
    assert est.io_fps == pytest.approx(100e6 / (3 * 32 * 32 * 8 / 64))  # 384 words: 260,417 FPS
    assert est.fps == est.compute_fps == pytest.approx(100e6 / plan.max_cycles)
    assert est.fps < est.io_fps


def test_setfolding_baseline_takes_the_leanest_design_at_the_io_bound(tfc: Any) -> None:
    hw = tfc("pynq-z2")
    board = load_board("pynq-z2")
    sweep = SetFoldingSweep(hw, board.host_io)
    best = sweep.best_fitting(board.budget(), grid=6, steps=4, wwidths=(36, 1024))
    assert best is not None
    budget = board.budget()

    def cost(p: Any) -> float:
        return sum((p.totals[k] + p.converter_totals[k]) / budget[k] for k in budget if budget[k])

    tied = [p for p in sweep.seen()
            if p.fits(budget) and p.fps == pytest.approx(best.fps, rel=1e-9)]
    assert all(cost(best) <= cost(p) + 1e-12 for p in tied)


def test_alveo_folding_is_budgeted_on_what_the_shell_leaves(tfc: Any) -> None:
    board = load_board("u250")
    _, plan, report = fold_for_board(tfc("u250"), board)
    shell = board.shell_resources
    assert shell is not None
    assert report.budget == board.budget()
    assert report.budget["LUT"] == pytest.approx((board.resources["LUT"] - shell["LUT"])
                                                 * board.caps["LUT"])
    assert all(plan.grand_totals()[k] <= report.budget[k] + 1e-6 for k in report.budget)
    # 49 words of 128 bits at 200 MHz: the MLP is I/O-bound on the Alveo card too
    assert report.estimates.bound == "io"
    assert report.fps == pytest.approx(200e6 / 49)
