"""Channel dependency discovery on the zoo and user models, and refusal of what it cannot follow."""

from __future__ import annotations

import pytest

from codesign.errors import PruneError
from codesign.models import build_model
from codesign.prune import channel_groups, weight_layers
from tests.prune.user_models import GroupedNet, ResidualNet, SigmoidNet


def test_tfc_groups_chain_through_batchnorm_and_activation() -> None:
    model = build_model("mlp", input_shape=(1, 28, 28), num_classes=10, weight_bits=2,
                        act_bits=2)
    groups = channel_groups(model, (1, 28, 28))
    assert [g.name for g in groups] == ["features.0", "features.3", "features.6"]
    assert [g.consumer for g in groups] == ["features.3", "features.6", "classifier"]
    assert all(g.channels == 64 and g.features_per_channel == 1 and g.kind == "linear"
               for g in groups)
    assert groups[0].followers == ("features.1", "features.2")
    assert groups[0].batchnorm == "features.1"
    assert weight_layers(model, (1, 28, 28)) == ("features.0", "features.3", "features.6",
                                                 "classifier")


@pytest.mark.parametrize(("shape", "flat"), [((1, 28, 28), 8 * 8), ((3, 32, 32), 10 * 10)])
def test_cnv_flatten_maps_each_channel_to_its_pixels(shape: tuple, flat: int) -> None:
    model = build_model("cnv", input_shape=shape, num_classes=10, weight_bits=2, act_bits=2,
                        preset="cnv-small")
    groups = {g.name: g for g in channel_groups(model, shape)}
    last_conv = groups["conv_features.10"]
    assert last_conv.consumer == "fc_features.0" and last_conv.consumer_kind == "linear"
    assert last_conv.features_per_channel == flat
    assert "conv_features.6" in groups["conv_features.3"].followers  # the max-pool
    assert "classifier" not in groups


@pytest.mark.parametrize(("model", "shape", "match"), [
    (ResidualNet(), (1, 4, 4), "used by 2 operations"),
    (GroupedNet(), (4, 6, 6), "grouped/depthwise"),
    (SigmoidNet(), (1, 4, 4), r"layer sig \(Sigmoid\)"),
])
def test_unsupported_structures_name_the_layer(model, shape: tuple, match: str) -> None:
    with pytest.raises(PruneError, match=match):
        channel_groups(model, shape)
