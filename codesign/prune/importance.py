"""Channel importance criteria: one score per output channel of each group, higher = keep.

- l1 / l2: norm of the channel's *quantized* weights (what the hardware would compute with);
- group_l2: sum of squares of every quantized weight the channel touches, in each member of its
  group: the rows that write it (producers, depthwise convs), the columns that read it (every
  consumer's inputs; after a flatten, its H*W inputs) and the BatchNorm scales that carry it.
  A channel nobody reads scores by its producers alone, however large their rows. Close to the
  group-wide magnitude Torch-Pruning ranks by (its MagnitudeImportance, p = 2), taken under
  quantization; TP leaves out depthwise kernels and reads one column per channel after a
  flatten, and on DS-CNN it ranks a little better (docs/pruning-measurements.md);
- group_l2_skip_depthwise: group_l2 without the depthwise kernels' rows (the producers' rows,
  the consumers' columns and the BatchNorm scales), as Torch-Pruning's magnitude score leaves
  them out; on a group without depthwise convolutions it is group_l2. On DS-CNN it ranks no
  better than group_l2 (8 seeds, two fine-tunes each; docs/pruning-measurements.md);
- bn_scale: |gamma| of the BatchNorm that follows (Network Slimming's signal);
- taylor: first-order Taylor estimate of the loss change when the channel is removed,
  |mean over the batch of sum over positions of activation * gradient|, taken at the BatchNorm
  output (the value the channel contributes) with every quantizer active, averaged over seeded
  minibatches of training data (Molchanov et al.'s criterion, computed under quantization).

A coupled group (a residual sum's producers, a producer and the depthwise conv that follows it)
is scored per member, i.e. per producer / depthwise weight, BatchNorm or Taylor tap, and the
members' scores are reduced to one per channel by `reduce` ("mean", as Torch-Pruning does by
default, "sum", "max", or any callable taking the (members, channels) array). A group of one
member scores exactly as that layer alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.config import PRUNE_CRITERIA as CRITERIA  # one list, validated with the flow schema
from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup

if TYPE_CHECKING:
    import torch
    from torch import nn

Reduce = str | Callable[[np.ndarray], np.ndarray]
REDUCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda s: s.mean(0), "sum": lambda s: s.sum(0), "max": lambda s: s.max(0)}


def reduce_members(group: ChannelGroup, scores: Sequence[np.ndarray], reduce: Reduce = "mean"
                   ) -> np.ndarray:
    """One score per channel of `group` from its members' scores (the aggregation hook)."""
    if isinstance(reduce, str):
        if reduce not in REDUCTIONS:
            raise PruneError(f"unknown group reduction {reduce!r}; choose one of "
                             f"{', '.join(REDUCTIONS)} or pass a function")
        reduce = REDUCTIONS[reduce]
    stacked = np.stack([np.asarray(s, dtype=np.float64) for s in scores])
    if stacked.shape[1:] != (group.channels,):
        raise PruneError(f"member scores of group {group.name} have shape {stacked.shape[1:]}, "
                         f"not one per channel ({group.channels},)")
    if len(stacked) == 1:
        return stacked[0]
    out = np.asarray(reduce(stacked), dtype=np.float64)
    if out.shape != (group.channels,):
        raise PruneError(f"the group reduction returned shape {out.shape} for group "
                         f"{group.name}; it must return one score per channel")
    return out


def _weight_norms(model: nn.Module, groups: Sequence[ChannelGroup], order: int, reduce: Reduce
                  ) -> dict[str, np.ndarray]:
    import torch

    modules = dict(model.named_modules())
    scores = {}
    with torch.no_grad():
        for g in groups:
            weights = [_quantized(modules[m]) for m in g.members]
            scores[g.name] = reduce_members(
                g, [w.flatten(1).norm(p=order, dim=1).numpy() for w in weights], reduce)
    return scores


def _quantized(layer: nn.Module) -> torch.Tensor:
    return layer.quant_weight().value.detach().double()


def _input_columns(weight: torch.Tensor, channels: int, criterion: str) -> torch.Tensor:
    """(channels, rest): a consumer's weights grouped by the input channel they read; a flatten
    of (C, H, W) is channel-major, so channel c owns a linear layer's inputs c*H*W .. on."""
    if weight.shape[1] % channels:
        raise PruneError(f"criterion {criterion} cannot split a consumer weight of shape "
                         f"{tuple(weight.shape)} into {channels} input channels (a grouped "
                         "convolution reads them); use criterion l2 or taylor")
    return weight.reshape(weight.shape[0], channels, -1).transpose(0, 1).flatten(1)


def _group_l2(model: nn.Module, groups: Sequence[ChannelGroup], reduce: Reduce, criterion: str
              ) -> dict[str, np.ndarray]:
    import torch

    modules = dict(model.named_modules())
    scores = {}
    with torch.no_grad():
        for g in groups:
            writers = g.producers if criterion == "group_l2_skip_depthwise" else g.members
            rows = [_quantized(modules[m]).flatten(1) for m in writers]
            columns = [_input_columns(_quantized(modules[c]), g.channels, criterion)
                       for c in g.consumers]
            scales = [modules[b].weight.detach().double()[:, None] for b in g.batchnorms
                      if modules[b].weight is not None]
            scores[g.name] = reduce_members(
                g, [t.pow(2).sum(1).numpy() for t in rows + columns + scales], reduce)
    return scores


