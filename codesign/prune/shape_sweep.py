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
the allocation put them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from codesign.errors import PruneError
from codesign.prune.alignment import legal_counts
from codesign.prune.allocate import importance_lost, remaining_macs
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile

SPAN = 3  # granules either side of the search's count that a group may move
MAX_SHAPES = 200_000  # lattice shapes the sweep will list before it refuses


def group_options(group: ChannelGroup, granularity: int, floor: int, around: int) -> list[int]:
    """The counts `group` may take in the sweep: multiples of its granularity (and its whole
    width) from its floor up, within SPAN granules of `around`."""
    options = sorted(set(legal_counts(group.channels, granularity)) | {group.channels})
    return [n for n in options if n >= floor and abs(n - around) <= SPAN * granularity]


def sweep_shapes(groups: Sequence[ChannelGroup], importance: Mapping[str, np.ndarray],
                 profile: HardwareProfile, granularity: Mapping[str, int],
                 floor: Mapping[str, int], around: Mapping[str, int], macs_window: tuple[float, float],
                 limit: int, *, sensitivity: Mapping[str, float] | None = None
                 ) -> list[dict[str, int]]:
    """Up to `limit` shapes near `around` whose remaining MACs (allocate.remaining_macs) lie in
    `macs_window` (low, high), least importance removed first (ties: the earlier shape in the
    lattice's order, fewer channels first); `around` itself is left out."""
    if limit < 1:
        raise PruneError(f"the shape sweep measures at least one shape, got {limit}")
    options = [group_options(g, int(granularity[g.name]), floor[g.name], around[g.name])
               for g in groups]
    size = int(np.prod([len(o) for o in options]))
    if size > MAX_SHAPES:
        raise PruneError(f"the shape sweep's lattice has {size:,} shapes (more than "
                         f"{MAX_SHAPES:,}); set prune.fold_shapes to 0 for a model this wide")
    low, high = macs_window
    names = [g.name for g in groups]
    found: list[tuple[float, dict[str, int]]] = []
    for shape in itertools.product(*options):
        counts = dict(zip(names, shape, strict=True))
        if counts == dict(around) or not low <= remaining_macs(groups, profile, counts) <= high:
            continue
        found.append((importance_lost(groups, importance, counts, sensitivity), counts))
    found.sort(key=lambda t: t[0])  # stable: ties keep the lattice's order
    return [counts for _, counts in found[:limit]]
