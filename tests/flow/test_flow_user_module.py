"""A flow on the user's own Brevitas module (`model: {module: file.py:attr}`): trained, pruned
with its residual sums as coupled groups, built, verified and reloaded like a zoo model, and a
module the flow cannot use stops it before training, in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codesign.cli import EXIT_USER_ERROR, main
from codesign.config import load_flow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "flows" / "models" / "small_resnet.py"

CONCAT = """
import torch
from brevitas.nn import QuantLinear, QuantReLU
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = QuantLinear(784, 8, bias=False, weight_bit_width=2)
        self.b = QuantLinear(784, 8, bias=False, weight_bit_width=2)
        self.act = QuantReLU(bit_width=2)
        self.fc = QuantLinear(16, CLASSES, bias=False, weight_bit_width=2)

    def forward(self, x):
        x = x.flatten(1) / 255.0
        return self.fc(self.act(torch.cat([self.a(x), self.b(x)], dim=1)))
"""


def _flow(tmp_path: Path, module: str, **changes: object) -> Path:
    data = {"name": "mine", "seed": 1, "board": "pynq-z2",
            "dataset": {"name": "mnist5k", "limit_train": 600, "limit_test": 200},
            "model": {"module": module},
            "train": {"epochs": 1, "batch_size": 64, "lr": 0.01},
            "prune": {"criterion": "taylor", "target_sparsity": 0.5, "steps": 1,
                      "finetune_epochs": 1, "final_epochs": 0, "fold_search": 1,
                      "max_layer_sparsity": 0.5, "unstructured_control": False},
            "folding": {"mode": "optimize", "objective": "maximize",
                        "compare_setfolding": False},
            "verify": {"samples": 10}, **changes}
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("classes", "message"), [
    # a graph structured pruning cannot cut: refused before any training time is spent
    (10, r"^error: operation 'cat' \(node cat\) concatenates channels \(layer a \(QuantLinear\), "
         r"layer b \(QuantLinear\)\); structured pruning cannot split a channel concat"),
    (4, r"^error: \S+my_net\.py:Net returns outputs of shape \(4,\) per sample, but the dataset "
        r"has 10 classes; make its last layer return 10 logits$"),
])
def test_a_module_the_flow_cannot_use_stops_it_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        classes: int, message: str) -> None:
    import codesign.flow.stages

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the flow trained a model it cannot use")

    monkeypatch.setattr(codesign.flow.stages, "train_model", no_training)
    (tmp_path / "my_net.py").write_text(CONCAT.replace("CLASSES", str(classes)))
    flow = _flow(tmp_path, "my_net.py:Net")
    assert main(["run", str(flow), "--out", str(tmp_path / "out"), "--quiet"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert __import__("re").search(message, err.strip()), err
    assert not (tmp_path / "out").exists()


MODULE_FLOWS = [p for p in sorted((ROOT / "flows").glob("*.yaml"))
                if load_flow(p).model.module is not None]


@pytest.mark.parametrize("path", MODULE_FLOWS, ids=lambda p: p.stem)
def test_shipped_module_flows_pass_every_check_before_training(path: Path) -> None:
    """The shipped examples (2-D and 1-D ResNets written with Brevitas alone, Brevitas's own
    MobileNet-v1) build for their dataset, have only layers FINN builds and prunable channel
    groups."""
    from codesign.flow.stages import build_flow_model, load_flow_data
    from codesign.prune.schedule import check_before_training

    flow = load_flow(path)
    data = load_flow_data(flow)
    model = build_flow_model(flow, data)
    check_before_training(model, data.input_shape, flow.prune)


@pytest.mark.slow
def test_the_users_residual_module_is_pruned_built_verified_and_reloaded(tmp_path: Path) -> None:
    """The shipped example (flows/models/small_resnet.py, Brevitas alone) through `codesign
    prune`: the stem and the first block's second conv write into one residual sum and keep one
    channel set; the pruned model removes the MACs asked for on the board's granularity, builds,
    verifies bit-exactly, and `codesign simulate` rebuilds it from the run's checkpoint."""
    flow_file = _flow(tmp_path, f"{EXAMPLE.relative_to(ROOT)}:make")
    # the module path is relative to the flow file: copy the example beside it
    (tmp_path / "flows" / "models").mkdir(parents=True)
    (tmp_path / "flows" / "models" / EXAMPLE.name).write_text(EXAMPLE.read_text())
    assert load_flow(flow_file).model.module == f"{tmp_path.resolve()}/flows/models/small_resnet.py:make"
    out = tmp_path / "out"
    assert main(["prune", str(flow_file), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    summary = report["model_summary"]  # names the module and the hash of the source it trained
    assert summary.startswith("Brevitas module ") and "(source " in summary and "pruned" in summary
    section = report["pruning"]
    before, after = section["unpruned"], section["pruned"]
    assert before["counts"] == {"stem.0": 16, "blocks.0.conv1": 16, "blocks.1.conv1": 32,
                                "blocks.1.conv2": 32}
    members = section["members"]
    assert members["stem.0"] == ["stem.0", "blocks.0.conv2"]
    assert members["blocks.1.conv2"] == ["blocks.1.conv2", "blocks.1.project.0"]
    grains = section["schedule"][0]["granularity"]
    assert all(after["counts"][g] % grains[g] == 0 and after["counts"][g] < before["counts"][g]
               or after["counts"][g] == before["counts"][g] for g in grains)
    assert 1 - after["macs"] / before["macs"] >= 0.5
    assert after["fps_within_caps"] >= before["fps_within_caps"]
    assert report["verification"]["passed"]
    assert main(["simulate", str(out), "--no-rtl", "--samples", "5"]) == 0
    assert json.loads((out / "simulation.json").read_text())["passed"]
