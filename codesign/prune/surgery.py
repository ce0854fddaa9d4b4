"""Channel surgery: physically remove channels of a group, from every layer writing them (all
producers of a residual sum), everything that carries them (BatchNorm entries, depthwise convs,
per-channel quantizer state, each shared module once) and every consumer's inputs.

Every resized parameter becomes a new nn.Parameter (a fresh autograd leaf: resizing `.data` in
place leaves stale shape metadata in autograd's cached gradient accumulator while an old graph is
alive). It is put straight into `_parameters`: Brevitas' `register_parameter` would re-initialise
the weight quantizer and lose learned scales. Quantizer submodules that hold the old Parameter
object (shared-quantizer stats wrappers) are re-pointed to the new one. Create optimizers after
surgery: the pruned model's parameters are new objects.

Per-channel quantizer state is any parameter or buffer of a quantizer with exactly one
non-singleton dimension of the old channel count (Brevitas 0.13: per-channel `scaling_impl.value`
(C,1,1,1) / (1,C[,1,1]), the runtime-stats `buffer` / `running_stats`, affine rescaling weights),
plus the `*_shape` tuples Brevitas keeps for them (`stats_output_shape`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from codesign.errors import PruneError
from codesign.prune.graph import ChannelGroup, channel_groups
from codesign.prune.spaces import is_depthwise

if TYPE_CHECKING:
    import torch
    from torch import nn

# Quantizers of a producer that act on its output channels; the consumer's input_quant acts on
# the consumer's inputs, i.e. the producer's channels.
PRODUCER_QUANTIZERS = ("weight_quant", "bias_quant", "output_quant")
CONSUMER_QUANTIZERS = ("input_quant",)
# Shapes a Brevitas proxy's injector may hold as plain values; it rebuilds its quantizer from
# them when a state dict is loaded, so they must match the sliced state.
INJECTOR_SHAPES = ("per_channel_broadcastable_shape", "scaling_shape")


def _set_parameter(module: nn.Module, name: str, value: torch.Tensor,
                   owners: Sequence[nn.Module] = ()) -> None:
    """Replace parameter `name` of `module` by a new Parameter holding `value`; any submodule of
    `owners` that registered the old object gets the new one too."""
    from torch import nn

    old = module._parameters[name]
    assert old is not None
    new = nn.Parameter(value.detach().clone(), requires_grad=old.requires_grad)
    module._parameters[name] = new
    for owner in owners:
        for sub in owner.modules():
            for key, param in list(sub._parameters.items()):
                if param is old:
                    sub._parameters[key] = new


def _per_channel_shape(value: object, sizes: Mapping[int, torch.Tensor]) -> bool:
    if not isinstance(value, tuple | list) or not value:
        return False
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return False
    big = [v for v in value if v != 1]
    return len(big) == 1 and big[0] in sizes


def _resized(shape: tuple | list, sizes: Mapping[int, torch.Tensor]) -> tuple | list:
    return type(shape)(len(sizes[v]) if v != 1 else 1 for v in shape)


def _update_injector(proxy: nn.Module, sizes: Mapping[int, torch.Tensor]) -> None:
    injector = proxy.quant_injector
    updates = {}
    for key in INJECTOR_SHAPES:
        try:
            value = getattr(injector, key)
        except Exception:  # not defined (or not derivable) for this quantizer
            continue
        if _per_channel_shape(value, sizes):
            updates[key] = _resized(value, sizes)
    if updates:
        proxy.quant_injector = injector.let(**updates)


def _slice_state(quantizer: nn.Module, sizes: Mapping[int, torch.Tensor]) -> None:
    """Slice every parameter/buffer of `quantizer` whose only non-singleton dimension has a
    size in `sizes` (old size -> kept indices), and rewrite Brevitas' shape tuples for them."""
    for sub in quantizer.modules():
        if hasattr(sub, "quant_injector"):
            _update_injector(sub, sizes)
        for name, value in list(vars(sub).items()):
            if name.endswith("_shape") and _per_channel_shape(value, sizes):
                setattr(sub, name, _resized(value, sizes))
        for name, tensor in list(sub._parameters.items()) + list(sub._buffers.items()):
            if tensor is None or tensor.dim() == 0:
                continue
            dims = [d for d, size in enumerate(tensor.shape) if size != 1]
            if len(dims) != 1 or tensor.shape[dims[0]] not in sizes:
                continue
            new = tensor.detach().index_select(dims[0], sizes[tensor.shape[dims[0]]])
            if name in sub._parameters:
                _set_parameter(sub, name, new)
            else:
                sub._buffers[name] = new.clone()


