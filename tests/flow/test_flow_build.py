"""`codesign build` on a QONNX file straight from brevitas.export.export_qonnx (no qonnx cleanup,
no inferred shapes, a float input): codesign cleans it up itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.cli import main


def _raw_export(path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    from codesign.models import build_model

    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 8, 8), num_classes=10, weight_bits=2, act_bits=2,
                        hidden=[16]).eval()
    export_qonnx(model, torch.zeros(1, 1, 8, 8), export_path=str(path), dynamo=False)
    return path


def test_a_raw_export_has_no_shapes_to_start_with(tmp_path: Path) -> None:
    from qonnx.core.modelwrapper import ModelWrapper

    raw = ModelWrapper(str(_raw_export(tmp_path / "raw.onnx")))
    inner = [name for node in raw.graph.node for name in node.output][:-1]
    # what made FINN fail before codesign cleaned the file up: "Found unspecified tensor shapes"
    assert any(raw.get_tensor_shape(name) is None for name in inner)


@pytest.mark.slow
def test_build_cleans_up_a_raw_brevitas_export(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    raw = _raw_export(tmp_path / "raw.onnx")
    out = tmp_path / "out"
    assert main(["build", str(raw), "--board", "pynq-z2", "--out", str(out), "--samples", "6"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["passed"] and report["verification"]["matched"] == 6
    assert "cleanup" in report["timings_s"]
    assert "Traceback" not in capsys.readouterr().err
