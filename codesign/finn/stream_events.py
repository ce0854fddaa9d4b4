"""The stream model (codesign.finn.stream_timing) event by event, for any stream capacities.

Each actor keeps the cycle of each of its reads, issues and writes, in order; each stream the
cycles its words were written and read. An event's cycle is the first at which all its
conditions hold (stream_timing's module doc):
- read r:  one cycle after read r-1; one cycle after word r was written on every input; one
  cycle after the issue that lets it read that far ahead (needs + ahead > r);
- issue j: one cycle after issue j-1; one cycle after the read its word needs; not before its
  timer (next issue due at the previous one + interval, on a grid it keeps unless it issued
  more than a cycle late); not before write j-latency-1 (its pipeline holds latency+1 words);
- write j: one cycle after write j-1; latency cycles after issue j (at least one); not before
  each output stream has room (word j-capacity read, in the same cycle when the consumer is
  listed after the producer, which the cycle model visits first).
Actors advance as far as the known times allow, over and over until nothing moves (a deadlock,
or every frame out)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Result = tuple[bool, tuple[int, ...], tuple[int, ...]]


class Lane:
    """One actor's event times."""

    __slots__ = ("inputs", "outputs", "in_words", "out_words", "needs", "limits", "interval",
                 "latency", "push_after", "total_in", "total_out", "delays", "reads", "issues",
                 "pushes", "next_issue", "window", "written", "taken", "room")

    def __init__(self, actor: Any, frames: int, delays: tuple[int, ...]) -> None:
        self.inputs, self.outputs = actor.inputs, actor.outputs
        self.in_words, self.out_words = actor.in_words, actor.out_words
        self.needs = [int(v) for v in actor.needs]
        self.limits = [int(v) + int(a) for v, a in zip(actor.needs, actor.ahead, strict=True)]
        self.interval, self.latency = actor.interval, actor.latency
        self.push_after = max(actor.latency, 1)  # it writes in the cycle's first step
        self.total_in, self.total_out = actor.in_words * frames, actor.out_words * frames
        self.delays = delays  # per output: 1 if its consumer frees room only in the next cycle
        self.reads: list[int] = []
        self.issues: list[int] = []
        self.pushes: list[int] = []
        self.next_issue = 0.0
        self.window = 0  # the fewest issues that let it read one more word
        self.written: list[list[int]] = []  # per input, then per output: write cycles
        self.taken: list[list[int]] = []  # per input, then per output: read cycles
        self.room: list[tuple[list[int], int, int]] = []  # per output: (reads, capacity, delay)

    def bind(self, pushed: Any, popped: Any, capacities: Any) -> Lane:
        """Attach the streams' event lists (pushed[s], popped[s]) and capacities."""
        self.written = [pushed[s] for s in self.inputs] + [pushed[s] for s in self.outputs]
        self.taken = [popped[s] for s in self.inputs]
        self.room = [(popped[s], capacities[s], d) for s, d in zip(self.outputs, self.delays,
                                                                    strict=True)]
        return self

    @property
    def done(self) -> bool:
        return len(self.pushes) == self.total_out

    def advance(self) -> tuple[int, int]:
        """Every event whose conditions are known: (reads, writes) it added."""
        reads, writes = len(self.reads), len(self.pushes)
        while self._read() + self._issue() + self._push():
            pass
        return len(self.reads) - reads, len(self.pushes) - writes

    def _read(self) -> int:
        reads, issues, limits = self.reads, self.issues, self.limits
        r = start = len(reads)
        last = reads[-1] if reads else -1
        window, total_out, out_words, in_words = (self.window, self.total_out, self.out_words,
                                                  self.in_words)
        inputs, taken = self.written[:len(self.inputs)], self.taken
        while r < self.total_in:
            t = last + 1
            for written in inputs:
                if len(written) <= r:
                    break
                if written[r] >= t:
                    t = written[r] + 1
            else:
                while window < total_out:
                    frame, j = divmod(window, out_words)
                    if frame * in_words + limits[j] > r:
                        break
                    window += 1
                if window:
                    if len(issues) < window:
                        break
                    if issues[window - 1] >= t:
                        t = issues[window - 1] + 1
                reads.append(t)
                for q in taken:
                    q.append(t)
                last = t
                r += 1
                continue
            break
        self.window = window
        return r - start

    def _issue(self) -> int:
        reads, issues, pushes, needs = self.reads, self.issues, self.pushes, self.needs
        j = start = len(issues)
        out_words, in_words, latency, interval = (self.out_words, self.in_words, self.latency,
                                                  self.interval)
        n = self.next_issue
        last = issues[-1] if issues else -1
        while j < self.total_out:
            frame, k = divmod(j, out_words)
            need = frame * in_words + needs[k]
            if need > len(reads):
                break
            t = last + 1
            if need > 0 and reads[need - 1] >= t:
                t = reads[need - 1] + 1
            back = j - latency - 1
            if back >= 0:
                if len(pushes) <= back:
                    break
                if pushes[back] > t:
                    t = pushes[back]
            if t < n:
                t = math.ceil(n)
            issues.append(t)
            last = t
            n = (t if t > n + 1 else n) + interval
            j += 1
        self.next_issue = n
        return j - start

    def _push(self) -> int:
        issues, pushes, after = self.issues, self.pushes, self.push_after
        p = start = len(pushes)
        last = pushes[-1] if pushes else -1
        outs, written = self.room, self.written[len(self.inputs):]
        while p < len(issues):
            t = max(last + 1, issues[p] + after)
            for taken, capacity, delay in outs:
                if p >= capacity:
                    if len(taken) <= p - capacity:
                        break
                    if taken[p - capacity] + delay > t:
                        t = taken[p - capacity] + delay
            else:
                pushes.append(t)
                for w in written:
                    w.append(t)
                last = t
                p += 1
                continue
            break
        return p - start


