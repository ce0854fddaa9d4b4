"""The I/O bound of an accelerator as FINN's shells build it: every input and output frame is
moved between host memory and the dataflow pipeline by an IODMA.

What FINN does (finn-plus 1.6.1): InsertIODMA puts one IODMA on each graph input and output.
Its stream side is the first (last) layer's padded stream, so the bits moved per frame are
`padded stream width x prod(folded shape[:-1])`; its memory side is
`gcd(bits per frame, max_intfwidth)` bits wide, with max_intfwidth the board's
`host_io.port_width_bits`. On Zynq both IODMAs sit behind one smartconnect on one PS HP port, on
Alveo on the kernel's AXI masters; both clock the port at the kernel clock.

The model: an IODMA moves one memory word per port cycle. Inputs are read and outputs written
on the AXI read and write channels, which run at the same time, so the I/O rate is the slower
direction; IODMAs of the same direction share their channel (their words add up). A host link
(`link_gbytes_per_s`, Alveo's PCIe) caps each direction's bytes per second, overlapped with
the rest. Not modelled in the rate: burst gaps, DDR contention with the CPU, and the host's own
packing and copying (FINN's driver times those apart from the accelerator).

Per batch: FINN's driver runs frames in batches (`execute_on_buffers`: write the IODMAs'
addresses and frame count, start them, poll the output IODMA until it is done), and its
throughput test divides the batch by that whole time. So a batch of N frames takes
`batch_overhead_ms + N x (1 / streaming FPS + frame_overhead_us)`, where the streaming FPS is
min(compute, I/O), the board's `host_io.batch_overhead_ms` is the fixed part and
`host_io.frame_overhead_us` what each frame takes beyond the streaming estimate (both fitted
on published measurements; see the board file's source). `BatchCost` carries N
(`batch_frames`, default DEFAULT_BATCH_FRAMES) and that time; with no board figure it says so
and the batch figure is the streaming one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from codesign.boards import HostIO
from codesign.errors import ConfigError
from codesign.finn._env import quiet_finn
from codesign.finn.compile import HWGraph

DIRECTIONS = ("in", "out")
# Frames per batch when nobody says: the batch FINN's published throughput tests of TFC, CNV and
# the cybersecurity MLP time (finn-examples notebooks 0 and 1, finn's cybersecurity notebook 3).
DEFAULT_BATCH_FRAMES = 1000


@dataclass(frozen=True)
class BatchCost:
    """A batch of `frames` frames run as FINN's driver runs it, with the board's fixed cost per
    batch (`overhead_ms`) and per frame beyond the streaming estimate (`frame_overhead_us`;
    None: the board file gives no figure)."""

    frames: int
    overhead_ms: float | None
    frame_overhead_us: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or self.frames < 1:
            raise ConfigError(f"batch_frames must be a whole number >= 1, got {self.frames!r}; "
                             f"use e.g. {DEFAULT_BATCH_FRAMES}")

    def seconds(self, streaming_fps: float) -> float:
        """The time of one batch at `streaming_fps` (min of compute and I/O) plus the overheads."""
        per_frame = 1 / streaming_fps + (self.frame_overhead_us or 0.0) / 1e6
        return (self.overhead_ms or 0.0) / 1e3 + self.frames * per_frame

    def fps(self, streaming_fps: float) -> float:
        """Frames per second over a whole batch (the figure FINN's throughput test prints)."""
        return self.frames / self.seconds(streaming_fps)

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "overhead_ms": self.overhead_ms,
                "frame_overhead_us": self.frame_overhead_us}


@dataclass(frozen=True)
class Transfer:
    """One IODMA's traffic per frame, as FINN's InsertIODMA would size it."""

    direction: str  # "in" (host memory -> accelerator) or "out"
    tensor: str
    layer: str  # the layer the IODMA feeds (in) or drains (out)
    stream_bits: int  # the layer's padded stream width
    bits_per_frame: int
    port_bits: int  # the IODMA's memory-side width: gcd(bits_per_frame, port width)

    @property
    def bytes_per_frame(self) -> float:
        return self.bits_per_frame / 8

    @property
    def words_per_frame(self) -> int:
        return math.ceil(self.bits_per_frame / self.port_bits)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bytes_per_frame": self.bytes_per_frame,
                "words_per_frame": self.words_per_frame}


