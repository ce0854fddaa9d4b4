"""Policy on coupled groups, from hand-built foldings: granularity as the lcm over every member
and consumer (VVAU PE, join/fork PE, windows), the MAC model of allocation (a residual sum cut
as one, a depthwise conv linear in its channels), and FINN units matched to layers by shape."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from codesign.errors import CompileError, PruneError
from codesign.prune.alignment import alignments, granularity
from codesign.prune.allocate import allocate, remaining_macs
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile, LayerHardware, attribute


def _layer(name: str, pe: int, simd: int, mh: int, mw: int, folds: tuple[int, ...] = (),
           macs: int | None = None, lut: float = 100.0) -> LayerHardware:
    return LayerHardware(layer=name, node=f"U_{name}", pe=pe, simd=simd, mh=mh, mw=mw,
                         cycles=mh * mw // (pe * simd), macs=mh * mw if macs is None else macs,
                         lut=lut, bram_18k=0.0, uram=0.0, dsp=0.0, channel_folds=folds)


def _profile(*layers: LayerHardware) -> HardwareProfile:
    return HardwareProfile(layers=layers, fps=1.0, max_cycles=max(x.cycles for x in layers),
                           totals={"LUT": sum(x.lut for x in layers)}, fits=True,
                           objective="maximize", target_fps=None, estimates=None)  # type: ignore[arg-type]


def _group(producers: tuple[str, ...], channels: int, consumers: tuple[str, ...],
           features: tuple[int, ...] | None = None, depthwise: tuple[str, ...] = ()
           ) -> ChannelGroup:
    features = features or (1,) * len(consumers)
    return ChannelGroup(name=producers[0], kind="conv", channels=channels, followers=depthwise,
                        batchnorm=None, consumer=consumers[0], consumer_kind="conv",
                        features_per_channel=features[0], producers=producers,
                        consumers=consumers, consumer_features=features, depthwise=depthwise)


def test_a_residual_group_aligns_to_every_member_and_consumer() -> None:
    # 64-channel residual stream: the stem (PE 2) and a block's second conv (PE 4, then the join
    # at PE 8) write it; a 3x3 conv (SIMD 18 over 9 pixels: 2 channels) and a 1x1 projection
    # (SIMD 16 over channels) read it. The first producer/consumer alone would ask for lcm 2.
    group = _group(("stem", "conv2"), 64, ("conv1", "proj"))
    profile = _profile(_layer("stem", 2, 9, 64, 9), _layer("conv2", 4, 8, 64, 576, folds=(8,)),
                       _layer("conv1", 4, 18, 64, 576), _layer("proj", 4, 16, 128, 64))
    (row,) = alignments([group], profile)
    assert (row.pe, row.between, row.channel_simd, row.required) == (4, (8,), 16, 16)
    assert row.consumer_simd == 18 and row.inputs_per_channel == 9  # the first consumer's
    assert granularity([group], profile) == {"stem": 8}  # 64 channels: bounded to 64 // 8


def test_a_depthwise_conv_aligns_its_producers_channels_to_the_vvau_pe() -> None:
    # pointwise (PE 4) -> depthwise VVAU (PE 16 over channels, SIMD 9 over the 3x3 window,
    # which does not constrain channels) -> pointwise (SIMD 8)
    group = _group(("pw1",), 128, ("pw2",), depthwise=("dw",))
    profile = _profile(_layer("pw1", 4, 8, 128, 64), _layer("dw", 16, 9, 128, 9),
                       _layer("pw2", 8, 8, 128, 128))
    (row,) = alignments([group], profile)
    assert (row.pe, row.required, row.granularity) == (16, 16, 16)


def test_a_profile_out_of_date_for_a_member_names_it() -> None:
    group = _group(("stem", "conv2"), 64, ("conv1",))
    profile = _profile(_layer("stem", 2, 9, 64, 9), _layer("conv2", 4, 8, 48, 576),
                       _layer("conv1", 4, 18, 64, 576))
    with pytest.raises(PruneError, match=r"48 outputs for conv2, the model 64 channels for "
                                         r"stem \+ conv2; profile the model after"):
        alignments([group], profile)


def _resnet_like() -> tuple[list[ChannelGroup], HardwareProfile]:
    """stem -> [conv1 -> conv2] + stem -> classifier: the stream (stem, conv2) is one group."""
    groups = [_group(("stem", "conv2"), 16, ("conv1", "cls"), (1, 4)),
              _group(("conv1",), 16, ("conv2",))]
    profile = _profile(_layer("stem", 1, 1, 16, 9, macs=1000), _layer("conv1", 1, 1, 16, 144,
                       macs=4000), _layer("conv2", 1, 1, 16, 144, macs=4000),
                       _layer("cls", 1, 1, 10, 64, macs=640))
    return groups, profile


def test_remaining_macs_of_a_residual_group_scale_every_member_and_consumer() -> None:
    groups, profile = _resnet_like()
    got = remaining_macs(groups, profile, {"stem": 8, "conv1": 4})
    # stem: out 1/2; conv1: out 1/4, in 1/2; conv2: out 1/2, in 1/4; cls: in 1/2
    assert got == pytest.approx(1000 / 2 + 4000 / 8 + 4000 / 8 + 640 / 2)


def test_a_depthwise_conv_scales_once_with_its_channels() -> None:
    group = _group(("pw1",), 8, ("pw2",), depthwise=("dw",))
    profile = _profile(_layer("pw1", 1, 1, 8, 8, macs=640), _layer("dw", 1, 1, 8, 9, macs=720),
                       _layer("pw2", 1, 1, 8, 8, macs=640))
    assert remaining_macs([group], profile, {"pw1": 4}) == pytest.approx(320 + 360 + 320)


def test_allocation_cuts_a_residual_group_as_one() -> None:
    groups, profile = _resnet_like()
    scores = {g.name: np.linspace(1.0, 2.0, g.channels) for g in groups}
    counts = allocate(groups, scores, profile, {"stem": 4, "conv1": 4}, 0.5)
    assert set(counts) == {"stem", "conv1"} and all(c % 4 == 0 for c in counts.values())
    assert remaining_macs(groups, profile, counts) <= 0.5 * 9640 * (1 + 1e-9)


def test_a_layer_reading_two_groups_is_refused() -> None:
    groups = [_group(("a",), 8, ("c",)), _group(("b",), 8, ("c",))]
    profile = _profile(_layer("a", 1, 1, 8, 4), _layer("b", 1, 1, 8, 4), _layer("c", 1, 1, 4, 8))
    with pytest.raises(PruneError, match="c consumes groups a and b"):
        allocate(groups, {"a": np.ones(8), "b": np.ones(8)}, profile, {"a": 1, "b": 1}, 0.2)


def _unit(name: str, op: str, dims: dict) -> SimpleNamespace:
    return SimpleNamespace(name=name, op_type=op, dims=dims, pe=1, simd=1, cycles=10, lut=1.0,
                           bram_18k=0.0, uram=0.0, dsp=0.0, macs=1)


def test_units_are_matched_to_layers_by_shape_across_branches() -> None:
    # FINN orders a projection block's 1x1 shortcut before its 3x3 conv; torch after it
    est = SimpleNamespace(layers=[
        _unit("MVAU_0", "MVAU_hls", {"MH": 16, "MW": 8}),
        _unit("Pad", "FMPadding_rtl", {}),
        _unit("MVAU_1", "MVAU_hls", {"MH": 16, "MW": 72}),
        _unit("VVAU_0", "VVAU_hls", {"Channels": 16, "Kernel_h": 3, "Kernel_w": 3})])
    dims = {"conv1": (16, 72), "dw": (16, 9), "shortcut": (16, 8)}
    rows = attribute(est, ["conv1", "dw", "shortcut"], dims)  # type: ignore[arg-type]
    assert [(r.layer, r.node, r.mh, r.mw) for r in rows] == [
        ("conv1", "MVAU_1", 16, 72), ("dw", "VVAU_0", 16, 9), ("shortcut", "MVAU_0", 16, 8)]
    assert rows[2].nodes == ("MVAU_0", "Pad")
    with pytest.raises(CompileError, match=r"MVAU_1 is 16x72 .* no weight layer left"):
        attribute(est, ["conv1", "dw", "shortcut"],  # type: ignore[arg-type]
                  {**dims, "conv1": (16, 36)})
