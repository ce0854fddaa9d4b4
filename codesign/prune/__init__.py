"""Quantization-aware structured pruning whose kept channel counts suit the board's folding.

Mechanism (graph, surgery, importance, stats) is separate from policy (alignment, allocation,
schedule, budgets). In five lines::

    groups = channel_groups(model, input_shape)
    scores = channel_importance(model, groups, "l1")
    keep = keep_top(scores, {g.name: g.channels // 2 for g in groups})
    prune_channels(model, keep, input_shape)   # physically smaller; fine-tune, export, build

or let the hardware-aware schedule do it for a board: `prune_model(model, data, board,
PruneConfig(...), TrainConfig(...))`.

A group is every layer whose channels must stay one set (graph.py, spaces.py): a chain's
producer; all layers writing into one residual sum; a layer and the depthwise conv after it.
Importance is scored per member and reduced per group (`channel_importance(..., reduce=)`);
surgery cuts every member, follower and consumer, each shared quantizer once.
"""

from codesign.prune.graph import ChannelGroup, channel_groups, weight_layers
from codesign.prune.importance import CRITERIA, channel_importance
from codesign.prune.schedule import PruneResult, StepRecord, prune_model
from codesign.prune.stats import LayerCost, ModelCost, model_cost, weight_sparsity
from codesign.prune.surgery import channel_counts, keep_top, prune_channels, shrink_to_counts

__all__ = [
    "CRITERIA",
    "ChannelGroup",
    "LayerCost",
    "ModelCost",
    "PruneResult",
    "StepRecord",
    "channel_counts",
    "channel_groups",
    "channel_importance",
    "keep_top",
    "model_cost",
    "prune_channels",
    "prune_model",
    "shrink_to_counts",
    "weight_layers",
    "weight_sparsity",
]
