"""The stream model's event-time engines (codesign.finn.stream_timing: stream_schedule when no
stream fills, stream_events otherwise) give exactly what stepping the model cycle by cycle gives
(the stepper below is the model as it was written first): frame ends and the most words each
stream holds, on random chains, forks and joins, listed in stream order or not, with unbounded,
small and deadlocking capacities, the input fast or paced; and on the stitched graphs of real
FINN builds. The issue timer's stretches match it issue by issue."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from codesign.finn.stream_schedule import Timer, timed_chain
from codesign.finn.stream_timing import UNBOUNDED, Actor, TimingRun, simulate


@dataclass
class _State:
    reads: int = 0
    issued: int = 0
    next_issue: float = 0.0
    pipe: deque = field(default_factory=deque)


def stepped(actors: list[Actor], streams: int, source: int, sink: int, source_words: int,
             sink_words: int, capacities: list[int], frames: int,
             pace: float | None = None) -> TimingRun:
    """The stream model stepped cycle by cycle (codesign's model before it computed event
    times; kept here as the reference)."""
    states = [_State() for _ in actors]
    occupancy = [0] * streams
    pushed: list[deque] = [deque() for _ in range(streams)]  # push times of the words held
    most = [0] * streams
    ends: list[int] = []
    sent = got = 0
    order = list(reversed(actors))
    t, idle_limit = 0, 0
    total_in, total_out = source_words * frames, sink_words * frames

    def ready(s: int) -> bool:
        return occupancy[s] > 0 and pushed[s][0] < t

    def pop(s: int) -> None:
        pushed[s].popleft()
        occupancy[s] -= 1

    def push(s: int) -> None:
        pushed[s].append(t)
        occupancy[s] += 1
        most[s] = max(most[s], occupancy[s])

    while got < total_out:
        moved = False
        wake = math.inf
        if ready(sink):  # the accelerator's output
            pop(sink)
            got += 1
            moved = True
            if got % sink_words == 0:
                ends.append(t)
        for i, actor in zip(range(len(actors) - 1, -1, -1), order, strict=True):
            st = states[i]
            if st.pipe and st.pipe[0] <= t:
                if all(occupancy[s] < capacities[s] for s in actor.outputs):
                    for s in actor.outputs:
                        push(s)
                    st.pipe.popleft()
                    moved = True
            elif st.pipe:
                wake = min(wake, st.pipe[0])
            frame, j = divmod(st.issued, actor.out_words) if actor.out_words else (frames, 0)
            if frame < frames:
                need = frame * actor.in_words + int(actor.needs[j])
                if st.reads >= need and len(st.pipe) <= actor.latency:
                    if t >= st.next_issue:
                        st.pipe.append(t + actor.latency)
                        st.issued += 1
                        late = t > st.next_issue + 1
                        st.next_issue = (t if late else st.next_issue) + actor.interval
                        moved = True
                    else:
                        wake = min(wake, math.ceil(st.next_issue))
                limit = need + int(actor.ahead[j])
            else:
                limit = frames * actor.in_words
            if st.reads < min(limit, frames * actor.in_words) and all(ready(s) for s in actor.inputs):
                for s in actor.inputs:
                    pop(s)
                st.reads += 1
                moved = True
        if sent < total_in and occupancy[source] < capacities[source]:
            due = 0 if pace is None else sent * pace / source_words  # evenly, at the rate
            if t >= due:
                push(source)
                sent += 1
                moved = True
            else:
                wake = min(wake, math.ceil(due))
        if moved:
            t += 1
            idle_limit = 0
        elif wake < math.inf and wake > t:
            t = int(wake)
        else:
            idle_limit += 1
            t += 1
            if idle_limit > 2:  # nothing moved and nothing is due: a deadlock
                return TimingRun(False, tuple(ends), tuple(most))
    return TimingRun(True, tuple(ends), tuple(most))


def _actor(rng: np.random.Generator, name: str, inputs: tuple[int, ...], outputs: tuple[int, ...],
           in_words: int, out_words: int, elementwise: bool = False) -> Actor:
    """A random layer: needs rising to the whole frame, a read-ahead that never shrinks."""
    if elementwise:
        needs = np.arange(1, out_words + 1)
    else:
        needs = np.sort(rng.integers(1, in_words + 1, out_words))
        needs[-1] = in_words
    limits = np.maximum.accumulate(needs + rng.integers(0, 4, out_words))
    limits = np.minimum(limits, in_words + limits[0])
    interval = float(rng.choice([1.0, 1.0, 2.0, 3.0, 1.5, 7 / 3]))
    return Actor(name, inputs, outputs, in_words, needs.astype(np.int64), interval,
                 int(rng.integers(0, 7)), (limits - needs).astype(np.int64))


def _chain(rng: np.random.Generator, layers: int) -> tuple[list[Actor], int, int, int]:
    words = [int(w) for w in rng.integers(2, 24, layers + 1)]
    actors = [_actor(rng, f"a{i}", (i,), (i + 1,), words[i], words[i + 1]) for i in range(layers)]
    return actors, layers + 1, words[0], words[-1]


def _diamond(rng: np.random.Generator) -> tuple[list[Actor], int, int, int]:
    """input -> a0 -> fork -> (long branch: two layers | short branch) -> join -> a-out."""
    w, mid = int(rng.integers(4, 20)), int(rng.integers(2, 20))
    actors = [_actor(rng, "a0", (0,), (1,), w, w),
              _actor(rng, "fork", (1,), (2, 3), w, w, elementwise=True),
              _actor(rng, "long0", (2,), (4,), w, mid),
              _actor(rng, "long1", (4,), (5,), mid, w),
              _actor(rng, "join", (5, 3), (6,), w, w, elementwise=True),
              _actor(rng, "out", (6,), (7,), w, int(rng.integers(1, 12)))]
    return actors, 8, w, actors[-1].out_words


def _same(a: TimingRun, b: TimingRun) -> None:
    assert (a.finished, a.frame_ends, a.max_occupancy) == (b.finished, b.frame_ends, b.max_occupancy)


CASES = [(shape, seed) for shape in ("chain1", "chain3", "chain6", "diamond") for seed in range(12)]


@pytest.mark.parametrize("shape,seed", CASES)
@pytest.mark.parametrize("capacity", ["unbounded", "small", "tiny"])
@pytest.mark.parametrize("paced", [False, True])
def test_event_times_equal_the_cycle_stepper(shape: str, seed: int, capacity: str,
                                             paced: bool) -> None:
    rng = np.random.default_rng([seed, len(shape), len(capacity)])
    if shape == "diamond":
        actors, streams, source_words, sink_words = _diamond(rng)
    else:
        actors, streams, source_words, sink_words = _chain(rng, int(shape[5:]))
    capacities = {"unbounded": [UNBOUNDED] * streams,
                  "small": [int(c) for c in rng.integers(2, 12, streams)],
                  "tiny": [int(c) for c in rng.integers(1, 3, streams)]}[capacity]
    args = (actors, streams, 0, streams - 1, source_words, sink_words, capacities, 4)
    fast = stepped(*args)
    pace = (fast.cycles_per_frame or 50.0) * 1.1 if paced else None
    _same(simulate(*args, pace), stepped(*args, pace))


@pytest.mark.parametrize("seed", range(8))
def test_actors_listed_out_of_stream_order(seed: int) -> None:
    """A consumer listed before its producer frees room only in the next cycle."""
    rng = np.random.default_rng(seed)
    actors, streams, source_words, sink_words = _chain(rng, 4)
    order = [actors[i] for i in rng.permutation(len(actors))]
    for capacities in ([UNBOUNDED] * streams, [int(c) for c in rng.integers(1, 6, streams)]):
        args = (order, streams, 0, streams - 1, source_words, sink_words, capacities, 3)
        _same(simulate(*args), stepped(*args))


def test_a_short_branch_too_shallow_deadlocks_as_the_stepper_says() -> None:
    rng = np.random.default_rng(3)
    actors, streams, source_words, sink_words = _diamond(rng)
    capacities = [UNBOUNDED] * streams
    capacities[3] = 1  # the short branch: the join waits on the long one, the fork on this one
    args = (actors, streams, 0, streams - 1, source_words, sink_words, capacities, 3)
    run = simulate(*args)
    _same(run, stepped(*args))
    assert not run.finished and run.cycles_per_frame is None


def test_the_event_loop_compiles_without_a_writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where numba finds no writable place for its cache (a read-only install, no home), the
    compiled event loop is built per process instead, with the same events."""
    import importlib

    import numba.core.caching

    from codesign.finn import stream_kernel

    rng = np.random.default_rng(5)
    actors, streams, source_words, sink_words = _diamond(rng)
    args = (actors, streams, 0, streams - 1, source_words, sink_words, [3] * streams, 3)
    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])
    try:
        uncached = importlib.reload(stream_kernel)
        assert type(uncached.run_kernel._cache).__name__ == "NullCache"
        _same(simulate(*args), stepped(*args))
    finally:
        monkeypatch.undo()
        importlib.reload(stream_kernel)


