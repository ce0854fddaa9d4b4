"""Allocation on coupled groups: a residual group's producers (one add) and consumers (one
channel set, read through forks) count once each in the cycles part of a move's value, so a
group is not worth more just because more layers touch its channels; chains and depthwise
groups value exactly as a sum over their layers (codesign/prune/allocate.py docstring)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from codesign.prune import allocate as allocate_module
from codesign.prune.allocate import allocate
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile, LayerHardware
from tests.prune.chains import tfc_like


def _layer(name: str, mh: int, mw: int, cycles: int, macs: int, lut: float) -> LayerHardware:
    return LayerHardware(layer=name, node=f"U_{name}", pe=1, simd=1, mh=mh, mw=mw, cycles=cycles,
                         macs=macs, lut=lut, bram_18k=0.0, uram=0.0, dsp=0.0)


def _profile(layers: list[LayerHardware]) -> HardwareProfile:
    return HardwareProfile(layers=tuple(layers), fps=1.0, max_cycles=max(x.cycles for x in layers),
                           totals={"LUT": sum(x.lut for x in layers)}, fits=True,
                           objective="maximize", target_fps=None,
                           estimates=SimpleNamespace(bound="compute"))  # type: ignore[arg-type]


def _group(producers: tuple[str, ...], channels: int, consumers: tuple[str, ...],
           depthwise: tuple[str, ...] = (), consumer_kind: str = "conv",
           features: tuple[int, ...] | None = None) -> ChannelGroup:
    features = features or (1,) * len(consumers)
    return ChannelGroup(name=producers[0], kind="conv", channels=channels, followers=depthwise,
                        batchnorm=None, consumer=consumers[0], consumer_kind=consumer_kind,
                        features_per_channel=features[0], producers=producers,
                        consumers=consumers, consumer_features=features, depthwise=depthwise)


def _old_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy before the lockstep rule: every layer's cycles share summed."""
    monkeypatch.setattr(allocate_module._Wiring, "lockstep_excess",
                        lambda self, g, cycles, fraction, counts: 0.0)


def _stream_and_chain(producers: int, consumers: int
                      ) -> tuple[list[ChannelGroup], HardwareProfile]:
    """A 16-channel residual stream written by `producers` layers and read by `consumers`,
    beside a 16-channel chain (q -> r). Every layer sits at the bottleneck (cycles 100); the
    extra producers and consumers hold no LUTs, and the chain's two layers hold a little more
    than the stream's first producer and consumer, so the chain frees more of the design."""
    names_p = tuple(f"p{i}" for i in range(producers))
    names_c = tuple(f"c{i}" for i in range(consumers))
    layers = [_layer(n, 16, 16, 100, 256, 10.0 if i == 0 else 0.0) for i, n in enumerate(names_p)]
    layers += [_layer(n, 16, 16, 100, 256, 10.0 if i == 0 else 0.0) for i, n in enumerate(names_c)]
    layers += [_layer("q", 16, 16, 100, 256, 11.0), _layer("r", 16, 16, 100, 256, 11.0)]
    groups = [_group(names_p, 16, names_c), _group(("q",), 16, ("r",))]
    return groups, _profile(layers)


@pytest.mark.parametrize(("producers", "consumers"), [(1, 1), (2, 1), (2, 3), (3, 3)])
def test_a_group_is_not_worth_more_for_the_number_of_layers_touching_it(
        producers: int, consumers: int) -> None:
    groups, profile = _stream_and_chain(producers, consumers)
    scores = {g.name: np.linspace(1.0, 2.0, 16) for g in groups}
    counts = allocate(groups, scores, profile, {"p0": 4, "q": 4}, 0.01)
    assert counts == {"p0": 16, "q": 12}  # the chain frees more LUTs at the same cycles


@pytest.mark.parametrize(("producers", "consumers"), [(2, 3), (3, 3)])
def test_the_old_policy_counted_every_layer_at_the_bottleneck(
        monkeypatch: pytest.MonkeyPatch, producers: int, consumers: int) -> None:
    # the same case under the summed cycles shares: the stream's extra layers, holding no
    # LUTs, made it the first move (the failure the lockstep rule removes)
    _old_policy(monkeypatch)
    groups, profile = _stream_and_chain(producers, consumers)
    scores = {g.name: np.linspace(1.0, 2.0, 16) for g in groups}
    assert allocate(groups, scores, profile, {"p0": 4, "q": 4}, 0.01) == {"p0": 12, "q": 16}


def _depthwise() -> tuple[list[ChannelGroup], HardwareProfile]:
    """pw1 -> dw1 -> pw2 -> dw2 -> pw3: two depthwise groups (one producer, one consumer)."""
    layers = [_layer("pw1", 32, 16, 900, 32 * 16 * 49, 900.0), _layer("dw1", 32, 9, 800, 32 * 9 * 49, 300.0),
              _layer("pw2", 32, 32, 1000, 32 * 32 * 49, 1200.0),
              _layer("dw2", 32, 9, 700, 32 * 9 * 49, 250.0),
              _layer("pw3", 10, 32, 400, 10 * 32 * 49, 200.0)]
    groups = [_group(("pw1",), 32, ("pw2",), depthwise=("dw1",)),
              _group(("pw2",), 32, ("pw3",), depthwise=("dw2",))]
    return groups, _profile(layers)


@pytest.mark.parametrize("case", ["tfc", "depthwise"])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7])
@pytest.mark.parametrize("give_back", [False, True])
def test_chains_and_depthwise_groups_allocate_exactly_as_before(
        monkeypatch: pytest.MonkeyPatch, case: str, fraction: float, give_back: bool) -> None:
    groups, profile = tfc_like() if case == "tfc" else _depthwise()
    rng = np.random.default_rng(int(fraction * 10))
    scores = {g.name: rng.random(g.channels) for g in groups}
    grain = {g.name: 8 if case == "tfc" else 4 for g in groups}
    new = allocate(groups, scores, profile, grain, fraction, give_back=give_back)
    _old_policy(monkeypatch)
    assert new == allocate(groups, scores, profile, grain, fraction, give_back=give_back)
