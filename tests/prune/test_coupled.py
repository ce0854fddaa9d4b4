"""Coupled channel groups on the residual, depthwise-separable and 1-D zoo models: the groups
found, surgery exactly equal to zeroing the removed channels, shared residual quantizers cut once
and still shared, checkpoints, and one-line errors naming the layers."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from codesign.errors import PruneError
from codesign.models.resnet import BasicBlock
from codesign.prune import (
    CRITERIA,
    channel_counts,
    channel_groups,
    channel_importance,
    prune_channels,
    shrink_to_counts,
)
from tests.prune.families import FAMILIES, QUANT, family_model
from tests.prune.test_surgery import _zero_inputs
from tests.prune.user_models import ResidualNet

pytestmark = pytest.mark.usefixtures("single_thread")


def test_resnet_groups_couple_every_layer_writing_into_a_residual_sum() -> None:
    model, shape = family_model("resnet", "per-tensor")
    groups = {g.name: g for g in channel_groups(model, shape)}
    assert [(g.producers, g.consumers) for g in groups.values()] == [
        (("stem.0", "blocks.0.conv2"), ("blocks.0.conv1", "blocks.1.conv1", "blocks.1.shortcut.0")),
        (("blocks.0.conv1",), ("blocks.0.conv2",)),
        (("blocks.1.conv1",), ("blocks.1.conv2",)),
        (("blocks.1.conv2", "blocks.1.shortcut.0", "blocks.2.conv2"),
         ("blocks.2.conv1", "classifier")),
        (("blocks.2.conv1",), ("blocks.2.conv2",))]
    stream = groups["blocks.1.conv2"]
    assert stream.consumer_features == (1, 9)  # the classifier reads 3x3 pixels per channel
    assert stream.batchnorms == ("blocks.1.bn2", "blocks.1.shortcut.1", "blocks.2.bn2")
    # the projection block's add quantizer (both operands) is listed once
    assert stream.followers.count("blocks.1.add_quant") == 1
    assert groups["stem.0"].followers == ("stem.1", "stem.2", "blocks.0.bn2", "blocks.0.out_quant")


def test_mobilenet_depthwise_channels_follow_their_producer() -> None:
    model, shape = family_model("mobilenet", "per-tensor")
    groups = channel_groups(model, shape)
    assert [(g.producers, g.depthwise, g.consumers) for g in groups] == [
        (("stem.0",), ("blocks.0.0",), ("blocks.0.3",)),
        (("blocks.0.3",), ("blocks.1.0",), ("blocks.1.3",)),
        (("blocks.1.3",), (), ("classifier",))]
    assert groups[0].members == ("stem.0", "blocks.0.0")
    assert groups[0].batchnorms == ("stem.1", "blocks.0.1")


def test_cnn1d_convs_are_grouped_like_2d_ones() -> None:
    model, shape = family_model("cnn1d", "per-tensor")
    groups = channel_groups(model, shape)
    assert [(g.name, g.kind, g.consumer, g.features_per_channel) for g in groups] == [
        ("conv_features.0", "conv", "conv_features.4", 1),
        ("conv_features.4", "conv", "fc_features.0", 4),  # 24 -> 22 -> 11 -> 9 -> 4 steps
        ("fc_features.0", "linear", "classifier", 1)]


def test_a_1d_residual_add_groups_its_writers_with_one_shared_quantizer() -> None:
    model, shape = family_model("residual1d", "per-tensor")
    stream, block = channel_groups(model, shape)
    assert (stream.producers, stream.consumers) == (("stem.0", "conv2"), ("conv1", "classifier"))
    assert stream.batchnorms == ("stem.1", "bn2")
    assert stream.followers.count("stream") == 1  # both operands' quantizer, cut once
    assert stream.consumer_features == (1, 12)  # the classifier reads 12 steps per channel
    assert (block.producers, block.consumers) == (("conv1",), ("conv2",))


def _removal_and_reference(model: nn.Module, shape: tuple) -> tuple[dict, nn.Module]:
    """Odd channels of every group removed, except each member's channel holding its largest
    weight (per-tensor weight scales then come out equal), and a copy of the model in which
    those channels' weights and inputs are zeroed at every consumer instead."""
    reference = copy.deepcopy(model)
    modules = dict(reference.named_modules())
    removed = {}
    with torch.no_grad():
        for group in channel_groups(model, shape):
            spares = {int(modules[m].weight.abs().flatten(1).amax(1).argmax())
                      for m in group.members}
            removed[group.name] = [c for c in range(1, group.channels, 2) if c not in spares]
            for consumer, per in zip(group.consumers, group.consumer_features, strict=True):
                inputs = [c * per + k for c in removed[group.name] for k in range(per)]
                modules[consumer].weight[:, inputs] = 0.0
                modules[consumer].register_forward_pre_hook(_zero_inputs(inputs))
    return removed, reference


