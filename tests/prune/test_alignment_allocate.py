"""Hardware alignment rules and the hardware-cost-aware allocation, on hand-built profiles."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.errors import PruneError
from codesign.prune.alignment import align_count, bounded, channel_simd, granularity, legal_counts
from codesign.prune.allocate import allocate
from codesign.prune.graph import ChannelGroup
from codesign.prune.hardware import HardwareProfile, LayerHardware


def _layer(name: str, pe: int, simd: int, mh: int, mw: int, cycles: int, lut: float
           ) -> LayerHardware:
    return LayerHardware(layer=name, node=f"MVAU_{name}", pe=pe, simd=simd, mh=mh, mw=mw,
                         cycles=cycles, macs=mh * mw, lut=lut, bram_18k=0, uram=0, dsp=0)


def _profile(*layers: LayerHardware) -> HardwareProfile:
    return HardwareProfile(layers=layers, fps=1.0, max_cycles=max(x.cycles for x in layers),
                           totals={"LUT": sum(x.lut for x in layers)}, fits=True,
                           objective="maximize", target_fps=None, estimates=None)  # type: ignore


def _group(name: str, channels: int, consumer: str, kind: str = "linear", per: int = 1,
           consumer_kind: str = "linear") -> ChannelGroup:
    return ChannelGroup(name=name, kind=kind, channels=channels, followers=(), batchnorm=None,
                        consumer=consumer, consumer_kind=consumer_kind, features_per_channel=per)


@pytest.mark.parametrize(("simd", "per", "consumer_kind", "expected"), [
    (16, 1, "linear", 16),  # linear -> linear: the whole SIMD spans channels
    (16, 64, "linear", 1),  # SIMD inside one channel's 8x8 pixels: any count works
    (16, 25, "linear", 16),  # 5x5 pixels, SIMD 16: gcd 1, channels must carry all of it
    (12, 4, "linear", 3),
    (8, 1, "conv", 8),  # the sliding window needs SIMD | input channels
])
def test_channel_part_of_the_consumer_simd(simd: int, per: int, consumer_kind: str,
                                            expected: int) -> None:
    group = _group("a", 64, "b", per=per, consumer_kind=consumer_kind)
    assert channel_simd(group, simd) == expected


def test_granularity_is_per_layer_from_pe_and_simd_and_bounded() -> None:
    groups = [_group("l0", 64, "l1"), _group("l1", 64, "l2"), _group("l2", 16, "cls")]
    profile = _profile(_layer("l0", 4, 49, 64, 784, 100, 1000),
                       _layer("l1", 2, 8, 64, 64, 100, 100),
                       _layer("l2", 16, 32, 16, 64, 100, 100), _layer("cls", 1, 16, 10, 16, 1, 10))
    grains = granularity(groups, profile)
    # l0: lcm(PE 4, next SIMD 8) = 8; l1: lcm(2, 32) = 32 bounded to 64 // 8 = 8;
    # l2: lcm(16, 16) = 16 bounded to 16 // 8 = 2
    assert grains == {"l0": 8, "l1": 8, "l2": 2}
    assert all(64 % g == 0 for g in grains.values())


@pytest.mark.parametrize(("grain", "channels", "expected"), [
    (32, 64, 8), (12, 64, 6), (7, 64, 7), (5, 16, 1), (16, 4, 1)])
def test_bound_is_a_divisor_leaving_room_to_prune(grain: int, channels: int, expected: int) -> None:
    got = bounded(grain, channels)
    assert got == expected and grain % got == 0 and got <= max(1, channels // 8)


@pytest.mark.parametrize(("target", "grain", "channels", "expected"), [
    (25, 8, 64, 24), (28, 8, 64, 32), (3, 8, 64, 8), (70, 8, 64, 64), (61, 1, 64, 61)])
def test_align_count(target: float, grain: int, channels: int, expected: int) -> None:
    assert align_count(target, grain, channels) == expected
    assert expected in legal_counts(channels, grain)


@pytest.mark.parametrize(("target", "grain"), [(0, 8), (-3, 8), (10, 0)])
def test_align_count_rejects_nonsense(target: float, grain: int) -> None:
    with pytest.raises(PruneError):
        align_count(target, grain, 64)


def _two_layer_case() -> tuple[list[ChannelGroup], HardwareProfile]:
    groups = [_group("big", 64, "small"), _group("small", 64, "cls")]
    profile = _profile(_layer("big", 8, 16, 64, 784, 1000, 20000),
                       _layer("small", 8, 8, 64, 64, 100, 500),
                       _layer("cls", 1, 8, 10, 64, 80, 100))
    return groups, profile


def test_allocation_prunes_where_hardware_is_spent() -> None:
    groups, profile = _two_layer_case()
    flat = {g.name: np.ones(64) for g in groups}
    counts = allocate(groups, flat, profile, {"big": 8, "small": 8}, 0.3)
    assert counts["big"] < 64 and counts["small"] == 64
    assert all(c % 8 == 0 and c >= 8 for c in counts.values())
    removed = (64 - counts["big"]) * (784 + 64)
    assert removed >= 0.3 * sum(x.macs for x in profile.layers)


def test_sensitivity_and_importance_protect_a_layer() -> None:
    groups, profile = _two_layer_case()
    flat = {g.name: np.ones(64) for g in groups}
    protected = allocate(groups, flat, profile, {"big": 8, "small": 8}, 0.05,
                         sensitivity={"big": 1e6, "small": 1.0})
    assert protected["big"] == 64 and protected["small"] < 64


def test_unreachable_fraction_says_why() -> None:
    groups, profile = _two_layer_case()
    flat = {g.name: np.ones(64) for g in groups}
    with pytest.raises(PruneError, match="minimum"):
        allocate(groups, flat, profile, {"big": 32, "small": 32}, 0.9)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_bad_fraction(fraction: float) -> None:
    groups, profile = _two_layer_case()
    with pytest.raises(PruneError, match="between 0 and 1"):
        allocate(groups, {g.name: np.ones(64) for g in groups}, profile,
                 {"big": 8, "small": 8}, fraction)
