"""Channel surgery on every supported topology: shapes, quantizer state, exact equivalence with
silencing the removed channels, training, QONNX export, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.errors import PruneError
from codesign.export import check_export, export_qonnx
from codesign.models import build_model
from codesign.prune import channel_counts, channel_groups, keep_top, prune_channels, shrink_to_counts
from tests.prune.user_models import SHAPE, PerChannelNet

ZOO = {
    "tfc-w2a2": (("mlp", {"hidden": [24, 16, 12]}, 2, 2), (1, 12, 12)),
    "tfc-w1a1": (("mlp", {"hidden": [24, 16]}, 1, 1), (1, 12, 12)),
    "cnv-small-28": (("cnv", {"preset": "cnv-small"}, 2, 2), (1, 28, 28)),
    "cnv-small-rgb32": (("cnv", {"channels": [8, 8, 16, 16], "fc": [32]}, 2, 2), (3, 32, 32)),
}


def _zoo(case: str) -> tuple[torch.nn.Module, tuple[int, int, int]]:
    (arch, options, wbits, abits), shape = ZOO[case]
    torch.manual_seed(0)
    model = build_model(arch, input_shape=shape, num_classes=10, weight_bits=wbits,
                        act_bits=abits, **options)
    model.train()
    with torch.no_grad():  # settle BatchNorm statistics so activations are not all clipped
        for _ in range(3):
            model(torch.rand(32, *shape) * 255)
    return model.eval(), shape


def _removable(model: torch.nn.Module, group) -> list[int]:
    """Every other channel, sparing the one whose consumer column holds the largest weight
    (a per-tensor weight scale is max|w|: removing it would rescale the consumer)."""
    consumer = dict(model.named_modules())[group.consumer].weight.detach()
    columns = consumer.abs().flatten(2).amax((0, 2)) if consumer.dim() > 2 else \
        consumer.abs().amax(0).reshape(group.channels, -1).amax(1)
    spare = int(columns.argmax())
    return [c for c in range(1, group.channels, 2) if c != spare]


@pytest.mark.parametrize("case", list(ZOO))
def test_pruning_equals_silencing_the_removed_channels(case: str) -> None:
    model, shape = _zoo(case)
    groups = channel_groups(model, shape)
    removed = {g.name: _removable(model, g) for g in groups}
    modules = dict(model.named_modules())

    def silence(channels: list[int]):
        def hook(_m, _i, out):
            out = out.clone()
            out[:, channels] = 0
            return out
        return hook

    x = torch.rand(16, *shape) * 255
    hooks = [modules[g.followers[-1]].register_forward_hook(silence(removed[g.name]))
             for g in groups]
    with torch.no_grad():
        expected = model(x)
    for h in hooks:
        h.remove()
    keep = {g.name: [c for c in range(g.channels) if c not in removed[g.name]] for g in groups}
    prune_channels(model, keep, shape)
    with torch.no_grad():
        # Same values up to float summation order (a different matmul size).
        assert torch.allclose(model(x), expected, atol=1e-5)
    counts = channel_counts(model, shape)
    assert counts == {name: len(k) for name, k in keep.items()}
    for g in channel_groups(model, shape):
        producer, consumer = modules[g.name], modules[g.consumer]
        assert producer.weight.shape[0] == counts[g.name]
        assert consumer.weight.shape[1] == counts[g.name] * g.features_per_channel
        bn = modules[g.batchnorm]
        assert bn.num_features == bn.running_mean.numel() == counts[g.name]


@pytest.mark.parametrize("case", list(ZOO))
def test_pruned_model_trains_and_exports(case: str, tmp_path: Path) -> None:
    model, shape = _zoo(case)
    groups = channel_groups(model, shape)
    prune_channels(model, {g.name: range(0, g.channels, 3) for g in groups}, shape)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = model(torch.rand(8, *shape) * 255).square().mean()
    loss.backward()
    opt.step()
    model.eval()
    x = np.random.default_rng(0).integers(0, 256, (6, *shape)).astype(np.uint8)
    check = check_export(model, export_qonnx(model, shape, tmp_path / "m.onnx"), x)
    assert check.passed, check


def test_user_model_with_per_channel_quantizers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PerChannelNet()
    model.train()
    model(torch.rand(8, *SHAPE) * 255)
    model.eval()
    groups = {g.name: g for g in channel_groups(model, SHAPE)}
    assert groups["conv2"].features_per_channel == 4 and groups["conv2"].consumer == "fc1"
    prune_channels(model, {"conv1": [0, 2, 4], "conv2": [1, 3, 5], "fc1": [0, 1, 2, 5, 7]}, SHAPE)
    assert channel_counts(model, SHAPE) == {"conv1": 3, "conv2": 3, "fc1": 5}
    assert model.conv1.bias.shape == (3,) and model.fc1.bias.shape == (5,)
    assert model.conv1.quant_weight().scale.shape[0] == 3  # per-channel weight scale follows
    act_scale = model.act3.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value
    assert act_scale.shape == (1, 5)
    model.train()
    model(torch.rand(8, *SHAPE) * 255).sum().backward()
    model.eval()
    x = np.random.default_rng(1).integers(0, 256, (4, *SHAPE)).astype(np.uint8)
    assert check_export(model, export_qonnx(model, SHAPE, tmp_path / "u.onnx"), x).passed


def test_shrink_to_counts_loads_a_pruned_checkpoint() -> None:
    model, shape = _zoo("cnv-small-28")
    prune_channels(model, {"conv_features.0": [1, 5, 9], "fc_features.0": range(40)}, shape)
    fresh = build_model("cnv", input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                        preset="cnv-small")
    shrink_to_counts(fresh, channel_counts(model, shape), shape)
    fresh.load_state_dict(model.state_dict())
    x = torch.rand(4, *shape) * 255
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), model(x))


@pytest.mark.parametrize(("keep", "match"), [
    ({"features.0": []}, "zero"),
    ({"features.0": [0, 99]}, "cannot keep index 99"),
    ({"classifier": [0]}, "not a prunable layer"),
    ({"nope": [0]}, "not a prunable layer"),
])
def test_bad_keep_requests(keep: dict, match: str) -> None:
    model, shape = _zoo("tfc-w2a2")
    with pytest.raises(PruneError, match=match):
        prune_channels(model, keep, shape)


def test_keep_top_is_deterministic_and_refuses_zero() -> None:
    scores = {"a": np.array([0.5, 0.1, 0.5, 0.9])}
    assert keep_top(scores, {"a": 2}) == {"a": [0, 3]}  # tie 0 vs 2: lower index wins
    with pytest.raises(PruneError, match="zero"):
        keep_top(scores, {"a": 0})
    with pytest.raises(PruneError, match="cannot keep 5"):
        keep_top(scores, {"a": 5})
