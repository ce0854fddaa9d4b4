"""Fold in the loop: choose a step's kept counts by the FPS the board reaches with them.

`allocate` works from cost shares of the design before the step; it cannot see that FINN's
folding moves in discrete steps. A layer's cycles are its output pixels times
(MW / SIMD) * (MH / PE), so when the bottleneck layer sits at, say, 4x its pixel count, the board
has to afford a third more of that layer's lanes to reach 3x, and the caps may not allow it with
the counts the allocation chose, while one granule fewer in that layer (or in the layer feeding
it) would.

The search, per pruning step:
1. allocate the step's MAC fraction as usual and measure the FPS within the board's caps of the
   model cut to those counts (export, FINN compile, codesign's folding optimizer);
2. take the bottleneck layer of that folding; for each channel group it touches (its own
   outputs, and the group feeding its inputs), force that group one granule lower and allocate
   the rest of the fraction again (`allocate(..., ceiling=...)`), so other layers keep more and
   the MACs removed stay the step's; measure each;
3. keep the best candidate if it is at least MIN_GAIN faster and removes at most MAX_EXTRA of
   the current MACs more than the allocation did (when the other layers have nothing to give
   back, a move only prunes deeper; later steps then remove less, but the search must not
   trade much accuracy for speed on its own), and repeat from it, `rounds` times at most; stop
   early when nothing is faster, when the bottleneck is not a weight layer (an input stream,
   say: no channel count moves it) or when its groups are at their minimum.

Candidates are measured on the cut but not yet fine-tuned model: FINN sizes accumulators and
thresholds from weight values, so the step's own measurement after fine-tuning stays the
authoritative one. Deterministic: the order of candidates and ties is fixed."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import FoldingError, PruneError

if TYPE_CHECKING:
    from torch import nn

    from codesign.boards import Board
    from codesign.prune.graph import ChannelGroup
    from codesign.prune.hardware import HardwareProfile

MIN_GAIN = 0.02  # a candidate must be this much faster to replace the current counts
MAX_EXTRA = 0.05  # ... and remove at most this fraction of the MACs beyond the allocation


@dataclass(frozen=True)
class Candidate:
    counts: dict[str, int]
    ceiling: dict[str, int]
    fps: float  # within the board's caps; 0.0 when no folding fits them
    bottleneck: str | None  # the slowest weight layer of that folding
    weight_bound: bool  # the slowest node of the design is that weight layer's MVAU


@dataclass(frozen=True)
class SearchResult:
    counts: dict[str, int]  # the chosen kept counts
    allocated: dict[str, int]  # what the allocation alone chose
    fps_allocated: float
    fps: float  # of the chosen counts, before fine-tuning
    evaluated: int  # FINN compiles the search made
    moves: list[str] = field(default_factory=list)  # accepted moves, for reports

    def to_dict(self) -> dict[str, Any]:
        return {"allocated": self.allocated, "fps_allocated": self.fps_allocated,
                "chosen": self.counts, "fps": self.fps, "evaluated": self.evaluated,
                "moves": list(self.moves)}


def measure_counts(model: nn.Module, scores: Mapping[str, np.ndarray], counts: Mapping[str, int],
                   input_shape: tuple[int, int, int], board: Board, workdir: Path
                   ) -> tuple[float, str | None, bool]:
    """FPS within the caps of a copy of `model` cut to `counts` (the highest-scored channels
    kept), its slowest weight layer, and whether that layer bounds the whole design."""
    from codesign.prune.graph import weight_layers
    from codesign.prune.hardware import hardware_profile
    from codesign.prune.surgery import keep_top, prune_channels

    cut = copy.deepcopy(model)
    prune_channels(cut, keep_top(scores, counts), input_shape)
    try:
        profile = hardware_profile(cut, input_shape, weight_layers(cut, input_shape), board,
                                   workdir=workdir)
    except FoldingError:
        return 0.0, None, False
    slowest = profile.bottleneck
    return profile.fps, slowest.layer, slowest.cycles >= profile.max_cycles


def search_counts(model: nn.Module, groups: Sequence[ChannelGroup],
                  scores: Mapping[str, np.ndarray], profile: HardwareProfile,
                  granularity: Mapping[str, int], remove_fraction: float, board: Board,
                  input_shape: tuple[int, int, int], workdir: Path, *, rounds: int,
                  sensitivity: Mapping[str, float] | None = None,
                  min_keep: Mapping[str, int] | None = None) -> SearchResult:
    """The module docstring's search for one step; `profile` is the current (uncut) model's."""
    from codesign.prune.allocate import allocate, remaining_macs

    if rounds < 1:
        raise PruneError(f"the fold search needs at least one round, got {rounds}")
    workdir = Path(workdir)
    seen: dict[tuple[int, ...], Candidate] = {}
    order = [g.name for g in groups]

    def candidate(ceiling: dict[str, int]) -> Candidate:
        counts = allocate(groups, scores, profile, granularity, remove_fraction,
                          sensitivity=sensitivity, min_keep=min_keep, ceiling=ceiling)
        key = tuple(counts[n] for n in order)
        if key not in seen:
            fps, slowest, bound = measure_counts(model, scores, counts, input_shape, board,
                                                 workdir / f"candidate{len(seen)}")
            seen[key] = Candidate(counts, dict(ceiling), fps, slowest, bound)
        return seen[key]

    best = first = candidate({})
    total = sum(float(x.macs) for x in profile.layers)
    least = remaining_macs(groups, profile, first.counts) - MAX_EXTRA * total
    moves: list[str] = []
    floor = {g.name: max(int(granularity[g.name]), (min_keep or {}).get(g.name, 1))
             for g in groups}
    for _ in range(rounds):
        if not (best.fps > 0 and best.weight_bound and best.bottleneck):
            break
        touching = [g.name for g in groups
                    if g.name == best.bottleneck or g.consumer == best.bottleneck]
        trials = []
        for name in touching:
            lower = best.counts[name] - int(granularity[name])
            if lower >= floor[name]:
                trials.append((candidate({**best.ceiling, name: lower}), name))
        better = [(c, n) for c, n in trials if c.fps > best.fps * (1 + MIN_GAIN)
                  and remaining_macs(groups, profile, c.counts) >= least]
        if not better:
            break
        winner, name = max(better, key=lambda t: t[0].fps)  # ties: the first group
        moves.append(f"{name} {best.counts[name]} -> {winner.counts[name]} (bottleneck "
                     f"{best.bottleneck}): {best.fps:,.0f} -> {winner.fps:,.0f} FPS")
        best = winner
    return SearchResult(best.counts, first.counts, first.fps, best.fps, len(seen), moves)