@dataclass(frozen=True)
class IOBound:
    """Frames per second the shell's data path sustains for one folded graph."""

    transfers: tuple[Transfer, ...]
    port_clock_mhz: float
    link_gbytes_per_s: float | None
    fps_in: float
    fps_out: float
    batch: BatchCost = BatchCost(DEFAULT_BATCH_FRAMES, None)

    @property
    def fps(self) -> float:
        return min(self.fps_in, self.fps_out)

    def bytes_per_frame(self, direction: str) -> float:
        return sum(t.bytes_per_frame for t in self.transfers if t.direction == direction)

    def batch_fps(self, compute_fps: float) -> float:
        """FPS over one batch as FINN's driver runs it: streaming at min(compute, I/O), plus
        the board's fixed cost per batch."""
        return self.batch.fps(min(compute_fps, self.fps))

    def to_dict(self) -> dict[str, Any]:
        return {"fps": self.fps, "fps_in": self.fps_in, "fps_out": self.fps_out,
                "bytes_in_per_frame": self.bytes_per_frame("in"),
                "bytes_out_per_frame": self.bytes_per_frame("out"),
                "port_clock_mhz": self.port_clock_mhz, "link_gbytes_per_s": self.link_gbytes_per_s,
                "transfers": [t.to_dict() for t in self.transfers],
                "batch": self.batch.to_dict()}


def transfers(hw: HWGraph, port_width_bits: int) -> tuple[Transfer, ...]:
    """The IODMA transfers FINN's InsertIODMA(max_intfwidth=port_width_bits) would add to `hw`."""
    from qonnx.custom_op.registry import getCustomOp

    model, found = hw.model, []
    with quiet_finn():
        for direction in DIRECTIONS:
            ends = model.graph.input if direction == "in" else model.graph.output
            for tensor in (t.name for t in ends):
                if direction == "in":
                    node = model.find_consumer(tensor)
                    inst, index = getCustomOp(node), list(node.input).index(tensor)
                    width = int(inst.get_instream_width_padded(index))
                    shape = inst.get_folded_input_shape(index)
                else:
                    node = model.find_producer(tensor)
                    inst, index = getCustomOp(node), list(node.output).index(tensor)
                    width = int(inst.get_outstream_width_padded(index))
                    shape = inst.get_folded_output_shape(index)
                found.append(_transfer(direction, tensor, node.name, width,
                                       math.prod(shape[:-1]), port_width_bits))
    return tuple(found)


def _transfer(direction: str, tensor: str, layer: str, stream_bits: int, stream_words: int,
              port_width_bits: int) -> Transfer:
    bits = stream_bits * int(stream_words)
    return Transfer(direction, tensor, layer, stream_bits, bits, math.gcd(bits, port_width_bits))


def io_bound(hw: HWGraph, host_io: HostIO, batch_frames: int = DEFAULT_BATCH_FRAMES) -> IOBound:
    """The I/O bound of `hw` as folded, behind the shell `host_io`, and the cost of a batch of
    `batch_frames` frames (see the module doc)."""
    batch = BatchCost(batch_frames, host_io.batch_overhead_ms, host_io.frame_overhead_us)
    found = transfers(hw, host_io.port_width_bits)
    clock = host_io.port_clock(hw.clock_mhz)
    rates = []
    for direction in DIRECTIONS:
        mine = [t for t in found if t.direction == direction]
        words = sum(t.words_per_frame for t in mine)
        fps = clock * 1e6 / words if words else math.inf
        nbytes = sum(t.bytes_per_frame for t in mine)
        if host_io.link_gbytes_per_s is not None and nbytes:
            fps = min(fps, host_io.link_gbytes_per_s * 1e9 / nbytes)
        rates.append(fps)
    return IOBound(found, clock, host_io.link_gbytes_per_s, rates[0], rates[1], batch)
