"""The FPS a shape folds to: a copy of the model cut to kept counts, exported, compiled by FINN
and folded for the board within its caps (`measure_counts`), and many shapes at once in worker
processes (`ShapeMeter`).

One measurement is a FINN compile and a fold, seconds each (DS-CNN on KV260: about 9 s on one
core), and the fold search (codesign.prune.fold_search) makes dozens per step; its rounds'
candidates and its shape sweep are lists whose members do not depend on one another. With
`workers` > 1 the parent cuts and exports each shape and worker processes compile and fold the
files: Brevitas modules do not pickle (their quantizer injectors are classes made at run
time), QONNX files do. A measurement depends on its file alone and results come back in the
order asked, so the search decides the same with any number of workers. Workers are started
with `spawn` (forking a process whose OpenMP threads have trained can hang), once per
`ShapeMeter` (prune_model keeps one for all its steps); a Ctrl-C ends them quietly and leaves
the parent to say so."""

from __future__ import annotations

import copy
import multiprocessing
import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from codesign.errors import EXIT_INTERRUPTED, FoldingError, PruneError
from codesign.prune.graph import weight_layers
from codesign.prune.profile import compile_exported, export_model, fold_profile, layer_dims
from codesign.prune.surgery import keep_top, prune_channels

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from codesign.boards import Board
    from codesign.prune.profile import HardwareProfile, LayerHardware

# FPS within the caps (0.0 when no folding fits them), the weight layers charged with a node at
# the design's most cycles, and those of them whose own MVAU (VVAU) is that node
Measurement = tuple[float, tuple["LayerHardware", ...], frozenset[str]]
NOT_FITTING: Measurement = (0.0, (), frozenset())
# the most workers by default: each holds torch and FINN (about 0.2 GB before its first compile),
# and a batch of 15-50 shapes whose exports this process makes one at a time gains little more
DEFAULT_WORKERS = 8


def measure_counts(model: nn.Module, scores: Mapping[str, np.ndarray], counts: Mapping[str, int],
                   input_shape: tuple[int, int, int], board: Board, workdir: Path
                   ) -> Measurement:
    """FPS within the caps of a copy of `model` cut to `counts` (the highest-scored channels
    kept), the weight layers charged with a node at the design's most cycles (in the profile's
    order; empty when no folding fits or the slowest node works on no layer's outputs), and
    those of them whose own MVAU (VVAU) is that slow."""
    return fold_export(*export_cut(model, scores, counts, input_shape, workdir), board, workdir)


def export_cut(model: nn.Module, scores: Mapping[str, np.ndarray], counts: Mapping[str, int],
               input_shape: tuple[int, int, int], workdir: Path
               ) -> tuple[Path, list[str], dict[str, tuple[int, int]]]:
    """A copy of `model` cut to `counts`, exported into `workdir`: the QONNX file, its weight
    layers and their MVAU shapes (what `fold_export` needs of the model)."""
    cut = copy.deepcopy(model)
    prune_channels(cut, keep_top(scores, counts), input_shape)
    names = weight_layers(cut, input_shape)
    return export_model(cut, input_shape, workdir), names, layer_dims(cut, names)


def fold_export(onnx: Path, names: Sequence[str], dims: Mapping[str, tuple[int, int]],
                board: Board, workdir: Path) -> Measurement:
    """`measure_counts` from the exported file on: compile, fold within the caps, bottleneck."""
    hw = compile_exported(onnx, board, workdir)
    try:
        # only the FPS is used: the FIFO depth search would change the totals alone
        profile = fold_profile(hw, names, board, dims=dims, search_fifos=False)
    except FoldingError:
        return NOT_FITTING
    return (profile.fps, *bottleneck_layers(profile))


def bottleneck_layers(profile: HardwareProfile
                      ) -> tuple[tuple[LayerHardware, ...], frozenset[str]]:
    """The weight layers charged with a node at the design's most cycles (in the profile's
    order), and those of them whose own MVAU (VVAU) is that node. From its unit on, a layer's
    nodes work on its output channels; nodes before the first unit (on the input image) are
    charged to the first layer, but no channel count moves them."""
    cycles = {node.name: node.cycles for node in profile.estimates.layers}
    most = profile.max_cycles
    slowest = tuple(x for x in profile.layers
                    if max(cycles.get(n, 0) for n in _from_unit(x)) >= most)
    return slowest, frozenset(x.layer for x in slowest if x.cycles >= most)


