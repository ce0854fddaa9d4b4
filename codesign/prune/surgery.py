"""Channel surgery: physically remove output channels of a producer and everything that carries
them (BatchNorm entries, per-channel quantizer state, the consumer's input channels).

Tensors are resized in place (`param.data = ...`) rather than replaced: Brevitas quantizers keep
references to their layer's weight (`tracked_parameter_list`) and compute scales from them, so
the Parameter objects must stay the same objects. Per-channel quantizer state is any parameter
or buffer of a quantizer with exactly one non-singleton dimension of the old channel count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup, channel_groups

if TYPE_CHECKING:
    import torch
    from torch import nn

QUANTIZER_ATTRS = ("weight_quant", "bias_quant", "act_quant", "input_quant", "output_quant")


def _resize(tensor: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    return tensor.index_select(dim, index).clone()


def _per_channel_shape(value: object, old: int) -> bool:
    if not isinstance(value, tuple | list) or not value:
        return False
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return False
    big = [v for v in value if v != 1]
    return len(big) == 1 and big[0] == old


def _slice_per_channel_state(module: nn.Module, old: int, index: torch.Tensor) -> None:
    """Slice every parameter/buffer whose only non-singleton dimension has `old` entries, and
    rewrite the shape tuples Brevitas stores for them (e.g. stats_output_shape (C, 1, 1, 1))."""
    for sub in module.modules():
        for name, value in list(vars(sub).items()):
            if not name.startswith("_") and _per_channel_shape(value, old):
                shape = [len(index) if v == old else v for v in value]
                setattr(sub, name, type(value)(shape))
        for store in (sub._parameters, sub._buffers):
            for name, tensor in list(store.items()):
                if tensor is None or tensor.dim() == 0:
                    continue
                dims = [d for d, size in enumerate(tensor.shape) if size != 1]
                if len(dims) == 1 and tensor.shape[dims[0]] == old:
                    new = _resize(tensor.data, dims[0], index)
                    if name in sub._parameters:
                        tensor.data = new
                    else:
                        store[name] = new


def _producer(module: nn.Module, index: torch.Tensor, old: int) -> None:
    module.weight.data = _resize(module.weight.data, 0, index)
    if getattr(module, "bias", None) is not None:
        module.bias.data = _resize(module.bias.data, 0, index)
    from torch import nn

    for attr in QUANTIZER_ATTRS:
        quantizer = getattr(module, attr, None)
        if isinstance(quantizer, nn.Module):
            _slice_per_channel_state(quantizer, old, index)
    if hasattr(module, "out_features"):
        module.out_features = len(index)
    else:
        module.out_channels = len(index)


def _follower(module: nn.Module, index: torch.Tensor, old: int) -> None:
    from torch import nn

    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        for name in ("weight", "bias"):
            param = getattr(module, name)
            if param is not None:
                param.data = _resize(param.data, 0, index)
        for name in ("running_mean", "running_var"):
            if getattr(module, name) is not None:
                module._buffers[name] = _resize(getattr(module, name), 0, index)
        module.num_features = len(index)
        return
    _slice_per_channel_state(module, old, index)


def _consumer(module: nn.Module, group: ChannelGroup, index: torch.Tensor) -> None:
    import torch

    per = group.features_per_channel
    # A flatten of (C, H, W) is channel-major: channel c owns inputs c*H*W .. (c+1)*H*W - 1.
    inputs = (index[:, None] * per + torch.arange(per)[None, :]).reshape(-1) if per > 1 else index
    module.weight.data = _resize(module.weight.data, 1, inputs)
    if hasattr(module, "in_features"):
        module.in_features = len(inputs)
    else:
        module.in_channels = len(index)


def _check_keep(group: ChannelGroup, keep: Sequence[int]) -> list[int]:
    indices = sorted({int(i) for i in keep})
    if not indices:
        raise PruneError(f"pruning would remove every channel of layer {group.name} (to zero "
                         "channels); keep at least one")
    if indices[0] < 0 or indices[-1] >= group.channels:
        raise PruneError(f"layer {group.name} has channels 0..{group.channels - 1}; cannot keep "
                         f"index {indices[0] if indices[0] < 0 else indices[-1]}")
    return indices


def prune_channels(model: nn.Module, keep: Mapping[str, Sequence[int]],
                   input_shape: tuple[int, int, int]) -> nn.Module:
    """Keep only the listed output channels of each named group (in place); returns `model`."""
    import torch

    groups = {g.name: g for g in channel_groups(model, input_shape)}
    unknown = sorted(set(keep) - set(groups))
    if unknown:
        raise PruneError(f"cannot prune {', '.join(unknown)}: not a prunable layer; prunable "
                         f"layers are {', '.join(groups) or 'none'}")
    checked = {name: _check_keep(groups[name], indices) for name, indices in keep.items()}
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, indices in checked.items():
            group = groups[name]
            if len(indices) == group.channels:
                continue
            index = torch.tensor(indices, dtype=torch.long)
            _producer(modules[name], index, group.channels)
            for follower in group.followers:
                _follower(modules[follower], index, group.channels)
            _consumer(modules[group.consumer], group, index)
    return model


def keep_top(importance: Mapping[str, np.ndarray], counts: Mapping[str, int]
             ) -> dict[str, list[int]]:
    """Sorted indices of the counts[name] most important channels (ties: lower index first)."""
    keep: dict[str, list[int]] = {}
    for name, count in counts.items():
        scores = np.asarray(importance[name], dtype=np.float64)
        if count < 1:
            raise PruneError(f"layer {name} would be pruned to {count} channels (to zero); keep "
                             "at least one")
        if count > len(scores):
            raise PruneError(f"layer {name} has {len(scores)} channels; cannot keep {count}")
        order = np.lexsort((np.arange(len(scores)), -scores))  # by score desc, then index
        keep[name] = sorted(int(i) for i in order[:count])
    return keep


def channel_counts(model: nn.Module, input_shape: tuple[int, int, int]) -> dict[str, int]:
    return {g.name: g.channels for g in channel_groups(model, input_shape)}


def shrink_to_counts(model: nn.Module, counts: Mapping[str, int],
                     input_shape: tuple[int, int, int]) -> nn.Module:
    """Give a freshly built model the channel counts of a pruned one, so its checkpoint loads."""
    return prune_channels(model, {name: range(int(n)) for name, n in counts.items()}, input_shape)
