"""Keep third-party notices out of codesign's output.

Brevitas warns when it is imported without fast_hadamard_transform, an optional CUDA package;
codesign trains and exports on the CPU, where Brevitas's PyTorch kernels are what runs anyway.
Only that notice is hidden, and only while codesign imports the module that raises it.

The HiGHS solver inside scipy.optimize.milp (the folding MILP) prints a debugging line of its
own with C's printf on some solves ("HighsMipSolverData::transformNewIntegerFeasibleSolution
tmpSolver.run();", seen on pruned ResNet-8 folds with scipy 1.17.1), which no solver option
turns off: native_stdout_hidden sends the process's stdout to /dev/null around a solve."""

from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

BREVITAS_NOTICES = ("fast_hadamard_transform package not found",)


@contextmanager
def brevitas_notices_hidden() -> Iterator[None]:
    """Ignore Brevitas's import-time notices inside the block; other warnings still show."""
    with warnings.catch_warnings():
        for notice in BREVITAS_NOTICES:
            warnings.filterwarnings("ignore", message=re.escape(notice), category=UserWarning)
        yield


def import_brevitas() -> None:
    """Import the Brevitas module that warns at import time with the warning hidden.

    Python imports a module once, so the later imports of it (brevitas.export's, when a
    model is exported) stay silent too."""
    with brevitas_notices_hidden():
        import brevitas.graph.equalize  # noqa: F401


_redirect_lock = threading.Lock()
_redirect_depth = 0  # blocks inside native_stdout_hidden, over all threads
_saved_stdout: int | None = None  # the process's stdout while it is redirected


def _flush_native() -> None:
    """Flush C's stdio buffers, so what native code printed goes where fd 1 points now."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to load (not on POSIX)
        pass


@contextmanager
def native_stdout_hidden() -> Iterator[None]:
    """Inside the block, what anything writes to the process's stdout (file descriptor 1) goes
    to /dev/null: native printf output that Python cannot catch. Python's own writes to stdout
    from other threads meanwhile (a progress bar's refresh) are dropped too, so keep the block
    to one solver call. Nested and concurrent blocks are fine: the last one out restores."""
    global _redirect_depth, _saved_stdout
    with _redirect_lock:
        if _redirect_depth == 0:
            sys.stdout.flush()
            _flush_native()
            try:
                _saved_stdout = os.dup(1)
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 1)
            except OSError:  # no stdout to redirect
                _saved_stdout = None
        _redirect_depth += 1
    try:
        yield
    finally:
        with _redirect_lock:
            _redirect_depth -= 1
            if _redirect_depth == 0 and _saved_stdout is not None:
                _flush_native()
                os.dup2(_saved_stdout, 1)
                os.close(_saved_stdout)
                _saved_stdout = None
