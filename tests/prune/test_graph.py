"""Channel dependency discovery on the zoo and user models, and refusal of what it cannot follow."""

from __future__ import annotations

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

from codesign.errors import PruneError
from codesign.models import build_model
from codesign.prune import channel_groups, weight_layers
from tests.prune.user_models import (
    SHAPE,
    WRITTEN,
    AvgPoolNet,
    ConcatNet,
    GroupedNet,
    PerChannelNet,
    PreprocessedNet,
    QuantBiasNet,
    ResidualNet,
    SharedActNet,
    SharedNet,
    SigmoidNet,
    WrittenNet,
    _ThreeLinears,
)


@pytest.mark.parametrize("bits", [1, 2])
def test_tfc_groups_chain_through_batchnorm_and_activation(bits: int) -> None:
    model = build_model("mlp", input_shape=(1, 28, 28), num_classes=10, weight_bits=bits,
                        act_bits=bits, preset="tfc")
    groups = channel_groups(model, (1, 28, 28))
    assert [g.name for g in groups] == ["features.0", "features.3", "features.6"]
    assert [g.consumer for g in groups] == ["features.3", "features.6", "classifier"]
    assert all(g.channels == 64 and g.features_per_channel == 1 and g.kind == "linear"
               and g.consumer_kind == "linear" for g in groups)
    assert groups[0].followers == ("features.1", "features.2")
    assert groups[0].batchnorm == "features.1"
    assert weight_layers(model, (1, 28, 28)) == ("features.0", "features.3", "features.6",
                                                 "classifier")


@pytest.mark.parametrize(("shape", "flat"), [((1, 28, 28), 8 * 8), ((3, 32, 32), 10 * 10)])
def test_cnv_flatten_maps_each_channel_to_its_pixels(shape: tuple, flat: int) -> None:
    model = build_model("cnv", input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                        preset="cnv-small")
    groups = {g.name: g for g in channel_groups(model, shape)}
    assert list(groups) == ["conv_features.0", "conv_features.3", "conv_features.7",
                            "conv_features.10", "fc_features.0"]
    last_conv = groups["conv_features.10"]
    assert last_conv.consumer == "fc_features.0" and last_conv.consumer_kind == "linear"
    assert last_conv.kind == "conv" and last_conv.features_per_channel == flat
    assert groups["conv_features.3"].followers == ("conv_features.4", "conv_features.5",
                                                   "conv_features.6")  # BN, act, max-pool
    assert groups["conv_features.0"].features_per_channel == 1
    assert groups["fc_features.0"].consumer == "classifier"


@pytest.mark.parametrize(("model", "expected"), [
    (PerChannelNet(), {"conv1": ("bn1", "act1", "pool"), "conv2": ("act2", "drop"),
                       "fc1": ("act3",)}),
    (QuantBiasNet(), {"conv1": ("bn1", "act1", "pool"), "conv2": ("act2", "drop"),
                      "fc1": ("act3",)}),
    (AvgPoolNet(), {"conv1": ("bn1", "act1", "pool"), "conv2": ("act2", "drop"),
                    "fc1": ("act3",)}),
])
def test_user_models_through_flatten_view_and_dropout(model, expected: dict) -> None:
    groups = {g.name: g for g in channel_groups(model, SHAPE)}
    assert {name: g.followers for name, g in groups.items()} == expected
    assert groups["conv2"].consumer == "fc1" and groups["conv2"].features_per_channel == 4
    assert groups["conv1"].batchnorm == "bn1" and groups["conv2"].batchnorm is None


@pytest.mark.parametrize(("model", "shape", "match"), [
    (ConcatNet(), (1, 4, 4), r"^operation 'cat' \(node cat\) concatenates channels \(layer a "
     r"\(QuantLinear\), layer b \(QuantLinear\)\); .*cannot split a channel concat"),
    (GroupedNet(), (4, 6, 6), r"layer conv1 is a grouped convolution \(groups=2, not depthwise\)"),
    (SigmoidNet(), (1, 4, 4), r"layer sig \(Sigmoid\).*supported between weight layers"),
    (SharedNet(), (1, 4, 4), r"layer fc2 is called more than once"),
    (SharedActNet(per_channel=True), (1, 4, 4),
     r"layer act \(QuantReLU\) is called 2 times.*per-channel state.*channels of fc1"),
])
def test_unsupported_structures_name_the_layer(model, shape: tuple, match: str) -> None:
    with pytest.raises(PruneError, match=match) as info:
        channel_groups(model, shape)
    assert "\n" not in str(info.value)  # one line, for the CLI


@pytest.mark.parametrize("write", sorted(WRITTEN))
def test_scalar_arithmetic_and_sums_are_followed_however_written(write: str) -> None:
    """Scaling the input (x / 255.0 and the like), scaling a tensor, and a residual sum written
    with operators, torch functions, tensor methods or in place all keep their channels."""
    groups = channel_groups(WrittenNet(WRITTEN[write]), (1, 4, 4))
    assert [(g.producers, g.followers, g.consumers) for g in groups] == [
        (("fc1", "fc2"), ("act",), ("fc2", "fc3"))]


