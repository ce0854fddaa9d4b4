"""Hardware-cost-aware channel allocation, on hand-built profiles of MLP chains."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign.errors import PruneError
from codesign.prune.allocate import allocate, granule_luts, importance_lost
from codesign.prune.graph import ChannelGroup
from tests.prune.chains import chain, flat, tfc_like


def _macs(widths: tuple[int, ...], groups: list[ChannelGroup], counts: dict[str, int]) -> int:
    """MACs of the chain with the given kept widths, computed from shapes alone."""
    kept = [widths[0]] + [counts[g.name] for g in groups] + [widths[-1]]
    return sum(a * b for a, b in zip(kept, kept[1:], strict=False))


def test_the_layer_holding_most_lut_and_cycles_goes_first() -> None:
    groups, profile = tfc_like()
    # groups listed last-first, so a tie would not favour l0: the hardware share decides
    counts = allocate(groups[::-1], flat(groups), profile, {"l0": 8, "l1": 8, "l2": 8}, 0.05)
    assert counts == {"l0": 56, "l1": 64, "l2": 64}  # one step of the first layer suffices


@pytest.mark.parametrize(("heavy", "expected"), [(0, "l0"), (1, "l0"), (2, "l1"), (3, "l2")])
def test_first_move_follows_the_hardware_of_producer_and_consumer(heavy: int,
                                                                  expected: str) -> None:
    # group k shrinks layer k (its outputs) and layer k + 1 (its inputs): a heavy layer 1 is
    # freed equally by l0 and l1 (the tie goes to the earlier group), the classifier only by l2
    lut = tuple(10_000.0 if i == heavy else 100.0 for i in range(4))
    cycles = tuple(100 if i == heavy else 10 for i in range(4))
    groups, profile = chain((64, 64, 64, 64, 64), lut, cycles)
    counts = allocate(groups, flat(groups), profile, {g.name: 8 for g in groups}, 0.01)
    assert counts == {g.name: 56 if g.name == expected else 64 for g in groups}


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7])
@pytest.mark.parametrize("grains", [(8, 8, 8), (16, 8, 4), (1, 1, 1)])
def test_counts_are_aligned_never_zero_and_reach_the_fraction(
        fraction: float, grains: tuple[int, int, int]) -> None:
    widths = (784, 64, 64, 64, 10)
    groups, profile = tfc_like()
    grain = dict(zip(("l0", "l1", "l2"), grains, strict=True))
    rng = np.random.default_rng(0)
    scores = {g.name: rng.random(g.channels) for g in groups}
    counts = allocate(groups, scores, profile, grain, fraction)
    assert all(counts[n] % grain[n] == 0 and counts[n] >= grain[n] for n in counts)
    before, after = _macs(widths, groups, {g.name: 64 for g in groups}), _macs(widths, groups,
                                                                               counts)
    assert before - after >= fraction * before
    # no more than one extra step: the largest single move is 16 rows of 784 + 16 columns of 64
    assert before - after < fraction * before + 16 * (784 + 64)
    assert counts == allocate(groups, scores, profile, grain, fraction)  # deterministic


def test_sensitivity_protects_a_layer() -> None:
    groups, profile = tfc_like()
    grain = {"l0": 8, "l1": 8, "l2": 8}
    # the last three layers hold 15 % of the MACs, enough for 10 % without touching l0
    protected = allocate(groups, flat(groups), profile, grain, 0.1,
                         sensitivity={"l0": 1e6})
    assert protected["l0"] == 64 and min(protected["l1"], protected["l2"]) < 64
    assert allocate(groups, flat(groups), profile, grain, 0.1)["l0"] < 64


def test_unimportant_channels_go_before_hardware_share_alone_would_say() -> None:
    # l0 and l1 free the same hardware (l0 wins ties); l1 has eight channels that carry nothing
    groups, profile = chain((64, 64, 64, 64, 10), (100, 100, 100, 10), (10, 10, 10, 1))
    scores = flat(groups)
    scores["l1"] = np.concatenate([np.full(8, 1e-3), np.ones(56)])
    counts = allocate(groups, scores, profile, {g.name: 8 for g in groups}, 0.05)
    assert counts == {"l0": 64, "l1": 56, "l2": 64}


def test_min_keep_and_the_floor_hold() -> None:
    groups, profile = tfc_like()
    counts = allocate(groups, flat(groups), profile, {"l0": 8, "l1": 8, "l2": 8}, 0.4,
                      min_keep={"l0": 40})
    assert counts["l0"] == 40 and min(counts.values()) >= 8


def test_an_unaligned_count_first_goes_to_the_multiple_below() -> None:
    groups, profile = chain((100, 60, 30, 10), (1000, 100, 10), (100, 10, 1))
    counts = allocate(groups, flat(groups), profile, {"l0": 8, "l1": 4}, 0.02)
    assert counts == {"l0": 56, "l1": 30}


def test_unreachable_fraction_says_how_short_and_which_layers() -> None:
    groups, profile = tfc_like()
    with pytest.raises(PruneError, match=r"short by .*l0 at 32 \(minimum 32\)"):
        allocate(groups, flat(groups), profile, {"l0": 32, "l1": 32, "l2": 32}, 0.9)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2, float("nan")])
def test_bad_fraction(fraction: float) -> None:
    groups, profile = tfc_like()
    with pytest.raises(PruneError, match="between 0 and 1"):
        allocate(groups, flat(groups), profile, {"l0": 8, "l1": 8, "l2": 8}, fraction)


@pytest.mark.parametrize(("change", "message"), [
    ({"importance": {"l0": np.ones(63)}}, "one score per channel"),
    ({"importance": {"l0": -np.ones(64)}}, "non-negative"),
    ({"granularity": {"l0": 0}}, "granularity of l0"),
    ({"sensitivity": {"l9": 1.0}}, "not prunable groups"),
    ({"sensitivity": {"l1": 0.0}}, "positive"),
    ({"min_keep": {"l2": 0}}, "at least 1"),
    ({"stale": True}, "after its latest surgery"),
])
def test_inconsistent_inputs_are_named(change: dict[str, object], message: str) -> None:
    groups, profile = tfc_like()
    scores = {**flat(groups), **change.get("importance", {})}  # type: ignore[dict-item]
    grain = {"l0": 8, "l1": 8, "l2": 8, **change.get("granularity", {})}  # type: ignore[dict-item]
    if change.get("stale"):
        groups[1] = dataclasses.replace(groups[1], channels=48)
        scores["l1"] = np.ones(48)
    with pytest.raises(PruneError, match=message):
        allocate(groups, scores, profile, grain, 0.2,
                 sensitivity=change.get("sensitivity"),  # type: ignore[arg-type]
                 min_keep=change.get("min_keep"))  # type: ignore[arg-type]


@pytest.mark.parametrize(("fraction", "grain"), [(0.3, 1), (0.6, 1), (0.6, 8)])
def test_uniform_allocation_keeps_one_ratio_everywhere(fraction: float, grain: int) -> None:
    from codesign.prune.allocate import allocate_uniform

    groups, profile = tfc_like()
    counts = allocate_uniform(groups, profile, {g.name: grain for g in groups}, fraction)
    widths = (784, 64, 64, 64, 10)
    assert _macs(widths, groups, counts) <= (1 - fraction) * _macs(widths, groups, {
        g.name: g.channels for g in groups}) + 1e-9
    assert len(set(counts.values())) == 1  # the same width for equal layers: blind to hardware
    assert all(c % grain == 0 and c >= grain for c in counts.values())
    hardware_aware = allocate(groups, flat(groups), profile, {g.name: grain for g in groups},
                              fraction)
    first = groups[0].name  # the layer holding most LUTs and cycles
    assert hardware_aware[first] < counts[first] or grain > 1


def test_uniform_allocation_rejects_bad_fractions() -> None:
    from codesign.prune.allocate import allocate_uniform

    groups, profile = tfc_like()
    with pytest.raises(PruneError, match="between 0 and 1"):
        allocate_uniform(groups, profile, {g.name: 1 for g in groups}, 1.0)


def _ranked_scores(groups: list[ChannelGroup], low: str) -> dict[str, np.ndarray]:
    """Score 1 for every channel, except half of `low`'s, which score 0.5."""
    scores = {g.name: np.ones(g.channels) for g in groups}
    scores[low][: scores[low].size // 2] = 0.5
    return scores


@pytest.mark.parametrize("low", ["l1", "l2"])
def test_criterion_policy_follows_importance_not_hardware(low: str) -> None:
    groups, profile = tfc_like()  # l0 holds most LUTs and cycles
    grain = {g.name: 1 for g in groups}
    scores = _ranked_scores(groups, low)
    blind = allocate(groups, scores, profile, grain, 0.02, policy="criterion")
    aware = allocate(groups, scores, profile, grain, 0.02)
    assert blind["l0"] == 64 and blind[low] < 64  # the cheap channels go, wherever they sit
    assert aware["l0"] < 64  # the hardware policy still cuts where the hardware is spent
    widths = (784, 64, 64, 64, 10)
    full = _macs(widths, groups, {g.name: g.channels for g in groups})
    for counts in (blind, aware):
        assert _macs(widths, groups, counts) <= 0.98 * full + 1e-9


@pytest.mark.parametrize("grain", [1, 4])
def test_criterion_policy_takes_channels_in_global_order_of_normalised_score(grain: int) -> None:
    groups, profile = tfc_like()
    # every layer ranks 1..64 the same way: normalised alike, so the layers shrink together
    scores = {g.name: np.arange(1, g.channels + 1, dtype=float) for g in groups}
    counts = allocate(groups, scores, profile, {g.name: grain for g in groups}, 0.5,
                      policy="criterion")
    assert max(counts.values()) - min(counts.values()) <= grain
    assert all(c % grain == 0 for c in counts.values())
    # scaling one layer's scores changes nothing: each layer is normalised by its own L2 norm
    scaled = {**scores, "l1": scores["l1"] * 1000.0}
    assert allocate(groups, scaled, profile, {g.name: grain for g in groups}, 0.5,
                    policy="criterion") == counts


def test_unknown_allocation_policy_is_named() -> None:
    groups, profile = tfc_like()
    with pytest.raises(PruneError, match="'random' is not one of hardware, criterion"):
        allocate(groups, flat(groups), profile, {g.name: 1 for g in groups}, 0.1,
                 policy="random")


@pytest.mark.parametrize(("kind", "forced", "limit", "kept"), [
    # a ceiling: the aligned count at or below it, which the loop may cut further
    ("ceiling", "l1", 48, 48), ("ceiling", "l2", 40, 40), ("ceiling", "l2", 43, 40),
    # a pinned count: exactly that, aligned or not, and the loop leaves it there
    ("pinned", "l0", 21, 21), ("pinned", "l1", 45, 45), ("pinned", "l2", 64, 64),
])
def test_forced_groups_count_towards_the_fraction_and_the_rest_takes_less(
        kind: str, forced: str, limit: int, kept: int) -> None:
    widths = (784, 64, 64, 64, 10)
    groups, profile = tfc_like()
    grain = {"l0": 8, "l1": 8, "l2": 8}
    free = allocate(groups, flat(groups), profile, grain, 0.3)
    counts = allocate(groups, flat(groups), profile, grain, 0.3, **{kind: {forced: limit}})
    assert counts[forced] == kept
    others = [n for n in counts if n != forced]
    assert all(counts[n] % 8 == 0 for n in others)
    if kept < free[forced]:  # the forced MACs count: the others give up no more
        assert all(counts[n] >= free[n] for n in others)
    before = _macs(widths, groups, {g.name: 64 for g in groups})
    assert before - _macs(widths, groups, counts) >= 0.3 * before


@pytest.mark.parametrize(("forced", "message"), [
    ({"ceiling": {"l1": 4}}, "ceiling 4 for l1 is outside what it may keep .8 to 64"),
    ({"ceiling": {"cls": 4}}, "ceiling names cls, which is not a prunable group"),
    ({"pinned": {"cls": 4}}, "pinned count names cls, which is not a prunable group"),
    ({"pinned": {"l1": 65}}, "pinned count 65 for l1 is outside what it may keep .1 to 64"),
    ({"pinned": {"l1": 0}}, "pinned count 0 for l1 is outside what it may keep"),
    ({"pinned": {"l1": 40}, "min_keep": {"l1": 48}}, "outside what it may keep .48 to 64"),
    ({"pinned": {"l1": 40}, "ceiling": {"l1": 48}}, "l1 has both a ceiling and a pinned count"),
])
def test_bad_ceilings_and_pins_are_named(forced: dict, message: str) -> None:
    groups, profile = tfc_like()
    with pytest.raises(PruneError, match=message):
        allocate(groups, flat(groups), profile, {"l0": 8, "l1": 8, "l2": 8}, 0.1, **forced)


def _removed(groups: list[ChannelGroup], profile, counts: dict[str, int]) -> float:
    from codesign.prune.allocate import remaining_macs

    full = remaining_macs(groups, profile, {g.name: g.channels for g in groups})
    return 1 - remaining_macs(groups, profile, counts) / full


@pytest.mark.parametrize("fraction", [0.2, 0.35, 0.5, 0.6])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("policy", ["hardware", "criterion"])
def test_give_back_returns_granules_the_fraction_does_not_need(fraction: float, seed: int,
                                                               policy: str) -> None:
    groups, profile = tfc_like()
    grain = {g.name: 8 for g in groups}
    rng = np.random.default_rng(seed)
    scores = {g.name: rng.random(g.channels) ** 3 for g in groups}
    plain = allocate(groups, scores, profile, grain, fraction, policy=policy)
    kept = allocate(groups, scores, profile, grain, fraction, policy=policy, give_back=True)
    assert all(kept[n] >= plain[n] and kept[n] % 8 == 0 for n in kept)
    assert _removed(groups, profile, kept) >= fraction - 1e-12
    for name in kept:  # maximal: one granule more anywhere misses the fraction
        if kept[name] < 64:
            assert _removed(groups, profile, {**kept, name: kept[name] + 8}) < fraction


def test_give_back_undoes_a_stranded_cut() -> None:
    # TFC's first layer costs 848 MACs a channel: the greedy loop cuts the cheap later layers
    # first, then one granule of the first layer overshoots; the later layers' cuts are no
    # longer needed and come back
    groups, profile = tfc_like()
    grain = {g.name: 8 for g in groups}
    scores = {"l0": np.linspace(1.0, 2.0, 64), "l1": np.linspace(0.0, 1.0, 64) ** 4,
              "l2": np.linspace(0.0, 1.0, 64) ** 4}
    plain = allocate(groups, scores, profile, grain, 0.3)
    kept = allocate(groups, scores, profile, grain, 0.3, give_back=True)
    assert plain["l0"] == kept["l0"] and sum(kept.values()) > sum(plain.values())
    assert _removed(groups, profile, kept) >= 0.3


def test_give_back_leaves_forced_groups_as_forced() -> None:
    groups, profile = tfc_like()
    grain = {g.name: 8 for g in groups}
    kept = allocate(groups, flat(groups), profile, grain, 0.3, pinned={"l1": 20},
                    ceiling={"l2": 40}, give_back=True)
    assert kept["l1"] == 20 and kept["l2"] <= 40


@pytest.mark.parametrize(("counts", "grain"), [({"l0": 64, "l1": 64, "l2": 64}, 8),
                                               ({"l0": 32, "l1": 48, "l2": 16}, 8),
                                               ({"l0": 24, "l1": 64, "l2": 4}, 4)])
def test_granule_luts_are_the_removed_share_of_the_group_and_its_consumer(
        counts: dict[str, int], grain: int) -> None:
    # l0 -> l1 -> l2 -> cls with LUTs 700 / 200 / 90 / 10 over 64-64-64 hidden channels
    groups, profile = chain((64, 64, 64, 64, 10), (700.0, 200.0, 90.0, 10.0), (1, 1, 1, 1))
    freed = granule_luts(groups, profile, {g.name: grain for g in groups}, counts)
    share = grain / 64
    kept = {n: c / 64 for n, c in counts.items()}
    expected = {"l0": share * (700.0 + 200.0 * kept["l1"]),
                "l1": share * (200.0 * kept["l0"] + 90.0 * kept["l2"]),
                "l2": share * (90.0 * kept["l1"] + 10.0)}
    for name, value in expected.items():  # a group at one granule has nothing left to give
        assert freed[name] == pytest.approx(value if counts[name] > grain else 0.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_importance_lost_is_the_greedy_loops_move_costs_summed(seed: int) -> None:
    """The sweep orders shapes by the allocation's own cost: the lowest scores removed over
    each group's total, times its sensitivity; nothing removed costs nothing, and every
    channel removed costs more."""
    groups, _ = tfc_like()
    rng = np.random.default_rng(seed)
    scores = {g.name: rng.random(g.channels) for g in groups}
    whole = {g.name: g.channels for g in groups}
    assert importance_lost(groups, scores, whole) == 0.0
    counts = {"l0": 40, "l1": 48, "l2": 64}
    expected = sum(np.sort(scores[n])[:64 - k].sum() / scores[n].sum() for n, k in counts.items())
    assert importance_lost(groups, scores, counts) == pytest.approx(expected)
    fewer = {**counts, "l1": 40}
    assert importance_lost(groups, scores, fewer) > importance_lost(groups, scores, counts)
    weighted = importance_lost(groups, scores, counts, {"l0": 3.0})
    share = np.sort(scores["l0"])[:24].sum() / scores["l0"].sum()
    assert weighted == pytest.approx(expected + 2.0 * share)
