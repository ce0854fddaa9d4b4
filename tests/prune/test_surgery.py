"""Channel surgery on every supported topology: shapes, quantizer state, exact equivalence with
zeroing the removed channels' consumer inputs, training, QONNX export, checkpoints, bad inputs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from codesign.errors import PruneError
from codesign.export import check_export, export_qonnx
from codesign.models import build_model
from codesign.prune import channel_counts, channel_groups, keep_top, prune_channels, shrink_to_counts
from tests.prune.user_models import SHAPE, AvgPoolNet, PerChannelNet, QuantBiasNet

ZOO = {
    "tfc-w1a1": ("mlp", {"preset": "tfc"}, 1, (1, 28, 28)),
    "tfc-w2a2": ("mlp", {"preset": "tfc"}, 2, (1, 28, 28)),
    "cnv-small-28": ("cnv", {"preset": "cnv-small"}, 2, (1, 28, 28)),
    "cnv-small-rgb32": ("cnv", {"preset": "cnv-small"}, 2, (3, 32, 32)),
}
USER: dict[str, Callable[[], nn.Module]] = {"per-channel": PerChannelNet,
                                            "quant-bias": QuantBiasNet, "avg-pool": AvgPoolNet}
CASES = list(ZOO) + list(USER)


def _build(case: str) -> tuple[nn.Module, tuple[int, int, int]]:
    torch.manual_seed(0)
    if case in ZOO:
        arch, options, bits, shape = ZOO[case]
        model = build_model(arch, input_shape=shape, num_classes=10, weight_bits=bits,
                            act_bits=bits, **options)
    else:
        model, shape = USER[case](), SHAPE
    return model, shape


def _settled(case: str) -> tuple[nn.Module, tuple[int, int, int]]:
    """A model whose BatchNorm statistics and runtime activation scales have seen data."""
    model, shape = _build(case)
    model.train()
    batchnorms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    for bn in batchnorms:
        bn.momentum = None  # exact averages of the batches seen, so activations are centred
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(32, *shape) * 255)
    for bn in batchnorms:
        bn.momentum = 0.1
    return model.eval(), shape


def _consumer_inputs(group, channels: list[int]) -> list[int]:
    per = group.features_per_channel
    return [c * per + k for c in channels for k in range(per)]


def _zero_inputs(features: list[int]) -> Callable:
    def hook(_module: nn.Module, args: tuple) -> tuple | None:
        if not isinstance(args[0], torch.Tensor):  # a QuantTensor: the zeroed weights suffice
            return None
        x = args[0].clone()
        x[:, features] = 0.0
        return (x,)
    return hook


def _removal_and_reference(model: nn.Module, shape: tuple) -> tuple[dict, nn.Module]:
    """Channels to remove per group and a copy of the model in which those channels' consumer
    weights and inputs are zeroed instead (inputs too: a zero bipolar weight quantizes to +-1).
    Weight scales from max|w| come out equal in both: zeroed columns never hold the max, and
    each producer keeps the row holding its max."""
    reference = copy.deepcopy(model)
    modules = dict(reference.named_modules())
    removed = {}
    with torch.no_grad():
        for group in channel_groups(model, shape):
            weight = modules[group.name].weight
            spare = int(weight.abs().flatten(1).amax(1).argmax())
            removed[group.name] = [c for c in range(1, group.channels, 2) if c != spare]
            consumer = modules[group.consumer]
            inputs = _consumer_inputs(group, removed[group.name])
            consumer.weight[:, inputs] = 0.0
            consumer.register_forward_pre_hook(_zero_inputs(
                removed[group.name] if group.consumer_kind == "conv" else inputs))
    return removed, reference


@pytest.mark.parametrize("case", CASES)
def test_pruning_equals_zeroing_the_removed_channels_inputs(case: str) -> None:
    model, shape = _settled(case)
    removed, reference = _removal_and_reference(model, shape)
    keep = {g.name: [c for c in range(g.channels) if c not in removed[g.name]]
            for g in channel_groups(model, shape)}
    prune_channels(model, keep, shape)
    x = torch.rand(16, *shape) * 255
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0
    # Same values up to float summation order (smaller matmuls).
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)
    counts = channel_counts(model, shape)
    assert counts == {name: len(k) for name, k in keep.items()}
    modules = dict(model.named_modules())
    for g in channel_groups(model, shape):
        producer, consumer = modules[g.name], modules[g.consumer]
        assert producer.weight.shape[0] == counts[g.name]
        assert getattr(producer, "out_features", getattr(producer, "out_channels", None)) == \
            counts[g.name]
        assert consumer.weight.shape[1] == counts[g.name] * g.features_per_channel
        assert getattr(consumer, "in_features", getattr(consumer, "in_channels", None)) == \
            consumer.weight.shape[1]
        assert producer.quant_weight().value.shape == producer.weight.shape
        if producer.bias is not None:
            assert producer.bias.shape == (counts[g.name],)
        if g.batchnorm:
            bn = modules[g.batchnorm]
            assert bn.num_features == bn.running_mean.numel() == bn.weight.numel() == \
                counts[g.name]


def _scale(module: nn.Module) -> torch.Tensor:
    return module.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value


@pytest.mark.parametrize("case", list(USER))
def test_per_channel_quantizer_state_follows_the_channels(case: str) -> None:
    model, shape = _settled(case)
    weight_scale = model.conv1.quant_weight().scale.detach().flatten().clone()
    conv2_per_channel = model.conv2.quant_weight().scale.numel() > 1
    act1, act3 = _scale(model.act1).detach().clone(), _scale(model.act3).detach().clone()
    keep = {"conv1": [0, 2, 4], "conv2": [1, 3, 5], "fc1": [0, 1, 2, 5, 7]}
    prune_channels(model, keep, shape)
    assert torch.equal(model.conv1.quant_weight().scale.flatten(), weight_scale[keep["conv1"]])
    assert model.conv2.quant_weight().scale.shape == ((3, 1, 1, 1) if conv2_per_channel else ())
    assert torch.equal(_scale(model.act3), act3[:, keep["fc1"]])
    if act1.numel() > 1:  # learned per-channel act scale on a conv (1, C, 1, 1)
        assert torch.equal(_scale(model.act1), act1[:, keep["conv1"]])
    assert model.conv1.bias.shape == (3,) and model.fc1.bias.shape == (5,)
    scaling = model.act3.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl
    if hasattr(scaling, "stats"):  # runtime-statistics scaling (not a learned PARAMETER only)
        assert scaling.stats.stats_output_shape == (1, 5)
    # The injector the proxies rebuild from on a state-dict load agrees with the sliced state.
    assert model.act3.act_quant.quant_injector.per_channel_broadcastable_shape == (1, 5)
    x = torch.rand(4, *shape) * 255
    with torch.no_grad():
        before = model(x)
        model.load_state_dict(copy.deepcopy(model.state_dict()))
        assert torch.equal(model(x), before)


@pytest.mark.parametrize("case", [  # QONNX export + execution of a CNV takes 4-7 s
    pytest.param(c, marks=pytest.mark.slow) if c.startswith("cnv") else c for c in CASES])
def test_pruned_model_trains_and_exports(case: str, tmp_path: Path) -> None:
    model, shape = _settled(case)
    model.train()
    alive = model(torch.rand(4, *shape) * 255)  # a graph from before the surgery stays alive
    alive.sum().backward()
    prune_channels(model, {g.name: range(0, g.channels, 3) for g in channel_groups(model, shape)},
                   shape)
    assert all(p.grad is None or p.grad.shape == p.shape for p in model.parameters())
    assert model.get_submodule(channel_groups(model, shape)[0].name).weight.grad is None
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.rand(8, *shape) * 255),
                                           torch.arange(8) % 4)
        loss.backward()
        optimizer.step()
    assert all(p.grad is None or p.grad.shape == p.shape for p in model.parameters())
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert any(n.endswith("weight") for n in changed)
    assert torch.isfinite(loss)
    model.eval()
    x = np.random.default_rng(0).integers(0, 256, (4, *shape)).astype(np.uint8)
    check = check_export(model, export_qonnx(model, shape, tmp_path / "m.onnx"), x)
    assert check.passed, check


@pytest.mark.parametrize("case", ["cnv-small-28", "quant-bias"])
def test_shrink_to_counts_loads_a_pruned_checkpoint(case: str) -> None:
    model, shape = _settled(case)
    groups = channel_groups(model, shape)
    prune_channels(model, {groups[0].name: [1, 5, 7], groups[-1].name: range(3)}, shape)
    fresh, _ = _build(case)
    shrink_to_counts(fresh, channel_counts(model, shape), shape)
    assert channel_counts(fresh, shape) == channel_counts(model, shape)
    fresh.load_state_dict(model.state_dict())
    x = torch.rand(4, *shape) * 255
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), model(x))


@pytest.mark.parametrize(("keep", "match"), [
    ({"features.0": []}, "to zero channels"),
    ({"features.0": [0, 64]}, "cannot keep index 64"),
    ({"features.0": [-1, 3]}, "cannot keep index -1"),
    ({"features.0": ["a"]}, "must be integer indices"),
    ({"classifier": [0]}, "not a prunable layer"),
    ({"nope": [0]}, "nope: not a prunable layer"),
])
def test_bad_keep_requests_leave_the_model_untouched(keep: dict, match: str) -> None:
    model, shape = _build("tfc-w2a2")
    state = copy.deepcopy(model.state_dict())
    with pytest.raises(PruneError, match=match):
        prune_channels(model, {"features.3": [0, 1], **keep}, shape)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_keep_top_is_deterministic_and_refuses_bad_counts() -> None:
    scores = {"a": np.array([0.5, 0.1, 0.5, 0.9])}
    assert keep_top(scores, {"a": 2}) == {"a": [0, 3]}  # tie 0 vs 2: lower index wins
    assert keep_top(scores, {"a": 3}) == {"a": [0, 2, 3]}
    with pytest.raises(PruneError, match="zero"):
        keep_top(scores, {"a": 0})
    with pytest.raises(PruneError, match="cannot keep 5"):
        keep_top(scores, {"a": 5})
    with pytest.raises(PruneError, match="no importance scores for layer b"):
        keep_top(scores, {"b": 1})
