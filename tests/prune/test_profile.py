"""Per-layer hardware profiles: FINN's estimates of the folded design charged to torch layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codesign.boards import load_board
from codesign.errors import CompileError, FoldingError, PruneError
from codesign.finn.estimates import Estimates, LayerEstimate
from codesign.models import build_model
from codesign.prune.alignment import alignments, legal_counts
from codesign.prune.graph import channel_groups, weight_layers
from codesign.prune.profile import (
    HardwareProfile,
    attribute,
    compile_model,
    fold_profile,
    hardware_profile,
    layer_dims,
)

BOARD = "pynq-z2"
TFC_SHAPE = (1, 28, 28)


def _node(name: str, op_type: str, lut: float, *, pe: int | None = None, simd: int | None = None,
          dims: dict[str, int] | None = None, cycles: int = 10) -> LayerEstimate:
    return LayerEstimate(name=name, op_type=op_type, dims=dims or {}, pe=pe, simd=simd,
                         cycles=cycles, lut=lut, bram_18k=1.0, uram=0.0, dsp=0.5, macs=0,
                         bops=0, weight_bits=None, act_bits=None, params=0)


def _estimates(nodes: list[LayerEstimate]) -> Estimates:
    totals = {"LUT": sum(n.lut for n in nodes), "BRAM_18K": sum(n.bram_18k for n in nodes),
              "URAM": 0.0, "DSP": sum(n.dsp for n in nodes)}
    return Estimates(layers=tuple(nodes), totals=totals, max_cycles=10, bottleneck=nodes[0].name,
                     clock_mhz=100.0, fps=1e7, latency_cycles=100, latency_us=1.0, macs=0,
                     bops=0, params=0)


def _conv_graph() -> Estimates:
    """Node order of a FINN CNV: input window, conv MVAU, window, pool, conv MVAU, FC, top-1."""
    return _estimates([
        _node("SWG_in", "ConvolutionInputGenerator_rtl", 300, simd=3),
        _node("MVAU_0", "MVAU_hls", 5000, pe=8, simd=27, dims={"MH": 8, "MW": 27}),
        _node("SWG_pool", "ConvolutionInputGenerator_rtl", 200, simd=4),
        _node("Pool_0", "Pool_hls", 50, pe=2),
        _node("SWG_1", "ConvolutionInputGenerator_rtl", 250, simd=8),
        _node("MVAU_1", "MVAU_hls", 3000, pe=4, simd=72, dims={"MH": 16, "MW": 72}),
        _node("MVAU_2", "MVAU_rtl", 700, pe=1, simd=16, dims={"MH": 10, "MW": 16 * 25}),
        _node("Thres_2", "Thresholding_rtl", 20, pe=5),
        _node("LabelSelect", "LabelSelect_hls", 10, pe=1),
    ])


def test_non_mvau_nodes_are_charged_to_the_mvau_before_them() -> None:
    est = _conv_graph()
    layers = attribute(est, ["conv0", "conv1", "fc"],
                       {"conv0": (8, 27), "conv1": (16, 72), "fc": (10, 400)})
    assert [x.nodes for x in layers] == [
        ("SWG_in", "MVAU_0", "SWG_pool", "Pool_0", "SWG_1"), ("MVAU_1",),
        ("MVAU_2", "Thres_2", "LabelSelect")]
    assert [x.lut for x in layers] == [5800, 3000, 730]
    # only the nodes after the MVAU work on its output channels (not the 3 input channels)
    assert [x.channel_folds for x in layers] == [(4, 2, 8), (), (5, 1)]
    assert [(x.pe, x.simd, x.mh, x.mw) for x in layers] == [(8, 27, 8, 27), (4, 72, 16, 72),
                                                           (1, 16, 10, 400)]
    for kind, field in (("LUT", "lut"), ("BRAM_18K", "bram_18k"), ("DSP", "dsp")):
        assert sum(getattr(x, field) for x in layers) == est.totals[kind]


@pytest.mark.parametrize(("names", "dims", "message"), [
    (["conv0", "conv1"], None, "3 matrix-vector units from a model with 2"),
    (["conv0", "conv1", "fc", "extra"], None, "3 matrix-vector units"),
    (["conv0", "conv1", "fc"], {"conv0": (8, 27), "conv1": (72, 16), "fc": (10, 400)},
     r"MVAU_1 is 16x72 .* no weight layer left \(conv1 72x16, fc 10x400\) has that shape"),
])
def test_a_graph_that_does_not_match_the_layers_is_refused(
        names: list[str], dims: dict[str, tuple[int, int]] | None, message: str) -> None:
    with pytest.raises(CompileError, match=message):
        attribute(_conv_graph(), names, dims)


@pytest.mark.parametrize(("arch", "options", "shape", "expected"), [
    ("mlp", {}, TFC_SHAPE, [(64, 784), (64, 64), (64, 64), (10, 64)]),
    ("cnv", {"channels": [8, 16], "fc": [32], "pool_every": 1}, (3, 16, 16),
     [(8, 27), (16, 72), (32, 16 * 5 * 5), (10, 32)]),  # 16 -conv-> 14 -pool-> 7 -conv-> 5
])
def test_layer_dims_are_finns_mh_and_mw(arch: str, options: dict[str, Any],
                                        shape: tuple[int, int, int],
                                        expected: list[tuple[int, int]]) -> None:
    model = build_model(arch, input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                        **options)
    names = weight_layers(model, shape)
    assert list(layer_dims(model, names).values()) == expected
    with pytest.raises(PruneError, match="not a linear or conv layer"):
        layer_dims(model, [*names, "nothing.here"])


def test_profile_lookup_and_serialisation() -> None:
    est = _conv_graph()
    layers = attribute(est, ["conv0", "conv1", "fc"])
    profile = HardwareProfile(layers, 1e6, 10, dict(est.totals), True, "maximize", None, est,
                              {"LUT": 12.0})
    assert profile.layer("conv1").node == "MVAU_1"
    with pytest.raises(PruneError, match="not in the hardware profile"):
        profile.layer("conv7")
    data = json.loads(json.dumps(profile.to_dict()))
    assert [x["layer"] for x in data["layers"]] == ["conv0", "conv1", "fc"]
    assert "estimates" not in data and data["converter_totals"] == {"LUT": 12.0}


# --- FINN: three compiles (TFC, a narrower TFC, a small CNV), a few seconds each -------------

def _mlp(hidden: list[int]) -> Any:
    import torch

    torch.manual_seed(0)
    return build_model("mlp", input_shape=TFC_SHAPE, num_classes=10, weight_bits=2, act_bits=2,
                       hidden=hidden)


Compiled = dict[str, tuple[Any, tuple[str, ...], dict[str, tuple[int, int]]]]


@pytest.fixture(scope="module")
def tfc_compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    """TFC-W2A2 and the same net narrowed by hand to 32 channels, each compiled once."""
    board = load_board(BOARD)
    compiled = {}
    for label, hidden in (("tfc", [64, 64, 64]), ("narrow", [32, 32, 32])):
        model = _mlp(hidden)
        names = weight_layers(model, TFC_SHAPE)
        hw = compile_model(model, TFC_SHAPE, board, tmp_path_factory.mktemp(label))
        compiled[label] = (hw, names, layer_dims(model, names))
    return compiled


@pytest.fixture(scope="module")
def tfc_pair(tfc_compiled: Compiled) -> dict[str, dict[str, HardwareProfile]]:
    """Both folded for the fastest design within the caps and for the cheapest design at a
    shared FPS target (a quarter of the TFC's best, which both reach)."""
    board = load_board(BOARD)
    out = {label: {"maximize": fold_profile(hw, names, board, dims=dims)}
           for label, (hw, names, dims) in tfc_compiled.items()}
    target = out["tfc"]["maximize"].fps / 4
    for label, (hw, names, dims) in tfc_compiled.items():
        out[label]["min_resources"] = fold_profile(hw, names, board, objective="min_resources",
                                                   target_fps=target, dims=dims)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("label", "width"), [("tfc", 64), ("narrow", 32)])
