"""Hardware alignment: which channel counts a layer may keep on this board.

FINN's matrix-vector unit (MVAU) computes MH outputs from MW inputs with PE output lanes and
SIMD input lanes, and needs MH % PE == 0 and MW % SIMD == 0; the nodes a layer's channels pass
through on the way to the next MVAU (thresholds, sliding-window generators, pools) fold over
channels too and need their PE/SIMD to divide the channel count. So the parallelism a layer can
use depends on how many channels it keeps: a layer left with 61 channels folds only at PE 1 or
61 (61 is prime), and pruning to whatever the criterion says can make the design slower or
larger than before. Each layer therefore gets its own granularity, a channel multiple that keeps
legal the folding the board affords the model before pruning.

The rule, per channel group (producer P with C channels, consumer Q):

1. required = lcm(PE of P's MVAU, the PE/SIMD of every node between P and Q, the part of Q's
   SIMD that spans P's channels). Q's MVAU has MW = C * n inputs, n = MW / C inputs per
   channel: 1 for a linear fed directly, K*K for a conv, H*W for a linear after a flatten. Then
   SIMD | C * n  <=>  SIMD / gcd(SIMD, n) | C, so only that part constrains the channel count.
   (Measured: FINN gives a 3x3 conv on 8 channels SIMD 72 = MW, with its sliding-window
   generator at SIMD 8; the generator's own SIMD | C_in enters through the nodes between.)
2. bound: at most C // MIN_OPTIONS, so a wide layer keeps at least MIN_OPTIONS legal counts
   and can be pruned in fine steps (64 channels: steps of 8), but never below NARROW_GRAIN
   (capped at C // 2) on narrow layers, where C // MIN_OPTIONS would mean no alignment at all
   (16 channels: steps of 4). If required exceeds the bound it becomes its largest
   divisor within it: multiples of a divisor of required still admit that divisor as PE / SIMD
   part, the most parallelism that stays legal at every count (a power of two would not divide
   e.g. 12 or 9). At least 1.

Counts that are multiples of the granularity keep that parallelism legal, so cycles fall in
proportion to the channels removed instead of jumping to a narrow folding.

A coupled group takes the lcm over all its members and consumers: the PE of every producer's
MVAU and of every depthwise conv's VVAU (PE lanes over channels; its SIMD spans the kernel
window, not channels), the PE/SIMD of every node charged to them (the residual join
(ElementwiseAdd) and fork (DuplicateStreams) PE, the thresholds after a join, pools, 1-D and
2-D sliding windows and paddings: all fold over the group's channels), and the channel part of
every consumer's SIMD (n = K for a 1-D conv consumer, K*K for 2-D, H*W or L after a flatten)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import gcd, lcm
from numbers import Integral

from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile

MIN_OPTIONS = 8  # a wide layer keeps at least this many legal counts (fine pruning steps)
NARROW_GRAIN = 4  # ... but a narrow layer still aligns to (a divisor of) 4, at most C // 2


@dataclass(frozen=True)
class Alignment:
    """How one group's granularity came about (for reports)."""

    name: str
    channels: int
    pe: int  # of the producer's MVAU (lcm over every producer MVAU and depthwise VVAU)
    between: tuple[int, ...]  # PE/SIMD of the nodes between producers and consumers
    consumer_simd: int  # of the first consumer
    inputs_per_channel: int  # first consumer's MW / channels
    channel_simd: int  # the part of the consumers' SIMD that spans the channels (lcm)
    required: int  # lcm of all of the above
    limit: int  # max(channels // min_options, min(NARROW_GRAIN, channels // 2), 1)
    granularity: int  # largest divisor of required <= limit


def channel_simd(simd: int, inputs_per_channel: int) -> int:
    """The part of a consumer's SIMD that the producer's channel count must carry."""
    return simd // gcd(simd, inputs_per_channel)


