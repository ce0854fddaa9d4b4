"""The event loop of codesign.finn.stream_events, compiled with numba: the same rules (that
module's doc), on flat arrays instead of per-actor lists, so a model run of a CNV-size
pipeline (millions of stream words) takes a fraction of a second instead of seconds.

Layout (all int64 unless said): streams' write and read times in one buffer each, stream s at
[s_off[s], s_off[s+1]) and [p_off[s], p_off[s+1]) with n_pushed[s] / n_popped[s] filled; an
actor's inputs, outputs (with each output's room delay), needs and read limits as CSR lists
(`*_ptr` indexes into the flat array); its reads at [r_off[i], ...) and its issues and writes
at [j_off[i], ...). Imported only when a pipeline whose streams can fill is run, so numba's
import and the (cached) compile are paid only there."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _jit(function):
    """numba's njit, its machine code cached on disk where numba finds a writable place (beside
    this file or the user's cache directory), else compiled once per process (~2 s)."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)


@_jit
def _append(t, lo, hi, ids, times, off, count):
    """Record an event at cycle t on each stream ids[lo:hi]."""
    for q in range(lo, hi):
        s = ids[q]
        times[off[s] + count[s]] = t
        count[s] += 1


@_jit
def _read(i, st, iv, in_ptr, in_ids, needs_ptr, limits, pushed, s_off, n_pushed, popped,
          p_off, n_popped, reads, r_off, issues, j_off):
    """The reads of actor i whose conditions are known (stream_events' read rule)."""
    in_words, out_words, total_in, total_out = iv[i, 0], iv[i, 1], iv[i, 2], iv[i, 3]
    r = start = st[i, 0]
    last = reads[r_off[i] + r - 1] if r > 0 else -1
    window = st[i, 3]
    while r < total_in:
        t = last + 1
        ready = True
        for q in range(in_ptr[i], in_ptr[i + 1]):
            s = in_ids[q]
            if n_pushed[s] <= r:
                ready = False
                break
            w = pushed[s_off[s] + r]
            if w >= t:
                t = w + 1
        if not ready:
            break
        while window < total_out:
            frame = window // out_words
            j = window - frame * out_words
            if frame * in_words + limits[needs_ptr[i] + j] > r:
                break
            window += 1
        if window > 0:
            if st[i, 1] < window:
                break
            v = issues[j_off[i] + window - 1]
            if v >= t:
                t = v + 1
        reads[r_off[i] + r] = t
        _append(t, in_ptr[i], in_ptr[i + 1], in_ids, popped, p_off, n_popped)
        last = t
        r += 1
    st[i, 3] = window
    st[i, 0] = r
    return r - start


@_jit
def _issue(i, st, iv, fv, needs_ptr, needs, reads, r_off, issues, pushes, j_off):
    """The issues of actor i whose conditions are known (stream_events' issue rule)."""
    in_words, out_words, total_out, latency = iv[i, 0], iv[i, 1], iv[i, 3], iv[i, 4]
    interval = fv[i, 0]
    j = start = st[i, 1]
    n = fv[i, 1]
    last = issues[j_off[i] + j - 1] if j > 0 else -1
    while j < total_out:
        frame = j // out_words
        k = j - frame * out_words
        need = frame * in_words + needs[needs_ptr[i] + k]
        if need > st[i, 0]:
            break
        t = last + 1
        if need > 0:
            v = reads[r_off[i] + need - 1]
            if v >= t:
                t = v + 1
        back = j - latency - 1
        if back >= 0:
            if st[i, 2] <= back:
                break
            v = pushes[j_off[i] + back]
            if v > t:
                t = v
        if t < n:
            t = np.int64(math.ceil(n))
        issues[j_off[i] + j] = t
        last = t
        n = (float(t) if t > n + 1 else n) + interval
        j += 1
    fv[i, 1] = n
    st[i, 1] = j
    return j - start


