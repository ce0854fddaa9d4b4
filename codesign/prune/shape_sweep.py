"""Shape sweep: the fold search's last resort, a look at whole shapes near its answer.

The search's moves go one granule at a time from the allocation, and a move is kept only when
it is faster on its own. Where FINN's folding is a patchwork of steps, the faster shapes can
lie several granules away with nothing faster in between. DS-CNN on KV260 (untrained, 55-62 %
of the MACs removed): 40-32-40-40-64 and every shape one granule from it fold to 63,776 FPS,
while 32-40-48-32-48 (58.6 %) folds to 85,034, its pointwise layers and classifier at 6 folds
of their 196 output pixels.

The sweep lists the shapes on the granule lattice around the search's counts (each group
within SPAN granules of its count, between its floor and its current width) whose remaining
MACs lie in the step's window (at least the step's fraction removed, at most the search's
allowance beyond the allocation), orders them by the importance they remove (the allocation's
own cost: per group, its lowest scores over the group's total, times its sensitivity), and
returns the first `limit`; the fold search measures those and keeps the fastest. So the shapes
tried first are those the criterion minds least, and the window keeps the MACs removed where
the allocation put them.

Exact counts (`exact`, the fold search's folding targets): a layer folds its MH x MW in
(MH / PE) * (MW / SIMD) passes, and PE, SIMD must divide them, so a count's divisors decide
which pass counts it can reach. The granule lattice holds counts whose divisors the unpruned
folding used; the next pass count down may need others. DS-CNN on KV260 at 57.3 % removed
(every group 40, the pointwise layers at 8 passes of their 196 pixels, 63,776 FPS): 40 has no
divisor giving 7 or 6 passes in 40 x 40 short of PE 8 (5 passes, 60 % more lanes), while 35
(PE 5, 7 passes) and 42 (PE 6 or 7: 7 or 6 passes) do. 35-40-40-42-40 (57.85 %) folds to
72,886 FPS and 40-42-35-42-40 (57.83 %) to 85,034 (untrained, within the caps), each group
within five channels of 40; on the lattice, every shape as fast halves two groups. So the
sweep can also take, per group, the multiples of the next pass counts within a granule of
its count (`exact_counts`).

Even (`order` "even", the fold search's `shape_order: even`): the sweep is centred on the
uniform cut instead (`uniform_counts`: every group keeps the same share of its channels, the
largest share on the lattice that removes the step's fraction), lists the shapes whose kept
shares spread least first (`spread`, the standard deviation of the kept shares, 0 for a
uniform cut at any depth in the window), and the search keeps, of its fastest
shapes, the one nearest the uniform cut (`off_uniform`), not the most even: a uniform cut
deeper than the step asked is as even. The pick only sees what the sweep measured, though:
DS-CNN on KV260 at 55 % with the default allowance (seeds 1 and 4) keeps 36-36-36-40-36
(62.8 % of the MACs removed) either way, none of its 32 shapes as fast and nearer; listing
the nearest first instead measured none nearer than the search's own 32-40-40-32-57 (60.3 %),
so the listing stays most even first, and with no prune.max_overshoot set the even search
lands no deeper than the uniform cut it is centred on (fold_search.search_counts): there
40-42-40-42-40 (55.4 %, 72,886 FPS; docs/pruning-measurements.md). A flow that wants the
faster steps deeper sets max_overshoot (the KV260 flow's 0.035: 40-36-40-42-40, 58.2 %,
85,034). DS-CNN on KV260 at Torch-Pruning's
uniform 40s: the search's moves reach 85,034 FPS at 36-36-40-36-64 on some seeds and 72,886
at 32-56-32-32-56 on others, while 40-42-40-36-40, two channels from uniform in three groups,
folds to 85,034 as well (benchmarks/pruning_shape_lattice.py). With this order the schedule
keeps its mirror, 40-36-40-42-40, on all 8 seeds (x1.33 over Torch-Pruning's uniform cut on every one;
benchmarks/pruning_same_sparsity.py)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from codesign.config import SHAPE_ORDERS
from codesign.errors import PruneError
from codesign.prune.alignment import legal_counts
from codesign.prune.allocate import importance_lost, remaining_macs
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile

SPAN = 3  # granules either side of the search's count that a group may move
MAX_SHAPES = 200_000  # lattice shapes the sweep will list before it refuses


def group_options(group: ChannelGroup, granularity: int, floor: int, around: int,
                  exact: Sequence[int] = ()) -> list[int]:
    """The counts `group` may take in the sweep: multiples of its granularity (and its whole
    width) from its floor up, within SPAN granules of `around`, and the `exact` counts."""
    options = set(legal_counts(group.channels, granularity)) | {group.channels}
    return sorted({n for n in options if n >= floor and abs(n - around) <= SPAN * granularity}
                  | set(exact))


def exact_counts(channels: int, granularity: int, floor: int, around: int,
                 passes: Sequence[int]) -> list[int]:
    """The counts off the granule lattice within one granule of `around` (from `floor` up to
    `channels`) that are multiples of one of `passes`: a layer of that many outputs (or inputs)
    folds them in exactly that many passes, PE (SIMD) = count / passes."""
    if any(p < 1 for p in passes):
        raise PruneError(f"pass counts are whole and positive, got {list(passes)}")
    low, high = max(floor, around - granularity, 1), min(channels, around + granularity)
    return [n for n in range(low, high + 1)
            if n % granularity and any(n % p == 0 for p in passes)]


def sweep_shapes(groups: Sequence[ChannelGroup], importance: Mapping[str, np.ndarray],
                 profile: HardwareProfile, granularity: Mapping[str, int],
                 floor: Mapping[str, int], around: Mapping[str, int], macs_window: tuple[float, float],
                 limit: int, *, sensitivity: Mapping[str, float] | None = None,
                 exact: Mapping[str, Sequence[int]] | None = None, order: str = "importance"
                 ) -> list[dict[str, int]]:
    """Up to `limit` shapes near `around` whose remaining MACs (allocate.remaining_macs) lie in
    `macs_window` (low, high), least importance removed first, or with `order` "balanced" the
    shapes whose most-cut group loses the smallest share first, or with "even" those whose kept
    shares spread least (`spread`) first, then by importance (ties: the earlier shape in the
    lattice's order, fewer channels first); `around` itself is left out.
    `exact`: per group, counts off the lattice it may take as well (`exact_counts`)."""
    if limit < 1:
        raise PruneError(f"the shape sweep measures at least one shape, got {limit}")
    if order not in SHAPE_ORDERS:
        raise PruneError(f"the shape sweep's order {order!r} is not one of "
                         f"{', '.join(SHAPE_ORDERS)}")
    options = [group_options(g, int(granularity[g.name]), floor[g.name], around[g.name],
                             (exact or {}).get(g.name, ())) for g in groups]
    size = int(np.prod([len(o) for o in options]))
    if size > MAX_SHAPES:
        raise PruneError(f"the shape sweep's lattice has {size:,} shapes (more than "
                         f"{MAX_SHAPES:,}); set prune.fold_shapes to 0 for a model this wide")
    first = {"importance": None, "balanced": most_cut, "even": spread}[order]  # before `lost`
    low, high = macs_window
    names = [g.name for g in groups]
    widths = {g.name: g.channels for g in groups}
    found: list[tuple[tuple[float, ...], dict[str, int]]] = []
    for shape in itertools.product(*options):
        counts = dict(zip(names, shape, strict=True))
        if counts == dict(around) or not low <= remaining_macs(groups, profile, counts) <= high:
            continue
        lost = importance_lost(groups, importance, counts, sensitivity)
        found.append(((lost,) if first is None else (first(counts, widths), lost), counts))
    found.sort(key=lambda t: t[0])  # stable: ties keep the lattice's order
    return [counts for _, counts in found[:limit]]


def most_cut(counts: Mapping[str, int], widths: Mapping[str, int]) -> float:
    """The largest share of its channels any group loses in `counts`."""
    return max(1.0 - counts[n] / widths[n] for n in counts)


def spread(counts: Mapping[str, int], widths: Mapping[str, int]) -> float:
    """How unevenly `counts` cut the groups: the standard deviation of the shares of their
    channels they keep (0 for a uniform cut, at any depth)."""
    return float(np.std([counts[n] / widths[n] for n in counts]))


def off_uniform(counts: Mapping[str, int], uniform: Mapping[str, int],
                widths: Mapping[str, int]) -> float:
    """How far `counts` lie from the `uniform` cut: the root mean square, over the groups, of
    the difference between the share of its channels each keeps in one and in the other (0 at
    the uniform cut; a uniform cut deeper or shallower is as far as its shares differ)."""
    return float(np.sqrt(np.mean([((counts[n] - uniform[n]) / widths[n]) ** 2 for n in counts])))


def uniform_counts(groups: Sequence[ChannelGroup], profile: HardwareProfile,
                   granularity: Mapping[str, int], floor: Mapping[str, int],
                   most_macs: float) -> dict[str, int]:
    """The uniform cut on the granule lattice that keeps at most `most_macs` MACs: every group
    keeps the same share of its channels, rounded down to its granularity (no fewer than its
    floor), at the largest such share; every group at its floor when none keeps so few."""
    grain = {g.name: int(granularity[g.name]) for g in groups}

    def at(share: float) -> dict[str, int]:
        return {g.name: g.channels if share >= 1.0 else
                max(floor[g.name], int(share * g.channels / grain[g.name] + 1e-9) * grain[g.name])
                for g in groups}

    shares = sorted({n / g.channels for g in groups
                     for n in legal_counts(g.channels, grain[g.name]) + [g.channels]},
                    reverse=True)
    for share in shares:
        counts = at(share)
        if remaining_macs(groups, profile, counts) <= most_macs:
            return counts
    return {g.name: floor[g.name] for g in groups}
