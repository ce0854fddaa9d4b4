from pathlib import Path

import pytest

from codesign.atomic import atomic_path, staged_directory, write_json, write_text


def test_write_text_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "report.md"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"v": 2, "half')
        raise RuntimeError("crash while writing")
    assert target.read_text().strip().endswith("}")
    assert '"v": 1' in target.read_text()
    assert list(tmp_path.iterdir()) == [target]


def test_staged_directory_keeps_earlier_result_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with staged_directory(out) as stage:
        (stage / "report.json").write_text("first")
    with pytest.raises(ValueError), staged_directory(out) as stage:
        (stage / "report.json").write_text("second, half")
        raise ValueError("flow failed")
    assert (out / "report.json").read_text() == "first"
    assert (tmp_path / "run.partial" / "report.json").exists()
    with staged_directory(out) as stage:
        (stage / "report.json").write_text("third")
    assert (out / "report.json").read_text() == "third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("error", [ValueError("bad input"), KeyboardInterrupt()])
def test_a_run_stopped_before_writing_leaves_no_partial_directory(tmp_path: Path,
                                                                  error: BaseException) -> None:
    """A bad input found before any work (or Ctrl-C then) leaves the directory as it was."""
    with pytest.raises(type(error)), staged_directory(tmp_path / "run"):
        raise error
    assert list(tmp_path.iterdir()) == []
