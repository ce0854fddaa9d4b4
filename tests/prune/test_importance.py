"""Importance criteria: what each ranks last, determinism, and the model left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.errors import PruneError
from codesign.models import build_model
from codesign.prune import CRITERIA, channel_groups, channel_importance
from tests.prune.families import family_model
from tests.prune.user_models import SHAPE, AvgPoolNet, PerChannelNet, QuantBiasNet

SHAPE_MLP = (1, 8, 8)


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mlp", input_shape=SHAPE_MLP, num_classes=4, weight_bits=4, act_bits=4,
                       hidden=[6, 5])


def _data(shape: tuple = SHAPE_MLP, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, *shape)).astype(np.uint8), rng.integers(0, 4, n)


@pytest.mark.parametrize(("criterion", "expected"), [
    ("l1", [1.6, 3.2, 5.6, 0.0, 0.2, 0.4]),
    ("l2", [0.8, 1.6, 2.8, 0.0, 0.2, 0.4]),
])
def test_weight_norms_of_hand_set_quantized_weights(criterion: str, expected: list) -> None:
    model = _mlp()
    layer = model.features[0]
    with torch.no_grad():
        layer.weight.zero_()
        # 4-bit narrow per-tensor grid: step = max|w| / 7 = 0.2. Rows 0-2 hold four entries of
        # 0.4, 0.8, 1.4 (on the grid); row 3 holds 0.05, below half a step: quantized, it is 0.
        for row, value in enumerate([0.4, 0.8, 1.4, 0.05, 0.2, 0.4]):
            layer.weight[row, : 4 if row < 3 else 1] = value
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), criterion)
    assert np.allclose(scores["features.0"], expected, rtol=1e-5, atol=1e-7)
    assert scores["features.3"].shape == (5,)
    assert list(np.argsort(scores["features.0"], kind="stable")) == [3, 4, 5, 0, 1, 2]


@pytest.mark.parametrize("criterion", ["l1", "l2"])
def test_weight_norms_rank_a_weak_filter_last(criterion: str) -> None:
    model = _mlp()
    with torch.no_grad():
        model.features[0].weight[3] *= 0.01
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), criterion)
    assert int(np.argmin(scores["features.0"])) == 3


def test_group_l2_of_hand_set_weights_averages_rows_columns_and_scales() -> None:
    model = _mlp()
    producer, bn, consumer = model.features[0], model.features[1], model.features[3]
    with torch.no_grad():
        for layer in (producer, consumer):
            layer.weight.zero_()
        # 4-bit narrow per-tensor grids, step 0.2 each (the largest entry is 1.4): on the grid
        producer.weight[:, :2] = torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0, 1.4])[:, None]
        consumer.weight[0, :] = torch.tensor([1.4, 0.0, 0.2, 0.4, 0.6, 0.8])
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.0, 1.0, 0.5, 0.1]))
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), "group_l2")
    rows = 2 * np.array([0.2, 0.4, 0.6, 0.8, 1.0, 1.4]) ** 2
    columns = np.array([1.4, 0.0, 0.2, 0.4, 0.6, 0.8]) ** 2
    gammas = np.array([1.0, 2.0, 0.0, 1.0, 0.5, 0.1]) ** 2
    assert np.allclose(scores["features.0"], (rows + columns + gammas) / 3, rtol=1e-5)


@pytest.mark.parametrize(("criterion", "sees_it"), [("l2", False), ("group_l2", True)])
def test_only_group_l2_sees_a_channel_nobody_reads(criterion: str, sees_it: bool) -> None:
    model = _mlp()
    with torch.no_grad():
        model.features[0].weight[2] *= 1.5  # the strongest producer row ...
        model.features[3].weight *= 3.0  # (the consumer's columns outweigh the rows)
        model.features[3].weight[:, 2] = 0.0  # ... writes a channel no consumer reads
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), criterion)
    assert (int(np.argmin(scores["features.0"])) == 2) is sees_it


@pytest.mark.parametrize("model_class", [PerChannelNet, QuantBiasNet, AvgPoolNet])
def test_group_l2_reads_a_flatten_consumer_by_each_channels_inputs(model_class: type) -> None:
    torch.manual_seed(0)
    model = model_class().eval()
    modules = dict(model.named_modules())
    group = next(g for g in channel_groups(model, SHAPE) if g.consumer_features[0] > 1)
    per, consumer = group.consumer_features[0], modules[group.consumer]
    before = channel_importance(model, [group], "group_l2", reduce="sum")[group.name]
    with torch.no_grad():  # channel 1's H*W inputs of the consumer (channel-major flatten)
        consumer.weight[:, per:2 * per] = 0.0
    after = channel_importance(model, [group], "group_l2", reduce="sum")[group.name]
    assert after[1] < before[1] and int(np.argmin(after)) == 1
    assert np.allclose(np.delete(after, 1), np.delete(before, 1), rtol=0.3)


@pytest.mark.parametrize(("family", "has_depthwise"), [("mobilenet", True), ("resnet", False)])
def test_group_l2_skip_depthwise_ignores_only_the_depthwise_kernels(family: str,
                                                                   has_depthwise: bool) -> None:
    model, shape = family_model(family, "per-tensor")
    groups = channel_groups(model, shape)
    assert any(g.depthwise for g in groups) is has_depthwise
    criteria = ("group_l2", "group_l2_skip_depthwise")
    before = {c: channel_importance(model, groups, c) for c in criteria}
    modules = dict(model.named_modules())
    with torch.no_grad():  # channel 1 of every depthwise kernel off
        for d in (d for g in groups for d in g.depthwise):
            modules[d].weight[1] = 0.0
    after = {c: channel_importance(model, groups, c) for c in criteria}
    for g in groups:
        full, skip = (before[c][g.name] for c in criteria)
        assert bool(np.allclose(full, skip)) is not bool(g.depthwise), g.name
        assert np.array_equal(after["group_l2_skip_depthwise"][g.name], skip), g.name
        assert bool(after["group_l2"][g.name][1] < full[1]) is bool(g.depthwise), g.name


@pytest.mark.parametrize("criterion", ["group_l2", "group_l2_skip_depthwise"])
def test_group_l2_refuses_a_consumer_it_cannot_split_by_channel(criterion: str) -> None:
    from brevitas.nn import QuantConv2d

    from codesign.prune.graph import ChannelGroup

    model = torch.nn.Sequential(QuantConv2d(1, 4, 3), QuantConv2d(4, 4, 3, groups=2))
    group = ChannelGroup(name="0", kind="conv", channels=4, followers=(), batchnorm=None,
                         consumer="1", consumer_kind="conv", features_per_channel=1)
    with pytest.raises(PruneError, match=rf"criterion {criterion} cannot split a consumer weight "
                       r"of shape \(4, 2, 3, 3\) into 4 input channels"):
        channel_importance(model, [group], criterion)


def test_bn_scale_picks_the_small_gamma() -> None:
    model = _mlp()
    with torch.no_grad():
        model.features[4].weight.copy_(torch.tensor([0.9, -0.8, 0.05, -1.2, 0.7]))
    scores = channel_importance(model, channel_groups(model, SHAPE_MLP), "bn_scale")
    assert np.allclose(scores["features.3"], [0.9, 0.8, 0.05, 1.2, 0.7])
    assert int(np.argmin(scores["features.3"])) == 2


def test_bn_scale_without_batchnorm_names_the_layer() -> None:
    model = PerChannelNet()
    with pytest.raises(PruneError, match="after layer conv2; it has none"):
        channel_importance(model, channel_groups(model, SHAPE), "bn_scale")


def test_taylor_ranks_a_channel_nobody_reads_last_and_is_deterministic() -> None:
    model = _mlp()
    model.train()
    with torch.no_grad():
        model(torch.rand(64, *SHAPE_MLP) * 255)  # BatchNorm statistics
        model.features[3].weight[:, 4] = 0.0  # channel 4 of features.0 feeds nothing
    model.train()
    model.features[1].eval()  # a mixed train/eval state must come back as it was
    seen = next(model.parameters())
    seen.grad = torch.ones_like(seen)
    groups = channel_groups(model, SHAPE_MLP)
    first = channel_importance(model, groups, "taylor", _data(), batches=3, batch_size=16, seed=1)
    again = channel_importance(model, groups, "taylor", _data(), batches=3, batch_size=16, seed=1)
    other = channel_importance(model, groups, "taylor", _data(), batches=3, batch_size=16, seed=2)
    assert first["features.0"][4] == 0.0 and np.all(np.delete(first["features.0"], 4) > 0)
    for name in first:
        assert np.array_equal(first[name], again[name])
    assert not np.array_equal(first["features.0"], other["features.0"])
    assert model.training and not model.features[1].training and model.features[2].training
    assert torch.equal(seen.grad, torch.ones_like(seen))
    assert all(p.grad is None for p in model.parameters() if p is not seen)


@pytest.mark.parametrize(("few", "many"), [(1, 16), (2, 64)])
def test_more_taylor_batches_give_a_steadier_estimate(few: int, many: int) -> None:
    """Two seeds of the estimate differ less when each averages more minibatches."""
    model = _mlp()
    model.train()
    with torch.no_grad():
        model(torch.rand(64, *SHAPE_MLP) * 255)
    model.eval()
    groups, data = channel_groups(model, SHAPE_MLP), _data(n=512)

    def spread(batches: int) -> float:
        a, b = (channel_importance(model, groups, "taylor", data, batches=batches, batch_size=8,
                                   seed=seed) for seed in (1, 2))
        return sum(float(np.abs(a[g] - b[g]).sum() / np.abs(a[g] + b[g]).sum()) for g in a)

    assert spread(many) < 0.5 * spread(few)


@pytest.mark.parametrize("model_class", [PerChannelNet, QuantBiasNet, AvgPoolNet])
def test_taylor_on_user_models_scores_every_channel(model_class: type) -> None:
    torch.manual_seed(0)
    model = model_class()
    model.train()
    with torch.no_grad():
        model(torch.rand(16, *SHAPE) * 255)
    model.eval()
    groups = channel_groups(model, SHAPE)
    scores = channel_importance(model, groups, "taylor", _data(SHAPE, 16), batches=2,
                                batch_size=8)
    for g in groups:
        assert scores[g.name].shape == (g.channels,)
        assert np.all(np.isfinite(scores[g.name])) and np.all(scores[g.name] >= 0)
        assert scores[g.name].max() > 0


@pytest.mark.parametrize(("criterion", "data", "kwargs", "match"), [
    ("taylor", None, {}, "needs training data"),
    ("taylor", (np.zeros((3, *SHAPE_MLP)), np.zeros(2)), {}, "3 samples and 2 labels"),
    ("taylor", _data(), {"batches": 0}, "batches >= 1"),
    ("magnitude", None, {}, "unknown pruning criterion 'magnitude'; choose one of l1, l2"),
])
def test_criterion_errors(criterion: str, data, kwargs: dict, match: str) -> None:
    model = _mlp()
    with pytest.raises(PruneError, match=match):
        channel_importance(model, channel_groups(model, SHAPE_MLP), criterion, data, **kwargs)
    assert CRITERIA == ("l1", "l2", "group_l2", "group_l2_skip_depthwise", "bn_scale", "taylor")


def test_groups_of_another_model_are_refused() -> None:
    groups = channel_groups(PerChannelNet(), SHAPE)
    with pytest.raises(PruneError, match="conv1, conv2, fc1 are not layers of this model"):
        channel_importance(_mlp(), groups, "l1")
