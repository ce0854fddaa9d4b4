"""Per-layer channel granularity from the board's folding, and aligned channel counts."""

from __future__ import annotations

import pytest

from codesign.errors import PruneError
from codesign.prune.alignment import (
    MIN_OPTIONS,
    align_count,
    alignments,
    bounded,
    channel_simd,
    check_kept_counts,
    grain_limit,
    granularity,
    legal_counts,
)
from codesign.prune.graph import ChannelGroup
from codesign.prune.profile import HardwareProfile, LayerHardware


def _layer(name: str, pe: int, simd: int, mh: int, mw: int, folds: tuple[int, ...] = ()
           ) -> LayerHardware:
    return LayerHardware(layer=name, node=f"MVAU_{name}", pe=pe, simd=simd, mh=mh, mw=mw,
                         cycles=mh * mw // (pe * simd), macs=mh * mw, lut=100.0, bram_18k=0.0,
                         uram=0.0, dsp=0.0, channel_folds=folds)


def _profile(*layers: LayerHardware) -> HardwareProfile:
    return HardwareProfile(layers=layers, fps=1.0, max_cycles=max(x.cycles for x in layers),
                           totals={"LUT": sum(x.lut for x in layers)}, fits=True,
                           objective="maximize", target_fps=None, estimates=None)  # type: ignore[arg-type]


def _group(name: str, channels: int, consumer: str, *, kind: str = "linear", per: int = 1,
           consumer_kind: str = "linear") -> ChannelGroup:
    return ChannelGroup(name=name, kind=kind, channels=channels, followers=(), batchnorm=None,
                        consumer=consumer, consumer_kind=consumer_kind, features_per_channel=per)


@pytest.mark.parametrize(("simd", "per", "expected"), [
    (16, 1, 16),  # linear -> linear: MW == channels, the whole SIMD spans channels
    (16, 64, 1),  # SIMD inside one channel's 8x8 pixels after a flatten: any count works
    (16, 25, 16),  # 5x5 pixels, gcd 1: the channel count must carry all of it
    (12, 4, 3),  # 2x2 pixels carry a factor 4 of SIMD 12
    (72, 9, 8),  # 3x3 conv, SIMD 72 over K*K*C: 8 channels per SIMD word
    (12, 9, 4),
])
def test_channel_part_of_the_consumer_simd(simd: int, per: int, expected: int) -> None:
    got = channel_simd(simd, per)
    assert got == expected
    assert all((c * per) % simd == 0 for c in range(got, 10 * got, got))


@pytest.mark.parametrize(("required", "channels", "expected"), [
    (32, 64, 8),  # bound 64 // 8 = 8 divides 32
    (32, 128, 16),  # bound 16
    (12, 128, 12),  # within the bound: unchanged
    (12, 64, 6),  # bound 8: the largest divisor of 12 within it
    (9, 16, 3),  # narrow layer: bound 4 (not 16 // 8 = 2); 3 (a power of two would not divide 9)
    (8, 16, 4),
    (7, 16, 1),  # prime above the bound: no parallelism can be guaranteed
    (16, 4, 2),  # tiny layer: bound 4 // 2 = 2, still two counts
    (8, 3, 1),
])
def test_bound_is_the_largest_divisor_leaving_room_to_prune(required: int, channels: int,
                                                             expected: int) -> None:
    got = bounded(required, channels)
    assert got == expected
    limit = grain_limit(channels)
    assert required % got == 0 and got <= limit
    assert not [d for d in range(got + 1, limit + 1) if required % d == 0]  # the largest one
    assert len(legal_counts(channels, got)) >= min(channels, MIN_OPTIONS, 2)
    if channels >= 4 * MIN_OPTIONS:  # wide layers keep MIN_OPTIONS counts at least
        assert len(legal_counts(channels, got)) >= MIN_OPTIONS