def _timer_reference(floor: np.ndarray, interval: float) -> np.ndarray:
    out, n, last = [], 0.0, -1
    for x in floor.tolist():
        t = max(last + 1, x)
        if t < n:
            t = math.ceil(n)
        out.append(t)
        last = t
        n = (t if t > n + 1 else n) + interval
    return np.asarray(out)


@pytest.mark.parametrize("interval", [1.0, 1.5, 2.0, 4 / 3, 9.0, 144.0])
@pytest.mark.parametrize("pattern", ["sparse", "steady", "bursts"])
def test_the_timer_in_stretches_equals_it_issue_by_issue(interval: float, pattern: str) -> None:
    rng = np.random.default_rng(int(interval * 10) + len(pattern))
    for _ in range(40):
        m = int(rng.integers(1, 600))
        floor = {"sparse": np.where(rng.random(m) < 0.1, np.cumsum(rng.integers(0, 40, m)), 0),
                 "steady": np.cumsum(rng.integers(0, int(interval) * 3 + 2, m)),
                 "bursts": np.sort(rng.integers(0, m * 10, m))}[pattern].astype(np.int64)
        assert np.array_equal(timed_chain(floor, interval), _timer_reference(floor, interval))
        timer, cut = Timer(interval), int(rng.integers(0, m + 1))  # in two runs
        both = np.concatenate([timer.issue(floor[:cut]), timer.issue(floor[cut:])])
        assert np.array_equal(both, _timer_reference(floor, interval))


