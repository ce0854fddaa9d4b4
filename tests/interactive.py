"""What a process started from an interactive shell has, for tests that press Ctrl-C.

A non-interactive shell starts background jobs with SIGINT ignored, and Python keeps an ignored
SIGINT ignored (no KeyboardInterrupt), so a suite launched in the background would see Ctrl-C
do nothing in the processes it starts. A shell the user types into leaves SIGINT at its default."""

from __future__ import annotations

import signal


def sigint_as_in_a_shell() -> None:
    """`preexec_fn` for subprocess.Popen: SIGINT at its default disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
