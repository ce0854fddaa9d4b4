"""A cycle model of a stitched dataflow accelerator's streams: how many words each stream FIFO
must hold for the pipeline to run at the rate of its slowest layer. Pure Python; the actors are
made from FINN's nodes by codesign.finn.fifos (layer_actor).

Every layer is an actor over stream words. From FINN's own node attributes it gets, per frame:
how many input words it must have read before it can write its j-th output word (`needs`,
codesign.finn.fifos.input_needs composed with the folded stream shapes), the interval between
its output words (FINN's get_exp_cycles spread over the words it writes: an MVAU's SF, a
threshold's 1), a pipeline latency, and how far it may read ahead of what its next output needs
(the RTL MVAU's replay buffer, 2^ceil(log2 SF) words, takes the next vector in during the last
of its NF passes; the HLS MVAU and the other layers hold a word or two). A fork writes both of
its outputs at once; a join reads both of its inputs at once. The accelerator's input writes a
word per cycle whenever its FIFO has room (the DMA), its output reads a word per cycle.

The model steps cycle by cycle (skipping idle ones) over a few frames with every stream FIFO
bounded to a capacity, and reports the steady interval between output frames and each FIFO's
largest occupancy. codesign.finn.fifos searches it for the smallest capacities that keep the
interval of the same pipeline with unbounded FIFOs."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

UNBOUNDED = 1 << 40


@dataclass(frozen=True)
class Actor:
    """One layer's stream behaviour per frame, in stream words."""

    name: str
    inputs: tuple[int, ...]  # stream ids it reads (all at once: a join reads both)
    outputs: tuple[int, ...]  # stream ids it writes (all at once: a fork writes both)
    in_words: int  # input words per frame (per input stream)
    needs: np.ndarray  # needs[j]: input words read (this frame) before output word j
    interval: float  # cycles between output words
    latency: int  # cycles from issuing an output word to writing it
    ahead: np.ndarray  # ahead[j]: input words it may read beyond needs[j] while j is next

    @property
    def out_words(self) -> int:
        return len(self.needs)


@dataclass
class _State:
    reads: int = 0
    issued: int = 0
    next_issue: float = 0.0
    pipe: deque = field(default_factory=deque)


@dataclass(frozen=True)
class TimingRun:
    finished: bool  # every frame came out (False: a deadlock, no stream moved any more)
    frame_ends: tuple[int, ...]  # cycle at which each output frame was complete
    max_occupancy: tuple[int, ...]  # per stream, the most words it held

    @property
    def cycles_per_frame(self) -> float | None:
        """Mean interval between frame ends over the second half of the batch."""
        if not self.finished:
            return None
        tail = self.frame_ends[len(self.frame_ends) // 2:]
        return (tail[-1] - tail[0]) / max(len(tail) - 1, 1)


def simulate(actors: list[Actor], streams: int, source: int, sink: int, source_words: int,
             sink_words: int, capacities: list[int], frames: int,
             pace: float | None = None) -> TimingRun:
    """Run `frames` frames through `actors` (listed producers first). `source`/`sink`: the
    stream the accelerator's input writes and its output reads; `pace`: cycles per input frame,
    the frame's words spread evenly over them (None: as fast as the input FIFO takes words)."""
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



SHALLOW_WORDS = 5  # fifo.sv: a FIFO of depth <= 4 (FINN's minimum 2 included) holds 5 words