def _quantizers(module: nn.Module, attrs: Sequence[str]) -> list[nn.Module]:
    from torch import nn

    found = [getattr(module, a, None) for a in attrs]
    return [q for q in found if isinstance(q, nn.Module)]


def _producer(module: nn.Module, index: torch.Tensor, old: int) -> None:
    quantizers = _quantizers(module, PRODUCER_QUANTIZERS)
    _set_parameter(module, "weight", module.weight.index_select(0, index), quantizers)
    if module.bias is not None:
        _set_parameter(module, "bias", module.bias.index_select(0, index), quantizers)
    for quantizer in quantizers:
        _slice_state(quantizer, {old: index})
    if hasattr(module, "out_features"):
        module.out_features = len(index)
    else:
        module.out_channels = len(index)


def _follower(module: nn.Module, index: torch.Tensor, old: int) -> None:
    from torch import nn

    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        for name in ("weight", "bias"):
            if module._parameters.get(name) is not None:
                _set_parameter(module, name, getattr(module, name).index_select(0, index))
        for name in ("running_mean", "running_var"):
            if module._buffers.get(name) is not None:
                module._buffers[name] = module._buffers[name].index_select(0, index).clone()
        module.num_features = len(index)
        return
    if is_depthwise(module):  # one filter per channel: its channels are the group's
        _producer(module, index, old)
        for quantizer in _quantizers(module, CONSUMER_QUANTIZERS):
            _slice_state(quantizer, {old: index})
        module.in_channels = module.groups = len(index)
        return
    # Quantized activations, pools, dropout: only quantizer state can be per channel.
    _slice_state(module, {old: index})


def consumer_inputs(index: torch.Tensor, per: int) -> torch.Tensor:
    """The input features (a consumer weight's dim 1) that carry channels `index`, `per` each:
    a flatten of (C, H, W) is channel-major, channel c owns inputs c*H*W .. (c+1)*H*W - 1."""
    import torch

    return (index[:, None] * per + torch.arange(per)[None, :]).reshape(-1) if per > 1 else index


def _consumer(module: nn.Module, channels: int, per: int, index: torch.Tensor) -> None:
    inputs = consumer_inputs(index, per)
    quantizers = _quantizers(module, ("weight_quant", "bias_quant"))
    _set_parameter(module, "weight", module.weight.index_select(1, inputs), quantizers)
    for quantizer in _quantizers(module, CONSUMER_QUANTIZERS):
        _slice_state(quantizer, {channels: index, channels * per: inputs})
    if hasattr(module, "in_features"):
        module.in_features = len(inputs)
    else:
        module.in_channels = len(index)


def label(group: ChannelGroup) -> str:
    """'layer a', or 'layers a, b, c' for a coupled group (its producers and depthwise convs)."""
    members = group.members
    return f"layer {members[0]}" if len(members) == 1 else f"layers {', '.join(members)}"


def _check_keep(group: ChannelGroup, keep: Sequence[int]) -> list[int]:
    try:
        indices = sorted({int(i) for i in keep})
    except (TypeError, ValueError) as exc:
        raise PruneError(f"channels to keep of {label(group)} must be integer indices, got "
                         f"{keep!r}") from exc
    if not indices:
        raise PruneError(f"pruning would remove every channel of {label(group)} (to zero "
                         "channels); keep at least one")
    if indices[0] < 0 or indices[-1] >= group.channels:
        bad = indices[0] if indices[0] < 0 else indices[-1]
        raise PruneError(f"{label(group)} has channels 0..{group.channels - 1}; cannot keep "
                         f"index {bad}")
    return indices


