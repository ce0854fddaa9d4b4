"""Importance criteria and the params/MACs/BOPs accounting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.errors import PruneError
from codesign.models import build_model
from codesign.prune import CRITERIA, channel_groups, channel_importance, model_cost, weight_sparsity
from tests.prune.user_models import SHAPE, PerChannelNet

SHAPE_MLP = (1, 8, 8)


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mlp", input_shape=SHAPE_MLP, num_classes=4, weight_bits=4, act_bits=4,
                       hidden=[6, 5])


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, *SHAPE_MLP)).astype(np.uint8), rng.integers(0, 4, n)


@pytest.mark.parametrize("criterion", ["l1", "l2"])
def test_weight_norms_rank_a_weak_filter_last(criterion: str) -> None:
    model = _mlp()
    with torch.no_grad():
        model.features[0].weight[3] *= 0.01
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), criterion)
    assert int(np.argmin(scores["features.0"])) == 3
    assert scores["features.0"].shape == (6,) and scores["features.3"].shape == (5,)


def test_bn_scale_picks_the_small_gamma() -> None:
    model = _mlp()
    with torch.no_grad():
        model.features[4].weight[2] = 0.05
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), "bn_scale")
    assert int(np.argmin(scores["features.3"])) == 2


def test_bn_scale_without_batchnorm_names_the_layer() -> None:
    model = PerChannelNet()
    with pytest.raises(PruneError, match="after layer conv2"):
        channel_importance(model, channel_groups(model, SHAPE), "bn_scale")


def test_taylor_ranks_a_channel_nobody_reads_last_and_is_deterministic() -> None:
    model = _mlp()
    model.train()
    with torch.no_grad():
        model(torch.rand(64, *SHAPE_MLP) * 255)  # BatchNorm statistics
        model.features[3].weight[:, 4] = 0.0  # channel 4 of features.0 feeds nothing
    model.eval()
    groups = channel_groups(model, SHAPE_MLP)
    first = channel_importance(model, groups, "taylor", _data(), batches=3, batch_size=16, seed=1)
    again = channel_importance(model, groups, "taylor", _data(), batches=3, batch_size=16, seed=1)
    assert first["features.0"][4] == 0.0 and first["features.0"].max() > 0
    for name in first:
        assert np.array_equal(first[name], again[name])
    assert not model.training and all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(("criterion", "data", "match"), [
    ("taylor", None, "needs training data"), ("magnitude", None, "unknown pruning criterion")])
def test_criterion_errors(criterion: str, data, match: str) -> None:
    model = _mlp()
    with pytest.raises(PruneError, match=match):
        channel_importance(model, channel_groups(model, SHAPE_MLP), criterion, data)
    assert "taylor" in CRITERIA


def test_costs_of_tfc_by_hand() -> None:
    model = build_model("mlp", input_shape=(1, 28, 28), num_classes=10, weight_bits=2,
                        act_bits=2)
    cost = model_cost(model, (1, 28, 28))
    assert [c.macs for c in cost.layers] == [784 * 64, 64 * 64, 64 * 64, 64 * 10]
    assert [c.input_bits for c in cost.layers] == [8, 2, 2, 2]
    assert cost.macs == 784 * 64 + 2 * 64 * 64 + 640 == cost.params
    assert cost.bops == 784 * 64 * 2 * 8 + (2 * 64 * 64 + 640) * 2 * 2


def test_costs_of_cnv_small_by_hand() -> None:
    model = build_model("cnv", input_shape=(1, 28, 28), num_classes=10, weight_bits=2,
                        act_bits=2, preset="cnv-small")
    cost = model_cost(model, (1, 28, 28))
    # no padding needed: 28 -> 26 -> 24 -> pool 12 -> 10 -> 8, flatten 32 x 8 x 8
    out = [26, 24, 10, 8]
    cins, couts = [1, 16, 16, 32], [16, 16, 32, 32]
    expected = [9 * ci * co * o * o for ci, co, o in zip(cins, couts, out, strict=True)]
    assert [c.macs for c in cost.layers[:4]] == expected
    assert cost.layers[4].in_features == 32 * 64 and cost.layers[4].macs == 32 * 64 * 128
    assert cost.layers[0].input_bits == 8 and cost.layers[1].input_bits == 2


def test_weight_sparsity_counts_quantized_zeros() -> None:
    model = _mlp()
    total = 64 * 6 + 6 * 5 + 5 * 4
    before = weight_sparsity(model)
    with torch.no_grad():
        model.features[0].weight[:3] = 0.0
    after = weight_sparsity(model)
    assert after >= before and after * total >= 3 * 64
