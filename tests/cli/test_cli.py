"""CLI behaviour on bad input: one clear line, exit code 2, no traceback, nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from codesign.cli import EXIT_USER_ERROR, main

ROOT = Path(__file__).parents[2]
DEFAULT_FLOW = ROOT / "flows" / "tfc_w2a2_mnist5k.yaml"


def _flow_file(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(DEFAULT_FLOW.read_text())
    data.update(changes)
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_board_exits_cleanly_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codesign.cli", "run", str(DEFAULT_FLOW), "--board", "pynq-z9",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == EXIT_USER_ERROR
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "pynq-z9" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (lambda t: ["run", str(_flow_file(t, trian={}))], "unknown key trian"),
        (lambda t: ["run", str(t / "missing.yaml")], "does not exist"),
        (lambda t: ["run", str(_flow_file(t, dataset={"name": "cifar10", "path": str(t / "nope")}))],
         "cifar"),
        (lambda t: ["run", str(_flow_file(t, dataset={"name": "imagenet"}))], "imagenet"),
        (lambda t: ["boards", "show", "no-such-board"], "no-such-board"),
        (lambda t: ["build", str(t / "missing.onnx"), "--board", "pynq-z1"], "does not exist"),
        (lambda t: ["build", "x.onnx", "--board", "pynq-z1", "--target-fps", "5", "--folding", "f.json"],
         "not both"),
        (lambda t: ["build", "pkg:model", "--board", "pynq-z1", "--input-shape", "1,28,28,3"], "C,H,W"),
        (lambda t: ["fold", "m.onnx", "--board", "pynq-z1", "--caps", "LUT=2"], "LUT"),
    ],
    ids=["unknown-flow-key", "missing-flow", "missing-dataset", "unknown-dataset", "unknown-board",
         "missing-model", "both-foldings", "bad-input-shape", "bad-caps"],
)
def test_bad_input_gives_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         make_args, fragment: str) -> None:
    args = make_args(tmp_path)
    code = main([*args, "--out", str(tmp_path / "out")] if args[0] in ("run", "build", "fold") else args)
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert fragment.lower() in err.lower()
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_malformed_board_file_names_file_and_field(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    board = yaml.safe_load((ROOT / "boards" / "pynq-z1.yaml").read_text())
    board["resources"]["LUT"] = -5
    path = tmp_path / "myboard.yaml"
    path.write_text(yaml.safe_dump(board))
    assert main(["boards", "show", str(path)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "myboard.yaml" in err and "LUT" in err


@pytest.mark.parametrize(
    ("board_name", "field", "value"),
    [
        ("pynq-z2", "host_io", {"port_width_bits": 48, "port_clock": "kernel",
                                "link_gbytes_per_s": None}),
        ("pynq-z2", "host_io", {"port_width_bits": 64, "port_clock": "kernel"}),
        ("u250", "host_io", {"port_width_bits": 512, "port_clock": "kernel",
                             "link_gbytes_per_s": "fast"}),
        ("u250", "shell_resources", {"LUT": 2_000_000, "FF": 1, "BRAM_18K": 1, "URAM": 0,
                                     "DSP": 1}),
        ("u250", "shell_resources", {"LUT": 1, "FF": 1, "BRAM_18K": 1, "URAM": 0}),
        ("pynq-z2", "host_io", {"port_width_bits": 64, "port_clock": "kernel",
                                "link_gbytes_per_s": None, "batch_overhead_ms": -1}),
        ("pynq-z2", "host_io", {"port_width_bits": 64, "port_clock": "kernel",
                                "link_gbytes_per_s": None, "frame_overhead_us": "fast"}),
    ],
    ids=["port-width", "missing-link", "link-not-number", "shell-exceeds-device",
         "shell-missing-kind", "negative-batch-overhead", "frame-overhead-not-number"],
)
@pytest.mark.parametrize("command", ["boards-show", "fold"])
def test_bad_shell_or_io_entry_is_one_line_exit_2(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  board_name: str, field: str, value: object,
                                                  command: str) -> None:
    board = yaml.safe_load((ROOT / "boards" / f"{board_name}.yaml").read_text())
    board[field] = value
    path = tmp_path / "myboard.yaml"
    path.write_text(yaml.safe_dump(board))
    args = (["boards", "show", str(path)] if command == "boards-show" else
            ["fold", str(tmp_path / "m.onnx"), "--board", str(path), "--out", str(tmp_path / "o")])
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "myboard.yaml" in err and field in err
    assert not (tmp_path / "o").exists()


def test_boards_list_shows_every_board(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boards", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("Pynq-Z1", "Ultra96-V2", "ZCU104", "U250", "U55C", "KV260"):
        assert name in out


USER_MODEL = """
import torch.nn as nn
from brevitas.nn import QuantLinear, QuantReLU


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = QuantLinear(784, 32, bias=False, weight_bit_width=2)
        self.act = QuantReLU(bit_width=2)
        self.head = nn.Linear(32, 10)  # float: FINN cannot build it

    def forward(self, x):
        return self.head(self.act(self.fc1(x.flatten(1) / 255.0)))