@pytest.mark.parametrize("objective", ["maximize", "min_resources"])
def test_profile_of_an_mlp_matches_the_torch_layers_and_finns_totals(
        tfc_pair: dict[str, dict[str, HardwareProfile]], label: str, width: int,
        objective: str) -> None:
    profile = tfc_pair[label][objective]
    assert [x.layer for x in profile.layers] == ["features.0", "features.3", "features.6",
                                                 "classifier"]
    assert [(x.mh, x.mw) for x in profile.layers] == [(width, 784), (width, width),
                                                      (width, width), (10, width)]
    for x in profile.layers:
        assert x.mh % x.pe == 0 and x.mw % x.simd == 0
        assert x.cycles == (x.mh // x.pe) * (x.mw // x.simd)  # one vector, FINN's formula
        assert x.macs == x.mh * x.mw
    est = profile.estimates
    assert profile.totals == est.totals
    for kind, field in (("LUT", "lut"), ("BRAM_18K", "bram_18k"), ("URAM", "uram"),
                        ("DSP", "dsp")):
        assert sum(getattr(x, field) for x in profile.layers) == pytest.approx(est.totals[kind])
    assert profile.max_cycles == est.max_cycles == max(x.cycles for x in profile.layers)
    assert profile.fps == pytest.approx(est.clock_mhz * 1e6 / profile.max_cycles)
    assert profile.fits and profile.objective == objective


@pytest.mark.slow
def test_a_narrower_model_is_faster_and_cheaper_on_the_same_board(
        tfc_pair: dict[str, dict[str, HardwareProfile]]) -> None:
    tfc, narrow = tfc_pair["tfc"], tfc_pair["narrow"]
    assert narrow["maximize"].fps >= tfc["maximize"].fps
    assert narrow["min_resources"].fps >= narrow["min_resources"].target_fps  # type: ignore[operator]
    assert narrow["min_resources"].totals["LUT"] <= tfc["min_resources"].totals["LUT"]


@pytest.mark.slow
def test_nothing_fits_is_a_folding_error_naming_board_and_objective(
        tfc_compiled: Compiled) -> None:
    hw, names, _ = tfc_compiled["tfc"]
    tiny = load_board(BOARD).with_caps(LUT=0.001)
    with pytest.raises(FoldingError, match=rf"objective maximize.*{tiny.name} .*caps.*LUT"):
        fold_profile(hw, names, tiny)


@pytest.mark.slow
def test_cnv_profile_charges_windows_and_pools_and_aligns_them(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    shape = (3, 32, 32)
    model = build_model("cnv", input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                        channels=[8, 8, 16, 16], fc=[32])
    names = weight_layers(model, shape)
    profile = hardware_profile(model, shape, names, load_board(BOARD), workdir=tmp_path)
    est = profile.estimates
    assert [x.layer for x in profile.layers] == list(names)
    assert [(x.mh, x.mw) for x in profile.layers] == list(layer_dims(model, names).values())
    charged = [n for x in profile.layers for n in x.nodes]
    assert charged == [n.name for n in est.layers]  # every node once, in graph order
    assert any(n.op_type.startswith("Pool") for n in est.layers)
    assert sum(x.lut for x in profile.layers) == pytest.approx(est.totals["LUT"])
    assert profile.fits and profile.converter_totals["LUT"] >= 0
    assert_counts_fold(alignments(channel_groups(model, shape), profile))


def assert_counts_fold(rows: tuple) -> None:
    """Every aligned count keeps the board's folding legal (where the bound did not cut it)."""
    for a in rows:
        assert a.required % a.granularity == 0 and a.granularity <= a.limit
        if a.required <= a.limit:  # unbounded: the board's folding stays legal at every count
            for count in legal_counts(a.channels, a.granularity):
                assert count % a.pe == 0 and all(count % f == 0 for f in a.between)
                assert (count * a.inputs_per_channel) % a.consumer_simd == 0
