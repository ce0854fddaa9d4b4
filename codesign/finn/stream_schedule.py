"""The stream model (codesign.finn.stream_timing) when no stream can fill: no actor is ever
held back by its outputs, so each actor's reads and issues follow from its inputs alone, and
one pass over the actors in stream order (producers first) gives every event's cycle.

Per actor, with arrivals[r] the first cycle its (r+1)-th input word can be read:
  reads[r]  = max(reads[r-1] + 1, arrivals[r], issues[window(r) - 1] + 1)
  issues[j] = max(issues[j-1] + 1, reads[need(j) - 1] + 1, its timer)
  writes[j] = issues[j] + max(latency, 1)
A chain x[k] = max(x[k-1] + 1, floor[k]) is a running maximum (numpy), and the timer is a
no-op at an interval of one cycle or less (it is never due later than the previous issue + 1).
The two equations are solved by alternating them from below (reads from the arrivals alone,
issues from those reads, reads again with the issues, ...): every round stays below the
schedule, so once a round changes nothing it is the schedule (the events' conditions only refer
to earlier events, so there is one). An actor that alternates for more than ROUNDS rounds
(an HLS MVAU reads each vector only after its last pass) is solved one output word at a
time instead."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from codesign.finn.stream_events import Result, occupancy

ROUNDS = 6


def chain(floor: np.ndarray, start: int = 0) -> np.ndarray:
    """times[k] = max(times[k-1] + 1, floor[k]), from cycle `start` on."""
    k = np.arange(len(floor), dtype=np.int64)
    return np.maximum.accumulate(np.maximum(floor - k, start)) + k


class Timer:
    """An actor's issue times: max(previous + 1, floor[j], the timer) (stream_events' issue
    rule), the timer keeping its grid (next = previous due + interval) unless an issue came more
    than a cycle late (next = that issue + interval). `issue` solves a run of issues in
    stretches: on the grid, the chain with the grid's ceiling as a floor holds up to the first
    late issue; after a late issue, a chain of ceil(interval) steps holds while every issue is
    late again; where stretches stay short it steps one issue at a time."""

    def __init__(self, interval: float) -> None:
        self.interval, self.step_size = interval, math.ceil(interval)
        self.due, self.last, self.late = 0.0, -1, False

    def step(self, floor: int) -> int:
        t = max(self.last + 1, floor)
        if t < self.due:
            t = math.ceil(self.due)
        self.late = t > self.due + 1
        self.due = (t if self.late else self.due) + self.interval
        self.last = t
        return t

    def issue(self, floor: np.ndarray) -> np.ndarray:
        """The issue times of the next len(floor) issues."""
        if self.interval <= 1:  # never due after the previous issue + 1
            times = chain(floor, self.last + 1)
            self.last = int(times[-1]) if len(times) else self.last
            return times
        total = len(floor)
        out = np.empty(total, dtype=np.int64)
        j, size = 0, 64
        while j < total:
            end = min(total, j + size)
            done = self._stretch(floor[j:end], out[j:end])
            if done < 8:  # short stretches: one at a time for a while
                for i in range(j + done, min(total, j + done + 64)):
                    out[i] = self.step(int(floor[i]))
                    done += 1
            size = min(2 * size, 1 << 16) if j + done == end else max(64, 2 * done)
            j += done
        return out

    def _stretch(self, x: np.ndarray, out: np.ndarray) -> int:
        """Issues of one stretch written to out; how many."""
        k = np.arange(len(x), dtype=np.int64)
        interval, step, last = self.interval, self.step_size, self.last
        if not self.late:
            grid = np.cumsum(np.concatenate(([self.due], np.full(len(x) - 1, interval))))
            times = np.maximum.accumulate(np.maximum(np.maximum(x, np.ceil(grid)) - k, last + 1)) + k
            behind = np.flatnonzero(times > grid + 1)
            done = int(behind[0]) + 1 if len(behind) else len(x)
            self.late = bool(len(behind))
            self.due = float(times[done - 1] if self.late else grid[-1]) + interval
        else:
            times = np.maximum.accumulate(np.maximum(x - step * k, last + step)) + step * k
            before = np.concatenate(([last], times[:-1]))
            due = before + interval
            wrong = np.flatnonzero(np.ceil(due) != before + step)
            done = int(wrong[0]) if len(wrong) else len(x)
            on_time = np.flatnonzero(times[:done] <= due[:done] + 1)
            if len(on_time):
                done = int(on_time[0]) + 1
                self.due, self.late = float(due[done - 1]) + interval, False
            elif done:
                self.due = float(times[done - 1]) + interval
        out[:done] = times[:done]
        if done:
            self.last = int(times[done - 1])
        return done


def timed_chain(floor: np.ndarray, interval: float) -> np.ndarray:
    """Issue times of a run of issues from the start (Timer)."""
    return Timer(interval).issue(floor)


def _alternate(actor: Any, frames: int, arrivals: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    need, limit = _needs_and_limits(actor, frames)
    window = np.searchsorted(limit, np.arange(actor.in_words * frames), side="right")
    reads = chain(arrivals)
    for _ in range(ROUNDS):
        issues = timed_chain(np.where(need > 0, reads[need - 1] + 1, 0), actor.interval)
        floor = np.where(window > 0, issues[window - 1] + 1, 0)
        again = chain(np.maximum(arrivals, floor))
        if np.array_equal(again, reads):
            return reads, issues
        reads = again
    return None


def _in_turn(actor: Any, frames: int, arrivals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same two equations solved in turn, in stages of issues with the same read limit:
    first the reads the stage's first issue allows (they wait for the issue before it), then the
    stage's issues (their reads are all there)."""
    total_in, total_out = actor.in_words * frames, actor.out_words * frames
    need, limit = _needs_and_limits(actor, frames)
    stages = np.flatnonzero(np.diff(limit, prepend=-1) > 0)
    if len(stages) > total_out // 8 + 1:
        return _one_by_one(actor, frames, arrivals, need, limit)
    reads = np.empty(total_in, dtype=np.int64)
    issues = np.empty(total_out, dtype=np.int64)
    timer, r = Timer(actor.interval), 0
    bounds = [*stages.tolist(), total_out + 1]
    for first, after in zip(bounds, bounds[1:], strict=False):
        allowed = min(int(limit[first]), total_in)
        if allowed > r:
            floor = issues[first - 1] + 1 if first else 0
            reads[r:allowed] = chain(np.maximum(arrivals[r:allowed], floor),
                                     int(reads[r - 1]) + 1 if r else 0)
            r = allowed
        stage = need[first:min(after, total_out)]
        if len(stage):
            issues[first:first + len(stage)] = timer.issue(np.where(stage > 0, reads[stage - 1] + 1, 0))
    return reads, issues