def _from_unit(layer: LayerHardware) -> tuple[str, ...]:
    """The nodes charged to `layer` from its MVAU (VVAU) on."""
    nodes = layer.nodes or (layer.node,)
    return nodes[nodes.index(layer.node):] if layer.node in nodes else (layer.node,)


def _quit_quietly(signum: int, frame: object) -> None:
    """A worker's Ctrl-C: stop at once, without a traceback (the parent says it was interrupted;
    what it was compiling was in the run's staging directory)."""
    os._exit(EXIT_INTERRUPTED)


def _start_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one worker per core; a compile is one thread of Python
    signal.signal(signal.SIGINT, _quit_quietly)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held since it was started


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C held back, not lost, inside the block, and in the worker processes started there
    until `_start_worker` lets it in: one that arrived while a worker was still importing
    would end it with a traceback."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS says, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_workers(workers: int | None) -> int:
    """How many measuring processes: `workers`, or for None one per core up to DEFAULT_WORKERS;
    PruneError (naming the fix) for anything but a whole number >= 1."""
    if workers is None:
        return min(available_cores(), DEFAULT_WORKERS)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise PruneError(f"workers {workers!r}: give a whole number of processes >= 1 "
                         f"(--workers; leave it out for one per core, up to {DEFAULT_WORKERS})")
    return workers


def _ready() -> None:
    """A worker's first task: it has started and imported what measuring needs."""


class ShapeMeter:
    """Measures cut shapes (`measure_counts`) for one board and input shape, `workers` at a time.

    A context manager: the worker processes start with the first batch of two or more shapes
    (a search that measures one shape, as the default TFC flow's does, starts none) and stop
    when it exits. A batch of one shape, or `workers` 1, is measured in this process."""

    def __init__(self, input_shape: tuple[int, int, int], board: Board, *,
                 workers: int | None = 1) -> None:
        self.input_shape, self.board = input_shape, board
        self.workers = check_workers(workers)
        self.in_workers = 0  # shapes the worker processes have measured
        self._pool: ProcessPoolExecutor | None = None

    def measure(self, model: nn.Module, scores: Mapping[str, np.ndarray],
                shapes: Sequence[Mapping[str, int]], workdirs: Sequence[Path]
                ) -> list[Measurement]:
        """Each shape of `model` measured, in their order; shape i compiles in `workdirs[i]`."""
        if len(shapes) != len(workdirs):
            raise ValueError(f"{len(shapes)} shapes but {len(workdirs)} work directories")
        if self.workers == 1 or len(shapes) < 2:
            return [measure_counts(model, scores, counts, self.input_shape, self.board, workdir)
                    for counts, workdir in zip(shapes, workdirs, strict=True)]
        pool = self._start()
        futures: list[Future[Measurement]] = []
        try:
            for counts, workdir in zip(shapes, workdirs, strict=True):  # export, they compile
                exported = export_cut(model, scores, counts, self.input_shape, workdir)
                with _interrupts_held():  # submitting may start a worker
                    futures.append(pool.submit(fold_export, *exported, self.board, workdir))
            found = [future.result() for future in futures]
            self.in_workers += len(found)
            return found
        except BrokenProcessPool as exc:
            raise PruneError("a worker process measuring the fold search's shapes stopped "
                             f"({exc}); run again, or with --workers 1") from None
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def _start(self) -> ProcessPoolExecutor:
        """The worker processes, started (one task each, so each is spawned now)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, initializer=_start_worker,
                                             mp_context=multiprocessing.get_context("spawn"))
            with _interrupts_held():
                for _ in range(self.workers):
                    self._pool.submit(_ready)
        return self._pool

    @property
    def started(self) -> bool:
        """Whether worker processes are running."""
        return self._pool is not None

    def close(self) -> None:
        """Stop the worker processes (queued shapes are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ShapeMeter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
