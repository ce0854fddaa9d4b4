"""Pruning inside a whole flow and through the CLI, on small real data (sklearn digits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from codesign.checkpoint import load_checkpoint
from codesign.cli import EXIT_USER_ERROR, main
from codesign.models import build_model

pytestmark = pytest.mark.slow

PRUNE = {"criterion": "l1", "target_sparsity": 0.4, "steps": 2, "finetune_epochs": 1,
         "final_epochs": 1, "reference_fps": 200_000}


def _flow(tmp_path: Path, **changes: object) -> Path:
    data = {
        "name": "tiny_pruned", "seed": 5, "board": "pynq-z1",
        "dataset": {"name": "digits"},
        "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2,
                  "options": {"hidden": [64, 32]}},
        "train": {"epochs": 3, "batch_size": 64, "lr": 0.02},
        "prune": PRUNE,
        "folding": {"mode": "optimize", "objective": "maximize"},
        "verify": {"samples": 20},
    }
    data.update(changes)
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def pruned_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pruned")
    out = tmp / "out"
    # each step fades its channels out for an epoch before it cuts them (prune.soft_epochs)
    flow = _flow(tmp, prune={**PRUNE, "soft_epochs": 1})
    assert main(["run", str(flow), "--out", str(out), "--quiet"]) == 0
    return out


def test_report_puts_pruned_beside_unpruned_and_verifies_bit_exact(pruned_run: Path) -> None:
    report = json.loads((pruned_run / "report.json").read_text())
    section = report["pruning"]
    before, after = section["unpruned"], section["pruned"]
    assert section["budget"]["met"]
    assert section["settings"]["soft_epochs"] == 1
    assert 1 - after["macs"] / before["macs"] >= 0.4
    assert before["counts"] == {"features.0": 64, "features.3": 32}
    grains = section["schedule"][0]["granularity"]
    assert all(after["counts"][n] % grains[n] == 0 for n in grains)  # aligned
    assert after["resources_at_reference"]["LUT"] < before["resources_at_reference"]["LUT"]
    assert after["fps_within_caps"] >= before["fps_within_caps"]
    # every prune step ran the fold search and says what it measured and chose
    for step in section["schedule"][1:-1]:
        assert step["search"]["evaluated"] >= 1
        assert step["search"]["fps"] >= step["search"]["fps_allocated"]
        assert step["search"]["chosen"] == step["counts"]
    # the unstructured control keeps every shape, so FINN's estimates do not move
    control = section["unstructured"]
    assert control["resources_at_reference"] == before["resources_at_reference"]
    assert control["fps_within_caps"] == before["fps_within_caps"]
    assert control["weight_sparsity"] >= 0.4
    # the hardware the flow built is the pruned model, verified bit-exactly
    assert report["verification"]["passed"]
    mvau_mh = [layer["dims"]["MH"] for layer in report["estimates"]["layers"]
               if layer["op_type"].startswith("MVAU")]
    assert mvau_mh[:2] == [after["counts"]["features.0"], after["counts"]["features.3"]]
    assert report["accuracy"]["test_top1"] == pytest.approx(after["accuracy"])
    md = (pruned_run / "report.md").read_text()
    assert "## Pruning" in md and "unstructured" in md and "Fold search" in md
    for name in ("pruning.png", "model_unpruned.pt", "model.pt"):
        assert (pruned_run / name).stat().st_size > 0


def test_pruned_checkpoint_reloads_into_a_fresh_model(pruned_run: Path) -> None:
    report = json.loads((pruned_run / "report.json").read_text())
    model = build_model("mlp", input_shape=(1, 8, 8), num_classes=10, weight_bits=2,
                        act_bits=2, hidden=[64, 32])
    meta = load_checkpoint(model, pruned_run / "model.pt")
    assert meta["channel_counts"] == report["pruning"]["pruned"]["counts"]
    assert model.features[0].weight.shape[0] == meta["channel_counts"]["features.0"]
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_unaligned_pruning_runs_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "out"
    flow = _flow(tmp_path, prune={**PRUNE, "steps": 1, "final_epochs": 0,
                                  "unstructured_control": False})
    assert main(["prune", str(flow), "--no-align", "--criterion", "taylor", "--out", str(out),
                 "--quiet"]) == 0
    section = json.loads((out / "report.json").read_text())["pruning"]
    assert section["settings"]["align"] is False and section["settings"]["criterion"] == "taylor"
    assert set(section["schedule"][0]["granularity"].values()) == {1}


@pytest.mark.parametrize(("args", "message"), [
    (["--target-sparsity", "1.0"], "prune.target_sparsity"),
    (["--budget", "fps"], "prune.target_fps"),
    (["--criterion", "random"], "prune.criterion"),
    (["--allocation", "random"], "prune.allocation"),
    (["--fold-search", "-1"], "prune.fold_search"),
    (["--fold-shapes", "-1"], "prune.fold_shapes: -1 must be >= 0"),
    (["--fold-shapes", "4", "--fold-search", "0"], "prune.fold_shapes: the shape sweep runs"),
    (["--shape-order", "widest", "--fold-shapes", "4"], "prune.shape_order: 'widest' is not"),
    (["--shape-order", "balanced"], "prune.shape_order: it orders the shape sweep's shapes"),
    (["--shape-trials", "-1"], "prune.shape_trials: -1 must be >= 0"),
    (["--shape-trials", "2", "--fold-search", "0"], "prune.shape_trials: the trials pick"),
    (["--max-overshoot", "-0.5"], "prune.max_overshoot: -0.5 must lie in [0, 1)"),
    (["--max-overshoot", "0.01", "--fold-search", "0"], "prune.max_overshoot: it bounds the"),
    (["--max-layer-sparsity", "0"], "prune.max_layer_sparsity"),
    (["--layer-max-sparsity", "features.0"], "--layer-max-sparsity 'features.0': give "
                                             "LAYER=FRACTION"),
    (["--layer-max-sparsity", "features.0=-1"], "prune.layer_max_sparsity.features.0: -1.0 must"),
    (["--layer-max-sparsity", "features.0=0.5", "--layer-max-sparsity", "features.0=0.25"],
     "--layer-max-sparsity names features.0 twice (features.0=0.5 and features.0=0.25): give "
     "each layer once"),
    # a name the model does not have: after loading the data, before training
    (["--layer-max-sparsity", "features.9=0.5"], "prune.layer_max_sparsity names features.9, "
                                                 "which is not a prunable layer"),
    # a cap that leaves too little to cut: after training, before the first step
    (["--max-layer-sparsity", "0.3"], "prune.max_layer_sparsity 0.3 keeps too many channels for "
                                      "prune.target_sparsity 0.4: cannot remove 40.0%"),
])
def test_bad_prune_options_exit_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture,
                                         args: list[str], message: str) -> None:
    out = tmp_path / "out"
    assert main(["prune", str(_flow(tmp_path)), "--out", str(out), *args]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_fading_bipolar_weights_is_refused_before_training(tmp_path: Path, monkeypatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    """1-bit weights have no zero to fade to: the flow stops before any training time."""
    from codesign.flow import stages

    trained: list[object] = []
    monkeypatch.setattr(stages, "train_model", lambda *a, **k: trained.append(a))
    flow = _flow(tmp_path, model={"arch": "mlp", "weight_bits": 1, "act_bits": 1,
                                  "options": {"hidden": [64, 32]}},
                 prune={**PRUNE, "soft_epochs": 2})
    out = tmp_path / "out"
    assert main(["run", str(flow), "--out", str(out)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "layer features.0 has 1-bit (bipolar) weights, which have no zero; set " \
           "prune.soft_epochs to 0" in err and "Traceback" not in err
    assert not trained and not out.exists()


def test_prune_command_refuses_rtl_mvaus(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A flow without a prune: section but with RTL MVAUs: `codesign prune` adds pruning, which
    sizes layers by the HLS MVAU's costs, so it stops before training."""
    flow = _flow(tmp_path, prune=None, folding={"mode": "setfolding", "mvau_rtl": True})
    out = tmp_path / "out"
    assert main(["prune", str(flow), "--out", str(out)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "folding.mvau_rtl" in err and "Traceback" not in err
    assert not out.exists()


def test_sensitivity_command_writes_json_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "sens"
    assert main(["sensitivity", str(_flow(tmp_path)), "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "sensitivity.json").read_text())
    assert [layer["name"] for layer in result["layers"]] == ["features.0", "features.3"]
    for layer in result["layers"]:
        accs = [layer["accuracy"][f"{f:g}"] for f in result["fractions"]]
        assert all(0.0 <= a <= 1.0 for a in accs) and layer["score"] > 0
    assert (out / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("overshoot", [None, 0.02])
def test_the_shape_sweep_runs_through_the_cli(tmp_path: Path, monkeypatch,
                                               overshoot: float | None) -> None:
    """--fold-shapes reaches the fold search: every step's sweep lists at most that many shapes
    near the search's counts, each is folded, and the report records the setting. With
    --max-overshoot, the sweep's window reaches that share of the unpruned MACs past the
    target and no further, and the model lands within it."""
    from codesign.prune import fold_search

    listed: list[list[dict[str, int]]] = []
    windows: list[tuple[float, float]] = []
    sweep = fold_search.sweep_shapes

    def spy(*args, **kwargs):
        windows.append(args[6])
        listed.append(sweep(*args, **kwargs))
        return listed[-1]

    monkeypatch.setattr(fold_search, "sweep_shapes", spy)
    out = tmp_path / "out"
    flow = _flow(tmp_path, prune={**PRUNE, "steps": 1, "final_epochs": 0,
                                  "unstructured_control": False})
    extra = [] if overshoot is None else ["--max-overshoot", str(overshoot)]
    assert main(["prune", str(flow), "--fold-search", "1", "--fold-shapes", "3", *extra,
                 "--out", str(out), "--quiet"]) == 0
    section = json.loads((out / "report.json").read_text())["pruning"]
    assert section["settings"]["fold_shapes"] == 3
    assert section["settings"]["max_overshoot"] == overshoot
    searches = [step["search"] for step in section["schedule"] if step["search"]]
    assert len(searches) == 1  # the one step (the schedule's first record is the unpruned model)
    search = searches[0]
    assert len(listed) == 1 and 1 <= len(listed[0]) <= 3
    assert search["evaluated"] >= 1 + len(listed[0])  # the allocation, then every shape listed
    assert search["fps"] >= search["fps_allocated"]
    unpruned = section["schedule"][0]["macs"]
    least, most = windows[0]
    assert most == pytest.approx((1 - PRUNE["target_sparsity"]) * unpruned)
    if overshoot is not None:
        assert least == pytest.approx(most - overshoot * unpruned)
        # past the window only where the allocation's own granules went there (no move made)
        assert (section["schedule"][-1]["macs"] >= least - 1e-6
                or search["chosen"] == search["allocated"])
