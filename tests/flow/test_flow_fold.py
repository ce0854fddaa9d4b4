"""`fold_model`, the library side of `codesign fold`: files, reproducibility, options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codesign.boards import RESOURCE_KINDS
from codesign.errors import BoardError, ConfigError, FoldingError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained zoo MLP (folding does not depend on weight values)."""
    import torch

    from codesign.export import export_qonnx
    from codesign.models import build_model

    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 8, 8), num_classes=10, weight_bits=2, act_bits=2,
                        hidden=[16, 12])
    return export_qonnx(model, (1, 8, 8), tmp_path_factory.mktemp("fold") / "mlp.onnx")


@pytest.fixture(scope="module")
def folded(onnx_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    from codesign.flow.fold import fold_model

    out = tmp_path_factory.mktemp("fold_out")
    return fold_model(onnx_model, "pynq-z1", caps="LUT=0.05,BRAM_18K=0.05", out_dir=out), out


def test_writes_the_files_and_they_agree(folded: tuple[dict, Path]) -> None:
    summary, out = folded
    for name in ("folding_config.json", "pareto.json", "pareto.png", "fold_report.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    assert not list(out.glob(".*"))  # no temporary files left behind
    report = json.loads((out / "fold_report.json").read_text())
    assert report["fps"] == summary["fps"] and report["objective"] == "maximize"
    assert summary["fits"] and summary["caps"]["LUT"] == 0.05
    used = {k: summary["totals"][k] + summary["converter_totals"][k] for k in RESOURCE_KINDS}
    assert all(used[k] <= summary["budget"][k] + 1e-6 for k in RESOURCE_KINDS)
    assert summary["estimates"]["max_cycles"] == summary["max_cycles"]


def test_pareto_json_has_monotone_fronts_and_setfolding_points(folded: tuple[dict, Path]) -> None:
    summary, out = folded
    data = json.loads((out / "pareto.json").read_text())
    for kind in ("LUT", "BRAM_18K"):
        front = data["optimizer"][kind]
        assert front
        fps = [p["fps"] for p in front]
        use = [p["totals"][kind] + p["converter_totals"][kind] for p in front]
        assert fps == sorted(fps, reverse=True) and use == sorted(use, reverse=True)
        assert fps[0] == pytest.approx(summary["fps"])  # the front starts at the fastest plan
    widths = {p["mvau_wwidth_max"] for p in data["setfolding"]}
    assert widths == {36, 64, 128, 1024}
    # no SetFolding design that fits is faster than the optimizer's
    assert all(p["fps"] <= summary["fps"] * (1 + 1e-9) for p in data["setfolding"] if p["fits"])


def test_the_folding_file_reproduces_the_plan_in_finn(folded: tuple[dict, Path],
                                                      onnx_model: Path, tmp_path: Path) -> None:
    from codesign.boards import load_board
    from codesign.finn import apply_folding_file, compile_to_hw, estimate

    summary, out = folded
    board = load_board("pynq-z1")
    fresh = compile_to_hw(onnx_model, part=board.part, clock_mhz=board.clock_mhz,
                          workdir=tmp_path / "fresh")
    est = estimate(apply_folding_file(fresh, out / "folding_config.json"))
    assert est.max_cycles == summary["max_cycles"]
    assert est.totals == summary["totals"]


def test_target_fps_minimises_resources(onnx_model: Path, folded: tuple[dict, Path],
                                        tmp_path: Path) -> None:
    from codesign.flow.fold import fold_model

    fastest, _ = folded
    target = fastest["fps"] / 8
    lean = fold_model(onnx_model, "pynq-z1", target_fps=target, caps={"LUT": 0.05},
                      out_dir=tmp_path, setfolding_points=False)
    assert lean["objective"] == "min_resources" and lean["fps"] >= target
    assert lean["totals"]["LUT"] < fastest["totals"]["LUT"]


def test_rtl_mvaus_fold_into_dsps_and_the_file_reproduces_them(
        onnx_model: Path, folded: tuple[dict, Path], tmp_path: Path) -> None:
    from codesign.boards import load_board
    from codesign.finn import apply_folding_file, compile_to_hw, estimate
    from codesign.flow.fold import fold_model

    hls, _ = folded
    rtl = fold_model(onnx_model, "pynq-z1", caps="LUT=0.05,BRAM_18K=0.05", out_dir=tmp_path,
                     setfolding_points=False, mvau_rtl=True)
    config = json.loads((tmp_path / "folding_config.json").read_text())
    assert rtl["mvau_rtl"] and not hls["mvau_rtl"]
    assert sorted(n for n in config if n.startswith("MVAU")) == [f"MVAU_rtl_{i}" for i in range(3)]
    assert sum(n.startswith("Thresholding") for n in config) == 2  # one per hidden layer
    assert rtl["totals"]["DSP"] > 0  # the RTL MVAU computes in DSPs
    board = load_board("pynq-z1")
    fresh = compile_to_hw(onnx_model, part=board.part, clock_mhz=board.clock_mhz,
                          workdir=tmp_path / "fresh", mvau_rtl=True)
    est = estimate(apply_folding_file(fresh, tmp_path / "folding_config.json"))
    assert (est.max_cycles, est.totals) == (rtl["max_cycles"], rtl["totals"])


@pytest.mark.parametrize("kwargs,error,text", [
    ({"target_fps": 1000.0, "maximize": True}, ConfigError, "not both"),
    ({"target_fps": -5.0}, ConfigError, "positive"),
    ({"caps": "LUT=2"}, ConfigError, "fraction"),
    ({"caps": "FLOPS=0.5"}, ConfigError, "KIND=FRACTION"),
    ({"board": "pynq-z9"}, BoardError, "unknown board"),
    ({"caps": "LUT=0.001"}, FoldingError, "over by"),
])
def test_user_mistakes_are_explained(onnx_model: Path, tmp_path: Path, kwargs: dict[str, Any],
                                     error: type, text: str) -> None:
    from codesign.flow.fold import fold_model

    board = kwargs.pop("board", "pynq-z1")
    with pytest.raises(error, match=text):
        fold_model(onnx_model, board, out_dir=tmp_path, setfolding_points=False, **kwargs)


@pytest.mark.parametrize("family", ["resnet", "depthwise"])
def test_raw_brevitas_export_folds_and_fits(family: str, tmp_path: Path) -> None:
    """A file straight from brevitas.export.export_qonnx (torch.export based, not cleaned):
    fold cleans it up itself; the residual one gets its skip FIFO file."""
    import sys

    import torch
    from brevitas.export import export_qonnx as brevitas_export

    from codesign.flow.fold import fold_model

    sys.path.insert(0, str(Path(__file__).parents[1] / "finn"))
    try:
        from family_models import SHAPE, depthwise, resnet
    finally:
        sys.path.pop(0)
    model = resnet(projection=True) if family == "resnet" else depthwise()
    raw = tmp_path / "raw.onnx"
    brevitas_export(model, torch.zeros(1, *SHAPE), str(raw))
    summary = fold_model(raw, "pynq-z2", maximize=True, out_dir=tmp_path / "out",
                         setfolding_points=False)
    assert summary["fits"] and summary["fps"] > 0
    assert "fifo_config" in summary["files"]  # every graph: every stream FIFO's depth