def _bn_scales(model: nn.Module, groups: Sequence[ChannelGroup], reduce: Reduce
               ) -> dict[str, np.ndarray]:
    modules = dict(model.named_modules())
    scores = {}
    for g in groups:
        bns = [modules[b] for b in g.batchnorms if modules[b].weight is not None]
        if not bns:
            raise PruneError(f"criterion bn_scale needs a BatchNorm with a scale after layer "
                             f"{g.name}; it has none. Use criterion l1, l2 or taylor")
        scores[g.name] = reduce_members(
            g, [bn.weight.detach().abs().double().numpy() for bn in bns], reduce)
    return scores


def _check_data(data: Any, batches: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    if data is None:
        raise PruneError("criterion taylor needs training data (x, y) to compute gradients; "
                         "pass data=(x_train, y_train) or use criterion l1, l2 or bn_scale")
    x_all, y_all = np.asarray(data[0]), np.asarray(data[1])
    if len(x_all) == 0 or len(x_all) != len(y_all):
        raise PruneError(f"criterion taylor needs as many labels as samples (and at least one); "
                         f"got {len(x_all)} samples and {len(y_all)} labels")
    if batches < 1 or batch_size < 1:
        raise PruneError(f"criterion taylor needs batches >= 1 and batch_size >= 1, got "
                         f"batches={batches}, batch_size={batch_size}")
    return x_all, y_all


def _taylor(model: nn.Module, groups: Sequence[ChannelGroup], data: Any, batches: int,
            batch_size: int, seed: int, reduce: Reduce) -> dict[str, np.ndarray]:
    import torch

    x_all, y_all = _check_data(data, batches, batch_size)
    modules = dict(model.named_modules())
    # a tap per member: each BatchNorm output (the value a channel contributes), else producers
    taps = {tap: g for g in groups for tap in (g.batchnorms or g.producers)}
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, out: Any) -> None:
            # A layer with return_quant_tensor=True hands on a QuantTensor; its value is what
            # the rest of the graph computes with.
            value = out if isinstance(out, torch.Tensor) else out.value
            value.retain_grad()
            outputs[name] = value
        return hook

    totals = {tap: torch.zeros(g.channels, dtype=torch.float64) for tap, g in taps.items()}
    generator = torch.Generator().manual_seed(seed)
    modes = {m: m.training for m in model.modules()}
    saved_grads = {p: p.grad for p in model.parameters()}
    hooks = [modules[tap].register_forward_hook(keep(tap)) for tap in taps]
    model.eval()  # BatchNorm statistics and quantizer state stay as trained
    try:
        for _ in range(batches):
            idx = torch.randperm(len(x_all), generator=generator)[:batch_size].numpy()
            xb = torch.from_numpy(np.asarray(x_all[idx], dtype=np.float32))
            yb = torch.from_numpy(np.asarray(y_all[idx], dtype=np.int64))
            model.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            for name, out in outputs.items():
                contribution = (out * out.grad).detach().double()
                per_sample = contribution.flatten(2).sum(2) if contribution.dim() > 2 \
                    else contribution
                totals[name] += per_sample.mean(0).abs()
            outputs.clear()
    finally:
        for hook in hooks:
            hook.remove()
        for module, training in modes.items():
            module.training = training
        for param, grad in saved_grads.items():
            param.grad = grad
    return {g.name: reduce_members(g, [(totals[t] / batches).numpy() for t in taps
                                       if taps[t] is g], reduce) for g in groups}


def channel_importance(model: nn.Module, groups: Sequence[ChannelGroup], criterion: str,
                       data: Any = None, *, batches: int = 8, batch_size: int = 64,
                       seed: int = 0, reduce: Reduce = "mean") -> dict[str, np.ndarray]:
    """Scores per channel of every group; `data` = (x, y) arrays for taylor; `reduce` turns a
    coupled group's member scores into one per channel."""
    names = {name for name, _ in model.named_modules()}
    missing = [g.name for g in groups if g.name not in names]
    if missing:
        raise PruneError(f"groups {', '.join(missing)} are not layers of this model; compute "
                         "them with channel_groups(model, input_shape) on the model you score")
    if criterion == "l1":
        return _weight_norms(model, groups, 1, reduce)
    if criterion == "l2":
        return _weight_norms(model, groups, 2, reduce)
    if criterion in ("group_l2", "group_l2_skip_depthwise"):
        return _group_l2(model, groups, reduce, criterion)
    if criterion == "bn_scale":
        return _bn_scales(model, groups, reduce)
    if criterion == "taylor":
        return _taylor(model, groups, data, batches, batch_size, seed, reduce)
    raise PruneError(f"unknown pruning criterion {criterion!r}; choose one of "
                     f"{', '.join(CRITERIA)}")