def _delays(actors: Any) -> list[tuple[int, ...]]:
    consumer = {s: i for i, a in enumerate(actors) for s in a.inputs}
    return [tuple(1 if consumer.get(s, len(actors)) < i else 0 for s in a.outputs)
            for i, a in enumerate(actors)]


def occupancy(pushed: list[np.ndarray], popped: list[np.ndarray], late: set[int],
              end: int | None) -> tuple[int, ...]:
    """Per stream, the most words held right after a write (up to cycle `end`); reads of the
    same cycle count before it unless the stream is in `late`."""
    most = []
    for s, (w, q) in enumerate(zip(pushed, popped, strict=True)):
        w = np.asarray(w, dtype=np.int64)
        if end is not None:
            w = w[w <= end]
        if not len(w):
            most.append(0)
            continue
        side = "left" if s in late else "right"
        held = np.arange(1, len(w) + 1) - np.searchsorted(np.asarray(q, dtype=np.int64), w, side=side)
        most.append(int(held.max()))
    return tuple(most)


def run_events(pipe: Any, capacities: list[int], frames: int, pace: float | None) -> Result:
    """(finished, frame ends, most words per stream) of `pipe` (stream_timing.Streams)."""
    actors = pipe.actors
    delays = _delays(actors)
    pushed: list[list[int]] = [[] for _ in range(pipe.count)]
    popped: list[list[int]] = [[] for _ in range(pipe.count)]
    lanes = [Lane(a, frames, d).bind(pushed, popped, capacities)
             for a, d in zip(actors, delays, strict=True)]
    late = {s for a, d in zip(actors, delays, strict=True) for s, x in zip(a.outputs, d, strict=True) if x}
    writer = {s: i for i, a in enumerate(actors) for s in a.outputs}
    reader = {s: i for i, a in enumerate(actors) for s in a.inputs}
    upstream = [[writer[s] for s in a.inputs if s in writer] for a in actors]
    downstream = [[reader[s] for s in a.outputs if s in reader] for a in actors]
    total_in, total_out = pipe.source_words * frames, pipe.sink_words * frames
    fed, fed_taken, room = pushed[pipe.source], popped[pipe.source], capacities[pipe.source]
    out, out_written = popped[pipe.sink], pushed[pipe.sink]
    ends: list[int] = []
    dirty = [True] * len(lanes)  # lanes whose streams moved since they last advanced
    moved = True
    while moved:
        moved = False
        sent = len(fed)
        last = fed[-1] if fed else -1
        while sent < total_in:  # the input writes after every actor has run in its cycle
            t = last + 1
            if sent >= room:
                if len(fed_taken) <= sent - room:
                    break
                t = max(t, fed_taken[sent - room])
            if pace is not None:
                due = sent * pace / pipe.source_words
                if t < due:
                    t = math.ceil(due)
            fed.append(t)
            last, sent, moved = t, sent + 1, True
        if moved and pipe.source in reader:
            dirty[reader[pipe.source]] = True
        for i, lane in enumerate(lanes):
            if not dirty[i]:
                continue
            dirty[i] = False
            reads, writes = lane.advance()
            if reads:
                moved = True
                for j in upstream[i]:
                    dirty[j] = True
            if writes:
                moved = True
                for j in downstream[i]:
                    dirty[j] = True
        got = len(out)
        last = out[-1] if out else -1
        while got < total_out and len(out_written) > got:
            t = max(last + 1, out_written[got] + 1)
            out.append(t)
            last, got, moved = t, got + 1, True
            if got % pipe.sink_words == 0:
                ends.append(t)
            if pipe.sink in writer:
                dirty[writer[pipe.sink]] = True
    finished = len(out) == total_out
    most = occupancy(pushed, popped, late, out[-1] if finished else None)
    return finished, tuple(ends), most
