"""Measuring cut shapes: in this process or in workers, the same figures in the same order; the
fold search decides the same with any number of workers; a Ctrl-C while workers compile ends
the run with 130 and no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.errors import EXIT_INTERRUPTED, PruneError
from codesign.prune.measure import (
    DEFAULT_WORKERS,
    ShapeMeter,
    available_cores,
    check_workers,
    measure_counts,
)
from tests.interactive import sigint_as_in_a_shell


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_workers_must_be_a_whole_number_of_processes(bad) -> None:
    with pytest.raises(PruneError, match=r"workers .*whole number of processes >= 1.*--workers"):
        check_workers(bad)


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_as_given_or_one_per_core(workers: int) -> None:
    assert check_workers(workers) == workers
    assert check_workers(None) == min(available_cores(), DEFAULT_WORKERS) >= 1


def test_each_shape_needs_its_own_work_directory(trained, tmp_path: Path) -> None:
    model, data = trained
    meter = ShapeMeter(data.input_shape, None, workers=2)
    with pytest.raises(ValueError, match="2 shapes but 1 work directories"):
        meter.measure(model, {}, [{}, {}], [tmp_path])
    assert not meter.started


def _digits_shapes(model, data):
    from codesign.prune.graph import channel_groups
    from codesign.prune.importance import channel_importance

    groups = channel_groups(model, data.input_shape)
    scores = channel_importance(model, groups, "l1", (data.x_train, data.y_train), seed=1)
    shapes = [{g.name: max(1, g.channels * keep // 8) for g in groups} for keep in (8, 6, 5, 3)]
    return scores, shapes


@pytest.mark.slow
def test_workers_measure_what_this_process_measures(trained, tmp_path: Path) -> None:
    """Four shapes of the digits MLP on Pynq-Z1 with 3 % of its LUTs (so the shapes fold to
    different FPS): two workers give each shape's figures exactly, in the order asked."""
    from codesign.boards import load_board

    model, data = trained
    board = load_board("pynq-z1").with_caps(LUT=0.03)
    scores, shapes = _digits_shapes(model, data)
    here = [measure_counts(model, scores, s, data.input_shape, board, tmp_path / f"here{i}")
            for i, s in enumerate(shapes)]
    with ShapeMeter(data.input_shape, board, workers=2) as meter:
        assert not meter.started  # the first batch starts the workers
        there = meter.measure(model, scores, shapes,
                              [tmp_path / f"there{i}" for i in range(len(shapes))])
        assert meter.started
        again = meter.measure(model, scores, shapes[:2], [tmp_path / "a0", tmp_path / "a1"])
        meter.measure(model, scores, shapes[:1], [tmp_path / "here-alone"])  # one: here
        assert meter.in_workers == len(shapes) + 2
    assert not meter.started
    assert there == here and again == here[:2]  # the same workers measure another batch
    assert len({fps for fps, _, _ in here}) > 1  # the shapes tell apart
    assert all((tmp_path / f"there{i}" / "finn").is_dir() for i in range(len(shapes)))


@pytest.mark.slow
def test_the_fold_search_decides_the_same_with_workers(trained, tmp_path: Path) -> None:
    """The digits case of test_fold_search with folding targets and an 8-shape sweep: one
    process and two workers make the same moves, measure as many candidates and keep the same
    counts and ties."""
    from codesign.prune.fold_search import search_counts
    from tests.prune.test_fold_search import _digits_case

    model, data = trained
    board, profile, groups, scores, grain = _digits_case(trained, tmp_path / "case", lut=0.033)
    found = {}
    for workers in (1, 2):
        with ShapeMeter(data.input_shape, board, workers=workers) as meter:
            found[workers] = search_counts(model, groups, scores, profile, grain, 0.2, meter,
                                           tmp_path / f"search{workers}",
                                           rounds=3, targets=True, shapes=8)
    assert [found[w].workers for w in (1, 2)] == [1, 2]
    decided = [{k: v for k, v in found[w].to_dict().items() if k not in ("seconds", "workers")}
               for w in (1, 2)]
    assert decided[0] == decided[1]
    assert found[1].evaluated > 2 and found[1].moves


FLOW = """\
name: interrupted
seed: 0
board: pynq-z1
dataset: {name: digits}
model: {arch: mlp, weight_bits: 2, act_bits: 2, options: {hidden: [64, 32]}}
train: {epochs: 1, batch_size: 64, lr: 0.02}
prune: {target_sparsity: 0.5, steps: 1, finetune_epochs: 1, final_epochs: 0, fold_search: 3,
        fold_shapes: 64}
folding: {mode: optimize, objective: maximize}
"""


@pytest.mark.slow
# while the workers start (the parent exports the batch's second shape), and while one compiles
@pytest.mark.parametrize("after", ["candidate2", "candidate1/finn"])
def test_ctrl_c_while_workers_measure_exits_130_without_a_traceback(tmp_path: Path,
                                                                    after: str) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "codesign.cli", "prune", str(flow), "--out", str(out),
               "--workers", "2", "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True, preexec_fn=sigint_as_in_a_shell)
    try:
        deadline = time.monotonic() + 240
        # candidate0 is measured here; the first batch (the round's trials) goes to the workers
        while time.monotonic() < deadline and proc.poll() is None:
            if any(tmp_path.glob(f"**/step1-search/{after}")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert not out.exists()  # nothing half-written
