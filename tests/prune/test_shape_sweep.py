"""The shape sweep's lattice: which shapes it lists near the search's counts, in what order,
and what it refuses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from codesign.errors import PruneError
from codesign.prune import shape_sweep
from codesign.prune.allocate import importance_lost, remaining_macs
from codesign.prune.shape_sweep import (
    SPAN,
    exact_counts,
    group_options,
    most_cut,
    off_uniform,
    spread,
    sweep_shapes,
    uniform_counts,
)
from tests.prune.chains import chain

WIDTHS = (64, 64, 64, 64, 10)
GRAIN = {"l0": 8, "l1": 8, "l2": 8}


def _case():
    groups, profile = chain(WIDTHS, (100.0, 100.0, 100.0, 100.0), (10, 10, 10, 10))
    # the groups' scores differ in spread, so the importance removed differs between shapes
    scores = {g.name: np.linspace(0.01, 1.0 + i, g.channels) for i, g in enumerate(groups)}
    return groups, profile, scores


@pytest.mark.parametrize(("around", "floor", "expected"), [
    (40, 8, [16, 24, 32, 40, 48, 56, 64]),
    (40, 32, [32, 40, 48, 56, 64]),  # the floor binds
    (64, 8, [40, 48, 56, 64]),  # no wider than the group
    (16, 8, [8, 16, 24, 32, 40]),
])
def test_a_group_moves_within_span_granules_from_its_floor_up(around: int, floor: int,
                                                                expected: list[int]) -> None:
    groups, _, _ = _case()
    assert group_options(groups[0], 8, floor, around) == expected
    assert all(abs(n - around) <= SPAN * 8 for n in expected)


def test_an_unaligned_width_is_an_option_of_its_own() -> None:
    groups, _ = chain((64, 60, 64, 10), (1.0, 1.0, 1.0), (1, 1, 1))
    assert group_options(groups[0], 8, 8, 56) == [32, 40, 48, 56, 60]


@pytest.mark.parametrize(("channels", "floor", "around", "passes", "expected"), [
    (64, 8, 40, (7, 6), [35, 36, 42]),  # DS-CNN on KV260: 7 passes at PE 5 or 6, 6 at PE 6 or 7
    (64, 37, 40, (7, 6), [42]),  # the floor binds
    (40, 8, 40, (7, 6), [35, 36]),  # no wider than the group
    (64, 8, 40, (5,), [35, 45]),
    (64, 8, 40, (), []),  # no pass count to aim at: the lattice alone
    (64, 8, 40, (4,), [36, 44]),  # the lattice's own multiples are not repeated
])
def test_exact_counts_are_multiples_of_the_next_pass_counts_within_a_granule(
        channels: int, floor: int, around: int, passes: tuple[int, ...], expected: list[int]
) -> None:
    found = exact_counts(channels, 8, floor, around, passes)
    assert found == expected
    assert all(n % 8 and abs(n - around) <= 8 and floor <= n <= channels for n in found)
    assert all(any(n % p == 0 for p in passes) for n in found)


def test_a_pass_count_below_one_is_refused() -> None:
    with pytest.raises(PruneError, match="pass counts are whole and positive"):
        exact_counts(64, 8, 8, 40, (7, 0))


def test_exact_counts_join_the_lattice_options_and_the_swept_shapes() -> None:
    groups, profile, scores = _case()
    assert group_options(groups[0], 8, 32, 40, [35, 42]) == [32, 35, 40, 42, 48, 56, 64]
    total = remaining_macs(groups, profile, {g.name: g.channels for g in groups})
    around = {"l0": 40, "l1": 40, "l2": 40}
    window = (0.35 * total, 0.45 * total)
    floor = dict.fromkeys(around, 8)
    plain = sweep_shapes(groups, scores, profile, GRAIN, floor, around, window, 10_000)
    exact = {"l0": [35, 42], "l1": [35, 42], "l2": []}
    wider = sweep_shapes(groups, scores, profile, GRAIN, floor, around, window, 10_000,
                         exact=exact)
    off_lattice = [s for s in wider if s["l0"] % 8 or s["l1"] % 8]
    assert off_lattice and all(s in wider for s in plain)
    assert all(s["l2"] % 8 == 0 and window[0] <= remaining_macs(groups, profile, s) <= window[1]
               for s in wider)
    assert len(wider) == len(plain) + len(off_lattice)


@pytest.mark.parametrize("limit", [1, 5, 40])
@pytest.mark.parametrize("window", [(0.40, 0.50), (0.30, 0.45)])
def test_shapes_lie_in_the_window_least_importance_removed_first(limit: int,
                                                                 window: tuple[float, float]
                                                                 ) -> None:
    groups, profile, scores = _case()
    total = remaining_macs(groups, profile, {g.name: g.channels for g in groups})
    around = {"l0": 40, "l1": 40, "l2": 40}
    floor = {g.name: 8 for g in groups}
    shapes = sweep_shapes(groups, scores, profile, GRAIN, floor, around,
                          (window[0] * total, window[1] * total), limit)
    assert 0 < len(shapes) <= limit and around not in shapes
    kept = [remaining_macs(groups, profile, s) / total for s in shapes]
    assert all(window[0] <= k <= window[1] for k in kept)
    lost = [importance_lost(groups, scores, s) for s in shapes]
    assert lost == sorted(lost)
    assert all(abs(s[n] - around[n]) <= SPAN * GRAIN[n] and s[n] % 8 == 0
               for s in shapes for n in s)


@pytest.mark.parametrize("limit", [1, 6, 10_000])
@pytest.mark.parametrize(("order", "measure"), [
    ("balanced", most_cut),  # the narrowest group widest first
    ("even", spread),  # the kept shares nearest each other first
])
def test_the_other_orders_list_the_same_shapes_by_their_measure_first(limit: int, order: str,
                                                                     measure) -> None:
    groups, profile, scores = _case()
    total = remaining_macs(groups, profile, {g.name: g.channels for g in groups})
    around = {"l0": 40, "l1": 40, "l2": 48}
    window, floor = (0.35 * total, 0.45 * total), dict.fromkeys(around, 8)
    widths = {g.name: g.channels for g in groups}
    by_importance = sweep_shapes(groups, scores, profile, GRAIN, floor, around, window, 10_000)
    ordered = sweep_shapes(groups, scores, profile, GRAIN, floor, around, window, limit,
                           order=order)
    keys = [measure(s, widths) for s in ordered]
    assert keys == sorted(keys) and len(ordered) == min(limit, len(by_importance))
    assert keys[0] == min(measure(s, widths) for s in by_importance)
    # shapes equal by the measure keep the importance order
    same = [s for s in ordered if measure(s, widths) == keys[-1]]
    lost = [importance_lost(groups, scores, s) for s in same]
    assert lost == sorted(lost)
    if limit >= len(by_importance):
        assert sorted(map(str, ordered)) == sorted(map(str, by_importance))
        assert ordered != by_importance  # the scores' spread puts others first by importance


@pytest.mark.parametrize(("counts", "expected"), [
    ({"a": 40, "b": 20}, 0.0),
    ({"a": 32, "b": 16}, 0.0),  # the same share of different widths
    ({"a": 48, "b": 16}, 0.125),
])
def test_spread_is_the_deviation_of_the_kept_shares(counts: dict[str, int],
                                                    expected: float) -> None:
    assert spread(counts, {"a": 64, "b": 32}) == pytest.approx(expected)


@pytest.mark.parametrize(("counts", "expected"), [
    ({"a": 40, "b": 20}, 0.0),  # the uniform cut itself
    ({"a": 32, "b": 16}, 0.125),  # a uniform cut a granule deeper: as even, but not as near
    ({"a": 48, "b": 24}, 0.125),  # ... or shallower
    ({"a": 48, "b": 16}, 0.125),
    ({"a": 40, "b": 24}, 0.125 / np.sqrt(2)),  # one group a granule off
])
def test_off_uniform_is_the_rms_distance_of_the_kept_shares(counts: dict[str, int],
                                                           expected: float) -> None:
    uniform = {"a": 40, "b": 20}  # widths 64 and 32: both keep 62.5 %
    assert off_uniform(counts, uniform, {"a": 64, "b": 32}) == pytest.approx(expected)


@pytest.mark.parametrize("deep", [(36, 36, 36, 40, 36), (36, 36, 36, 36, 36), (32,) * 5])
def test_a_deeper_even_cut_lies_farther_than_a_near_shape_at_the_steps_depth(
        deep: tuple[int, ...]) -> None:
    """DS-CNN on KV260, default allowance, the uniform 40s of 64 at the step's fraction: a
    deeper cut as even or evener than 40-36-40-42-40 (36-36-36-40-36 was kept on two seeds)
    lies farther from them."""
    widths, uniform = dict.fromkeys("abcde", 64), dict.fromkeys("abcde", 40)
    deeper = dict(zip("abcde", deep, strict=True))
    near = {"a": 40, "b": 36, "c": 40, "d": 42, "e": 40}
    assert spread(deeper, widths) < spread(near, widths)
    assert off_uniform(near, uniform, widths) < off_uniform(deeper, uniform, widths)


@pytest.mark.parametrize("kept", [0.9, 0.5, 0.38, 0.2])
@pytest.mark.parametrize(("widths", "grain"), [
    ((64, 64, 64, 64, 10), {"l0": 8, "l1": 8, "l2": 8}),
    ((64, 32, 64, 64, 10), {"l0": 8, "l1": 4, "l2": 8}),
    ((60, 64, 64, 10), {"l0": 8, "l1": 8}),  # 60: an unaligned width
])
def test_the_uniform_cut_is_the_largest_even_share_within_the_macs(
        kept: float, widths: tuple[int, ...], grain: dict[str, int]) -> None:
    groups, profile = chain(widths, (1.0,) * (len(widths) - 1), (1,) * (len(widths) - 1))
    total = remaining_macs(groups, profile, {g.name: g.channels for g in groups})
    counts = uniform_counts(groups, profile, grain, dict.fromkeys(grain, 8), kept * total)
    assert remaining_macs(groups, profile, counts) <= kept * total
    assert all(counts[g.name] % grain[g.name] == 0 or counts[g.name] == g.channels
               for g in groups)
    # every group keeps the same share, short of it by less than one of its granules
    for g, h in itertools.combinations(groups, 2):
        assert (abs(counts[g.name] / g.channels - counts[h.name] / h.channels)
                < max(grain[g.name] / g.channels, grain[h.name] / h.channels))
    # and the largest such share: a granule more everywhere keeps too many MACs
    wider = {g.name: min(g.channels, counts[g.name] + grain[g.name]) for g in groups}
    assert remaining_macs(groups, profile, wider) > kept * total


def test_the_uniform_cut_bottoms_out_at_the_floors() -> None:
    groups, profile, _ = _case()
    floor = {"l0": 16, "l1": 24, "l2": 8}
    assert uniform_counts(groups, profile, GRAIN, floor, 1.0) == floor


def test_an_unknown_order_is_refused() -> None:
    groups, profile, scores = _case()
    with pytest.raises(PruneError, match="order 'widest' is not one of importance, balanced, even"):
        sweep_shapes(groups, scores, profile, GRAIN, dict.fromkeys(GRAIN, 8),
                     dict.fromkeys(GRAIN, 40), (0.0, 1e9), 5, order="widest")


def test_every_shape_of_the_window_is_listed_when_the_limit_allows() -> None:
    groups, profile, scores = _case()
    total = remaining_macs(groups, profile, {g.name: g.channels for g in groups})
    around = {"l0": 40, "l1": 40, "l2": 40}
    window = (0.35 * total, 0.45 * total)
    everything = sweep_shapes(groups, scores, profile, GRAIN, dict.fromkeys(around, 8), around,
                              window, 10_000)
    options = [group_options(g, 8, 8, 40) for g in groups]
    expected = {(a, b, c) for a in options[0] for b in options[1] for c in options[2]
                if window[0] <= remaining_macs(groups, profile, {"l0": a, "l1": b, "l2": c})
                <= window[1] and (a, b, c) != (40, 40, 40)}
    assert {tuple(s.values()) for s in everything} == expected


def test_an_empty_window_lists_nothing() -> None:
    groups, profile, scores = _case()
    around = {"l0": 40, "l1": 40, "l2": 40}
    assert sweep_shapes(groups, scores, profile, GRAIN, dict.fromkeys(around, 8), around,
                        (1.0, 2.0), 10) == []


def test_a_sweep_of_no_shapes_is_refused() -> None:
    groups, profile, scores = _case()
    with pytest.raises(PruneError, match="at least one shape"):
        sweep_shapes(groups, scores, profile, GRAIN, dict.fromkeys(GRAIN, 8), dict.fromkeys(GRAIN, 40),
                     (0.0, 1e9), 0)


def test_a_lattice_too_large_is_refused_with_the_setting_to_change(monkeypatch) -> None:
    groups, profile, scores = _case()
    monkeypatch.setattr(shape_sweep, "MAX_SHAPES", 100)
    with pytest.raises(PruneError, match=r"343 shapes .*prune.fold_shapes to 0"):
        sweep_shapes(groups, scores, profile, GRAIN, dict.fromkeys(GRAIN, 8), dict.fromkeys(GRAIN, 40),
                     (0.0, 1e9), 5)
