"""Stream-level checks: every stream of every folded HW layer, packed into beats the way the
accelerator carries it (FINN's folded shape and packing) and unpacked again, loses nothing.

Three properties per stream, on the values the layer really sees (Python execution of the
folded partition): the values fit the stream's datatype (FINN's packing silently wraps values
that do not); FINN's packing equals codesign's own (codesign.sim.packing: element i of a beat
in bits [i*b, (i+1)*b), two's complement, bipolar -1/+1 as 0/1), so the beat layout is the
documented one and the RTL simulations, which use codesign's faster packing, feed exactly what
FINN would; and both unpackings restore the values exactly."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.finn.rtl import (
    execute_frames,
    node_streams,
    pack_stream,
    to_stream_order,
    unpack_stream,
    weight_stream,
)
from codesign.sim.packing import pack_beats, unpack_beats
from codesign.sim.rtl_layers import partition_inputs

if TYPE_CHECKING:
    from codesign.finn.compile import HWGraph
    from codesign.finn.rtl import StreamInfo


@dataclass(frozen=True)
class StreamCheck:
    layer: str
    op_type: str
    stream: str  # port, e.g. in0_V
    kind: str  # input, output or weights
    dtype: str
    folded_shape: tuple[int, ...]
    width: int
    beats_per_frame: int
    frames: int
    in_range: bool  # every value is an integer of the datatype
    layout_agrees: bool  # FINN's beats equal codesign's packing
    lossless: bool  # unpack(pack(values)) == values, with FINN's and codesign's unpacking
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.in_range and self.layout_agrees and self.lossless

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def check_stream(layer: str, op_type: str, stream: StreamInfo, values: np.ndarray,
                 kind: str = "input") -> StreamCheck:

    values = np.asarray(values, dtype=np.float32)
    frames = len(values)
    integral = bool(np.all(values == np.round(values)))
    bipolar_ok = stream.dtype != "BIPOLAR" or bool(np.all(np.abs(values) == 1))
    in_range = integral and bipolar_ok and bool(np.all((values >= stream.low) & (values <= stream.high)))
    problems = []
    if not in_range:
        problems.append(f"values {float(values.min()):g}..{float(values.max()):g} do not fit "
                        f"{stream.dtype} ({stream.low:g}..{stream.high:g})")
    try:
        beats = pack_stream(values, stream)
    except Exception as exc:  # FINN asserts on some unrepresentable values
        problems.append(f"FINN cannot pack the values: {type(exc).__name__}: {exc}")
        return StreamCheck(layer, op_type, stream.port, kind, stream.dtype, stream.folded_shape,
                           stream.width, stream.beats_per_frame, frames, in_range, False, False,
                           "; ".join(problems))
    if len(beats) != frames * stream.beats_per_frame or any(b >> stream.width for b in beats):
        problems.append(f"{len(beats)} beats for {frames} frames of {stream.beats_per_frame}, "
                        f"or a beat wider than {stream.width} bits")
    reference = pack_beats(values, stream)
    layout = beats == reference
    if not layout:
        first = next((i for i, (a, b) in enumerate(zip(beats, reference, strict=False)) if a != b),
                     min(len(beats), len(reference)))
        problems.append(f"beat {first} differs between FINN's packing and the documented layout")
    restored = unpack_stream(beats, stream)
    lossless = bool(np.array_equal(restored, values.reshape(restored.shape))
                    and np.array_equal(unpack_beats(beats, stream), restored))
    if not lossless:
        problems.append("unpacking does not restore the values")
    return StreamCheck(layer, op_type, stream.port, kind, stream.dtype, stream.folded_shape,
                       stream.width, stream.beats_per_frame, frames, in_range, layout, lossless,
                       "; ".join(problems))


def check_streams(hw: HWGraph, x: np.ndarray, frames: int = 2) -> tuple[StreamCheck, ...]:
    """Check every input and output stream of every layer of the folded partition `hw` on
    the first `frames` samples of `x`, and the weight stream of every decoupled MVAU."""
    contexts = execute_frames(hw.model, partition_inputs(hw, np.asarray(x)[:frames]))
    checks = []
    for node in hw.model.graph.node:
        inputs, outputs = node_streams(node)
        for tensor, stream in zip(node.input, inputs, strict=False):
            values = np.stack([c[tensor] for c in contexts])
            checks.append(check_stream(node.name, node.op_type, stream, values))
        for tensor, stream in zip(node.output, outputs, strict=False):
            values = to_stream_order(node, np.stack([c[tensor] for c in contexts]))
            checks.append(check_stream(node.name, node.op_type, stream, values, "output"))
        weights, values = weight_stream(hw.model, node)
        if weights is not None:  # a decoupled MVAU: what its weight streamer sends, one pass
            checks.append(check_stream(node.name, node.op_type, weights, values, "weights"))
    return tuple(checks)
