"""Stream packing in numpy: frames to AXI-stream beats and back, in the layout FINN uses.

Element i of a beat sits in bits [i*b, (i+1)*b) (b = the datatype's bit width), two's
complement for signed types, bipolar -1/+1 as bits 0/1; beats are Python ints (any width).
This is the documented layout FINN's own (much slower, bit-string based) packing produces;
codesign.sim.streams checks the two against each other on every stream it simulates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from codesign.finn.rtl import StreamInfo


def _codes(values: np.ndarray, stream: StreamInfo) -> np.ndarray:
    bits = stream.element_bits
    values = np.asarray(values, dtype=np.float64).reshape(-1, stream.folded_shape[-1])
    if stream.dtype == "BIPOLAR":
        return ((values + 1) // 2).astype(np.int64)
    return values.astype(np.int64) & ((1 << bits) - 1)


def pack_beats(values: np.ndarray, stream: StreamInfo) -> list[int]:
    """Frames (any leading dimensions, `stream.folded_shape[1:]` per frame) as beats."""
    codes = _codes(values, stream)
    bits = stream.element_bits
    # (beats, elements, bits) -> one little-endian bit row per beat -> bytes -> int
    bit_rows = ((codes[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(len(codes), -1)
    packed = np.packbits(bit_rows, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack_beats(beats: list[int], stream: StreamInfo) -> np.ndarray:
    """Beats back to frames in the stream's normal shape, frames first (float32)."""
    per_beat, bits = stream.folded_shape[-1], stream.element_bits
    if len(beats) % stream.beats_per_frame:
        raise ValueError(f"{len(beats)} beats are not whole frames of {stream.beats_per_frame}")
    frames = len(beats) // stream.beats_per_frame
    nbytes = (per_beat * bits + 7) // 8
    mask = (1 << (per_beat * bits)) - 1
    raw = np.frombuffer(b"".join((b & mask).to_bytes(nbytes, "little") for b in beats),
                        dtype=np.uint8).reshape(len(beats), nbytes)
    bit_rows = np.unpackbits(raw, axis=1, bitorder="little")[:, :per_beat * bits]
    codes = (bit_rows.reshape(len(beats), per_beat, bits).astype(np.int64)
             << np.arange(bits)).sum(axis=2)
    if stream.dtype == "BIPOLAR":
        values = 2 * codes - 1
    elif stream.low < 0:
        values = np.where(codes >= 1 << (bits - 1), codes - (1 << bits), codes)
    else:
        values = codes
    return values.astype(np.float32).reshape(frames, *stream.normal_shape[1:])
