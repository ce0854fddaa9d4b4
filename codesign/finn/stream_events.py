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
or every frame out). That loop runs compiled (codesign.finn.stream_kernel, numba); this module
lays the pipeline out for it and measures the streams' occupancy from the event times."""

from __future__ import annotations

from typing import Any

import numpy as np

Result = tuple[bool, tuple[int, ...], tuple[int, ...]]


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


def _offsets(sizes: list[int]) -> np.ndarray:
    """Where each of consecutive blocks of `sizes` starts in one flat array (and the end)."""
    off = np.zeros(len(sizes) + 1, dtype=np.int64)
    off[1:] = np.cumsum(sizes)
    return off


def _csr(rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Variable-length integer rows as (pointers, flat values; one 0 when all are empty)."""
    flat = [int(v) for r in rows for v in r]
    return _offsets([len(r) for r in rows]), np.asarray(flat or [0], dtype=np.int64)


def run_events(pipe: Any, capacities: list[int], frames: int, pace: float | None) -> Result:
    """(finished, frame ends, most words per stream) of `pipe` (stream_timing.Streams): the
    events of the module doc, computed by codesign.finn.stream_kernel."""
    from codesign.finn.stream_kernel import run_kernel

    actors = pipe.actors
    delays = _delays(actors)
    late = {s for a, d in zip(actors, delays, strict=True) for s, x in zip(a.outputs, d, strict=True) if x}
    writer = np.full(pipe.count, -1, dtype=np.int64)
    reader = np.full(pipe.count, -1, dtype=np.int64)
    for i, a in enumerate(actors):
        writer[list(a.outputs)] = i
        reader[list(a.inputs)] = i
    total_in = [a.in_words * frames for a in actors]
    total_out = [a.out_words * frames for a in actors]
    source_total, sink_total = pipe.source_words * frames, pipe.sink_words * frames
    taken = [sink_total if s == pipe.sink else total_in[reader[s]] if reader[s] >= 0 else 0
             for s in range(pipe.count)]
    s_off, p_off = _offsets(pipe.words(frames)), _offsets(taken)
    iv = np.array([[a.in_words, a.out_words, total_in[i], total_out[i], a.latency,
                    max(a.latency, 1)] for i, a in enumerate(actors)], dtype=np.int64).reshape(-1, 6)
    fv = np.array([[float(a.interval), 0.0] for a in actors], dtype=np.float64).reshape(-1, 2)
    in_ptr, in_ids = _csr([a.inputs for a in actors])
    out_ptr, out_ids = _csr([a.outputs for a in actors])
    _, out_delay = _csr(delays)
    needs_ptr, needs = _csr([a.needs for a in actors])
    _, limits = _csr([np.asarray(a.needs, dtype=np.int64) + np.asarray(a.ahead, dtype=np.int64)
                      for a in actors])
    up_ptr, up_ids = _csr([[int(writer[s]) for s in a.inputs if writer[s] >= 0] for a in actors])
    down_ptr, down_ids = _csr([[int(reader[s]) for s in a.outputs if reader[s] >= 0]
                               for a in actors])
    r_off, j_off = _offsets(total_in), _offsets(total_out)
    pushed, popped = np.zeros(max(int(s_off[-1]), 1), np.int64), np.zeros(max(int(p_off[-1]), 1), np.int64)
    n_pushed, n_popped = np.zeros(pipe.count, np.int64), np.zeros(pipe.count, np.int64)
    reads = np.zeros(max(int(r_off[-1]), 1), np.int64)
    issues, pushes = (np.zeros(max(int(j_off[-1]), 1), np.int64) for _ in range(2))
    caps = np.minimum(np.asarray(capacities, dtype=np.int64), 1 << 62)
    ends = np.zeros(frames, dtype=np.int64)
    n_ends = run_kernel(iv, fv, in_ptr, in_ids, out_ptr, out_ids, out_delay, needs_ptr, needs,
                        limits, up_ptr, up_ids, down_ptr, down_ids, reader, writer, caps, pushed,
                        s_off, n_pushed, popped, p_off, n_popped, reads, r_off, issues, pushes,
                        j_off, pipe.source, pipe.sink, source_total, sink_total, pipe.sink_words,
                        pipe.source_words, -1.0 if pace is None else float(pace), ends)
    written = [pushed[s_off[s]:s_off[s] + n_pushed[s]] for s in range(pipe.count)]
    read = [popped[p_off[s]:p_off[s] + n_popped[s]] for s in range(pipe.count)]
    finished = int(n_popped[pipe.sink]) == sink_total
    out = read[pipe.sink]
    most = occupancy(written, read, late, int(out[-1]) if finished and len(out) else None)
    return finished, tuple(int(e) for e in ends[:n_ends]), most
