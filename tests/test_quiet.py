"""codesign.quiet: native stdout hidden around a block, and only inside it."""

from __future__ import annotations

import ctypes
import threading

import pytest

from codesign.quiet import native_stdout_hidden

LIBC = ctypes.CDLL(None)


def _native_print(text: str) -> None:
    """Print with C's printf, as HiGHS does (buffered by C's stdio, not Python's)."""
    LIBC.printf(text.encode() + b"\n")


@pytest.mark.parametrize("nested", [False, True])
def test_native_output_is_hidden_inside_and_shown_after(capfd: pytest.CaptureFixture[str],
                                                        nested: bool) -> None:
    _native_print("before")
    with native_stdout_hidden():
        _native_print("inside")
        if nested:
            with native_stdout_hidden():
                _native_print("nested")
            _native_print("after the nested block")
    _native_print("after")
    LIBC.fflush(None)
    out = capfd.readouterr().out.splitlines()
    assert out == ["before", "after"]


def test_concurrent_blocks_restore_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    """Blocks that overlap in two threads: stdout comes back when the last one leaves."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with native_stdout_hidden():
            first_in.set()
            second_in.wait(5)
            _native_print("first")
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with native_stdout_hidden():
            second_in.set()
            first_out.wait(5)
            _native_print("second, after the first left")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    _native_print("shown")
    LIBC.fflush(None)
    assert capfd.readouterr().out.splitlines() == ["shown"]
