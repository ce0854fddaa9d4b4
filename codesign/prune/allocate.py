"""Hardware-cost-aware allocation: how many channels each layer keeps in one pruning step.

Greedy and deterministic. A move takes one group down to its next aligned count (one
granularity step; the first move of a count that is not a multiple goes to the multiple just
below). Its value is the share of the design it frees: the removed channels' fraction of the
producer's and of the consumer's LUTs (as a share of the total) and cycles (as a share of the
bottleneck's), i.e. step / channels * (lut_share + cycles_share) for both layers. Its cost is
the importance of the channels it removes (the lowest remaining scores, normalised by the
group's total) times the group's accuracy sensitivity, plus a tiny epsilon. The move with the
best value / cost is taken (ties: the earlier group) until `remove_fraction` of the model's MACs
is gone, so channels go where the hardware is spent and accuracy is cheap.

MACs and shares are taken from the hardware profile (FINN counts an MVAU's MACs per frame,
MH * MW * output pixels, the same as the torch layer's) and scaled with the current kept
fractions: a layer's MACs, LUTs and cycles are modelled as proportional to its kept input and
output channels. So after a group shrinks, its consumer frees less per channel, and the MACs
removed are exact, not the first move's estimate repeated. No group goes below
max(granularity, min_keep) channels, so no layer is pruned to zero; a group that loses nothing
keeps its count as it was.

Policy "criterion" is the hardware-blind baseline: the same greedy loop, but every channel is
worth the same and its cost is its score over the L2 norm of its layer's scores (the per-layer
normalisation of global Taylor ranking), so channels go in global order of normalised
importance, wherever their MACs, LUTs and cycles are.

A coupled group frees the removed channels' share of every member (each producer of a residual
sum scaled by its kept inputs; a depthwise conv, whose MACs are linear in its channels, fully)
and of every consumer (scaled by its kept outputs). A chain group is the one-member case.

LUTs add up over a group's layers; the pipeline's bottleneck does not. A residual group's
channel set is one stream: its producers write it into the same adds (an add takes one word
from each operand at a time) and its consumers read it through forks (a fork hands each word
to all its readers at once), with the skip paths linking those adds and forks. So each side of
the stream moves in lockstep and is as fast as its slowest layer; cutting the group's channels
speeds a side up by the removed fraction of that slowest layer's cycles share, once. The cycles
part of a group's value therefore counts its producers once, at the largest of their
(kept-input scaled) shares, and its consumers once, at the largest of theirs; LUTs stay summed
over every layer, and a depthwise conv (its own output stream, in series after its producer)
counts as before. A chain group (one producer, one consumer) and a producer with its depthwise
conv value exactly as they did (the correction is 0.0 for a side of one layer). Summing the
cycles shares counted one pipeline interval once per layer: with a folding balanced for the
caps every weight layer sits at the bottleneck (ResNet-8 on Pynq-Z2: 8 of 10 MVAUs at share
1.00, the 1x1 projections at 0.89), so the cycles value of a move was the number of layers it
touches, 4.89 for the stem's residual group (2 producers, 3 consumers) against 2.00 for a
chain, and its value / cost came out at 11.2 against 4.5-7.4 for every other group: the
allocation cut that group from 16 to 4 channels on every seed (seed 0's first move; its raw
Taylor score per channel, 1.9e-4, is 3-4x the last stage's; benchmarks/pruning_families.py).
The cost side needed no group rule: a group's member scores are reduced to one per channel
(importance.py) and normalised by the group's total like a single layer's, so the reduction's
scale (mean or sum over members) cancels; what differed for groups was only the value.

Give back (`give_back=True`): a move is a whole granule, so the last one can overshoot the
fraction by far (TFC's first layer: one granule of 8 channels is 11 % of the MACs), and the
moves taken before it, often in cheaper layers, may then no longer be needed. Afterwards,
granules come back one at a time, the one with the lowest value / cost first (the move the loop
would have taken last), while the MACs removed still reach the fraction; ceilings and pinned
counts stay. The schedule's `prune.plan` allocates its whole target this way, and the schedule's
criterion allocation every step: its moves are single channels, yet one channel of ResNet-8's
28x28 stream is ~2.5 % of the MACs, and without giving back the baseline removed up to 1.8
points more than the aligned run it was matched to (pruning_families, EPYC seed 3)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile

EPSILON = 1e-12
POLICIES = ("hardware", "criterion")


def _check_inputs(groups: Sequence[ChannelGroup], importance: Mapping[str, np.ndarray],
                  profile: HardwareProfile, granularity: Mapping[str, int],
                  sensitivity: Mapping[str, float], min_keep: Mapping[str, int]) -> None:
    names = {g.name for g in groups}
    for label, mapping in (("sensitivity", sensitivity), ("min_keep", min_keep)):
        unknown = sorted(set(mapping) - names)
        if unknown:
            raise PruneError(f"{label} names {', '.join(unknown)}, which are not prunable groups "
                             f"({', '.join(sorted(names))})")
    fed: dict[str, str] = {}
    for g in groups:
        for member in g.members:
            mh = profile.layer(member).mh
            if mh != g.channels:
                raise PruneError(f"the hardware profile has {mh} outputs for {member} but the "
                                 f"model has {g.channels}; profile the model after its latest "
                                 "surgery")
        for consumer in g.consumers:
            if fed.setdefault(consumer, g.name) != g.name:
                raise PruneError(f"{consumer} consumes groups {fed[consumer]} and {g.name}; "
                                 "a layer reads one channel set")
        scores = np.asarray(importance.get(g.name, np.empty(0)), dtype=np.float64)
        if scores.shape != (g.channels,):
            raise PruneError(f"importance of {g.name} has shape {scores.shape}, expected one "
                             f"score per channel ({g.channels},)")
        if not np.all(np.isfinite(scores)) or np.any(scores < 0):
            raise PruneError(f"importance of {g.name} must be finite and non-negative")
        step = granularity.get(g.name)
        if not isinstance(step, int | np.integer) or step < 1:
            raise PruneError(f"granularity of {g.name} must be an integer >= 1, got {step!r}")
        weight = sensitivity.get(g.name, 1.0)
        if not (math.isfinite(weight) and weight > 0):
            raise PruneError(f"sensitivity of {g.name} must be positive and finite, got {weight}")
        if min_keep.get(g.name, 1) < 1:
            raise PruneError(f"min_keep of {g.name} must be at least 1 (no layer goes to zero)")


def allocate(groups: Sequence[ChannelGroup], importance: Mapping[str, np.ndarray],
             profile: HardwareProfile, granularity: Mapping[str, int], remove_fraction: float,
             *, sensitivity: Mapping[str, float] | None = None,
             min_keep: Mapping[str, int] | None = None,
             policy: str = "hardware",
             ceiling: Mapping[str, int] | None = None,
             pinned: Mapping[str, int] | None = None,
             give_back: bool = False) -> dict[str, int]:
    """Kept channel counts per group after removing `remove_fraction` of the profile's MACs.

    `groups` and `profile` must describe the same (current) model; `importance` holds one
    non-negative score per channel (higher = keep); counts are multiples of `granularity`.
    `policy`: "hardware" (the module docstring) or "criterion" (hardware-blind baseline).
    `ceiling`: groups forced down to at most that many channels (the aligned count at or below
    it) before the greedy loop; their MACs count towards the fraction, so the loop takes that
    much less elsewhere (how the fold search trades channels between layers).
    `pinned`: groups set to exactly that many channels, aligned or not, and left there by the
    loop (a count the fold search derived from the folding arithmetic); their MACs count too.
    `give_back`: after the loop, return granules while the fraction still holds (module
    docstring), so a coarse last move does not strand channels the fraction never needed."""
    if not (isinstance(remove_fraction, numbers.Real) and 0.0 < remove_fraction < 1.0):
        raise PruneError(f"remove_fraction {remove_fraction} must lie strictly between 0 and 1")
    if policy not in POLICIES:
        raise PruneError(f"allocation policy {policy!r} is not one of {', '.join(POLICIES)}")
    sensitivity, min_keep = dict(sensitivity or {}), dict(min_keep or {})
    _check_inputs(groups, importance, profile, granularity, sensitivity, min_keep)

    total_lut = sum(x.lut for x in profile.layers)
    cycles = {x.layer: x.cycles / max(1, profile.max_cycles) for x in profile.layers}
    share = {x.layer: (x.lut / total_lut if total_lut > 0 else 0.0) + cycles[x.layer]
             for x in profile.layers}
    macs = {x.layer: float(x.macs) for x in profile.layers}
    total_macs = sum(macs.values())
    if total_macs <= 0:
        raise PruneError("the hardware profile counts no MACs; profile the model with FINN")
    wiring = _Wiring(groups)
    channels = {g.name: g.channels for g in groups}
    counts = dict(channels)
    ranked = {g.name: np.sort(np.asarray(importance[g.name], dtype=np.float64)) for g in groups}
    norm = {n: float(r.sum() if policy == "hardware" else np.sqrt(np.square(r).sum()))
            for n, r in ranked.items()}
    floor = {n: max(int(granularity[n]), min_keep.get(n, 1)) for n in channels}

    def freed(g: ChannelGroup, table: Mapping[str, float], fraction: float) -> float:
        return wiring.freed(g, table, fraction, counts)

    goal = remove_fraction * total_macs
    removed = 0.0

    def move_score(g: ChannelGroup, low: int, high: int) -> float:
        """value / cost of taking `g` from `high` down to `low` channels (the loop's measure)."""
        gone = channels[g.name] - high
        cost = _lost_share(ranked[g.name], norm[g.name], gone, gone + high - low)
        cost = cost * sensitivity.get(g.name, 1.0) + EPSILON
        saved = {**counts, g.name: high}
        fraction = (high - low) / channels[g.name]
        value = (wiring.freed(g, share, fraction, saved)
                 - wiring.lockstep_excess(g, cycles, fraction, saved)
                 if policy == "hardware" else high - low)
        return value / cost
    forced = sorted([(n, v, False) for n, v in (ceiling or {}).items()]
                    + [(n, v, True) for n, v in (pinned or {}).items()])
    for name, limit, exact in forced:
        label = "pinned count" if exact else "ceiling"
        if name not in counts:
            raise PruneError(f"{label} names {name}, which is not a prunable group "
                             f"({', '.join(sorted(counts))})")
        if name in (ceiling or {}) and name in (pinned or {}):
            raise PruneError(f"{name} has both a ceiling and a pinned count; give one")
        step = int(granularity[name])
        target = min(counts[name], int(limit) if exact else int(limit) // step * step)
        least = max(1, min_keep.get(name, 1)) if exact else floor[name]
        if target < least or (exact and int(limit) > counts[name]):
            raise PruneError(f"{label} {limit} for {name} is outside what it may keep "
                             f"({least} to {counts[name]} channels: granularity, min_keep and "
                             "its current count); no layer goes below its minimum")
        group = next(g for g in groups if g.name == name)
        removed += freed(group, macs, (counts[name] - target) / channels[name])
        counts[name] = target
        if exact:  # the loop's next count would go below this floor: a pinned group stays
            floor[name] = target
    while removed < goal * (1 - 1e-12):
        best: tuple[float, ChannelGroup, int] | None = None
        for g in groups:
            step = int(granularity[g.name])
            target = (counts[g.name] - 1) // step * step
            if target < floor[g.name]:
                continue
            score = move_score(g, target, counts[g.name])
            if best is None or score > best[0]:
                best = (score, g, target)
        if best is None:
            raise PruneError(_shortfall(remove_fraction, removed, total_macs, counts, floor))
        _, g, target = best
        removed += freed(g, macs, (counts[g.name] - target) / channels[g.name])
        counts[g.name] = target
    if give_back:
        removed = _give_back(groups, counts, channels, granularity, forced, removed, goal,
                             move_score, lambda g, f: freed(g, macs, f))
    return counts


def _lost_share(ranked: np.ndarray, norm: float, start: int, stop: int) -> float:
    """The scores ranked[start:stop] (ascending) over the group's norm: what removing those
    channels costs before the group's sensitivity."""
    return float(ranked[start:stop].sum()) / norm if norm > 0 else 0.0


def importance_lost(groups: Sequence[ChannelGroup], importance: Mapping[str, np.ndarray],
                    counts: Mapping[str, int], sensitivity: Mapping[str, float] | None = None
                    ) -> float:
    """What cutting every group to `counts` costs in the hardware allocation's measure: per
    group, its lowest (channels - count) scores over the group's total, times its sensitivity
    (the greedy loop's move costs summed, without their epsilon)."""
    total = 0.0
    for g in groups:
        ranked = np.sort(np.asarray(importance[g.name], dtype=np.float64))
        lost = _lost_share(ranked, float(ranked.sum()), 0, g.channels - int(counts[g.name]))
        total += lost * (sensitivity or {}).get(g.name, 1.0)
    return total


def _give_back(groups: Sequence[ChannelGroup], counts: dict[str, int],
               channels: Mapping[str, int], granularity: Mapping[str, int],
               forced: Sequence[tuple[str, int, bool]], removed: float, goal: float,
               move_score: Callable[[ChannelGroup, int, int], float],
               freed: Callable[[ChannelGroup, float], float]) -> float:
    """Return one granule at a time, the one the greedy loop would have taken last (lowest
    value / cost), while the MACs removed still reach `goal`; forced groups stay as forced.
    Updates `counts`; returns the MACs then removed."""
    fixed = {name for name, _, _ in forced}
    while True:
        best: tuple[float, ChannelGroup, int, float] | None = None
        for g in groups:
            if g.name in fixed or counts[g.name] >= channels[g.name]:
                continue
            step = int(granularity[g.name])
            target = min(channels[g.name], (counts[g.name] // step + 1) * step)
            back = freed(g, (target - counts[g.name]) / channels[g.name])
            if removed - back < goal * (1 - 1e-12):
                continue
            score = move_score(g, counts[g.name], target)
            if best is None or score < best[0]:
                best = (score, g, target, back)
        if best is None:
            return removed
        _, g, target, back = best
        removed -= back
        counts[g.name] = target


def _shortfall(fraction: float, removed: float, total: float, counts: Mapping[str, int],
               floor: Mapping[str, int]) -> str:
    at_minimum = ", ".join(f"{n} at {counts[n]} (minimum {floor[n]})" for n in counts)
    return (f"cannot remove {fraction:.1%} of the MACs ({fraction * total:,.0f} of "
            f"{total:,.0f}): with every layer at its minimum only {removed / total:.1%} can go, "
            f"short by {(fraction * total - removed) / total:.1%} ({fraction * total - removed:,.0f}"
            f" MACs). Layers at their minimum: {at_minimum}. Lower the fraction, or min_keep (a "
            "flow's prune.max_layer_sparsity: raise it), or the granularity (align: false)")


class _Wiring:
    """Which group each layer writes (producers, depthwise convs) and reads (consumers)."""

    def __init__(self, groups: Sequence[ChannelGroup]) -> None:
        self.channels = {g.name: g.channels for g in groups}
        self.writes = {m: g.name for g in groups for m in g.members}
        self.reads = {c: g.name for g in groups for c in g.consumers}
        self.depthwise = {d for g in groups for d in g.depthwise}

    def kept(self, group: str | None, counts: Mapping[str, int]) -> float:
        return counts[group] / self.channels[group] if group else 1.0

    def scale(self, layer: str, counts: Mapping[str, int]) -> float:
        """A layer's kept share: kept outputs x kept inputs (a depthwise conv's are one set)."""
        out = self.kept(self.writes.get(layer), counts)
        return out if layer in self.depthwise else out * self.kept(self.reads.get(layer), counts)

    def freed(self, g: ChannelGroup, table: Mapping[str, float], fraction: float,
              counts: Mapping[str, int]) -> float:
        # members lose output rows (scaled by their kept inputs), consumers input columns
        rows = sum(table[m] * (1.0 if m in self.depthwise
                               else self.kept(self.reads.get(m), counts)) for m in g.members)
        columns = sum(table[c] * self.kept(self.writes.get(c), counts) for c in g.consumers)
        return fraction * (rows + columns)

    def lockstep_excess(self, g: ChannelGroup, cycles: Mapping[str, float], fraction: float,
                        counts: Mapping[str, int]) -> float:
        """What `freed` over-counts of the cycles shares (module docstring): per side (the
        producers of one sum, the consumers of one channel set) the sum over its layers minus
        its largest; exactly 0.0 for a side of one layer (a chain, a depthwise group)."""
        def excess(shares: list[float]) -> float:
            return sum(shares) - max(shares) if len(shares) > 1 else 0.0

        rows = [cycles[m] * self.kept(self.reads.get(m), counts) for m in g.producers]
        columns = [cycles[c] * self.kept(self.writes.get(c), counts) for c in g.consumers]
        return fraction * (excess(rows) + excess(columns))


def remaining_macs(groups: Sequence[ChannelGroup], profile: HardwareProfile,
                   counts: Mapping[str, int]) -> float:
    """The profile's MACs with each group cut to `counts`: a layer's MACs scale with its kept
    output and input channels (the model `allocate` counts with)."""
    wiring = _Wiring(groups)
    return sum(float(x.macs) * wiring.scale(x.layer, counts) for x in profile.layers)


def granule_luts(groups: Sequence[ChannelGroup], profile: HardwareProfile,
                 granularity: Mapping[str, int], counts: Mapping[str, int]) -> dict[str, float]:
    """The LUTs one granule of each group would free at `counts` (the proportional model
    `allocate` counts with: the removed channels' share of every member's and consumer's LUTs);
    0.0 for a group already at one granule or below."""
    wiring = _Wiring(groups)
    lut = {x.layer: x.lut for x in profile.layers}
    return {g.name: (wiring.freed(g, lut, int(granularity[g.name]) / g.channels, counts)
                     if counts[g.name] > int(granularity[g.name]) else 0.0) for g in groups}


def allocate_uniform(groups: Sequence[ChannelGroup], profile: HardwareProfile,
                     granularity: Mapping[str, int], remove_fraction: float, *,
                     min_keep: Mapping[str, int] | None = None) -> dict[str, int]:
    """The classic baseline: every layer keeps the same fraction of its channels (rounded to
    its granularity, at least one step, and at least `min_keep` rounded up to it), the largest
    fraction that removes `remove_fraction` of the MACs. Blind to where the hardware is spent;
    for comparisons (`allocation: uniform`)."""
    if not (isinstance(remove_fraction, numbers.Real) and 0.0 < remove_fraction < 1.0):
        raise PruneError(f"remove_fraction {remove_fraction} must lie strictly between 0 and 1")
    channels = {g.name: g.channels for g in groups}
    total = sum(float(x.macs) for x in profile.layers)
    least = {}  # min_keep rounded up to the granularity: every count stays a multiple
    for name in channels:
        step = int(granularity[name])
        least[name] = math.ceil(max(1, (min_keep or {}).get(name, 1)) / step) * step

    def counts_at(keep: float) -> dict[str, int]:
        out = {}
        for name, c in channels.items():
            step = int(granularity[name])
            out[name] = min(c, max(least[name], int(round(c * keep / step)) * step))
        return out

    def remaining(counts: Mapping[str, int]) -> float:
        return remaining_macs(groups, profile, counts)

    for step in range(1000, 0, -1):
        counts = counts_at(step / 1000)
        if remaining(counts) <= (1 - remove_fraction) * total * (1 + 1e-12):
            return counts
    raise PruneError(_shortfall(remove_fraction, total - remaining(counts_at(0.0)), total,
                                counts_at(0.0), least))
