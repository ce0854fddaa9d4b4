"""The fold-in-the-loop count search: its rules on hand-built chains with a synthetic FPS
function, then on a real model with FINN's estimates, where it finds a faster folding."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from codesign.errors import PruneError
from codesign.prune import fold_search
from codesign.prune.allocate import allocate, remaining_macs
from codesign.prune.fold_search import MAX_EXTRA, MIN_GAIN, measure_counts, search_counts
from tests.prune.chains import chain, flat

GRAIN = {"l0": 8, "l1": 8, "l2": 8}
WIDTHS = (64, 64, 64, 64, 10)


def _chain_case():
    # equal hardware everywhere and the same spread of scores in every group, so the
    # allocation spreads its cuts over the groups (and a forced cut can be given back)
    return chain(WIDTHS, (100.0, 100.0, 100.0, 100.0), (10, 10, 10, 10))


def _scores(groups) -> dict[str, np.ndarray]:
    return {g.name: np.linspace(0.01, 2.0, g.channels) for g in groups}


def _search(monkeypatch, rate, *, rounds: int = 3, fraction: float = 0.2, bound: bool = True,
            grain: dict[str, int] | None = None):
    """search_counts on the chain with FPS = rate(counts); every measurement is recorded."""
    groups, profile = _chain_case()
    seen: list[dict[str, int]] = []

    def measure(model, scores, counts, input_shape, board, workdir):
        seen.append(dict(counts))
        fps, slowest = rate(counts)
        return fps, slowest, bound

    monkeypatch.setattr(fold_search, "measure_counts", measure)
    result = search_counts(None, groups, _scores(groups), profile, grain or GRAIN, fraction, None,
                           (1, 8, 8), Path("unused"), rounds=rounds)
    return result, seen, groups, profile


def test_the_group_feeding_the_bottleneck_is_cut_when_that_is_faster(monkeypatch) -> None:
    # l1 is the bottleneck until l0 (which feeds it) drops below the allocation's count
    groups, profile = _chain_case()
    allocated = allocate(groups, _scores(groups), profile, GRAIN, 0.2)
    assert list(allocated.values()) == [48, 56, 56]

    def rate(counts):
        return (2.0, "l2") if counts["l0"] < allocated["l0"] else (1.0, "l1")

    result, seen, groups, profile = _search(monkeypatch, rate)
    assert result.allocated == allocated and result.fps_allocated == 1.0
    assert result.counts["l0"] == allocated["l0"] - 8 and result.fps == 2.0
    assert len(result.moves) == 1 and result.moves[0].startswith("l0 ")
    # the cut in l0 is given back elsewhere: the step removes about the same MACs
    extra = remaining_macs(groups, profile, allocated) - remaining_macs(groups, profile,
                                                                        result.counts)
    assert extra <= MAX_EXTRA * sum(x.macs for x in profile.layers)
    assert any(result.counts[n] > allocated[n] for n in ("l1", "l2"))
    assert result.evaluated == len(seen) == len({tuple(c.values()) for c in seen})


@pytest.mark.parametrize("gain", [0.0, MIN_GAIN / 2])
def test_too_small_a_gain_keeps_the_allocation(monkeypatch, gain: float) -> None:
    result, seen, _, _ = _search(monkeypatch, lambda c: (1.0 + gain * (c["l0"] < 48), "l1"))
    assert result.counts == result.allocated and result.moves == []
    assert len(seen) == 3  # the allocation, then l1 and its feeder l0 one granule lower


def test_a_bottleneck_no_channel_count_moves_stops_the_search(monkeypatch) -> None:
    result, seen, _, _ = _search(monkeypatch, lambda c: (1.0, "l1"), bound=False)
    assert result.counts == result.allocated and len(seen) == 1


def test_a_design_that_does_not_fit_is_not_searched(monkeypatch) -> None:
    result, seen, _, _ = _search(monkeypatch, lambda c: (0.0, None))
    assert result.fps == 0.0 and len(seen) == 1


@pytest.mark.parametrize("rounds", [1, 2, 4])
def test_rounds_bound_the_moves_and_moves_respect_max_extra(monkeypatch, rounds: int) -> None:
    # every granule fewer in the bottleneck's feeder is faster: only rounds and MAX_EXTRA stop it
    def rate(counts):
        return 100.0 - counts["l0"], "l1"

    result, _, groups, profile = _search(monkeypatch, rate, rounds=rounds, fraction=0.1)
    assert len(result.moves) <= rounds
    extra = remaining_macs(groups, profile, result.allocated) - remaining_macs(
        groups, profile, result.counts)
    assert extra <= MAX_EXTRA * sum(x.macs for x in profile.layers) + 1e-9
    assert all(result.counts[n] % 8 == 0 and result.counts[n] >= 8 for n in result.counts)


def test_groups_at_their_minimum_are_not_cut(monkeypatch) -> None:
    result, seen, _, _ = _search(monkeypatch, lambda c: (100.0 - c["l0"] - c["l1"], "l1"),
                                 grain={"l0": 32, "l1": 32, "l2": 8}, fraction=0.45)
    assert result.allocated["l0"] == 32  # at its minimum: only l1 is tried one granule lower
    assert len(seen) == 2 and all(c["l0"] >= 32 and c["l1"] >= 32 for c in seen)


def test_zero_rounds_is_refused() -> None:
    groups, profile = _chain_case()
    with pytest.raises(PruneError, match="at least one round"):
        search_counts(None, groups, flat(groups), profile, GRAIN, 0.2, None, (1, 8, 8),
                      Path("unused"), rounds=0)


@pytest.mark.slow
def test_on_a_real_model_the_search_finds_a_faster_folding(trained, tmp_path: Path) -> None:
    """Digits MLP on Pynq-Z1 with 3 % of its LUTs: the allocation leaves the first layer at a
    count whose folding options the cap cannot use; two channels fewer fold much faster."""
    import torch

    from codesign.boards import load_board
    from codesign.prune.alignment import granularity
    from codesign.prune.graph import channel_groups
    from codesign.prune.importance import channel_importance
    from codesign.prune.schedule import measure_hardware

    model, data = trained
    board = load_board("pynq-z1")
    board = board.with_caps(LUT=0.03, BRAM_18K=0.5 / board.resources["BRAM_18K"],
                            DSP=0.5 / board.resources["DSP"])
    _, profile = measure_hardware(model, data.input_shape, board, None, tmp_path / "base")
    groups = channel_groups(model, data.input_shape)
    scores = channel_importance(model, groups, "l1", (data.x_train, data.y_train), seed=1)
    grain = granularity(groups, profile)
    before = copy.deepcopy(model.state_dict())
    result = search_counts(model, groups, scores, profile, grain, 0.2, board, data.input_shape,
                           tmp_path / "search", rounds=3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    assert result.counts != result.allocated and result.moves
    assert result.fps >= (1 + MIN_GAIN) * result.fps_allocated
    assert all(result.counts[n] % grain[n] == 0 for n in result.counts)
    # what the search reports is what a fresh measurement of its counts gives
    fps, _, _ = measure_counts(model, scores, result.counts, data.input_shape, board,
                               tmp_path / "again")
    assert fps == result.fps
    macs = sum(x.macs for x in profile.layers)
    assert (remaining_macs(groups, profile, result.allocated)
            - remaining_macs(groups, profile, result.counts)) <= MAX_EXTRA * macs