@_jit
def _push(i, st, iv, out_ptr, out_ids, out_delay, caps, pushed, s_off, n_pushed, popped, p_off,
          n_popped, issues, pushes, j_off):
    """The writes of actor i whose conditions are known (stream_events' write rule)."""
    after = iv[i, 5]
    p = start = st[i, 2]
    last = pushes[j_off[i] + p - 1] if p > 0 else -1
    while p < st[i, 1]:
        t = max(last + 1, issues[j_off[i] + p] + after)
        room = True
        for q in range(out_ptr[i], out_ptr[i + 1]):
            s = out_ids[q]
            capacity = caps[s]
            if p >= capacity:
                if n_popped[s] <= p - capacity:
                    room = False
                    break
                v = popped[p_off[s] + p - capacity] + out_delay[q]
                if v > t:
                    t = v
        if not room:
            break
        pushes[j_off[i] + p] = t
        _append(t, out_ptr[i], out_ptr[i + 1], out_ids, pushed, s_off, n_pushed)
        last = t
        p += 1
    st[i, 2] = p
    return p - start


@_jit
def run_kernel(iv, fv, in_ptr, in_ids, out_ptr, out_ids, out_delay, needs_ptr, needs, limits,
               up_ptr, up_ids, down_ptr, down_ids, reader, writer, caps, pushed, s_off, n_pushed,
               popped, p_off, n_popped, reads, r_off, issues, pushes, j_off, source, sink,
               source_total, sink_total, sink_words, source_words, pace, ends):
    """Run the pipeline until nothing moves; returns the number of frame ends written to
    `ends` (the event buffers and counts are filled in place). pace < 0: no pacing."""
    actors = iv.shape[0]
    st = np.zeros((actors, 4), dtype=np.int64)  # reads, issues, writes, read window
    for i in range(actors):
        fv[i, 1] = 0.0  # the timer: next issue due
    dirty = np.ones(actors, dtype=np.bool_)
    n_ends = 0
    moved = True
    while moved:
        moved = False
        sent = n_pushed[source]
        last = pushed[s_off[source] + sent - 1] if sent > 0 else -1
        room = caps[source]
        while sent < source_total:  # the input writes after every actor has run in its cycle
            t = last + 1
            if sent >= room:
                if n_popped[source] <= sent - room:
                    break
                v = popped[p_off[source] + sent - room]
                if v > t:
                    t = v
            if pace >= 0:
                due = sent * pace / source_words
                if t < due:
                    t = np.int64(math.ceil(due))
            pushed[s_off[source] + sent] = t
            n_pushed[source] += 1
            last = t
            sent += 1
            moved = True
        if moved and reader[source] >= 0:
            dirty[reader[source]] = True
        for i in range(actors):
            if not dirty[i]:
                continue
            dirty[i] = False
            reads0, writes0 = st[i, 0], st[i, 2]
            while True:
                a = _read(i, st, iv, in_ptr, in_ids, needs_ptr, limits, pushed, s_off,
                          n_pushed, popped, p_off, n_popped, reads, r_off, issues, j_off)
                b = _issue(i, st, iv, fv, needs_ptr, needs, reads, r_off, issues, pushes, j_off)
                c = _push(i, st, iv, out_ptr, out_ids, out_delay, caps, pushed, s_off, n_pushed,
                          popped, p_off, n_popped, issues, pushes, j_off)
                if a + b + c == 0:
                    break
            if st[i, 0] > reads0:
                moved = True
                for q in range(up_ptr[i], up_ptr[i + 1]):
                    dirty[up_ids[q]] = True
            if st[i, 2] > writes0:
                moved = True
                for q in range(down_ptr[i], down_ptr[i + 1]):
                    dirty[down_ids[q]] = True
        got = n_popped[sink]
        last = popped[p_off[sink] + got - 1] if got > 0 else -1
        while got < sink_total and n_pushed[sink] > got:
            t = max(last + 1, pushed[s_off[sink] + got] + 1)
            popped[p_off[sink] + got] = t
            n_popped[sink] += 1
            last = t
            got += 1
            moved = True
            if got % sink_words == 0:
                ends[n_ends] = t
                n_ends += 1
            if writer[sink] >= 0:
                dirty[writer[sink]] = True
    return n_ends
