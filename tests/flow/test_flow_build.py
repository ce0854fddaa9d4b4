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


CONV1D = Path(__file__).resolve().parents[1] / "finn" / "conv1d_models.py"


@pytest.mark.slow
def test_build_a_1d_brevitas_module_with_a_c_l_input_shape(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", f"{CONV1D}:kws_like", "--board", "pynq-z2", "--input-shape", "28,28",
                 "--out", str(out), "--samples", "6"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["matched"] == 6 and report["budget"]["fits"]
    ops = {layer["op_type"] for layer in report["estimates"]["layers"]}
    assert any(op.startswith("ConvolutionInputGenerator") for op in ops)


def test_a_1d_module_given_a_2d_input_shape_is_one_clear_error(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    code = main(["build", f"{CONV1D}:kws_like", "--board", "pynq-z2", "--input-shape", "1,28,28",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "features.0 (QuantConv1d)" in err and "C,L" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (out / "report.json").read_text() == "{}"  # the earlier result is intact