@pytest.mark.parametrize("min_options", [1, 2, 4, 8])
def test_bound_follows_min_options(min_options: int) -> None:
    got = bounded(32, 64, min_options)
    assert got == min(32, 64 // min_options)


def test_granularity_of_a_tfc_folded_for_pynq_z2() -> None:
    # The folding fold_for_board gives TFC-W2A2 on pynq-z2 (objective maximize).
    groups = [_group("l0", 64, "l1"), _group("l1", 64, "l2"), _group("l2", 64, "cls")]
    profile = _profile(_layer("l0", 32, 16, 64, 784), _layer("l1", 2, 32, 64, 64),
                       _layer("l2", 8, 8, 64, 64), _layer("cls", 1, 8, 10, 64))
    rows = {a.name: a for a in alignments(groups, profile)}
    # l0: lcm(PE 32, next SIMD 32) = 32, bounded to 64 // 8 = 8; l1: lcm(2, 8) = 8;
    # l2: lcm(8, 8) = 8
    assert granularity(groups, profile) == {"l0": 8, "l1": 8, "l2": 8}
    assert (rows["l0"].required, rows["l0"].limit) == (32, 8)
    assert granularity(groups, profile, min_options=4) == {"l0": 16, "l1": 8, "l2": 8}


def test_granularity_of_a_small_cnv_folded_for_pynq_z2() -> None:
    # As measured (cnv channels [8, 8, 16, 16], fc [32], 3x32x32, W2A2, objective maximize):
    # conv MVAUs at SIMD 72 / 12 / 144 over K*K*C_in, sliding windows and the pool at the
    # channel count, the first FC at SIMD 50 over 16 channels x 10x10 pixels.
    groups = [_group("c0", 8, "c1", kind="conv", consumer_kind="conv"),
              _group("c1", 8, "c2", kind="conv", consumer_kind="conv"),
              _group("c2", 16, "c3", kind="conv", consumer_kind="conv"),
              _group("c3", 16, "fc", kind="conv", per=100),
              _group("fc", 32, "cls")]
    profile = _profile(_layer("c0", 8, 27, 8, 27, folds=(8,)),
                       _layer("c1", 8, 72, 8, 72, folds=(8, 8, 8)),
                       _layer("c2", 16, 12, 16, 72, folds=(16,)),
                       _layer("c3", 2, 144, 16, 144), _layer("fc", 1, 50, 32, 1600),
                       _layer("cls", 1, 1, 10, 32))
    rows = {a.name: a for a in alignments(groups, profile)}
    assert [rows[n].required for n in ("c0", "c1", "c2", "c3", "fc")] == [8, 8, 16, 2, 1]
    # consumers' SIMD 72, 12, 144 over 3x3 windows: 72/9, 12/gcd(12, 9), 144/9 channels
    assert [rows[n].channel_simd for n in ("c0", "c1", "c2")] == [8, 4, 16]
    # narrow layers (8, 16 channels) align to 4 at most, and to no more than half their width
    assert granularity(groups, profile) == {"c0": 4, "c1": 4, "c2": 4, "c3": 2, "fc": 1}


@pytest.mark.parametrize(("pe", "folds", "simd", "per", "expected"), [
    (4, (), 6, 1, 12),  # linear -> linear: lcm(4, 6)
    (8, (8,), 3, 9, 8),  # conv -> conv, SIMD 3 inside one channel's 3x3 window
    (8, (4, 2), 72, 9, 8),  # sliding window SIMD 4, pool PE 2, SIMD 72 = 8 channels x 3x3
    (2, (3,), 36, 9, 12),  # a window at SIMD 3 and SIMD 36 = 4 channels x 3x3
    (4, (), 32, 16, 4),  # through a 4x4 flatten: SIMD part 2, lcm(4, 2)
    (2, (), 9, 16, 18),  # 4x4 pixels carry no factor of 9
    (1, (), 1, 49, 1),
])
def test_unbounded_granularity_keeps_the_boards_folding_legal_at_every_count(
        pe: int, folds: tuple[int, ...], simd: int, per: int, expected: int) -> None:
    channels = 720  # large enough that the bound does not bite
    consumer_kind = "conv" if per == 9 else "linear"
    group = _group("p", channels, "c", kind="conv", per=1 if per == 9 else per,
                   consumer_kind=consumer_kind)
    profile = _profile(_layer("p", pe, 1, channels, 64, folds=folds),
                       _layer("c", 1, simd, 10, channels * per))
    grain = granularity([group], profile)["p"]
    assert grain == expected
    for count in legal_counts(channels, grain):
        assert count % pe == 0  # MH % PE == 0 for the producer
        assert all(count % f == 0 for f in folds)  # windows, pools, thresholds between
        assert (count * per) % simd == 0  # MW % SIMD == 0 for the consumer
    if grain > 1:  # and a count off the grid breaks one of them, which is why alignment exists
        off = legal_counts(channels, grain)[-1] - 1
        assert off % pe or any(off % f for f in folds) or (off * per) % simd


@pytest.mark.parametrize(("consumer_mw", "per", "message"), [
    (64 * 16 + 1, 16, "after its latest surgery"), (64 * 4, 16, "inputs per channel")])
def test_a_profile_of_another_model_is_refused(consumer_mw: int, per: int, message: str) -> None:
    profile = _profile(_layer("p", 1, 1, 64, 8), _layer("c", 1, 1, 10, consumer_mw))
    with pytest.raises(PruneError, match=message):
        granularity([_group("p", 64, "c", kind="conv", per=per)], profile)


def test_unknown_consumer_in_profile_is_a_prune_error() -> None:
    profile = _profile(_layer("l0", 1, 1, 8, 8))
    with pytest.raises(PruneError, match="not in the hardware profile"):
        granularity([_group("l0", 8, "missing")], profile)


@pytest.mark.parametrize(("channels", "grain", "expected"), [
    (64, 16, [16, 32, 48, 64]), (61, 8, [8, 16, 24, 32, 40, 48, 56]), (3, 1, [1, 2, 3]),
    (4, 8, [])])
def test_legal_counts(channels: int, grain: int, expected: list[int]) -> None:
    assert legal_counts(channels, grain) == expected


@pytest.mark.parametrize(("target", "grain", "channels", "expected"), [
    (25, 8, 64, 24), (28, 8, 64, 32), (20, 8, 64, 24),  # ties go to more channels
    (3, 8, 64, 8),  # never below one step
    (70, 8, 64, 64), (61, 1, 64, 61), (59.6, 4, 61, 60), (0.2, 1, 5, 1)])
def test_align_count(target: float, grain: int, channels: int, expected: int) -> None:
    got = align_count(target, grain, channels)
    assert got == expected
    assert got in legal_counts(channels, grain)
    assert all(abs(n - target) >= abs(got - target) for n in legal_counts(channels, grain))


@pytest.mark.parametrize(("target", "grain", "channels", "message"), [
    (0, 8, 64, "keep at least one"), (-3, 8, 64, "keep at least one"),
    (float("nan"), 8, 64, "keep at least one"), (10, 0, 64, "at least 1"),
    (10, 16, 8, "exceeds"), (10, 1, 0, "at least one channel")])
def test_align_count_rejects_nonsense(target: float, grain: int, channels: int,
                                      message: str) -> None:
    with pytest.raises(PruneError, match=message):
        align_count(target, grain, channels)



def _fixed_folding() -> tuple[list[ChannelGroup], HardwareProfile]:
    """A folding kept for the pruned model: a chain layer p (64 channels, PE 16, then a node at
    4 lanes) into a 3x3 conv c (SIMD 72: 8 channels a word), and a residual sum written by s
    and t (PE 2 and 4, 32 channels) read by the classifier at SIMD 32."""
    chain = _group("p", 64, "c", kind="conv", consumer_kind="conv")
    residual = ChannelGroup(name="s", kind="conv", channels=32, followers=(), batchnorm=None,
                            consumer="fc", consumer_kind="linear", features_per_channel=1,
                            producers=("s", "t"))
    profile = _profile(_layer("p", 16, 1, 64, 27, folds=(4,)), _layer("c", 1, 72, 32, 64 * 9),
                       _layer("s", 2, 1, 32, 9), _layer("t", 4, 1, 32, 9),
                       _layer("fc", 1, 32, 10, 32))
    return [chain, residual], profile


@pytest.mark.parametrize("count", range(1, 65))
def test_a_kept_count_suits_a_kept_folding_exactly_when_its_lanes_divide_it(count: int) -> None:
    groups, profile = _fixed_folding()
    required = alignments(groups, profile)[0].required
    assert required == 16  # lcm(PE 16, node 4, SIMD part 8)
    if count % required == 0:
        check_kept_counts(groups, profile, {"p": count}, folding="the file")
    else:
        with pytest.raises(PruneError, match=r"^the file cannot use the kept channel counts: "
                                             rf"layer p keeps {count} channels, not a multiple "
                                             r"of .*\(usable: multiples of 16, nearest") as info:
            check_kept_counts(groups, profile, {"p": count}, folding="the file")
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(("counts", "match"), [
    ({"p": 56}, r"layer p keeps 56 channels, not a multiple of PE 16 of MVAU_p \(p\) "
                r"\(usable: multiples of 16, nearest 48 or 64\); keep usable counts, or fold the "
                r"pruned model anew$"),
    ({"p": 60}, r"PE 16 of MVAU_p \(p\), the 8 channels per SIMD word of MVAU_c \(c, SIMD "
                r"72\) \(usable: multiples of 16, nearest 48 or 64\)"),
    ({"p": 50}, r"the 4 lanes of a node after MVAU_p"),
    ({"p": 8}, r"nearest 16\)"),
    ({"s": 6}, r"layers s \+ t keep 6 channels, not a multiple of PE 4 of MVAU_t \(t\), "
               r"the 32 channels per SIMD word of MVAU_fc \(fc, SIMD 32\) \(usable: multiples "
               r"of 32, nearest 32\)"),
    ({"p": 56, "s": 30}, r"layer p keeps 56 .*; layers s \+ t keep 30 channels"),
])
def test_an_unusable_count_names_its_layers_the_lanes_it_breaks_and_the_nearest_counts(
        counts: dict[str, int], match: str) -> None:
    groups, profile = _fixed_folding()
    with pytest.raises(PruneError, match=match) as info:
        check_kept_counts(groups, profile, counts, folding="folding file f.json")
    assert str(info.value).startswith("folding file f.json cannot use the kept channel counts")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("counts", "match"), [
    ({"p": 0}, r"layer p would keep 0 channels \(to zero"),
    ({"s": 0}, r"layers s \+ t would keep 0 channels \(to zero"),
    ({"p": 2.5}, r"layer p would keep 2.5 channels"),
    ({"p": 80}, r"layer p has 64 channels; cannot keep 80"),
    ({"q": 16}, r"kept counts name q, which are not prunable groups \(p, s\)"),
])
def test_nonsense_kept_counts_are_refused(counts: dict, match: str) -> None:
    groups, profile = _fixed_folding()
    with pytest.raises(PruneError, match=match):
        check_kept_counts(groups, profile, counts, folding="the file")


def test_usable_counts_and_untouched_groups_pass() -> None:
    groups, profile = _fixed_folding()
    check_kept_counts(groups, profile, {"p": 48, "s": 32}, folding="the file")
    check_kept_counts(groups, profile, {}, folding="the file")  # nothing pruned
    check_kept_counts(groups, profile, {"p": 16}, folding="the file", fix="unused")
