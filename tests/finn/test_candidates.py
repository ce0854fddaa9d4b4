"""Candidate spaces built from FINN graphs: FINN's legality rules, costs equal to FINN's own
estimates once applied, ties, data-width converter links, URAM handling, the cost cache."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import CLOCK_MHZ, PART, _relu, _weight_quant, calibrate, export

from codesign.finn import apply_folding_config, compile_to_hw, estimate
from codesign.finn._env import base_op_type
from codesign.finn.candidates import build_space
from codesign.finn.costs import CostCache, dwc_cost, private_instance
from codesign.finn.plan import converters

pytestmark = pytest.mark.slow

SIZES = {"MVAU": {"PE": "MH", "SIMD": "MW"}, "Thresholding": {"PE": "NumChannels"},
         "ConvolutionInputGenerator": {"SIMD": "IFMChannels"}, "Pool": {"PE": "Channels"},
         "VVAU": {"PE": "Channels"}, "LabelSelect": {"PE": "Labels"}}


def build_depthwise(input_shape: tuple[int, int, int]) -> Any:
    """conv3x3 -> depthwise conv3x3 -> linear: FINN makes a VVAU fed by a depthwise SWG."""
    from brevitas.nn import QuantConv2d, QuantLinear
    from torch import nn

    class Depthwise(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                QuantConv2d(input_shape[0], 4, 3, bias=False, **_weight_quant(2)),
                nn.BatchNorm2d(4), _relu(2),
                QuantConv2d(4, 4, 3, groups=4, bias=False, **_weight_quant(2)),
                nn.BatchNorm2d(4), _relu(2))
            side = input_shape[1] - 4
            self.classifier = QuantLinear(4 * side * side, 10, bias=False, **_weight_quant(2))

        def forward(self, x: Any) -> Any:
            return self.classifier(self.features(x * (1.0 / 255.0)).flatten(1))

    return Depthwise()


@pytest.fixture(scope="module")
def depthwise_hw(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import torch

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("depthwise")
    model = calibrate(build_depthwise((1, 8, 8)), (1, 8, 8))
    onnx = export(model, (1, 8, 8), directory / "dw.onnx")
    return compile_to_hw(onnx, part=PART, clock_mhz=CLOCK_MHZ, workdir=directory / "w")


@pytest.fixture(params=["mlp", "cnn", "mlp_topk", "depthwise"])
def graph(request: pytest.FixtureRequest, compiled: Any) -> Any:
    if request.param == "depthwise":
        return request.getfixturevalue("depthwise_hw")
    return compiled(request.param)


def nodes_by_name(hw: Any) -> dict[str, Any]:
    return {n.name: n for n in hw.model.graph.node}


def test_candidates_follow_finns_folding_rules(graph: Any) -> None:
    space = build_space(graph, allow_uram=False, prune=False).space
    nodes = nodes_by_name(graph)
    for layer in space.layers:
        node = nodes[layer.name]
        inst = private_instance(node)
        op = base_op_type(node.op_type)
        for cand in layer.candidates:
            attrs = cand.as_dict()
            for attr, size in SIZES.get(op, {}).items():
                assert inst.get_nodeattr(size) % attrs[attr] == 0, (layer.name, attrs)
            if attrs.get("parallel_window") == 1 and not inst.get_nodeattr("depthwise"):
                assert attrs["SIMD"] == inst.get_nodeattr("IFMChannels")
            if "resType" in attrs:
                assert node.op_type.endswith("_hls")
            assert attrs.get("ram_style") != "ultra"  # no URAM on this board
            if op == "VVAU" and attrs["SIMD"] > 1:
                assert attrs["PE"] == inst.get_nodeattr("Channels")


def test_every_divisor_combination_is_offered(compiled: Any) -> None:
    hw = compiled("mlp")
    space = build_space(hw, allow_uram=False, prune=False).space
    for layer in space.layers:
        inst = private_instance(nodes_by_name(hw)[layer.name])
        mh, mw = inst.get_nodeattr("MH"), inst.get_nodeattr("MW")
        pairs = {(c.attr("PE"), c.attr("SIMD")) for c in layer.candidates}
        assert pairs == {(p, s) for p in range(1, mh + 1) for s in range(1, mw + 1)
                         if mh % p == 0 and mw % s == 0}


def consistent_pick(space: Any, rng: random.Random) -> dict[str, Any]:
    """A random candidate per layer, honouring the ties (as FINN requires)."""
    choice = {layer.name: rng.choice(layer.candidates) for layer in space.layers}
    for tie in space.ties:
        value = choice[tie.layer_a].attr(tie.attr_a)
        options = [c for c in space.layer(tie.layer_b).candidates if c.attr(tie.attr_b) == value]
        choice[tie.layer_b] = rng.choice(options)
    return choice


@pytest.mark.parametrize("seed", range(3))
def test_candidate_costs_are_finns_estimates_once_applied(graph: Any, seed: int) -> None:
    space = build_space(graph, allow_uram=False).space
    choice = consistent_pick(space, random.Random(seed))
    config = {"Defaults": {}, **{n: c.as_dict() for n, c in choice.items() if c.attrs}}
    est = estimate(apply_folding_config(graph, config))
    for layer in est.layers:
        cand = choice[layer.name]
        assert layer.cycles == cand.cycles
        assert (layer.lut, layer.bram_18k, layer.uram, layer.dsp) == (
            cand.cost["LUT"], cand.cost["BRAM_18K"], cand.cost["URAM"], cand.cost["DSP"])


def test_depthwise_window_and_its_consumer_are_tied(compiled: Any, depthwise_hw: Any) -> None:
    for hw, consumer_op in ((compiled("cnn"), "Pool"), (depthwise_hw, "VVAU")):
        space = build_space(hw, allow_uram=False).space
        nodes = nodes_by_name(hw)
        dw = [n for n, node in nodes.items() if node.op_type.startswith("ConvolutionInputGenerator")
              and private_instance(node).get_nodeattr("depthwise")]
        assert dw
        for name in dw:
            consumer = hw.model.find_consumer(nodes[name].output[0]).name
            assert base_op_type(nodes[consumer].op_type) == consumer_op
            assert any(t.layer_a == name and t.attr_a == "SIMD" and t.layer_b == consumer
                       and t.attr_b == "PE" for t in space.ties)
            windows = {c.attr("parallel_window") for c in space.layer(name).candidates}
            assert windows == ({0} if consumer_op == "Pool" else {0, 1})


def test_hls_words_wider_than_ap_int_max_w_are_excluded(compiled: Any) -> None:
    from finn.util.basic import MAX_ALLOWED_AP_INT_W
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    hw = compiled("mlp")
    wide = ModelWrapper(copy.deepcopy(hw.model.model))
    node = wide.graph.node[0]  # MW=64, MH=16: with 32-bit weights a weight word of PE*SIMD*32
    getCustomOp(node).set_nodeattr("weightDataType", "INT32")  # bits reaches 32768
    space = build_space(hw.with_model(wide), allow_uram=False, prune=False).space
    pairs = {(c.attr("PE"), c.attr("SIMD")) for c in space.layer(node.name).candidates}
    assert pairs == {(p, s) for p in (1, 2, 4, 8, 16) for s in (1, 2, 4, 8, 16, 32, 64)
                     if p * s * 32 <= MAX_ALLOWED_AP_INT_W}


def test_converter_links_price_exactly_what_finns_insert_dwc_adds(compiled: Any) -> None:
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    hw = compiled("cnn")
    built = build_space(hw, allow_uram=False)
    links = {(k.producer, k.consumer): k for k in built.space.links}
    rng = random.Random(7)
    for _ in range(3):
        choice = consistent_pick(built.space, rng)
        config = {"Defaults": {}, **{n: c.as_dict() for n, c in choice.items() if c.attrs}}
        folded = apply_folding_config(hw, config)
        predicted = converters(folded)
        with_dwc = folded.model.transform(InsertDWC()).transform(SpecializeLayers(PART))
        with_dwc = with_dwc.transform(GiveUniqueNodeNames())
        finn_dwcs = [n for n in with_dwc.graph.node if n.op_type.startswith("StreamingDataWidth")]
        res = res_estimation(with_dwc, PART)
        assert len(finn_dwcs) == len(predicted)
        assert sum(res[n.name]["LUT"] for n in finn_dwcs) == sum(c.cost["LUT"] for c in predicted)
        for conv in predicted:  # and the link of the space prices that very pair
            link = links[(conv.producer, conv.consumer)]
            cost = link.cost(choice[conv.producer].out_port, choice[conv.consumer].in_port)
            assert cost is not None and cost["LUT"] == conv.cost["LUT"]


def test_a_conversion_finn_cannot_build_is_illegal() -> None:
    # 2-bit elements: an 8-bit word holds 4 of them, which divide neither 10 channels nor the
    # 10 elements in total, so FINN's converter cannot fold the stream
    assert dwc_cost((1, 10), (1, 10), 8, 4, "UINT2", PART) is None
    assert dwc_cost((1, 12), (1, 12), 8, 4, "UINT2", PART) is not None


def test_uram_is_offered_only_where_finns_build_keeps_the_estimates(compiled: Any) -> None:
    from finn.transformation.fpgadataflow.minimize_accumulator_width import (
        MinimizeAccumulatorWidth,
    )
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth

    hw = compiled("cnn")
    assert not any(c.attr("ram_style") == "ultra" for la in build_space(hw, allow_uram=False)
                   .space.layers for c in la.candidates if "ram_style" in c.as_dict())
    built = build_space(hw, allow_uram=True, prune=False)
    for layer in built.space.layers:
        ultra = [c for c in layer.candidates if c.as_dict().get("ram_style") == "ultra"]
        if layer.op_type.startswith("ConvolutionInputGenerator"):
            assert ultra  # line buffers need nothing else for URAM
        if not layer.op_type.startswith("MVAU"):
            continue
        config = {"Defaults": {}, layer.name: {"ram_style": "ultra", "runtime_writeable_weights": 1}}
        applied = apply_folding_config(hw, config)
        rebuilt = applied.model.transform(MinimizeWeightBitWidth()).transform(
            MinimizeAccumulatorWidth())
        types = [("weightDataType", 1), ("accDataType", 1), ("outputDataType", 1)]
        before, after = (private_instance(nodes_by_name(hw.with_model(m))[layer.name])
                         for m in (applied.model, rebuilt))
        keeps = all(before.get_nodeattr(a) == after.get_nodeattr(a) for a, _ in types)
        noted = any(n.startswith(layer.name + ":") for n in built.notes)
        assert bool(ultra) == keeps and noted == (not keeps)
        if ultra:  # then FINN's build estimates what the candidate says
            assert estimate(applied.with_model(rebuilt)).to_dict() == estimate(applied).to_dict()


def test_the_cost_cache_serves_repeated_builds_and_survives_on_disk(compiled: Any,
                                                                   tmp_path: Path) -> None:
    hw = compiled("cnn")
    cache = CostCache(tmp_path / "costs")
    first = build_space(hw, allow_uram=False, cache=cache)
    misses = cache.misses
    again = build_space(hw, allow_uram=False, cache=cache)
    assert cache.misses == misses and cache.hits >= misses
    assert again.space == first.space
    fresh = CostCache(tmp_path / "costs")
    from_disk = build_space(hw, allow_uram=False, cache=fresh)
    assert fresh.misses == 0 and from_disk.space == first.space
    assert any((tmp_path / "costs").glob("*.json"))


def test_pruning_only_drops_dominated_candidates(compiled: Any) -> None:
    hw = compiled("cnn")
    # without converter links a candidate can only be dominated by one no dearer in any kind
    full = build_space(hw, allow_uram=False, dwc=False, prune=False).space
    pruned = build_space(hw, allow_uram=False, dwc=False).space
    assert pruned.size() < full.size()
    kinds = ("LUT", "BRAM_18K", "URAM", "DSP")
    for layer, kept in zip(full.layers, pruned.layers, strict=True):
        assert all(c in layer.candidates for c in kept.candidates)
        assert min(c.cycles for c in kept.candidates) == min(c.cycles for c in layer.candidates)
        cheapest = np.min([[c.cost[k] for k in kinds] for c in layer.candidates], axis=0)
        assert (np.min([[c.cost[k] for k in kinds] for c in kept.candidates], axis=0)
                == cheapest).all()
        for dropped in (c for c in layer.candidates if c not in kept.candidates):
            assert any(k.cycles <= dropped.cycles
                       and all(k.cost[r] <= dropped.cost[r] for r in kinds)
                       for k in kept.candidates)
