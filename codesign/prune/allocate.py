"""Hardware-cost-aware allocation: how many channels each layer keeps in one pruning step.

Greedy and deterministic. A move removes one granularity step of channels from one layer. Its
value is the share of the board's LUTs and of the bottleneck cycles those channels account
for, in the layer itself and in the consumer whose inputs shrink with it; its cost is the
importance of the channels it would remove (normalised per layer) times the layer's accuracy
sensitivity. The best value/cost move is taken until the step's share of MACs is gone, so
channels go where hardware is spent and accuracy is cheap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup
from codesign.prune.hardware import HardwareProfile

EPSILON = 1e-12


def _hardware_share(group: ChannelGroup, profile: HardwareProfile) -> float:
    total_lut = max(EPSILON, sum(x.lut for x in profile.layers))
    share = 0.0
    for name in (group.name, group.consumer):
        layer = profile.layer(name)
        share += layer.lut / total_lut + layer.cycles / max(1, profile.max_cycles)
    return share


def _macs_per_channel(group: ChannelGroup, profile: HardwareProfile) -> float:
    producer, consumer = profile.layer(group.name), profile.layer(group.consumer)
    return (producer.macs + consumer.macs) / group.channels


def allocate(groups: Sequence[ChannelGroup], importance: Mapping[str, np.ndarray],
             profile: HardwareProfile, granularity: Mapping[str, int], remove_fraction: float,
             *, sensitivity: Mapping[str, float] | None = None,
             min_keep: Mapping[str, int] | None = None) -> dict[str, int]:
    """Kept channel counts per group after removing `remove_fraction` of the current MACs."""
    if not 0.0 < remove_fraction < 1.0:
        raise PruneError(f"remove_fraction {remove_fraction} must lie strictly between 0 and 1")
    counts = {g.name: g.channels for g in groups}
    ranked = {g.name: np.sort(np.asarray(importance[g.name], dtype=np.float64)) for g in groups}
    totals = {name: max(EPSILON, float(r.sum())) for name, r in ranked.items()}
    value = {g.name: _hardware_share(g, profile) / g.channels for g in groups}
    macs = {g.name: _macs_per_channel(g, profile) for g in groups}
    floor = {g.name: max(granularity[g.name], (min_keep or {}).get(g.name, 1)) for g in groups}
    total = sum(x.macs for x in profile.layers)
    goal = remove_fraction * total
    removed = 0.0
    while removed < goal:
        best, best_score = None, -1.0
        for g in groups:
            step = granularity[g.name]
            if counts[g.name] - step < floor[g.name]:
                continue
            gone = g.channels - counts[g.name]
            cost = float(ranked[g.name][gone:gone + step].sum()) / totals[g.name]
            cost *= (sensitivity or {}).get(g.name, 1.0)
            score = value[g.name] * step / (cost + EPSILON)
            if score > best_score:
                best, best_score = g.name, score
        if best is None:
            at_floor = ", ".join(f"{n} ({counts[n]})" for n in counts)
            raise PruneError(
                f"cannot remove {remove_fraction:.0%} of the MACs: every layer is at its minimum "
                f"({at_floor}) after removing {removed / max(1, total):.0%}. Lower the target or "
                "the per-step fraction")
        counts[best] -= granularity[best]
        removed += granularity[best] * macs[best]
    return counts
