"""Hand-built channel groups and hardware profiles of MLP chains, for allocation and search
tests that need no FINN compile."""

from __future__ import annotations

import numpy as np

from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile, LayerHardware

NAMES = ("l0", "l1", "l2", "cls")


def chain(widths: tuple[int, ...], lut: tuple[float, ...], cycles: tuple[int, ...]
          ) -> tuple[list[ChannelGroup], HardwareProfile]:
    """An MLP in -> widths[1] -> ... -> widths[-1]; every layer but the last is a group."""
    names = NAMES[:len(widths) - 2] + ("cls",)
    layers = tuple(LayerHardware(layer=n, node=f"MVAU_{i}", pe=1, simd=1, mh=widths[i + 1],
                                 mw=widths[i], cycles=cycles[i], macs=widths[i] * widths[i + 1],
                                 lut=lut[i], bram_18k=0.0, uram=0.0, dsp=0.0)
                   for i, n in enumerate(names))
    groups = [ChannelGroup(name=n, kind="linear", channels=widths[i + 1], followers=(),
                           batchnorm=None, consumer=names[i + 1], consumer_kind="linear",
                           features_per_channel=1) for i, n in enumerate(names[:-1])]
    profile = HardwareProfile(layers=layers, fps=1.0, max_cycles=max(cycles),
                              totals={"LUT": sum(lut)}, fits=True, objective="maximize",
                              target_fps=None, estimates=None)  # type: ignore[arg-type]
    return groups, profile


def tfc_like() -> tuple[list[ChannelGroup], HardwareProfile]:
    # TFC-W2A2 as folded for pynq-z2: the first layer holds 91 % of the LUTs and the bottleneck
    return chain((784, 64, 64, 64, 10), (30754, 1281, 1308, 442), (98, 64, 64, 80))


def flat(groups: list[ChannelGroup]) -> dict[str, np.ndarray]:
    return {g.name: np.ones(g.channels) for g in groups}
