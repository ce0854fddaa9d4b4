"""End-to-end flows on small real data (sklearn digits): the whole path of DESIGN.md §1."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from codesign.cli import EXIT_USER_ERROR, main

pytestmark = pytest.mark.slow


def tiny_flow(tmp_path: Path, **changes: object) -> Path:
    data = {
        "name": "tiny", "seed": 3, "board": "pynq-z1",
        "dataset": {"name": "digits"},
        "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2, "options": {"hidden": [32, 32]}},
        "train": {"epochs": 3, "batch_size": 64, "lr": 0.02},
        "folding": {"mode": "setfolding", "target_fps": 500_000},
        "verify": {"samples": 20},
    }
    data.update(changes)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("flow")
    out = tmp / "out"
    assert main(["run", str(tiny_flow(tmp)), "--out", str(out), "--quiet"]) == 0
    return out


def test_flow_writes_report_and_artefacts(tiny_run: Path) -> None:
    for name in ("report.json", "report.md", "cycles.png", "resources.png", "model.qonnx.onnx",
                 "model.pt", "folding_config.json", "finn_build_config.json"):
        assert (tiny_run / name).stat().st_size > 0, name
    report = json.loads((tiny_run / "report.json").read_text())
    assert report["schema"] == "codesign.report/1"
    from codesign.train import machine

    assert report["machine"] == machine()  # trained weights reproduce on the same kind of CPU
    assert report["torch_version"] == report["machine"]["torch"]
    assert report["accuracy"]["test_top1"] > 0.5  # 10 classes: chance is 0.1
    assert report["verification"]["passed"] and report["verification"]["matched"] == 20
    assert report["budget"]["fits"] is True
    est = report["estimates"]
    assert est["compute_fps"] == pytest.approx(est["clock_mhz"] * 1e6 / est["max_cycles"])
    # as built: the 64 8-bit pixels of a digit take 8 words of Pynq-Z1's 64-bit DMA port
    assert est["io"]["bytes_in_per_frame"] == 64 and est["io_fps"] == pytest.approx(100e6 / 8)
    assert est["fps"] == pytest.approx(min(est["compute_fps"], est["io_fps"]))
    assert est["bound"] == ("io" if est["io_fps"] <= est["compute_fps"] else "compute")
    assert est["macs"] == 64 * 32 + 32 * 32 + 32 * 10
    assert not (tiny_run.parent / "out.partial").exists()


def test_applied_folding_file_reproduces_the_report(tiny_run: Path) -> None:
    """Re-compiling the exported model and applying the written folding_config.json through FINN
    gives exactly the estimates in the report."""
    from codesign.boards import load_board
    from codesign.finn import apply_folding_file, compile_to_hw, estimate

    report = json.loads((tiny_run / "report.json").read_text())
    hw = compile_to_hw(tiny_run / "model.qonnx.onnx", part=report["board"]["part"],
                       clock_mhz=report["estimates"]["clock_mhz"], workdir=tiny_run.parent / "again")
    est = estimate(apply_folding_file(hw, tiny_run / "folding_config.json"),
                   load_board(report["board"]["name"]).host_io).to_dict()
    assert est == report["estimates"]


def test_same_seed_gives_same_model_and_report(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert main(["run", str(tiny_flow(tmp_path)), "--out", str(out), "--quiet"]) == 0
    first = json.loads((tiny_run / "report.json").read_text())
    second = json.loads((out / "report.json").read_text())
    for key in ("accuracy", "estimates", "verification", "budget"):
        assert first[key] == second[key], key
    import torch

    a = torch.load(tiny_run / "model.pt", weights_only=False)
    b = torch.load(out / "model.pt", weights_only=False)
    sa, sb = a.get("state_dict", a), b.get("state_dict", b)
    assert all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)


def test_hardware_outputs_without_vivado_stop_cleanly_and_keep_estimates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("XILINX_VIVADO", "XILINX_HLS", "XILINX_VITIS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    out = tmp_path / "out"
    flow = tiny_flow(tmp_path, outputs=["estimates", "power"], train={"epochs": 1})
    assert main(["run", str(flow), "--out", str(out), "--quiet"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Vivado" in err and "codesign docker run" in err and "Traceback" not in err
    report = json.loads((out / "report.json").read_text())
    assert report["hardware"]["status"] == "not run"
    assert report["hardware"]["outputs"] == ["estimates", "power"]
    assert report["verification"]["passed"]
    # no invented power figure: the report says how to get Vivado's
    assert report["power"]["status"] == "not estimated" and "energy" not in report["power"]
    assert f"codesign docker run {flow}" in report["power"]["how"]
    markdown = (out / "report.md").read_text()
    assert "not run" in markdown and "- power: not estimated" in markdown


def test_folding_file_with_pe_not_dividing_mh_is_rejected(tiny_run: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folding = json.loads((tiny_run / "folding_config.json").read_text())
    first = next(name for name in folding if name.startswith("MVAU"))
    folding[first]["PE"] = 7  # MH is 32
    bad = tmp_path / "bad_folding.json"
    bad.write_text(json.dumps(folding))
    code = main(["build", str(tiny_run / "model.qonnx.onnx"), "--board", "pynq-z1",
                 "--folding", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert first in err and "PE" in err
    assert not (tmp_path / "out").exists()


def test_build_user_qonnx_file_verifies_against_qonnx_execution(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "built"
    assert main(["build", str(tiny_run / "model.qonnx.onnx"), "--board", "zcu104",
                 "--target-fps", "2000000", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["passed"]
    assert report["board"]["name"] == "ZCU104"
    trained = json.loads((tiny_run / "report.json").read_text())
    assert report["estimates"]["macs"] == trained["estimates"]["macs"]


def test_optimize_folding_mode_fits_caps_and_is_at_least_as_fast_as_setfolding(
        tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    flow = tiny_flow(tmp_path, folding={"mode": "optimize", "objective": "maximize"},
                     caps={"LUT": 0.2})
    assert main(["run", str(flow), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["budget"]["fits"]
    assert report["budget"]["resources"]["LUT"]["cap"] == 0.2
    assert report["folding"]["optimizer"]["max_cycles"] == report["estimates"]["max_cycles"]
    assert report["verification"]["passed"]
    baseline = json.loads((tiny_run / "report.json").read_text())
    assert report["estimates"]["fps"] >= baseline["estimates"]["fps"]


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny flow with its simulate: section enabled (Verilator builds in a fresh cache)."""
    tmp = tmp_path_factory.mktemp("simflow")
    simulate = {"enabled": True, "samples": 4, "random_inputs": 2, "layer_frames": 2,
                "cache_dir": str(tmp / "verilator")}
    out = tmp / "out"
    flow = tiny_flow(tmp, train={"epochs": 1, "batch_size": 64, "lr": 0.02}, simulate=simulate)
    assert main(["run", str(flow), "--out", str(out), "--quiet"]) == 0
    return out


