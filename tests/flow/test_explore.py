"""`codesign explore` on a local Dask cluster: a tiny space end to end, the trained-variant
cache, fronts that hold only non-dominated feasible points, resuming a study, and Ctrl-C."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from explore_spaces import results, tiny_space
from interactive import sigint_as_in_a_shell

from codesign.cli import main

pytestmark = pytest.mark.slow
INTERRUPTED = 130


def _dominated(p: dict, q: dict, objectives: dict[str, str]) -> bool:
    """q dominates p."""
    signs = {o: 1 if d == "max" else -1 for o, d in objectives.items()}
    at_least = all(signs[o] * q[o] >= signs[o] * p[o] for o in objectives)
    return at_least and any(signs[o] * q[o] > signs[o] * p[o] for o in objectives)


@pytest.fixture(scope="module")
def explored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    tmp = tmp_path_factory.mktemp("explore")
    space = tiny_space(tmp, boards=["pynq-z1", "zcu104"])
    out = tmp / "out"
    assert main(["explore", str(space), "--out", str(out), "--quiet"]) == 0
    return space, out, results(out)


def test_every_trial_gives_a_point_per_board_with_its_run(explored: tuple[Path, Path, dict]) -> None:
    _, out, doc = explored
    assert [t["number"] for t in doc["trials"]] == [0, 1, 2]
    assert all(t["complete"] for t in doc["trials"])
    assert doc["trials"][0]["base"]  # the base flow's own configuration runs first
    assert len(doc["points"]) == 3 * 2
    with (out / "points.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 6
    for p in doc["points"]:
        run = out / p["run_dir"]
        assert (run / "report.md").is_file() and (run / "model.qonnx.onnx").is_file()
        assert (run / p["folding_config"]).is_file()
        assert 0 < p["accuracy"] <= 1 and p["fps"] > 0
    assert (out / "pareto.png").stat().st_size > 0 and (out / "study.db").is_file()
    assert "Smallest board that meets" in (out / "report.md").read_text()


def test_the_study_file_loads_in_optuna_with_each_trials_constraints(
        explored: tuple[Path, Path, dict]) -> None:
    import optuna

    _, out, doc = explored
    study = optuna.load_study(study_name="tiny_space", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 3 and len(study.directions) == 3
    for t in study.trials:
        assert set(t.constraints) == {"fits", "min_accuracy", "min_fps"}
        feasible = any(p["feasible"] for p in doc["points"] if p["trial"] == t.number)
        assert (max(t.constraints.values()) <= 0) == feasible


def test_the_runs_own_board_reuses_its_fold_which_a_fresh_fold_reproduces(
        explored: tuple[Path, Path, dict]) -> None:
    from codesign.boards import load_board
    from codesign.config import load_flow
    from codesign.flow.explore_trial import fold_board

    _, out, doc = explored
    own = next(p for p in doc["points"] if p["board"] == "Pynq-Z1")  # the base flow's board
    assert own["folding_config"] == "folding_config.json"
    run = out / own["run_dir"]
    fresh = fold_board(run, load_flow(run / "flow.yaml"), load_board("pynq-z1"))
    assert (fresh.fits, fresh.fps, fresh.lut, fresh.bram, fresh.dsp) == (
        own["fits"], own["fps"], own["lut"], own["bram"], own["dsp"])


def test_a_repeated_configuration_is_not_retrained(explored: tuple[Path, Path, dict]) -> None:
    _, out, doc = explored
    configs = {tuple(sorted(t["params"].items())) for t in doc["trials"]}
    variants = [d for d in (out / "variants").iterdir() if not d.name.startswith(".")]
    assert len(variants) == len(configs) < 3  # 3 trials over 2 configurations
    assert sum(bool(t["cached"]) for t in doc["trials"]) == 3 - len(configs)


def test_fronts_hold_exactly_the_non_dominated_feasible_points(
        explored: tuple[Path, Path, dict]) -> None:
    _, _, doc = explored
    objectives = doc["objectives"]
    feasible = [p for p in doc["points"] if p["feasible"]]
    for board, front in doc["fronts"].items():
        pool = [p for p in feasible if board == "all" or p["board"] == board]
        assert front, board
        for p in front:
            assert p["feasible"] and not any(_dominated(p, q, objectives) for q in pool)
        for p in pool:
            on_front = any((f["run_dir"], f["board"]) == (p["run_dir"], p["board"]) for f in front)
            assert on_front or any(_dominated(p, q, objectives) for q in pool)


def test_rerunning_resumes_without_repeating_a_finished_trial(
        explored: tuple[Path, Path, dict]) -> None:
    space, out, before = explored
    assert main(["explore", str(space), "--out", str(out), "--trials", "4", "--quiet"]) == 0
    after = results(out)
    assert [t["number"] for t in after["trials"]] == [0, 1, 2, 3]
    assert after["trials"][:3] == before["trials"]  # kept as they were, not run again


def test_a_trial_that_raises_is_recorded_failed_with_its_reason_and_the_study_goes_on(
        tmp_path: Path) -> None:
    # 1-bit activations with 2-bit weights: the zoo refuses the model (ModelError) on the worker
    space = tiny_space(tmp_path, sampler="grid", trials=2,
                       space={"model.weight_bits": [2], "model.act_bits": [1, 2]})
    out = tmp_path / "out"
    assert main(["explore", str(space), "--out", str(out), "--quiet"]) == 0
    trials = {t["params"]["model.act_bits"]: t for t in results(out)["trials"]}
    assert trials[2]["complete"] and not trials[1]["complete"]
    assert trials[1]["reason"].startswith("ModelError: act_bits=1")
    assert "## Failed trials" in (out / "report.md").read_text()


def test_a_moved_output_directory_keeps_its_links(explored: tuple[Path, Path, dict],
                                                  tmp_path: Path) -> None:
    space, out, _ = explored
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    shutil.rmtree(out / "variants")  # nothing may point back at the old place
    try:
        assert main(["explore", str(space), "--out", str(moved), "--trials", "1", "--quiet"]) == 0
    finally:
        shutil.copytree(moved / "variants", out / "variants")
    doc = results(moved)
    for p in doc["points"]:
        assert p["run_dir"].startswith("variants/") and (moved / p["run_dir"] / "report.md").is_file()
    assert "](../" not in (moved / "report.md").read_text()


def _complete_trials(db: Path) -> int:
    """Trials the Optuna study in `db` has recorded as complete (0 before it exists)."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:  # the schema is still being created
        return 0


def test_ctrl_c_keeps_finished_trials_and_a_rerun_completes(tmp_path: Path) -> None:
    space = tiny_space(tmp_path, trials=3, space={"model.weight_bits": [1, 2, 3],
                                                  "model.act_bits": [2]})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "codesign.cli", "explore", str(space), "--out", str(out),
               "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=sigint_as_in_a_shell)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _complete_trials(out / "study.db"):  # the study has recorded a finished trial
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == INTERRUPTED, err
    assert "interrupted" in err
    kept = results(out)["trials"]
    assert kept and all(t["complete"] for t in kept)
    assert main(["explore", str(space), "--out", str(out), "--quiet"]) == 0
    final = results(out)["trials"]
    assert len(final) == 3 and final[:len(kept)] == kept
    assert all(t["complete"] for t in final)
