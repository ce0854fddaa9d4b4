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
2. take the bottleneck of that folding: every weight layer charged with a node at the design's
   most cycles, its MVAU (VVAU) or a node after it that works on its output channels (sliding
   window, padding, pool, thresholds; DS-CNN / Pynq-Z2 with 32-channel depthwise groups: the
   windows at SIMD 16 take 3,598 cycles, their VVAUs 3,528); a folding balanced for the caps
   often ties several there, and the move that pays may touch any of them. For each channel
   group they touch (their own outputs, and the groups feeding their inputs), force that group
   one granule lower and allocate the rest again (`allocate(..., ceiling=...)`), so other
   layers keep more and the MACs removed stay the step's; where the bottleneck's layers write
   several groups, again with those others held at their counts, so only groups off the
   bottleneck take the MACs back (a tied group that grows binds again); measure each.
   A move is a whole granule, so the allocation may remove more than the step's fraction; each
   such candidate is then also allocated at what the allocation removed, granules given back
   down to it (`give_back`): at the fraction alone every candidate removes fewer MACs than the
   shape it has to beat. ResNet-8 / Pynq-Z2 on the EPYC machine, seed 1 at 66 %: the
   allocation's 8-4-20-20-32-64 removes 70.3 % and folds to 21,259 FPS with seven layers tied at
   4,704 cycles; the first of them (stem.0) and the relief below gave four candidates at
   66.7-71.5 %, all at 21,259, while blocks.2.conv2 one granule lower at 70.3 % gives
   8-4-20-20-32-56 (71.6 %), 24,295 FPS (the trained model before its fine-tune, 11 candidates).
   With `targets` (the schedule sets it under an FPS budget, where speed is what
   the user asked for) also try the folding's own target (`faster_counts`, when the bottleneck
   is the MVAU itself): the most channels below the current count at which the bottleneck's MVAU
   has a legal PE/SIMD (PE | MH, SIMD | MW) needing fewer cycles with no more lanes (PE x SIMD)
   than it uses now, so about the same LUTs, and the most channels that reach that speed in
   fewer lanes; each exact count, aligned or not (`allocate(..., pinned=...)`; its divisors
   carry the folding), once with the other layers keeping more and once with them as they are
   (they may have to stay narrow to keep pace). TFC's first layer at 24 channels folds at PE 3 x
   SIMD 196 = 588 lanes, 32 cycles; 21 channels fold at PE 21 x SIMD 28 = 588 lanes, 28 cycles,
   20 at PE 5 x SIMD 112 = 560 lanes, 28 cycles, while the granule below (16) removes more MACs
   than a step may add. Under a sparsity budget the targets stay off:
   measured on TFC / MNIST-5k, the last step's 24 -> 21 move reached x1.14 the FPS but the
   model ended at 91.4 % top-1 instead of 93.6 % (the first layer's width bounds both).
   Also, of the groups the bottleneck does not touch, the one whose next granule frees the
   most LUTs (the allocation's proportional model, `granule_luts`) one granule lower, the
   other layers keeping more: when the caps bind, the bottleneck may need lanes only a
   LUT-heavy layer elsewhere can give up. ResNet-8 / Pynq-Z2, seed 3 at 66 %: the
   allocation's 4-12-16-24-24-64 is bound by blocks.2.conv1 at 25,195 FPS, neither of its
   groups one granule lower is faster, and blocks.1.conv1 16 -> 12 (b1's stream takes 24 -> 28
   back) folds to 28,345 FPS. With the others kept as they are, the move only prunes deeper:
   on seed 4 it cut 78 % instead of 75 % of the MACs for x4.50 FPS, which the
   criterion-unaligned cut at that sparsity reaches too, so that variant is not tried;
3. keep the best candidate if it is at least MIN_GAIN faster and removes at most MAX_EXTRA of
   the current MACs more than the allocation did (when the other layers have nothing to give
   back, a move only prunes deeper; later steps then remove less, but the search must not
   trade much accuracy for speed on its own; under budget fps, where a step's fraction only
   paces the schedule, the schedule makes it MAX_EXTRA of the unpruned model's MACs; with
   `prune.max_overshoot` it is that share of the unpruned MACs past the step's target, not
   past the allocation, and the allocation gives back the granules it no longer needs, for
   comparisons at one sparsity), and repeat from it, `rounds` times at most; stop
   early when nothing is faster, when the slowest node works on no weight layer's output
   channels (the input image's own sliding window, say: no channel count moves it) or when
   its groups are at their minimum. DS-CNN / Pynq-Z2 at 75 % with layer caps (stem 32, the
   other groups 24; untrained, random scores): the allocation's 32-24-32-24-44 folds to 27,793
   FPS, its four windows tied at 3,598 cycles; blocks.1.3 one granule lower, the others keeping
   more, gives 32-32-24-24-40 (27,793); with the tied groups held, the last group takes the
   MACs back: 32-24-24-24-64, 31,888 FPS;
4. with `shapes` (`prune.fold_shapes`), measure that many whole shapes near the result
   (codesign.prune.shape_sweep: each group within a few granules, the step's MACs removed up to
   the same allowance, least importance removed first) and keep the fastest if it is
   MIN_GAIN faster: where the folding's faster shapes lie several granules away, with nothing
   faster between (DS-CNN on KV260), granule moves cannot reach them. With `targets` the
   sweep also takes, per group, counts off the granule lattice within a granule of its count
   that are multiples of the two pass counts below the bottleneck MVAUs' (`next_passes`,
   shape_sweep's exact counts): DS-CNN / KV260 at 57.3 % (untrained, Taylor scores): the
   allocation's 32-48-32-32-64 folds to 63,776 FPS, the folding target 48 -> 35 to 72,886,
   and the sweep's 32-32-42-40-60 to 85,034. With `shape_order` "even" the sweep is centred
   on the uniform cut at the step's fraction instead (measured too, and its own pass counts
   aimed at), lists the most even shapes first, and of the fastest candidates (the search's
   own among them) the one nearest the uniform cut is kept, so ties go to a nearly even shape
   at the step's depth, not to a deeper uniform cut, which is as even.

Candidates are measured on the cut but not yet fine-tuned model: FINN sizes accumulators and
thresholds from weight values, so the step's own measurement after fine-tuning stays the
authoritative one. Deterministic: the order of candidates and ties is fixed."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.config import SHAPE_ORDERS
from codesign.errors import PruneError
from codesign.folding.space import divisors
from codesign.prune.allocate import allocate, granule_luts, remaining_macs
from codesign.prune.measure import ShapeMeter
from codesign.prune.shape_sweep import SPAN, exact_counts, off_uniform, sweep_shapes, uniform_counts

if TYPE_CHECKING:
    from torch import nn

    from codesign.prune.graph import ChannelGroup
    from codesign.prune.profile import HardwareProfile, LayerHardware

# a shape to measure: its kept counts, and the ceilings and pins the allocation made it under
Spec = tuple[dict[str, int], dict[str, int], dict[str, int]]
MIN_GAIN = 0.02  # a candidate must be this much faster to replace the current counts
MAX_EXTRA = 0.05  # ... and remove at most this fraction of the MACs beyond the allocation


@dataclass(frozen=True)
class Candidate:
    counts: dict[str, int]
    ceiling: dict[str, int]
    pinned: dict[str, int]
    fps: float  # within the board's caps; 0.0 when no folding fits them
    # the weight layers charged with a node at that folding's most cycles (none: no channel
    # count moves the slowest node), and those of them whose own MVAU (VVAU) is that node
    slowest: tuple[LayerHardware, ...]
    units: frozenset[str]

    @property
    def bottleneck(self) -> str | None:
        return ", ".join(x.layer for x in self.slowest) or None


@dataclass(frozen=True)
class SearchResult:
    counts: dict[str, int]  # the chosen kept counts
    allocated: dict[str, int]  # what the allocation alone chose
    fps_allocated: float
    fps: float  # of the chosen counts, before fine-tuning
    evaluated: int  # FINN compiles the search made
    moves: list[str] = field(default_factory=list)  # accepted moves, for reports
    # every measured shape that folds to the chosen FPS within the MAC window the search's
    # moves had to keep (the chosen counts first, then in the order measured): equally fast,
    # so the schedule may pick among them by accuracy (prune.shape_trials)
    ties: list[dict[str, int]] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the search
    workers: int = 1  # processes that measured its candidates (1: all in this one)

    def to_dict(self) -> dict[str, Any]:
        return {"allocated": self.allocated, "fps_allocated": self.fps_allocated,
                "chosen": self.counts, "fps": self.fps, "evaluated": self.evaluated,
                "moves": list(self.moves), "ties": [dict(c) for c in self.ties],
                "seconds": self.seconds, "workers": self.workers}


def _foldings(mh: int, mw: int) -> list[tuple[int, int]]:
    """(folds, lanes) of every legal PE | MH, SIMD | MW: (MH / PE) * (MW / SIMD), PE * SIMD."""
    return [((mh // pe) * (mw // simd), pe * simd) for pe in divisors(mh) for simd in divisors(mw)]


def fewest_folds(mh: int, mw: int, lanes: int) -> int:
    """The fewest (MH / PE) * (MW / SIMD) over legal PE | MH, SIMD | MW with PE * SIMD <= lanes."""
    return min(f for f, used in _foldings(mh, mw) if used <= lanes)


def least_lanes(mh: int, mw: int, folds: int) -> int:
    """The fewest PE * SIMD (PE | MH, SIMD | MW) that fold MH x MW in at most `folds`."""
    return min(used for f, used in _foldings(mh, mw) if f <= folds)


def faster_counts(slowest: LayerHardware, channels: int, floor: int, *, outputs: bool
                  ) -> list[int]:
    """Folding targets for `slowest`'s MVAU, most channels first (each >= floor):
    1. the most channels below `channels` at which it could fold to fewer cycles than it has,
       with no more PE x SIMD lanes than it uses (about the same LUTs);
    2. the most channels below that which reach those cycles in fewer lanes: when the first does
       not fit because the other layers need more lanes to keep pace, this frees some for them.
    `outputs`: the count is the layer's own outputs (MH); otherwise the group feeding it,
    `channels` of its MW inputs. Empty when no count down to `floor` is faster (or the layer's
    cycles are not whole folds)."""
    folds = (slowest.mh // slowest.pe) * (slowest.mw // slowest.simd)
    if (folds < 1 or slowest.cycles % folds or slowest.mh % slowest.pe
            or slowest.mw % slowest.simd or (not outputs and slowest.mw % channels)):
        return []
    per_channel = slowest.mw // channels

    def dims(count: int) -> tuple[int, int]:
        return (count, slowest.mw) if outputs else (slowest.mh, count * per_channel)

    lanes = slowest.pe * slowest.simd  # cycles are pixels x folds: compare folds
    lower = range(channels - 1, max(floor, 1) - 1, -1)
    first = next((c for c in lower if fewest_folds(*dims(c), lanes) < folds), None)
    if first is None:
        return []
    reached = fewest_folds(*dims(first), lanes)
    needed = least_lanes(*dims(first), reached)
    leaner = next((c for c in lower if c < first
                   and least_lanes(*dims(c), reached) < needed), None)
    return [first] if leaner is None else [first, leaner]


def next_passes(slowest: Sequence[LayerHardware], units: Collection[str], levels: int = 2
                ) -> tuple[int, ...]:
    """The `levels` pass counts below the bottleneck MVAUs' ((MH / PE) * (MW / SIMD) of each
    slowest layer whose own MVAU is the slowest node), most first: the folds the shape sweep's
    exact counts aim at (codesign.prune.shape_sweep)."""
    passes = {(x.mh // x.pe) * (x.mw // x.simd) for x in slowest
              if x.layer in units and x.pe and x.simd}
    if not passes:
        return ()
    top = max(passes)
    return tuple(p for p in range(top - 1, top - 1 - levels, -1) if p >= 1)


def _relief_group(groups: Sequence[ChannelGroup], profile: HardwareProfile,
                  granularity: Mapping[str, int], counts: Mapping[str, int],
                  floor: Mapping[str, int], touching: Collection[str]) -> str | None:
    """The group, other than the bottleneck's, whose next granule frees the most LUTs (item 2
    of the module docstring), if one can go a granule lower."""
    freed = granule_luts(groups, profile, granularity, counts)
    open_ = [g.name for g in groups if g.name not in touching and freed[g.name] > 0
             and counts[g.name] - int(granularity[g.name]) >= floor[g.name]]
    return max(open_, key=lambda n: freed[n], default=None)  # ties: the first group


def search_counts(model: nn.Module, groups: Sequence[ChannelGroup],
                  scores: Mapping[str, np.ndarray], profile: HardwareProfile,
                  granularity: Mapping[str, int], remove_fraction: float, meter: ShapeMeter,
                  workdir: Path, *, rounds: int,
                  sensitivity: Mapping[str, float] | None = None,
                  min_keep: Mapping[str, int] | None = None,
                  targets: bool = False, extra_macs: float | None = None,
                  past_target: bool = False, shapes: int = 0,
                  shape_order: str = "importance") -> SearchResult:
    """The module docstring's search for one step; `profile` is the current (uncut) model's.
    `extra_macs`: how many MACs a move may remove beyond the allocation (default MAX_EXTRA of
    the current model's; with `shape_order` "even", and no deeper than the uniform cut the
    sweep is centred on), or with `past_target` beyond the step's target (`remove_fraction`
    of the current model's MACs), so the step lands at most that far past it; the allocation
    then also gives back the granules it no longer needs (allocate.py, Give back), so its own
    last granule does not carry the step past the target either. `shapes`: after the rounds,
    measure up to this many whole shapes near the search's counts (codesign.prune.shape_sweep)
    and keep the fastest; 0 = off. `shape_order`: the order the sweep measures them in
    (codesign.config.SHAPE_ORDERS). `meter`: what measures a round's candidates and the
    sweep's shapes on the board, each batch at once (codesign.prune.measure: in worker
    processes where it has them; the result does not depend on it)."""
    if rounds < 1:
        raise PruneError(f"the fold search needs at least one round, got {rounds}")
    if extra_macs is not None and not extra_macs >= 0:
        raise PruneError(f"extra_macs must be >= 0, got {extra_macs}")
    if shapes < 0:
        raise PruneError(f"the shape sweep's size must be >= 0 (0 = off), got {shapes}")
    started = time.perf_counter()
    workdir = Path(workdir)
    seen: dict[tuple[int, ...], Candidate] = {}
    order = [g.name for g in groups]
    widths = {g.name: g.channels for g in groups}

    shipped = meter.in_workers

    def measured(specs: Sequence[Spec]) -> list[Candidate]:
        """Each shape's candidate; the shapes not seen yet are measured together, in order."""
        fresh: dict[tuple[int, ...], Spec] = {}
        for spec in specs:
            key = tuple(spec[0][n] for n in order)
            if key not in seen:
                fresh.setdefault(key, spec)
        found = meter.measure(model, scores, [counts for counts, _, _ in fresh.values()],
                              [workdir / f"candidate{len(seen) + i}" for i in range(len(fresh))])
        for (key, (counts, ceiling, pinned)), measurement in zip(fresh.items(), found, strict=True):
            seen[key] = Candidate(counts, dict(ceiling), dict(pinned), *measurement)
        return [seen[tuple(counts[n] for n in order)] for counts, _, _ in specs]

    def candidate(ceiling: dict[str, int], pinned: dict[str, int], *,
                  at_allocation: bool = False) -> Spec:
        """The allocation with these forced groups, removing the step's fraction, or with
        `at_allocation` what the allocation removed (granules given back down to it)."""
        counts = allocate(groups, scores, profile, granularity,
                          matched if at_allocation else remove_fraction,
                          sensitivity=sensitivity, min_keep=min_keep, ceiling=ceiling,
                          pinned=pinned, give_back=at_allocation or past_target)
        return counts, ceiling, pinned

    def without(mapping: dict[str, int], name: str) -> dict[str, int]:
        return {k: v for k, v in mapping.items() if k != name}

    def granule_lower(current: Candidate, name: str, hold: Collection[str] = ()
                      ) -> list[Spec]:
        """`name` one granule below its count in `current`; the other layers keep more (the
        allocation takes the rest of the step's MACs elsewhere), and again with the groups in
        `hold` (the bottleneck's others) no wider than now: at the step's fraction, then at the
        MACs the allocation removed when that is more (step 2)."""
        lower = current.counts[name] - int(granularity[name])
        ceiling, pinned = {**current.ceiling, name: lower}, without(current.pinned, name)
        held = {**ceiling, **{g: current.counts[g] for g in hold  # a pinned group stays put
                              if g != name and g not in pinned}}
        ceilings = [ceiling] if held == ceiling else [ceiling, held]
        found = [candidate(c, pinned) for c in ceilings]
        if matched > remove_fraction:
            found += [candidate(c, pinned, at_allocation=True) for c in ceilings]
        return found

    best = first = measured([candidate({}, {})])[0]
    total = sum(float(x.macs) for x in profile.layers)
    matched = 1.0 - remaining_macs(groups, profile, first.counts) / total
    floor = {g.name: max(int(granularity[g.name]), (min_keep or {}).get(g.name, 1))
             for g in groups}
    # an even sweep is centred on the uniform cut at the step's fraction, itself a candidate
    uniform = (uniform_counts(groups, profile, granularity, floor, (1.0 - remove_fraction) * total)
               if shape_order == "even" else {})
    allowance = MAX_EXTRA * total if extra_macs is None else float(extra_macs)
    least = ((1.0 - remove_fraction) * total if past_target
             else remaining_macs(groups, profile, first.counts)) - allowance
    if extra_macs is None and shape_order == "even":  # and no deeper than that uniform cut
        least = max(least, min(remaining_macs(groups, profile, uniform),
                               (1.0 - remove_fraction) * total))
    moves: list[str] = []
    for _ in range(rounds):
        if not (best.fps > 0 and best.slowest):
            break
        # the groups each tied slowest layer writes (a member) or reads (a consumer), in the
        # order of those layers: with one bottleneck, its own groups come first
        touching: set[str] = set()
        trials = []
        bound = [g.name for g in groups if any(x.layer in g.members for x in best.slowest)]
        hold = bound if len(bound) > 1 else []  # held candidates only where groups tie
        for slowest in best.slowest:
            for g in groups:
                if slowest.layer not in g.members and slowest.layer not in g.consumers:
                    continue
                name, outputs = g.name, slowest.layer in g.members
                found = (faster_counts(slowest, best.counts[name], floor[name],
                                       outputs=outputs)
                         if targets and slowest.layer in best.units else [])
                for target in found:  # the folding's target first: ties go nearer
                    trials.append((candidate(without(best.ceiling, name),  # others keep more,
                                             {**best.pinned, name: target}), name))
                    trials.append((candidate({}, {**best.counts, name: target}), name))  # or not
                if name not in touching and (best.counts[name] - int(granularity[name])
                                             >= floor[name]):
                    trials += [(c, name) for c in granule_lower(best, name, hold)]
                touching.add(name)
        relief = _relief_group(groups, profile, granularity, best.counts, floor, touching)
        if relief is not None:
            trials += [(c, relief) for c in granule_lower(best, relief)]
        names = [name for _, name in trials]
        tried = zip(measured([spec for spec, _ in trials]), names, strict=True)
        better = [(c, n) for c, n in tried if c.fps > best.fps * (1 + MIN_GAIN)
                  and remaining_macs(groups, profile, c.counts) >= least]
        if not better:
            break
        winner, name = max(better, key=lambda t: t[0].fps)  # ties: the first tried
        how = ("one granule lower, freeing the most LUTs" if name == relief
               else "its folding's target count" if name in winner.pinned
               else "one granule lower")
        # the others were allocated again: name the whole shape when any of them moved too
        others = any(winner.counts[g] != best.counts[g] for g in best.counts if g != name)
        reshaped = f", shape {shape_text(best.counts)} -> {shape_text(winner.counts)}" if others else ""
        moves.append(f"{name} {best.counts[name]} -> {winner.counts[name]} ({how}; bottleneck "
                     f"{best.bottleneck}): {best.fps:,.0f} -> {winner.fps:,.0f} FPS{reshaped}")
        best = winner
    window = (least, (1.0 - remove_fraction) * total)
    if shapes and best.fps > 0 and best.slowest:  # else no count moves the slowest node
        around, pool = best.counts, [best]
        if shape_order == "even":
            around = uniform
            if window[0] <= remaining_macs(groups, profile, around) <= window[1]:
                pool += measured([(around, {}, dict(around))])
        levels = sorted({p for c in pool for p in next_passes(c.slowest, c.units)},
                        reverse=True) if targets else ()
        exact = {g.name: exact_counts(g.channels, int(granularity[g.name]), floor[g.name],
                                      around[g.name], levels) for g in groups}
        near = sweep_shapes(groups, scores, profile, granularity, floor, around, window,
                            shapes, sensitivity=sensitivity, exact=exact, order=shape_order)
        tried = measured([(counts, {}, dict(counts)) for counts in near])
        faster = [c for c in pool + tried if c.fps > best.fps * (1 + MIN_GAIN)]
        if shape_order == "even":  # of the fastest, the nearest the uniform cut (ties: the
            level = max((c.fps for c in faster), default=best.fps)  # search's own first)
            winner = min((c for c in pool + tried if c.fps >= level),
                         key=lambda c: off_uniform(c.counts, uniform, widths))
        else:
            winner = max(faster, key=lambda c: c.fps) if faster else best  # ties: sweep order
        if winner is not best:
            moves.append(f"shape sweep {shape_text(best.counts)} -> {shape_text(winner.counts)} "
                         f"({len(tried)} shapes within {SPAN} granules of {shape_text(around)}, "
                         f"{SHAPE_ORDERS[shape_order]}): {best.fps:,.0f} -> {winner.fps:,.0f} FPS")
            best = winner
    ties = [c.counts for c in seen.values() if c is not best and best.fps > 0
            and c.fps >= best.fps and remaining_macs(groups, profile, c.counts) >= least]
    if shape_order == "even":  # the trials, capped, take the nearest the uniform cut first
        ties.sort(key=lambda counts: off_uniform(counts, uniform, widths))
    ties = [best.counts, *ties]
    return SearchResult(best.counts, first.counts, first.fps, best.fps, len(seen), moves, ties,
                        time.perf_counter() - started,
                        meter.workers if meter.in_workers > shipped else 1)


def shape_text(counts: Mapping[str, int]) -> str:
    """Kept counts as reports write them, in the groups' order: 8-4-28-8-40-64."""
    return "-".join(str(n) for n in counts.values())