def grain_limit(channels: int, min_options: int = MIN_OPTIONS) -> int:
    return max(channels // min_options, min(NARROW_GRAIN, channels // 2), 1)


def bounded(required: int, channels: int, min_options: int = MIN_OPTIONS) -> int:
    """The largest divisor of `required` not above the limit of the module docstring."""
    if required < 1 or channels < 1 or min_options < 1:
        raise PruneError(f"cannot bound granularity {required} for {channels} channels with "
                         f"{min_options} options; all three must be at least 1")
    limit = grain_limit(channels, min_options)
    return max(d for d in range(1, min(required, limit) + 1) if required % d == 0)


def _consumer_part(g: ChannelGroup, profile: HardwareProfile, consumer: str, features: int,
                   first: bool) -> tuple[int, int, int]:
    """(SIMD, inputs per channel, channel part of the SIMD) of one consumer of `g`."""
    layer = profile.layer(consumer)
    if layer.mw % g.channels:
        raise PruneError(f"the hardware profile has {layer.mw} inputs for {consumer}, the model "
                         f"{g.channels} channels of {g.layers} before it; profile the model "
                         "after its latest surgery")
    per = layer.mw // g.channels
    if (features > 1 or (first and g.consumer_kind == "linear")) and per != features:
        raise PruneError(f"{consumer} takes {per} inputs per channel of {g.name} in FINN "
                         f"but {features} in the model; cannot align them")
    return layer.simd, per, channel_simd(layer.simd, per)


def alignments(groups: Sequence[ChannelGroup], profile: HardwareProfile, *,
               min_options: int = MIN_OPTIONS) -> tuple[Alignment, ...]:
    """The rule of the module docstring, applied to every group."""
    rows = []
    for g in groups:
        members = [profile.layer(m) for m in g.members]
        for member in members:
            if member.mh != g.channels:
                raise PruneError(
                    f"the hardware profile has {member.mh} outputs for {member.layer}, the model "
                    f"{g.channels} channels for {g.layers}; profile the model after its latest "
                    "surgery")
        parts = [_consumer_part(g, profile, c, f, i == 0) for i, (c, f)
                 in enumerate(zip(g.consumers, g.consumer_features, strict=True))]
        pe = lcm(*(m.pe for m in members))
        between = tuple(f for m in members for f in m.channel_folds)
        part = lcm(*(p[2] for p in parts))
        required = lcm(pe, part, *between)
        rows.append(Alignment(g.name, g.channels, pe, between, parts[0][0], parts[0][1], part,
                              required, grain_limit(g.channels, min_options),
                              bounded(required, g.channels, min_options)))
    return tuple(rows)


def granularity(groups: Sequence[ChannelGroup], profile: HardwareProfile, *,
                min_options: int = MIN_OPTIONS) -> dict[str, int]:
    """Per group: the channel multiple that keeps the board's folding legal (bounded)."""
    return {a.name: a.granularity for a in alignments(groups, profile, min_options=min_options)}


def legal_counts(channels: int, granularity: int) -> list[int]:
    """Channel counts a layer may keep: the multiples of `granularity` up to `channels`."""
    if granularity < 1:
        raise PruneError(f"granularity must be at least 1, got {granularity}")
    if channels < 1:
        raise PruneError(f"a layer has at least one channel, got {channels}")
    return list(range(granularity, channels + 1, granularity))


def align_count(target: float, granularity: int, channels: int) -> int:
    """The multiple of `granularity` in [granularity, channels] nearest `target` (ties: more)."""
    if not target > 0:
        raise PruneError(f"a layer cannot keep {target} channels; keep at least one")
    options = legal_counts(channels, granularity)
    if not options:
        raise PruneError(f"granularity {granularity} exceeds the layer's {channels} channels; "
                         "no aligned count exists (use a granularity that divides into it)")
    return min(options, key=lambda n: (abs(n - target), -n))


def _lanes_broken(g: ChannelGroup, profile: HardwareProfile, count: int) -> list[str]:
    """The lanes of `profile`'s folding over `g`'s channels that do not divide `count`."""
    broken = []
    for member in g.members:
        unit = profile.layer(member)
        if count % unit.pe:
            broken.append(f"PE {unit.pe} of {unit.node} ({member})")
        broken += [f"the {f} lanes of a node after {unit.node}" for f in unit.channel_folds
                   if count % f]
    for consumer in g.consumers:
        unit = profile.layer(consumer)
        part = channel_simd(unit.simd, unit.mw // g.channels)
        if count % part:
            broken.append(f"the {part} channels per SIMD word of {unit.node} ({consumer}, "
                          f"SIMD {unit.simd})")
    return broken


def check_kept_counts(groups: Sequence[ChannelGroup], profile: HardwareProfile,
                      counts: Mapping[str, int], *, folding: str,
                      fix: str = "keep usable counts, or fold the pruned model anew"
                      ) -> None:
    """PruneError naming every group whose kept count `folding` cannot use.

    `groups` and `profile` describe the model before pruning, folded as `folding` says (the
    folding that is to be kept); `counts` the channels each group keeps (a group left out
    keeps all). A count can use that folding only if every PE/SIMD over the group's channels
    still divides it: a multiple of the group's `required` lanes (the module docstring's rule
    before the bound). The one-line message names the layers, the lanes that break, the
    nearest usable counts and `fix`."""
    rows = {a.name: a for a in alignments(groups, profile)}
    unknown = sorted(set(counts) - set(rows))
    if unknown:
        raise PruneError(f"kept counts name {', '.join(unknown)}, which are not prunable groups "
                         f"({', '.join(rows) or 'none'})")
    problems = []
    for g in groups:
        count = counts.get(g.name, g.channels)
        plural = len(g.members) > 1
        layers = f"layer{'s' if plural else ''} {g.layers}"
        if isinstance(count, bool) or not isinstance(count, Integral) or count < 1:
            raise PruneError(f"{layers} would keep {count!r} channels (to zero or not a count); "
                             "keep at least one")
        if count > g.channels:
            raise PruneError(f"{layers} {'have' if plural else 'has'} {g.channels} channels; "
                             f"cannot keep {count}")
        broken = _lanes_broken(g, profile, int(count))
        if not broken:
            continue
        step = rows[g.name].required
        usable = sorted({n for n in (count // step * step, -(-count // step) * step)
                         if step <= n <= g.channels})
        nearest = " or ".join(map(str, usable)) or f"none up to {g.channels}"
        problems.append(f"{layers} {'keep' if plural else 'keeps'} {count} channels, not a "
                        f"multiple of {', '.join(broken)} (usable: multiples of {step}, nearest "
                        f"{nearest})")
    if problems:
        raise PruneError(f"{folding} cannot use the kept channel counts: {'; '.join(problems)}; "
                         f"{fix}")
