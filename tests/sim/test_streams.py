"""Stream packing: FINN's beats equal the documented layout and unpack losslessly, for every
stream of the zoo's folded layers; values outside a stream's datatype are caught."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.finn.rtl import StreamInfo, pack_stream
from codesign.sim.packing import pack_beats as reference_pack
from codesign.sim.packing import unpack_beats
from codesign.sim.streams import check_stream, check_streams

# dtype, bits, low, high
TYPES = [("UINT2", 2, 0, 3), ("INT4", 4, -8, 7), ("BIPOLAR", 1, -1, 1), ("INT17", 17, -65536, 65535),
         ("BINARY", 1, 0, 1)]


def _stream(dtype: str, bits: int, low: float, high: float, folded: tuple[int, ...]) -> StreamInfo:
    width = (folded[-1] * bits + 7) // 8 * 8
    normal = (1, int(np.prod(folded[1:])))
    return StreamInfo("in0_V", width, dtype, folded, normal, bits, float(low), float(high))


def _values(dtype: str, low: float, high: float, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dtype == "BIPOLAR":
        return rng.choice([-1.0, 1.0], size=shape).astype(np.float32)
    values = rng.integers(int(low), int(high) + 1, size=shape).astype(np.float32)
    values.flat[0], values.flat[-1] = low, high  # both ends of the range
    return values


@pytest.mark.parametrize(("dtype", "bits", "low", "high"), TYPES)
@pytest.mark.parametrize("folded", [(1, 6, 4), (1, 3, 1), (1, 2, 5)])
def test_finn_packing_is_the_documented_layout(dtype: str, bits: int, low: float, high: float,
                                               folded: tuple[int, ...]) -> None:
    stream = _stream(dtype, bits, low, high, folded)
    values = _values(dtype, low, high, (3, *stream.normal_shape[1:]))
    assert pack_stream(values, stream) == reference_pack(values, stream)
    np.testing.assert_array_equal(unpack_beats(reference_pack(values, stream), stream), values)
    check = check_stream("L0", "Test", stream, values)
    assert check.passed, check.detail
    assert check.frames == 3 and check.beats_per_frame == int(np.prod(folded[:-1]))


def test_reference_layout_puts_element_zero_in_the_low_bits() -> None:
    stream = _stream("INT4", 4, -8, 7, (1, 1, 3))
    assert reference_pack(np.array([[1, -2, 3]], dtype=np.float32), stream) == [0x3E1]


@pytest.mark.parametrize(("value", "why"), [(5.0, "do not fit UINT2"), (1.5, "do not fit UINT2")])
def test_values_outside_the_datatype_are_caught(value: float, why: str) -> None:
    stream = _stream("UINT2", 2, 0, 3, (1, 2, 2))
    values = np.array([[0, 1, 2, value]], dtype=np.float32)
    check = check_stream("Thresholding_rtl_0", "Thresholding_rtl", stream, values)
    assert not check.in_range and not check.passed
    assert why in check.detail
    assert not check.lossless  # FINN's packing would wrap or truncate the value


@pytest.mark.slow
@pytest.mark.parametrize(("key", "bits", "rtl"), [("mlp-tfc", (1, 1), False),
                                                  ("cnv-small-padded", (2, 2), False),
                                                  ("mlp-tfc", (4, 4), True)])
def test_every_stream_of_the_zoo_round_trips(zoo, key: str, bits: tuple[int, int], rtl: bool) -> None:
    """Inputs, outputs and weight streams of every layer, on the values the layers see."""
    case = zoo(key, bits, mvau_rtl=rtl)
    checks = check_streams(case.hw, case.x, frames=2)
    nodes = list(case.hw.model.graph.node)
    assert {c.layer for c in checks} == {n.name for n in nodes}
    assert len(checks) >= 2 * len(nodes)  # an input and an output stream per layer at least
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    assert all(c.frames == 2 for c in checks if c.kind != "weights")
    # decoupled MVAUs: one pass over the weight memory, what the weight streamer sends
    from qonnx.custom_op.registry import getCustomOp

    decoupled = [n.name for n in nodes if n.op_type.startswith("MVAU")
                 and getCustomOp(n).get_nodeattr("mem_mode") == "internal_decoupled"]
    weights = [c for c in checks if c.kind == "weights"]
    assert decoupled and [c.layer for c in weights] == decoupled
    assert all(c.frames == 1 and c.stream == "in1_V" for c in weights)
    assert checks[0].to_dict()["passed"] is True
