"""Hardware alignment: which channel counts a layer may keep on this board.

FINN's matrix-vector units need MH % PE == 0 (the layer's outputs) and MW % SIMD == 0 (its
inputs); its sliding-window generator also needs SIMD to divide a conv's input channels. A
layer left with 61 channels folds only at PE 1 or 61, so pruning to "whatever the criterion
says" can make the hardware slower than before. Each layer therefore gets its own granularity
from the folding the board affords the model before pruning: the lcm of the producer's PE and
the part of the consumer's SIMD that spans channels (after a flatten, SIMD / gcd(SIMD, H*W)
because each channel owns H*W consecutive inputs). Counts that are multiples of it keep that
parallelism legal, so cycles fall in proportion to the channels removed."""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd, lcm

from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup
from codesign.prune.hardware import HardwareProfile

MIN_OPTIONS = 8  # a layer keeps at least this many legal counts, so it can be pruned finely


def channel_simd(group: ChannelGroup, simd: int) -> int:
    """The part of the consumer's SIMD that the producer's channel count must carry."""
    if group.consumer_kind == "linear" and group.features_per_channel > 1:
        return simd // gcd(simd, group.features_per_channel)
    return simd


def bounded(granularity: int, channels: int) -> int:
    """The largest divisor of `granularity` not above channels // MIN_OPTIONS (at least 1)."""
    limit = max(1, channels // MIN_OPTIONS)
    return max(d for d in range(1, min(granularity, limit) + 1) if granularity % d == 0)


def granularity(groups: Sequence[ChannelGroup], profile: HardwareProfile) -> dict[str, int]:
    """Per group: the channel multiple that keeps the board's folding legal (bounded)."""
    grains = {}
    for g in groups:
        producer, consumer = profile.layer(g.name), profile.layer(g.consumer)
        grains[g.name] = bounded(lcm(producer.pe, channel_simd(g, consumer.simd)), g.channels)
    return grains


def legal_counts(channels: int, grain: int) -> list[int]:
    if grain < 1:
        raise PruneError(f"granularity must be at least 1, got {grain}")
    return list(range(grain, channels + 1, grain))


def align_count(target: float, grain: int, channels: int) -> int:
    """The multiple of `grain` in [grain, channels] nearest `target` (ties: more channels)."""
    if target <= 0:
        raise PruneError(f"a layer cannot keep {target} channels; keep at least one")
    options = legal_counts(channels, grain)
    if not options:
        raise PruneError(f"no multiple of {grain} fits in {channels} channels")
    return min(options, key=lambda n: (abs(n - target), -n))
