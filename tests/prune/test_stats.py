"""Params / MACs / BOPs against hand-computed numbers, and quantized weight sparsity."""

from __future__ import annotations

import pytest
import torch

from codesign.models import build_model
from codesign.prune import model_cost, prune_channels, weight_sparsity
from tests.prune.user_models import SHAPE, AvgPoolNet, QuantBiasNet

MNIST = (1, 28, 28)


@pytest.mark.parametrize("bits", [1, 2])
def test_costs_of_tfc_by_hand(bits: int) -> None:
    model = build_model("mlp", input_shape=MNIST, num_classes=10, weight_bits=bits,
                        act_bits=bits, preset="tfc")
    cost = model_cost(model, MNIST)
    macs = [784 * 64, 64 * 64, 64 * 64, 64 * 10]
    assert [c.name for c in cost.layers] == ["features.0", "features.3", "features.6",
                                             "classifier"]
    assert [c.macs for c in cost.layers] == macs == [c.params for c in cost.layers]
    assert [(c.in_features, c.out_features) for c in cost.layers] == [
        (784, 64), (64, 64), (64, 64), (64, 10)]
    assert [c.input_bits for c in cost.layers] == [8, bits, bits, bits]  # raw pixels: 8
    assert all(c.weight_bits == bits and c.kind == "linear" for c in cost.layers)
    assert cost.macs == sum(macs) == cost.params
    assert cost.bops == 784 * 64 * bits * 8 + (2 * 64 * 64 + 640) * bits * bits
    assert cost.to_dict()["layers"][0]["macs"] == 784 * 64


def test_costs_of_cnv_small_by_hand() -> None:
    model = build_model("cnv", input_shape=MNIST, num_classes=10, weight_bits=2, act_bits=2,
                        preset="cnv-small")
    cost = model_cost(model, MNIST)
    # No padding needed: 28 -> 26 -> 24 -> pool 12 -> 10 -> 8, flatten 32 x 8 x 8.
    out, cins, couts = [26, 24, 10, 8], [1, 16, 16, 32], [16, 16, 32, 32]
    conv_macs = [9 * ci * co * o * o for ci, co, o in zip(cins, couts, out, strict=True)]
    assert [c.macs for c in cost.layers[:4]] == conv_macs
    assert [c.params for c in cost.layers[:4]] == [9 * ci * co for ci, co in zip(cins, couts,
                                                                                    strict=True)]
    assert all(c.kind == "conv" for c in cost.layers[:4])
    fc, classifier = cost.layers[4], cost.layers[5]
    assert (fc.kind, fc.in_features, fc.macs) == ("linear", 32 * 64, 32 * 64 * 128)
    assert classifier.macs == 128 * 10
    assert [c.input_bits for c in cost.layers] == [8, 2, 2, 2, 2, 2]
    assert cost.macs == sum(conv_macs) + 32 * 64 * 128 + 1280
    assert cost.bops == conv_macs[0] * 2 * 8 + (cost.macs - conv_macs[0]) * 2 * 2


def test_costs_of_a_user_model_with_biases_and_an_input_quantizer() -> None:
    model = QuantBiasNet()
    cost = {c.name: c for c in model_cost(model, SHAPE).layers}
    # conv1 3->8 (3x3) on 10x10 -> 8x8, pool -> 4x4, conv2 8->6 -> 2x2, fc1 24->12, fc2 12->4
    assert (cost["conv1"].params, cost["conv1"].macs) == (3 * 8 * 9 + 8, 3 * 8 * 9 * 64)
    assert (cost["conv2"].params, cost["conv2"].macs) == (8 * 6 * 9, 8 * 6 * 9 * 4)
    assert (cost["fc1"].params, cost["fc1"].macs) == (24 * 12 + 12, 24 * 12)
    # 8-bit QuantIdentity on the pixels, then the 4-bit activations
    assert [c.input_bits for c in cost.values()] == [8, 4, 4, 4]
    assert cost["conv1"].bops == 3 * 8 * 9 * 64 * 4 * 8


def test_input_bits_of_a_truncating_pool_and_a_layer_input_quantizer() -> None:
    cost = {c.name: c for c in model_cost(AvgPoolNet(), SHAPE).layers}
    # pixels -> 8-bit QuantIdentity; 4-bit QuantReLU -> TruncAvgPool2d, whose output is 8 bits;
    # fc1 quantizes its own input to 6 bits although a 4-bit HardTanh ran before it
    assert [c.input_bits for c in cost.values()] == [8, 8, 6, 4]
    assert cost["conv2"].macs == 8 * 6 * 9 * 2 * 2  # 10 -> 8, pool 4, conv 2
    assert cost["fc1"].bops == 24 * 12 * 4 * 6


def test_costs_follow_the_surgery() -> None:
    model = build_model("mlp", input_shape=MNIST, num_classes=10, weight_bits=2, act_bits=2,
                        preset="tfc")
    prune_channels(model, {"features.0": range(16), "features.6": range(40)}, MNIST)
    assert [c.macs for c in model_cost(model, MNIST).layers] == [
        784 * 16, 16 * 64, 64 * 40, 40 * 10]


def test_weight_sparsity_counts_exact_quantized_zeros() -> None:
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 8, 8), num_classes=4, weight_bits=4, act_bits=4,
                        hidden=[6, 5])
    total = 64 * 6 + 6 * 5 + 5 * 4
    with torch.no_grad():
        for layer in (model.features[0], model.features[3], model.classifier):
            layer.weight.copy_(torch.randn_like(layer.weight).sign())  # +-1: never zero
    assert weight_sparsity(model) == 0.0
    with torch.no_grad():
        model.features[0].weight[:3] = 0.0
        model.classifier.weight[0, 0] = 1e-3  # below half a quantization step: zero on hardware
    assert weight_sparsity(model) == (3 * 64 + 1) / total
