"""Unstructured magnitude pruning keeps shapes and zeroes exactly the smallest weights."""

from __future__ import annotations

import pytest

from codesign.errors import PruneError
from codesign.models import build_model
from codesign.prune.unstructured import magnitude_pruned_copy


@pytest.mark.parametrize("sparsity", [0.25, 0.5, 0.9])
def test_zeroes_the_smallest_weights_of_every_layer_and_keeps_shapes(sparsity: float) -> None:
    from brevitas.nn import QuantLinear

    model = build_model("mlp", input_shape=(1, 8, 8), num_classes=4, weight_bits=2, act_bits=2,
                        hidden=[16, 8])
    pruned = magnitude_pruned_copy(model, sparsity)
    layers = [(a, b) for a, b in zip(model.modules(), pruned.modules(), strict=True)
              if isinstance(a, QuantLinear)]
    assert len(layers) == 3
    for original, cut in layers:
        assert cut.weight.shape == original.weight.shape
        zero = cut.weight == 0
        k = round(sparsity * original.weight.numel())
        assert int(zero.sum()) == k
        # every zeroed weight is no larger in magnitude than every kept one
        assert original.weight.abs()[zero].max() <= original.weight.abs()[~zero].min()
        assert bool((cut.weight[~zero] == original.weight[~zero]).all())
    assert bool((next(model.modules()).features[0].weight != 0).all())  # original untouched


@pytest.mark.parametrize("sparsity", [0.0, 1.0, -0.1, 2.0])
def test_bad_sparsity_is_rejected(sparsity: float) -> None:
    model = build_model("mlp", input_shape=(1, 4, 4), num_classes=2, weight_bits=2, act_bits=2,
                        hidden=[4])
    with pytest.raises(PruneError, match="between 0 and 1"):
        magnitude_pruned_copy(model, sparsity)