def _one_by_one(actor: Any, frames: int, arrivals: np.ndarray, need: np.ndarray,
                limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_in_turn one issue at a time (when most issues raise the read limit)."""
    total_in, total_out = actor.in_words * frames, actor.out_words * frames
    arrive, needs, limits = arrivals.tolist(), need.tolist(), limit.tolist()
    reads: list[int] = []
    timer, last_read, r = Timer(actor.interval), -1, 0
    issues: list[int] = []
    for j in range(total_out + 1):
        floor = issues[-1] + 1 if issues else 0
        while r < min(limits[j], total_in):  # reads allowed once j issues are done
            last_read = max(last_read + 1, arrive[r], floor)
            reads.append(last_read)
            r += 1
        if j < total_out:
            issues.append(timer.step(reads[needs[j] - 1] + 1 if needs[j] else 0))
    return np.asarray(reads, dtype=np.int64), np.asarray(issues, dtype=np.int64)


def _needs_and_limits(actor: Any, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per issue over `frames` frames: the reads it needs, and the reads allowed while it is
    next (one more entry: all of them, once every issue is done)."""
    offsets = np.repeat(np.arange(frames, dtype=np.int64) * actor.in_words, actor.out_words)
    need = offsets + np.tile(np.asarray(actor.needs, dtype=np.int64), frames)
    limit = need + np.tile(np.asarray(actor.ahead, dtype=np.int64), frames)
    return need, np.append(limit, actor.in_words * frames)


def run_free(pipe: Any, frames: int, pace: float | None) -> Result | None:
    """(finished, frame ends, most words per stream) of `pipe` (stream_timing.Streams) with
    streams that never fill; None when the actors are not listed producers first or one cannot
    finish (stream_events then runs the pipeline)."""
    pushed: list[np.ndarray | None] = [None] * pipe.count
    popped: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * pipe.count
    k = np.arange(pipe.source_words * frames, dtype=np.int64)
    due = np.zeros(len(k), dtype=np.int64) if pace is None else np.ceil(k * pace / pipe.source_words)
    pushed[pipe.source] = chain(due.astype(np.int64))
    for actor in pipe.actors:
        inputs = [pushed[s] for s in actor.inputs]
        total_in, total_out = actor.in_words * frames, actor.out_words * frames
        if any(w is None or len(w) < total_in for w in inputs):
            return None  # a producer listed after its consumer
        if total_out and (not total_in or int(np.max(actor.needs)) > actor.in_words):
            return None
        arrivals = (np.max([w[:total_in] for w in inputs], axis=0) + 1 if inputs
                    else np.zeros(total_in, dtype=np.int64))
        schedule = _alternate(actor, frames, arrivals) if total_out else (chain(arrivals), k[:0])
        schedule = schedule or _in_turn(actor, frames, arrivals)
        reads, issues = schedule
        for s in actor.inputs:
            popped[s] = reads
        for s in actor.outputs:
            pushed[s] = issues + max(actor.latency, 1)
    total_out = pipe.sink_words * frames
    written = pushed[pipe.sink]
    if written is None or len(written) < total_out:
        return None
    out = chain(written[:total_out] + 1)
    popped[pipe.sink] = out
    ends = tuple(int(e) for e in out[pipe.sink_words - 1::pipe.sink_words])
    streams = [w if w is not None else np.zeros(0, dtype=np.int64) for w in pushed]
    return True, ends, occupancy(streams, popped, set(), int(out[-1]))
