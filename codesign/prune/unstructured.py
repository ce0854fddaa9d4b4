"""Unstructured magnitude pruning, kept as a control: it zeroes weights but leaves every layer's
shape, so FINN's dense matrix-vector units cost exactly as much as before. The flow report shows
its estimates next to the structured result to make that visible."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from codesign.errors import PruneError

if TYPE_CHECKING:
    from torch import nn


def magnitude_pruned_copy(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy of `model` whose weight layers each have the `sparsity` fraction of their
    smallest-magnitude float weights set to zero (zero stays zero after quantization)."""
    import torch
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantLinear

    if not 0.0 < sparsity < 1.0:
        raise PruneError(f"unstructured sparsity {sparsity} must lie strictly between 0 and 1")
    pruned = copy.deepcopy(model)
    with torch.no_grad():
        for module in pruned.modules():
            if isinstance(module, QuantConv1d | QuantConv2d | QuantLinear):
                weight = module.weight
                k = int(round(sparsity * weight.numel()))
                if k < 1:
                    continue
                # Exactly the k smallest magnitudes, ties broken by position (deterministic).
                order = weight.abs().flatten().argsort(stable=True)
                flat = weight.view(-1)
                flat[order[:k]] = 0.0
    return pruned