"""


def test_unsupported_layer_in_user_model_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "my_net.py"
    module.write_text(USER_MODEL)
    code = main(["build", f"{module}:Net", "--board", "pynq-z1", "--input-shape", "1,28,28",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert "head" in err and "Linear" in err and "QuantLinear" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


QUANT_TENSOR_OUT = """
import torch.nn as nn
from brevitas.nn import QuantLinear, QuantReLU


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = QuantLinear(784, 32, bias=False, weight_bit_width=2)
        self.act = QuantReLU(bit_width=2, return_quant_tensor=True)
        self.head = QuantLinear(32, 10, bias=False, weight_bit_width=2, return_quant_tensor=True)

    def forward(self, x):
        return self.head(self.act(self.fc1(x.flatten(1) / 255.0)))
"""


def test_a_user_model_returning_a_quant_tensor_is_refused_with_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "my_net.py"
    module.write_text(QUANT_TENSOR_OUT)
    code = main(["build", f"{module}:Net", "--board", "pynq-z1", "--input-shape", "1,28,28",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "Traceback" not in err
    assert "not a tensor of logits; set return_quant_tensor=False on its last layer" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        (lambda t: ["simulate", str(t)], "no report.json"),
        (lambda t: ["simulate", str(t), "--pipeline", "sometimes"], "simulate.pipeline"),
        (lambda t: ["simulate", str(t), "--samples", "-1"], "simulate.samples"),
        (lambda t: ["simulate", str(t), "--random-inputs", "-1"], "simulate.random_inputs"),
        (lambda t: ["simulate", str(t), "--layer-frames", "0"], "simulate.layer_frames"),
        (lambda t: ["simulate", str(t), "--pipeline-frames", "0"], "simulate.pipeline_frames"),
    ],
    ids=["not-an-output-dir", "bad-pipeline", "negative-samples", "negative-random-inputs",
         "no-layer-frames", "no-pipeline-frames"],
)
def test_simulate_bad_input_gives_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  make_args, fragment: str) -> None:
    assert main(make_args(tmp_path)) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "simulation.json").exists()


@pytest.mark.slow
def test_simulate_passes_then_names_a_corrupted_layer(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`codesign simulate` on a flow's output: exit 0 when bit-exact; after one weight matrix of
    the saved folded accelerator is changed, exit 2 naming the stage and the layer."""
    from qonnx.core.modelwrapper import ModelWrapper

    flow = _flow_file(tmp_path, name="simcli", dataset={"name": "digits"}, verify={"samples": 5},
                      model={"arch": "mlp", "weight_bits": 2, "act_bits": 2,
                             "options": {"hidden": [16, 16]}},
                      train={"epochs": 1, "batch_size": 64, "lr": 0.02}, simulate={"enabled": False})
    out = tmp_path / "out"
    assert main(["run", str(flow), "--out", str(out), "--quiet"]) == 0
    assert "simulation" not in json.loads((out / "report.json").read_text())
    args = ["simulate", str(out), "--samples", "3", "--no-rtl", "--pipeline", "off"]
    capsys.readouterr()
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "simulation passed" in table and "functional chain" in table
    assert "stream packing" in table and "skipped: switched off" in table
    section = json.loads((out / "simulation.json").read_text())
    assert section["passed"] and section["chain"]["inputs"]["test"] == 3
    assert "layers" not in section and section["pipeline"]["status"] == "skipped"
    report = json.loads((out / "report.json").read_text())  # the run's report gained the section
    assert report["simulation"]["passed"] and "Simulation" in (out / "report.md").read_text()

    folded = out / "finn" / "06_partition_folded.onnx"
    graph = ModelWrapper(str(folded))
    node = next(n for n in graph.graph.node if n.op_type.startswith("MVAU"))
    weights = graph.get_initializer(node.input[1])
    graph.set_initializer(node.input[1], np.roll(weights, 1, axis=1))  # swap output neurons
    graph.save(str(folded))
    assert main(args) == EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert "FAILED" in captured.out
    assert "folded" in captured.err and node.name in captured.err and "Traceback" not in captured.err
    assert json.loads((out / "simulation.json").read_text())["passed"] is False


@pytest.mark.parametrize("command", ["run", "prune"])
@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_below_one_is_one_line_exit_2_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, workers: str) -> None:
    out = tmp_path / "out"
    args = [command, str(ROOT / "flows" / "tfc_w2a2_mnist5k.yaml"), "--out", str(out),
            "--workers", workers, "--quiet"]
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert f"workers {workers}" in err and "--workers" in err
    assert not out.exists()
