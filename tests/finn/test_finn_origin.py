"""Errors name the module of the user's model a failing node came from: unsupported ops
(a concat branch, an LSTM) through compile and the CLI (a residual join on two scales:
test_finn_families)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from family_models import SHAPE, ConcatBranches, RecurrentHead

from codesign.cli import EXIT_USER_ERROR, main
from codesign.errors import ModelError
from codesign.export import export_qonnx
from codesign.finn import compile_to_hw
from codesign.finn.origin import TOP, _module_from_name


@pytest.mark.parametrize(("name", "module"), [
    ("/layer1.0/downsample/downsample.0/Conv", "layer1.0.downsample.0"),
    ("/layer1.0/conv1/weight_quant/export_handler/Quant", "layer1.0.conv1"),
    ("/layer1.0/relu1/act_quant/activation_impl/Relu", "layer1.0.relu1"),
    ("/features/features.3/Conv", "features.3"),
    ("/layer1.0/Add", "layer1.0"),
    ("/Concat", TOP),
    ("Conv_0", None),  # already renamed: nothing to say
])
def test_module_path_from_torchscript_node_names(name: str, module: str | None) -> None:
    assert _module_from_name(name) == module


CASES = {
    "concat": (ConcatBranches, r"node Concat_\d+ \(Concat\) \(in the model's own forward\).*"
                               r"concatenation of branches.*add whose operands share"),
    "lstm": (RecurrentHead, r"node LSTM_\d+ \(LSTM\) \(from module rnn\).*recurrent layers.*"
                            r"QuantConv1d"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_op_names_the_op_and_module(case: str, tmp_path: Path) -> None:
    make, pattern = CASES[case]
    torch.manual_seed(0)
    onnx = export_qonnx(make().eval(), SHAPE, tmp_path / "model.onnx")
    with pytest.raises(ModelError, match=pattern):
        compile_to_hw(onnx, part="xc7z020clg400-1", clock_mhz=100.0, workdir=tmp_path / "finn")


@pytest.mark.slow
def test_cli_fold_of_a_concat_model_is_one_line_exit_2_and_keeps_earlier_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    onnx = export_qonnx(ConcatBranches().eval(), SHAPE, tmp_path / "model.onnx")
    out = tmp_path / "out"
    out.mkdir()
    (out / "folding_config.json").write_text('{"earlier": true}')
    code = main(["fold", str(onnx), "--board", "pynq-z2", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR
    assert len(err.splitlines()) == 1 and "Concat" in err and "Traceback" not in err
    assert (out / "folding_config.json").read_text() == '{"earlier": true}'
