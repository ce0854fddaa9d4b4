"""Atomic file output: write to a temporary file in the target directory, then rename.
A crash or Ctrl-C never leaves a half-written report, model or checkpoint behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codesign.errors import ConfigError


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    Use this for writers that insist on a file name (torch.save, onnx.save, savefig)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any, default: Callable[[Any], Any] | None = None) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=default) + "\n")


@contextmanager
def staged_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh staging directory that replaces `path` only if the block succeeds.

    A failed or interrupted run leaves an earlier result at `path` untouched; its partial
    output stays in `<path>.partial` for inspection (an empty one, as a bad input leaves it, is
    removed). An output directory that cannot be created raises ConfigError before the block
    runs."""
    target = Path(path)
    staging = _fresh_staging(target)
    try:
        yield staging
    except BaseException:
        if staging.is_dir() and not any(staging.iterdir()):
            staging.rmdir()
        raise
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old)


def _fresh_staging(target: Path) -> Path:
    """Create an empty `<target>.partial` beside `target`, or say which directory to choose."""
    staging = target.with_name(target.name + ".partial")
    fix = "choose a writable directory (--out DIR)"
    if target.exists() and not target.is_dir():
        raise ConfigError(f"output directory {target} is an existing file; choose another path "
                          "(--out DIR)")
    try:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create output directory {target} ({exc.strerror or exc}); {fix}"
        ) from exc
    return staging
