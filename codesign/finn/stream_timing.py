"""A cycle model of a stitched dataflow accelerator's streams: how many words each stream FIFO
must hold for the pipeline to run at the rate of its slowest layer. Python and numpy (the event
loop compiled with numba); the actors are made from FINN's nodes by codesign.finn.stream_actors.

Every layer is an actor over stream words. From FINN's own node attributes it gets, per frame:
how many input words it must have read before it can write its j-th output word (`needs`,
codesign.finn.skip_buffers.input_needs composed with the folded stream shapes), the interval
between its output words (FINN's get_exp_cycles spread over the words it writes: an MVAU's SF, a
threshold's 1), a pipeline latency, and how far it may read ahead of what its next output needs
(the RTL MVAU's replay buffer, 2^ceil(log2 SF) words, takes the next vector in during the last
of its NF passes; the HLS MVAU and the other layers hold a word or two). A fork writes both of
its outputs at once; a join reads both of its inputs at once. The accelerator's input writes a
word per cycle whenever its FIFO has room (the DMA), its output reads a word per cycle.

The semantics are those of a clocked model: each cycle the output reads first, then every actor
from the last to the first writes the word its pipeline has ready (if every output stream has
room), issues its next output word (once it has read what that word needs, its timer is due
and its pipeline has room) and reads one word from each input (if all have one written in an
earlier cycle and it is within its read-ahead limit); then the input writes. A word freed in a
cycle is room for its producer in the same cycle; a word written in a cycle can be read in the
next one.

Every condition above only ever turns true, so each event (the r-th read, the j-th issue, the
j-th write of an actor, the k-th word in or out of the accelerator) happens at the first cycle
at which its conditions hold: a time that follows from the times of earlier events. simulate
computes those times directly instead of stepping cycles (codesign.finn.stream_schedule when no
stream can fill: one vectorised pass over the actors in stream order; else
codesign.finn.stream_events, event by event), with the same results as stepping every cycle
(tests/finn/test_stream_timing.py keeps a cycle stepper to check that)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.finn.stream_events import run_events
from codesign.finn.stream_schedule import run_free

UNBOUNDED = 1 << 40
SHALLOW_WORDS = 5  # fifo.sv: a FIFO of depth <= 4 (FINN's minimum 2 included) holds 5 words


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


@dataclass(frozen=True)
class Streams:
    """The pipeline a simulation runs: actors and the accelerator's input and output."""

    actors: tuple[Actor, ...]  # listed producers first
    count: int  # stream ids are 0 .. count-1
    source: int  # the stream the accelerator's input writes
    sink: int  # the stream its output reads
    source_words: int  # per frame
    sink_words: int

    def words(self, frames: int) -> list[int]:
        """Words written to each stream over `frames` frames."""
        written = [0] * self.count
        written[self.source] = self.source_words * frames
        for actor in self.actors:
            for s in actor.outputs:
                written[s] = actor.out_words * frames
        return written


def read_limits(actor: Actor) -> np.ndarray:
    """needs + ahead: input words the actor may have read while output word j is next."""
    return np.asarray(actor.needs, dtype=np.int64) + np.asarray(actor.ahead, dtype=np.int64)


def _check(actors: list[Actor]) -> None:
    for actor in actors:
        limits = read_limits(actor)
        if np.any(np.asarray(actor.ahead) < 0):
            raise ValueError(f"actor {actor.name}: ahead must be >= 0 (words it may read beyond "
                             "what its next output needs)")
        if len(limits) and (np.any(np.diff(limits) < 0) or limits[-1] > actor.in_words + limits[0]):
            raise ValueError(f"actor {actor.name}: needs + ahead must not decrease over its "
                             "output words (within and across frames); fix its read-ahead")


def simulate(actors: list[Actor], streams: int, source: int, sink: int, source_words: int,
             sink_words: int, capacities: list[int], frames: int,
             pace: float | None = None) -> TimingRun:
    """Run `frames` frames through `actors` (listed producers first). `source`/`sink`: the
    stream the accelerator's input writes and its output reads; `capacities`: words each
    stream holds; `pace`: cycles per input frame, the frame's words spread evenly over them
    (None: as fast as the input FIFO takes words)."""
    _check(actors)
    pipe = Streams(tuple(actors), streams, source, sink, source_words, sink_words)
    free = all(c >= w for c, w in zip(capacities, pipe.words(frames), strict=True))
    result = run_free(pipe, frames, pace) if free else None
    if result is None:
        result = run_events(pipe, capacities, frames, pace)
    return TimingRun(*result)
