"""Skip-branch FIFOs in simulation: does codesign's depth (codesign.finn.fifos) keep a residual
block running at full rate, and what happens below it?

The pipeline is built once with a run-time limit on each FIFO's depth (codesign.sim.bench), set
to what FINN's FIFO of that depth holds (a shallow one holds 5 words).
Every other FIFO at codesign's depth (FINN's minimum, 2, unless it is a skip buffer too), which
is the accelerator as FINN builds it from codesign's fifo_config_file, the same batch runs with
the skip-branch FIFO limited to codesign's depth, one word less, and 2 words (what the fork gets
when nothing sizes its FIFO); once more at codesign's depth with every other FIFO unlimited; and
the smallest depth that does not deadlock and the smallest that keeps the throughput of the
same accelerator with that FIFO unlimited (within 1 %) are bisected. A deadlock is a run in
which no stream moved for the bench's stall budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from codesign.finn.rtl import fifo_depth
from codesign.finn.rtl_residual import fifo_capacity, shortcut_fifos

if TYPE_CHECKING:
    from collections.abc import Callable

    from codesign.finn.rtl_residual import ShortcutFifo
    from codesign.sim.bench import Bench, Design

FULL_RATE_TOLERANCE = 0.01  # a depth keeps the throughput if cycles/frame grow by at most 1 %
FINN_MINIMUM = 2  # the depth FINN gives a FIFO nothing sized


def keeps_rate(cycles: float | None, reference: float | None) -> bool:
    """Does a run of `cycles` per frame (None: it did not run through) keep the rate of a
    `reference` run, within FULL_RATE_TOLERANCE?"""
    return cycles is not None and reference is not None and (
        cycles <= reference * (1 + FULL_RATE_TOLERANCE))


@dataclass(frozen=True)
class ShortcutRun:
    depth: int  # the skip-branch FIFO's depth in words
    other_fifos: str  # "codesign" (at codesign's depths) or "deep" (unlimited)
    outcome: str  # "ran", "deadlock" (no stream moved any more) or "failed" (an RTL assertion)
    cycles_per_frame: float | None  # steady state, unpaced (None: did not run through)
    match: bool | None  # outputs equal Python's (None: did not run through)
    detail: str = ""

    @property
    def deadlock(self) -> bool:
        return self.outcome == "deadlock"


@dataclass(frozen=True)
class ShortcutCheck:
    fifo: str
    fork: str
    output: int
    join: str | None
    elements: int  # tensor elements codesign's model says the FIFO must hold
    fork_pe: int
    model_depth: int  # codesign's depth in words: ceil(elements / PE) + 2
    needed_depth: int  # largest occupancy with the input paced (every FIFO unlimited)
    deadlock_free_depth: int | None  # smallest depth that runs through (None: none does)
    full_rate_depth: int | None  # smallest depth within 1 % of the reference (None: none is)
    reference_cycles_per_frame: float | None  # this FIFO unlimited, the others at codesign's
    runs: tuple[ShortcutRun, ...]

    def run_at(self, depth: int, other_fifos: str = "codesign") -> ShortcutRun:
        return next(r for r in self.runs if (r.depth, r.other_fifos) == (depth, other_fifos))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "runs": [asdict(r) for r in self.runs]}


def _smallest(low: int, high: int, ok: Callable[[int], bool]) -> int:
    """Smallest depth in [low, high] for which `ok` holds (monotone; `high` assumed to hold)."""
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return high


def _check(bench: Bench, design: Design, skip: ShortcutFifo, model_depths: dict[str, int],
           needed: int) -> ShortcutCheck:
    runs: dict[tuple[int, str], ShortcutRun] = {}
    unlimited = {f: 0 for f in design.fifos}
    capacities = {f: fifo_capacity(d) for f, d in model_depths.items()}

    def run(depth: int, others: str) -> ShortcutRun:
        if (depth, others) not in runs:
            limits = {**(capacities if others == "codesign" else unlimited),
                      skip.fifo: fifo_capacity(depth)}
            result = bench.attempt(design, f"shortcut_{skip.fifo}_{depth}_{others}",
                                   design.caps(limits))
            runs[(depth, others)] = ShortcutRun(depth, others, **asdict(result))
        return runs[(depth, others)]

    built = fifo_depth(design.model, skip.fifo)  # the most this FIFO can hold
    reference = run(built, "codesign").cycles_per_frame

    def full_rate(depth: int) -> bool:
        return keeps_rate(run(depth, "codesign").cycles_per_frame, reference)

    shown = [run(skip.depth, "codesign"), run(max(1, skip.depth - 1), "codesign"),
             run(FINN_MINIMUM, "codesign"), run(skip.depth, "deep")]
    free = fast = None
    if reference is not None:
        free = _smallest(1, built, lambda d: run(d, "codesign").outcome == "ran")
        fast = _smallest(free, built, full_rate)
    return ShortcutCheck(skip.fifo, skip.fork, skip.output, skip.join, skip.elements, skip.pe,
                         skip.depth, needed, free, fast, reference, tuple(shown))


def check_shortcuts(bench: Bench, design: Design, model_depths: dict[str, int],
                    needed: dict[str, int]) -> tuple[ShortcutCheck, ...]:
    """Every skip-branch FIFO of `design` (built deep, with run-time limits) against codesign's
    depth. `model_depths`: codesign's depth of every FIFO; `needed`: the paced run's largest
    occupancies."""
    return tuple(_check(bench, design, skip, model_depths, needed.get(skip.fifo, 0))
                 for skip in shortcut_fifos(design.model))