@pytest.mark.parametrize("quant", QUANT)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pruning_equals_zeroing_the_removed_channels(family: str, quant: str) -> None:
    model, shape = family_model(family, quant)
    removed, reference = _removal_and_reference(model, shape)
    groups = channel_groups(model, shape)
    keep = {g.name: [c for c in range(g.channels) if c not in removed[g.name]] for g in groups}
    prune_channels(model, keep, shape)
    x = torch.randint(0, 256, (16, *shape)).float()
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0
    diff = float((got - expected).abs().max())
    assert diff <= 1e-4, diff  # float summation order of smaller convs only
    assert channel_counts(model, shape) == {name: len(k) for name, k in keep.items()}
    modules = dict(model.named_modules())
    for g in channel_groups(model, shape):
        for member in g.members:
            assert modules[member].weight.shape[0] == modules[member].out_channels == g.channels
            assert modules[member].quant_weight().value.shape == modules[member].weight.shape
        for name in g.depthwise:
            assert modules[name].groups == modules[name].in_channels == g.channels
        for bn in g.batchnorms:
            assert modules[bn].num_features == modules[bn].running_mean.numel() == g.channels
    # the state dict reloads into a fresh model shrunk to the counts (injector shapes agree)
    fresh, _ = family_model(family, quant, seed=1)
    shrink_to_counts(fresh, channel_counts(model, shape), shape)
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), got)


def _scale(quant_act: nn.Module) -> torch.Tensor:
    return quant_act.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value


@pytest.mark.parametrize("quant", ["per-tensor", "per-channel"])
def test_a_shared_residual_quantizer_is_cut_once_and_stays_shared(quant: str) -> None:
    model, shape = family_model("resnet", quant)
    blocks = [b for b in model.blocks if isinstance(b, BasicBlock)]
    projection = blocks[1]
    before = _scale(projection.add_quant).detach().clone()
    keep = [0, 3, 4, 9, 10, 15]
    prune_channels(model, {"blocks.1.shortcut.0": keep}, shape)  # any producer names the group
    shared = projection.add_quant
    assert blocks[2].add_quant is projection.out_quant  # identity block shares its input's
    expected = before[:, keep] if before.numel() > 1 else before
    assert torch.equal(_scale(shared), expected)
    assert projection.shortcut[0].out_channels == projection.conv2.out_channels == 6
    assert _scale(blocks[2].add_quant).numel() in (1, 6)
    if quant == "per-channel":
        assert shared.act_quant.quant_injector.per_channel_broadcastable_shape == (1, 6, 1, 1)
    operands = []
    shared.register_forward_hook(lambda _m, _a, out: operands.append(out.scale))
    with torch.no_grad():
        model(torch.randint(0, 256, (2, *shape)).float())
    assert len(operands) == 2 and torch.equal(operands[0], operands[1])  # one scale, both sides


