"""Bad pruning input through the CLI: a folding file (folding.mode: file) is kept for the pruned
model, so a file that does not fold the unpruned model stops the run before any pruning, and a
kept count the file cannot fold stops it after pruning, naming the layers; one line, exit 2, no
traceback, and an earlier result in the output directory stays intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codesign.cli import EXIT_USER_ERROR, main

pytestmark = pytest.mark.slow

# The digits MLP (64 -> 32 hidden) compiles to MVAU_hls_0 (features.0, 64 outputs),
# MVAU_hls_1 (features.3, 32 outputs from 64 inputs) and MVAU_hls_2 (the classifier).
FULLY_PARALLEL = {"MVAU_hls_0": {"PE": 64, "SIMD": 1}, "MVAU_hls_1": {"PE": 32, "SIMD": 64}}
NOT_FOR_THIS_MODEL = {"MVAU_hls_0": {"PE": 48, "SIMD": 1}}


def _flow(tmp_path: Path, folding: dict) -> Path:
    (tmp_path / "fold.json").write_text(json.dumps({"Defaults": {}, **folding}))
    data = {
        "name": "tiny_pruned_file", "seed": 3, "board": "pynq-z1",
        "dataset": {"name": "digits"},
        "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2,
                  "options": {"hidden": [64, 32]}},
        "train": {"epochs": 1, "batch_size": 64, "lr": 0.02},
        "prune": {"criterion": "l1", "target_sparsity": 0.4, "steps": 1, "finetune_epochs": 0,
                  "final_epochs": 0, "fold_search": 0, "unstructured_control": False},
        "folding": {"mode": "file", "file": "fold.json"},
        "verify": {"samples": 5},
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("command", "folding", "message", "reached"), [
    # every pruned count breaks the file's full parallelism: named by torch layer, after pruning
    ("prune", FULLY_PARALLEL,
     r"error: folding file \S+fold\.json cannot use the kept channel counts: layer features\.0 "
     r"keeps \d+ channels, not a multiple of PE 64 of MVAU_hls_0 \(features\.0\), the 64 "
     r"channels per SIMD word of MVAU_hls_1 \(features\.3, SIMD 64\) \(usable: multiples of 64, "
     r"nearest 64\).*; lower those PE/SIMD values in the folding file to divisors of the kept "
     r"counts, or let codesign fold the pruned model \(folding\.mode: optimize or setfolding\)$",
     "prune"),
    # a file that does not fold even the unpruned model: refused before any pruning
    ("run", NOT_FOR_THIS_MODEL,
     r"error: MVAU_hls_0 \(MVAU_hls\): PE=48 does not divide MH=64; legal PE values are", "prune"),
])
def test_a_folding_file_the_pruned_counts_cannot_use_stops_the_run_naming_the_layers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, folding: dict,
        message: str, reached: str) -> None:
    import re

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"earlier": true}')  # an earlier run's result
    assert main([command, str(_flow(tmp_path, folding)), "--out", str(out)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and re.search(message, lines[0]), err[-2000:]
    stages = re.findall(r"» (\w+)", err)
    assert stages[-1] == reached and "export" not in stages  # stopped in the pruning stage
    assert json.loads((out / "report.json").read_text()) == {"earlier": True}
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]


def test_a_folding_file_every_count_can_use_prunes_and_builds(tmp_path: Path) -> None:
    """PE/SIMD 1 divide any count: the check passes and the pruned model is built as the file
    folds it."""
    out = tmp_path / "out"
    flow = _flow(tmp_path, {"MVAU_hls_0": {"PE": 1, "SIMD": 1}, "MVAU_hls_1": {"PE": 1}})
    assert main(["prune", str(flow), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    counts = report["pruning"]["pruned"]["counts"]
    assert counts["features.0"] < 64 or counts["features.3"] < 32  # pruned
    folded = json.loads((out / "folding_config.json").read_text())
    assert folded["MVAU_hls_0"]["PE"] == 1 and folded["MVAU_hls_1"]["PE"] == 1
    assert report["verification"]["passed"]