@pytest.mark.parametrize("needs,ahead", [([2, 1], [0, 0]), ([1, 2], [3, 0]), ([1, 2], [-1, 0])])
def test_a_read_limit_that_shrinks_is_refused(needs: list[int], ahead: list[int]) -> None:
    actor = Actor("bad", (0,), (1,), 2, np.array(needs), 1.0, 2, np.array(ahead))
    with pytest.raises(ValueError, match="bad"):
        simulate([actor], 2, 0, 1, 2, 2, [UNBOUNDED, UNBOUNDED], 2)


@pytest.mark.slow
@pytest.mark.parametrize("name,fps", [("mlp", 20_000), ("cnn", 5_000), ("cnn", 50_000),
                                      ("cnn_rgb", 10_000)])
def test_real_pipelines_equal_the_cycle_stepper(compiled: Any, name: str, fps: float) -> None:
    from codesign.finn import apply_setfolding
    from codesign.finn.fifos import Pipeline, stitched_streams

    pipe = Pipeline(stitched_streams(apply_setfolding(compiled(name), target_fps=fps)))
    base = (pipe.actors, pipe.streams, pipe.source, pipe.sink, pipe.source_words, pipe.sink_words)
    free = [UNBOUNDED if s < len(pipe.fifos) else 2 for s in range(pipe.streams)]
    reference = stepped(*base, free, 5)
    paced = stepped(*base, free, 5, reference.cycles_per_frame)
    _same(simulate(*base, free, 5), reference)
    _same(simulate(*base, free, 5, reference.cycles_per_frame), paced)
    for shrink in (1, 3):
        bounded = [max(1, m // shrink) for m in paced.max_occupancy]
        _same(simulate(*base, bounded, 5), stepped(*base, bounded, 5))


# The least-depth search of codesign.finn.fifo_sizing (step 3) on a stand-in for the model: a
# FIFO keeps the rate when it holds at least its `need` (the others as they are).
@dataclass(frozen=True)
class _Run:
    finished: bool
    cycles_per_frame: float | None


def _stand_in(need: dict[int, int], runs: list[dict[int, int]]) -> Any:
    def run(words: dict[int, int]) -> _Run:
        runs.append(dict(words))
        kept = all(words[s] >= n for s, n in need.items())
        return _Run(True, 100.0 if kept else 120.0)

    return run


@pytest.mark.parametrize("priced", [False, True])
def test_the_search_gives_each_fifo_its_cheapest_depth_with_the_margin(priced: bool) -> None:
    from codesign.finn.fifo_sizing import (
        SHALLOW_WORDS,
        TRUSTED_WORDS,
        _levels,
        allowed_least,
        least_words,
    )

    need = {0: 1, 1: 13, 2: 30, 3: 57, 4: 100}
    safe = {0: 10, 1: 44, 2: 37, 3: 200, 4: 400}
    asked = [2, 2, 2, 2, 90]
    price = (lambda s, d: (float(math.ceil(d / 16)) if d > 2 else 0.0,)) if priced else None
    runs: list[dict[int, int]] = []
    found = least_words(_stand_in(need, runs), safe, asked, 100.0, price)
    assert found.words is not None and found.complete and found.runs == len(runs)
    assert found.words[0] == SHALLOW_WORDS  # FINN's minimum: it keeps the rate at TRUSTED_WORDS
    assert found.words[2] == 37  # 30 + margin is past the safe depth: the safe depth
    for s, n in need.items():
        words = found.words[s]
        levels = _levels(s, max(safe[s], SHALLOW_WORDS), asked[s], price)
        assert words in [SHALLOW_WORDS if d <= 2 else d for d in levels]
        assert asked[s] <= words <= safe[s]
        if words > SHALLOW_WORDS and words < safe[s]:
            assert allowed_least(words) >= n  # the margin over the least is kept
            cheaper = [d for d in levels if d < words]
            assert all((TRUSTED_WORDS if d <= 2 else allowed_least(d)) < n for d in cheaper)
    assert found.words[3] < safe[3] and found.words[4] < safe[4]
    if priced:  # the deepest depth of each price: multiples of 16
        assert found.words[3] % 16 == 0 and found.words[4] % 16 == 0


def test_the_search_stops_at_its_budget_and_the_rest_keep_safe_depths() -> None:
    from codesign.finn.fifo_sizing import least_words

    need = dict.fromkeys(range(6), 3)
    safe = dict.fromkeys(range(6), 100)
    full = least_words(_stand_in(need, []), safe, [2] * 6, 100.0)
    cut = least_words(_stand_in(need, []), safe, [2] * 6, 100.0, max_runs=5)
    assert full.complete and len(full.searched) == 6
    assert not cut.complete and cut.runs <= 6 and 0 < len(cut.searched) < 6
    for s in range(6):
        assert cut.words[s] == (full.words[s] if s in cut.searched else safe[s])


def test_a_pipeline_slower_at_its_safe_depths_is_not_searched() -> None:
    from codesign.finn.fifo_sizing import least_words

    found = least_words(_stand_in({0: 500}, []), {0: 100}, [2], 100.0)
    assert found.words is None and found.runs == 1


def test_the_margin_rule_covers_every_fifo_measured_in_verilator() -> None:
    """benchmarks/fifo_depths.py measures, per FIFO deeper than FINN's minimum of every all-RTL
    pipeline, the model's least and the least that keeps the rate in Verilator: least + margin
    is never below Verilator's; allowed_least inverts the margin."""
    import json
    from pathlib import Path

    from codesign.finn.fifo_sizing import allowed_least, margin_words

    for depth in range(4, 600):
        least = allowed_least(depth)
        assert least + margin_words(least) <= depth < least + 1 + margin_words(least + 1)
    results = Path(__file__).resolve().parents[2] / "benchmarks/results/fifo_depths.json"
    fifos = [f for case in json.loads(results.read_text())["cases"] for f in case["fifos"]]
    assert len(fifos) >= 10
    for fifo in fifos:
        assert fifo["model_least"] + margin_words(fifo["model_least"]) >= fifo["full_rate_depth"]