def _zero_group(family: str) -> tuple[str, str]:
    return {"resnet": ("stem.0", r"layers stem\.0, blocks\.0\.conv2 \(to zero channels\)"),
            "mobilenet": ("stem.0", r"layers stem\.0, blocks\.0\.0 \(to zero channels\)"),
            "cnn1d": ("conv_features.0", r"layer conv_features\.0 \(to zero channels\)"),
            "residual1d": ("conv2", r"layers stem\.0, conv2 \(to zero channels\)")}[family]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pruning_a_group_to_zero_names_its_layers_and_changes_nothing(family: str) -> None:
    model, shape = family_model(family, "per-tensor")
    state = copy.deepcopy(model.state_dict())
    name, match = _zero_group(family)
    with pytest.raises(PruneError, match=match) as info:
        prune_channels(model, {name: []}, shape)
    assert "\n" not in str(info.value)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_a_group_named_twice_is_refused() -> None:
    model, shape = family_model("resnet", "per-tensor")
    with pytest.raises(PruneError, match=r"share one channel set.*under stem\.0.*blocks\.0\.conv2"):
        prune_channels(model, {"stem.0": [0, 1], "blocks.0.conv2": [0, 1]}, shape)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_criterion_scores_a_group_by_reducing_its_members(family: str) -> None:
    model, shape = family_model(family, "per-tensor")
    groups = channel_groups(model, shape)
    modules = dict(model.named_modules())
    data = (torch.randint(0, 256, (32, *shape)).float().numpy(), (torch.arange(32) % 10).numpy())
    for criterion in CRITERIA:
        scores = channel_importance(model, groups, criterion, data, batches=2, batch_size=16)
        assert all(scores[g.name].shape == (g.channels,) and np.isfinite(scores[g.name]).all()
                   and scores[g.name].max() > 0 for g in groups), criterion
    l1 = channel_importance(model, groups, "l1", reduce="sum")
    for g in groups:
        norms = [modules[m].quant_weight().value.detach().double().flatten(1).abs().sum(1)
                 for m in g.members]
        assert np.allclose(l1[g.name], torch.stack(norms).sum(0).numpy())
    # every quantized weight and scale of a group belongs to exactly one of its channels;
    # group_l2_skip_depthwise leaves the depthwise kernels out and is group_l2 without them
    for criterion, writers in (("group_l2", "members"), ("group_l2_skip_depthwise", "producers")):
        scores = channel_importance(model, groups, criterion, reduce="sum")
        for g in groups:
            layers = getattr(g, writers) + g.consumers
            total = sum(float(modules[m].quant_weight().value.double().pow(2).sum())
                        for m in layers)
            total += sum(float(modules[b].weight.double().pow(2).sum()) for b in g.batchnorms)
            assert np.isclose(scores[g.name].sum(), total, rtol=1e-9), (criterion, g.name)
    top = channel_importance(model, groups, "bn_scale", reduce=lambda s: s.max(0))
    assert all(np.array_equal(top[g.name], np.max(
        [modules[b].weight.detach().abs().double().numpy() for b in g.batchnorms], axis=0))
        for g in groups)


def test_an_unknown_group_reduction_is_refused() -> None:
    model, shape = family_model("resnet", "per-tensor")
    with pytest.raises(PruneError, match=r"unknown group reduction 'median'; choose one of mean"):
        channel_importance(model, channel_groups(model, shape), "l1", reduce="median")


def test_a_residual_around_one_layer_prunes_its_inputs_and_outputs_alike() -> None:
    torch.manual_seed(0)
    model = ResidualNet().eval()
    removed, reference = _removal_and_reference(model, (1, 4, 4))
    assert list(removed) == ["fc1"] and removed["fc1"]  # spares: each member's largest row
    prune_channels(model, {"fc1": [c for c in range(8) if c not in removed["fc1"]]}, (1, 4, 4))
    assert model.fc2.weight.shape == (8 - len(removed["fc1"]),) * 2
    x = torch.rand(8, 1, 4, 4)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-6)
