"""Defects a new user hit: Ctrl-C reported as success, a traceback for an output directory that
cannot be created, and Brevitas notices and blank lines in the run output."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
import yaml
from interactive import sigint_as_in_a_shell

from codesign.atomic import staged_directory
from codesign.cli import EXIT_USER_ERROR, main
from codesign.errors import ConfigError

ROOT = Path(__file__).parents[2]
INTERRUPTED = "interrupted; earlier results were left intact"
# What a terminal does with the control sequences rich's live display writes.
_TERMINAL_TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\r|\n|[^\x1b\r\n]")


def _tiny_flow(tmp_path: Path, epochs: int, batch_size: int = 64) -> Path:
    data = {
        "name": "t", "board": "pynq-z2",
        "dataset": {"name": "digits"},
        "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2, "options": {"hidden": [16]}},
        "train": {"epochs": epochs, "batch_size": batch_size, "lr": 0.02},
        "folding": {"mode": "setfolding", "target_fps": 200_000},
        "verify": {"samples": 5},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            return
        if not data:
            return
        chunks.append(data)


def _run_in_terminal(argv: list[str], interrupt_when: Callable[[], bool] | None = None,
                     timeout: float = 300) -> tuple[int, str]:
    """Run argv on a 120x40 pseudo-terminal, as from an interactive shell; return its exit code
    and raw output. With interrupt_when, press Ctrl-C (SIGINT) as soon as it returns True."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                            env={**os.environ, "TERM": "xterm"}, preexec_fn=sigint_as_in_a_shell)
    os.close(slave)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while interrupt_when is not None and proc.poll() is None and not interrupt_when():
            assert time.monotonic() < deadline, b"".join(chunks).decode(errors="replace")
            time.sleep(0.1)
        if interrupt_when is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=10)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def _screen(raw: str) -> list[str]:
    """The lines a terminal shows after `raw` (cursor up, erase line, carriage return, newline),
    without the trailing empty ones."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for match in _TERMINAL_TOKEN.finditer(raw):
        token, arg, op = match.group(0), match.group(1), match.group(2)
        if op == "A":
            row = max(0, row - int(arg or 1))
        elif op == "K":
            del lines[row][0 if arg == "2" else col:]
        elif op:
            continue  # colours, cursor visibility
        elif token == "\r":
            col = 0
        elif token == "\n":
            row += 1
            lines.extend([] for _ in range(row + 1 - len(lines)))
        else:
            line = lines[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = token
            col += 1
    text = ["".join(line).rstrip() for line in lines]
    while text and not text[-1]:
        text.pop()
    return text


# 1. Ctrl-C -----------------------------------------------------------------------------------

def test_ctrl_c_in_a_command_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys.modules["codesign.cli.app"], "load_board", interrupted)
    assert main(["boards", "show", "pynq-z2"]) == 130
    captured = capsys.readouterr()
    assert captured.err == INTERRUPTED + "\n"
    assert captured.out == ""


def test_exit_code_a_command_raises_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """`codesign docker run` ends with typer.Exit(the container's exit code)."""
    def failed(name: str) -> None:
        raise typer.Exit(3)

    monkeypatch.setattr(sys.modules["codesign.cli.app"], "load_board", failed)
    assert main(["boards", "show", "pynq-z2"]) == 3


@pytest.mark.slow
def test_ctrl_c_while_training_exits_130_and_keeps_earlier_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    earlier = '{"earlier": "result"}\n'
    (out / "report.json").write_text(earlier)
    flow = _tiny_flow(tmp_path, epochs=200, batch_size=16)  # minutes of training
    checkpoint = tmp_path / "out.partial" / "model.pt"  # written after every epoch

    code, raw = _run_in_terminal(
        [sys.executable, "-m", "codesign.cli", "run", str(flow), "--out", str(out)],
        interrupt_when=checkpoint.exists)

    screen = _screen(raw)
    assert code == 130, raw
    assert "Traceback" not in raw
    assert "epoch" in raw  # the progress bars were up when Ctrl-C came ...
    assert screen == ["» data", "» train", INTERRUPTED]  # ... and are gone
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert (out / "report.json").read_text() == earlier
    assert checkpoint.exists()  # the partial output is kept for inspection


# 2. An output directory that cannot be created ---------------------------------------------

@pytest.mark.parametrize("command", [
    lambda flow: ["run", str(flow)],
    lambda flow: ["build", "model.onnx", "--board", "pynq-z2"],
    lambda flow: ["fold", "model.onnx", "--board", "pynq-z2"],
], ids=["run", "build", "fold"])
def test_output_directory_that_cannot_be_created_is_one_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        command: Callable[[Path], list[str]]) -> None:
    code = main([*command(_tiny_flow(tmp_path, epochs=1)), "--out", "/proc/x"])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "/proc/x" in err and "choose a writable directory" in err


def test_staging_under_a_file_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"file/out .*choose a writable directory"), \
            staged_directory(tmp_path / "file" / "out"):
        pytest.fail("the block must not run")
    with pytest.raises(ConfigError, match=r"file is an existing file"), \
            staged_directory(tmp_path / "file"):
        pytest.fail("the block must not run")
    assert (tmp_path / "file").is_file()


# 3. Only codesign's own lines in the output ------------------------------------------------

def test_progress_bars_write_nothing_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from codesign.train import _progress

    with _progress(True, epochs=2, steps=3) as bar:
        bar.advance_batch(1, 0.5)
        bar.end_epoch({"test_acc": 0.5})
    assert capsys.readouterr() == ("", "")


BARS_SCRIPT = """
import sys, time
from codesign.train import _progress
print("» train", file=sys.stderr)
with _progress(True, epochs=2, steps=3) as bar:
    for epoch in (1, 2):
        for _ in range(3):
            bar.advance_batch(epoch, 0.5)
            time.sleep(0.1)
        bar.end_epoch({"test_acc": 0.5})
print("» export", file=sys.stderr)
print("report: done")
"""


def test_progress_bars_leave_no_lines_on_a_terminal() -> None:
    code, raw = _run_in_terminal([sys.executable, "-c", BARS_SCRIPT], timeout=60)
    assert code == 0, raw
    assert "epochs" in raw  # the bars were drawn
    assert _screen(raw) == ["» train", "» export", "report: done"]


@pytest.mark.slow
def test_run_output_is_only_codesigns_lines(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codesign.cli", "run", str(_tiny_flow(tmp_path, epochs=1)),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "fast_hadamard" not in proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert stream.strip() and "" not in [line.strip() for line in stream.splitlines()], stream
    assert proc.stderr.splitlines()[:2] == ["» data", "» train"]
    assert proc.stdout.splitlines()[-1] == f"report: {tmp_path / 'out' / 'report.md'}"