def test_flow_simulate_section_runs_after_the_build(simulated_run: Path) -> None:
    report = json.loads((simulated_run / "report.json").read_text())
    section = report["simulation"]
    assert section["passed"], section["summary"]
    assert section == json.loads((simulated_run / "simulation.json").read_text())
    assert report["timings_s"]["simulation"] > 0
    assert list(report["timings_s"]).index("simulation") > list(report["timings_s"]).index("verification")
    # The chain starts at the trained in-memory Brevitas model, on the flow's test samples.
    assert section["chain"]["stages"][0]["name"] == "brevitas"
    assert section["chain"]["inputs"] == {"test": 4, "random": 2, "min": 1, "max": 1}
    verilated = [s for s in section["layers"] if s["mode"] == "verilator"]
    assert verilated and all(s["match"] for s in verilated)
    assert {s["op_type"] for s in section["layers"] if s["mode"] == "python"} == {"MVAU_hls"}
    assert section["pipeline"]["status"] == "skipped"
    markdown = (simulated_run / "report.md").read_text()
    assert "## Simulation without hardware" in markdown and "| folded |" in markdown
    assert markdown.index("## Simulation") < markdown.index("## Stage times")
    assert report["artifacts"]["simulation"] == "simulation.json, simulation.md"


def test_build_with_rtl_mvaus_simulates_the_whole_pipeline(
        simulated_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--mvau-rtl makes the MLP RTL end to end: every layer runs in Verilator and the whole
    pipeline with FIFOs is simulated (the HLS build above skips it), bit-exact throughout."""
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(simulated_run.parent / "verilator"))
    out = tmp_path / "built"
    assert main(["build", str(simulated_run / "model.qonnx.onnx"), "--board", "pynq-z1",
                 "--simulate", "--mvau-rtl", "--samples", "4", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["passed"]
    section = report["simulation"]
    assert section["passed"], section["summary"]
    assert {s["mode"] for s in section["layers"]} == {"verilator"}
    assert "MVAU_rtl" in {s["op_type"] for s in section["layers"]}
    pipeline = section["pipeline"]
    assert pipeline["status"] == "passed" and pipeline["match"], pipeline
    # the simulated pipeline has no DMA: it is held to the compute figure
    assert pipeline["fps"] == pytest.approx(report["estimates"]["compute_fps"], rel=0.1)
    assert report["estimates"]["totals"]["DSP"] > 0  # the RTL MVAU computes in DSPs
    folding = json.loads((out / "folding_config.json").read_text())
    assert any(name.startswith("MVAU_rtl") for name in folding)


def test_build_simulate_without_verilator_keeps_results_and_names_the_layer(
        simulated_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "verilator", None)  # as if the package were not installed
    out = tmp_path / "built"
    code = main(["build", str(simulated_run / "model.qonnx.onnx"), "--board", "pynq-z1",
                 "--simulate", "--samples", "4", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert "verilator" in err.lower() and "Traceback" not in err
    assert "StreamingFIFO_rtl_0" in err and "--no-rtl" in err  # names the layers and the way out
    report = json.loads((out / "report.json").read_text())  # kept, like estimates without Vivado
    section = report["simulation"]
    assert section["chain"]["passed"] and section["chain"]["stages"][0]["name"] == "qonnx"
    assert "verilator" in section["rtl_not_run"].lower() and "layers" not in section
    assert "Not run:" in (out / "report.md").read_text()


def test_a_stalled_rtl_layer_fails_the_build_after_the_report_naming_it(
        simulated_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An RTL run that exhausts its cycle budget (here 3 cycles, as a stalled stream would) is a
    failed check: the other layers still run, the report is written, then exit 2 naming the
    layer; nothing hangs."""
    import time

    from codesign.sim import rtl_layers

    monkeypatch.setattr(rtl_layers, "cycle_budget", lambda estimate, beats, frames: (3, 1000))
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(simulated_run.parent / "verilator"))  # warm
    out = tmp_path / "built"
    start = time.perf_counter()
    code = main(["build", str(simulated_run / "model.qonnx.onnx"), "--board", "pynq-z1",
                 "--simulate", "--samples", "4", "--out", str(out)])
    assert time.perf_counter() - start < 120
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "Traceback" not in err
    assert "simulation found a mismatch" in err and "StreamingFIFO_rtl_0" in err
    assert "ran out of its cycle budget after 3 cycles" in err
    partial = tmp_path / "built.partial"  # a failed run's output, kept for inspection
    assert not out.exists()
    section = json.loads((partial / "report.json").read_text())["simulation"]
    assert section["chain"]["passed"] and not section["passed"]
    verilated = [s for s in section["layers"] if s["mode"] == "verilator"]
    assert len(verilated) > 1 and all(s["match"] is False for s in verilated)
    assert all("cycle budget" in s["detail"] and s["name"] in s["detail"] for s in verilated)
    assert "StreamingFIFO_rtl_0: RTL simulation of layer" in (partial / "report.md").read_text()