def test_a_product_of_two_channel_paths_is_refused() -> None:
    model = WrittenNet(lambda x, fc1, act, fc2: (lambda h: h * fc2(h))(act(fc1(x))))
    with pytest.raises(PruneError, match=r"operation 'mul' \(node mul\) sits on the channel path"):
        channel_groups(model, (1, 4, 4))


def test_preprocessing_before_the_first_weight_layer_is_followed() -> None:
    """The model's input channels are never cut, so whatever happens to the input before the
    first weight layer (here BNN-PYNQ's x.view(x.shape[0], -1) and 2 * x - torch.tensor([1.0],
    device=x.device)) keeps to its space; the same tensor constant after fc1 could be per
    channel and is refused."""
    groups = channel_groups(PreprocessedNet(), (1, 4, 4))
    assert [(g.name, g.consumer) for g in groups] == [("fc1", "fc2"), ("fc2", "fc3")]
    with pytest.raises(PruneError, match=r"operation 'sub' \(node sub\) sits on the channel path"):
        channel_groups(PreprocessedNet(after_fc1=True), (1, 4, 4))


@pytest.mark.parametrize(("name", "hidden"), [("tfc_2w2a", 64), ("sfc_1w2a", 256)])
def test_brevitas_examples_bnn_pynq_mlps_are_grouped(name: str, hidden: int) -> None:
    """Brevitas's own BNN-PYNQ MLPs (brevitas_examples, untrained) as a user would bring them."""
    models = pytest.importorskip("brevitas_examples.bnn_pynq.models")
    groups = channel_groups(getattr(models, name)(pretrained=False), (1, 28, 28))
    assert [g.channels for g in groups] == [hidden] * 3
    assert all(g.kind == "linear" and g.batchnorm is not None for g in groups)


def test_a_shared_per_tensor_activation_is_followed() -> None:
    # Per-tensor quantizer state has nothing to cut, so sharing the module is harmless.
    groups = channel_groups(SharedActNet(per_channel=False), (1, 4, 4))
    assert [(g.name, g.followers, g.consumer) for g in groups] == [
        ("fc1", ("act",), "fc2"), ("fc2", ("act",), "fc3")]


def test_a_residual_around_a_layer_couples_its_input_and_output() -> None:
    # h + fc2(h): fc2 reads and writes the same channel set, so both sides are cut together
    groups = channel_groups(ResidualNet(), (1, 4, 4))
    assert [(g.producers, g.followers, g.consumers) for g in groups] == [
        (("fc1", "fc2"), ("act",), ("fc2", "fc3"))]


class _OutputBranchNet(_ThreeLinears):
    """fc1's activations are also returned: a second model output that is not the classifier."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.act(self.fc1(x.flatten(1)))
        return self.fc3(self.act(self.fc2(h))), h


class _DeadBranchNet(_ThreeLinears):
    """fc2 is computed and thrown away: its channels reach nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x.flatten(1)))
        self.fc2(h)
        return self.fc3(h)


class _BroadcastAddNet(_ThreeLinears):
    """fc1 (8 channels) plus a 1-channel layer: a broadcast sum of different channel counts."""

    def __init__(self) -> None:
        super().__init__()
        self.one = QuantLinear(16, 1, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return self.fc3(self.act(self.fc1(x) + self.one(x)))


class _FlatAddNet(nn.Module):
    """A conv's flattened output (2 channels x 2 x 2) added to a linear layer's 8 features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = QuantConv2d(1, 2, 3, bias=False, weight_bit_width=2)
        self.fc1 = QuantLinear(16, 8, bias=False, weight_bit_width=2)
        self.fc2 = QuantLinear(8, 3, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.conv(x).flatten(1) + self.fc1(x.flatten(1)))


class _BranchingNet(_ThreeLinears):
    """Data-dependent control flow: no static graph to find channel dependencies in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x.flatten(1)))
        if h.sum() > 0:
            h = self.fc2(h)
        return self.fc3(h)


@pytest.mark.parametrize(("model", "match"), [
    (_OutputBranchNet(), r"^layer fc1 feeds the model output but is not the last weight layer"),
    (_DeadBranchNet(), r"^the output of layer fc2 reaches no weight layer and not the model "
                       r"output; remove the unused branch$"),
    (_BroadcastAddNet(), r"^layers fc1, one write into one residual sum with different channel "
                         r"counts \[1, 8\] \(a broadcast add\).*give them the same number of output "
                         r"channels$"),
    (_FlatAddNet(), r"^operation 'add' \(node add\) adds a flattened tensor to an unflattened "
                    r"one"),
    (_BranchingNet(), r"^cannot trace _BranchingNet .*data-dependent Python control flow$"),
])
def test_groups_that_cannot_be_pruned_are_refused_naming_their_layers(model, match: str) -> None:
    with pytest.raises(PruneError, match=match) as info:
        channel_groups(model, (1, 4, 4))
    assert "\n" not in str(info.value)