def _resolve(groups: Sequence[ChannelGroup], keep: Mapping[str, Sequence[int]]
             ) -> dict[str, tuple[ChannelGroup, list[int]]]:
    """Group name -> (group, checked indices); any producer of a group may name it."""
    by_member = {p: g for g in groups for p in g.producers}
    unknown = sorted(set(keep) - set(by_member))
    if unknown:
        raise PruneError(f"cannot prune {', '.join(unknown)}: not a prunable layer; prunable "
                         f"groups are {', '.join(g.name for g in groups) or 'none'} (the "
                         "classifier never is)")
    resolved: dict[str, tuple[ChannelGroup, list[int]]] = {}
    for name, indices in keep.items():
        group = by_member[name]
        if group.name in resolved:
            raise PruneError(f"{label(group)} share one channel set; give its kept channels once "
                             f"(under {group.name}), not also under {name}")
        resolved[group.name] = (group, _check_keep(group, indices))
    return resolved


def cut_group(modules: Mapping[str, nn.Module], group: ChannelGroup, indices: Sequence[int]
              ) -> None:
    """Keep `indices` of one group in every member, follower (each module once, however often
    the forward calls it: a shared quantizer is sliced once and stays shared) and consumer."""
    import torch

    index = torch.tensor(list(indices), dtype=torch.long)
    for producer in group.producers:
        _producer(modules[producer], index, group.channels)
    seen: set[int] = set()
    for follower in group.followers:
        module = modules[follower]
        if id(module) not in seen:
            seen.add(id(module))
            _follower(module, index, group.channels)
    for consumer, per in zip(group.consumers, group.consumer_features, strict=True):
        _consumer(modules[consumer], group.channels, per, index)


def prune_channels(model: nn.Module, keep: Mapping[str, Sequence[int]],
                   input_shape: tuple[int, ...]) -> nn.Module:
    """Keep only the listed channels of each named group (in place); returns `model`. A group is
    named by its `name` (or any of its producers). Everything is checked before the first tensor
    changes, so a PruneError leaves the model untouched."""
    import torch

    resolved = _resolve(channel_groups(model, input_shape), keep)
    modules = dict(model.named_modules())
    with torch.no_grad():
        for group, indices in resolved.values():
            if len(indices) != group.channels:
                cut_group(modules, group, indices)
    return model


def keep_top(importance: Mapping[str, np.ndarray], counts: Mapping[str, int]
             ) -> dict[str, list[int]]:
    """Sorted indices of the counts[name] most important channels (ties: lower index first)."""
    keep: dict[str, list[int]] = {}
    for name, count in counts.items():
        if name not in importance:
            raise PruneError(f"no importance scores for layer {name}; scored layers are "
                             f"{', '.join(importance) or 'none'}")
        scores = np.asarray(importance[name], dtype=np.float64)
        if count < 1:
            raise PruneError(f"layer {name} would be pruned to {count} channels (to zero); keep "
                             "at least one")
        if count > len(scores):
            raise PruneError(f"layer {name} has {len(scores)} channels; cannot keep {count}")
        order = np.lexsort((np.arange(len(scores)), -scores))  # by score desc, then index
        keep[name] = sorted(int(i) for i in order[:count])
    return keep


def channel_counts(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Current number of output channels of every prunable layer."""
    return {g.name: g.channels for g in channel_groups(model, input_shape)}


def shrink_to_counts(model: nn.Module, counts: Mapping[str, int],
                     input_shape: tuple[int, ...]) -> nn.Module:
    """Give a freshly built model the channel counts of a pruned one (keeping the first k of
    each layer), so the pruned checkpoint's state dict loads into it."""
    return prune_channels(model, {name: range(int(n)) for name, n in counts.items()}, input_shape)
