"""Soft masking before the cut (`prune.soft_epochs`): the channels a step removes fade out while
the model trains, instead of vanishing at once.

A channel reaches the model's output only through its group's consumers (residual sums, pools
and depthwise convs carry it to them). After each optimizer step `Fade` scales the weights of
the channels to be removed, every consumer's inputs and every member's outputs, so that after
`k` of `n` steps they hold (n - k) / n of what training left them, and exactly zero after the
last: the rest of the network learns to do without them while they still contribute. The
members' rows fade too so that a per-tensor weight scale (from max |w|) ends where the cut puts
it. A zero weight quantizes to zero at 2 bits or more, so the faded model computes what the cut
model computes and the cut that follows changes nothing; the fine-tune after it starts where
the fade ended. A 1-bit (bipolar) weight has no zero, so such layers are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from codesign.errors import PruneError
from codesign.prune.graph import channel_groups
from codesign.prune.surgery import consumer_inputs

if TYPE_CHECKING:
    import torch
    from torch import nn


def _check_zero_representable(name: str, module: nn.Module) -> None:
    bits = int(module.quant_weight().bit_width)
    if bits < 2:
        raise PruneError(f"prune.soft_epochs fades channels out through their weights, but "
                         f"layer {name} has {bits}-bit (bipolar) weights, which have no zero; "
                         "set prune.soft_epochs to 0 or give that layer 2-bit weights or more")


def check_fadeable(model: nn.Module, input_shape: tuple[int, ...]) -> None:
    """PruneError naming the first layer whose weights cannot fade to zero (1-bit): every
    group's members and consumers are checked, as a step could cut any group."""
    modules = dict(model.named_modules())
    for group in channel_groups(model, input_shape):
        for name in group.members + group.consumers:
            _check_zero_representable(name, modules[name])


class Fade:
    """`train_model`'s `after_step`: fades the channels `keep` leaves out of each group (named
    as `keep_top` names them) to zero over the training run's steps."""

    def __init__(self, model: nn.Module, keep: Mapping[str, Sequence[int]],
                 input_shape: tuple[int, ...]) -> None:
        import torch

        groups = {g.name: g for g in channel_groups(model, input_shape)}
        modules = dict(model.named_modules())
        self.rows: list[tuple[nn.Module, torch.Tensor]] = []  # members' output channels
        self.columns: list[tuple[nn.Module, torch.Tensor]] = []  # consumers' input features
        for name, kept in keep.items():
            if name not in groups:
                raise PruneError(f"cannot fade channels of {name}: it names no channel group of "
                                 f"this model ({', '.join(groups) or 'none'})")
            group = groups[name]
            gone = sorted(set(range(group.channels)) - {int(c) for c in kept})
            if not gone:
                continue
            index = torch.tensor(gone)
            for member in group.members:
                _check_zero_representable(member, modules[member])
                self.rows.append((modules[member], index))
            for consumer, per in zip(group.consumers, group.consumer_features, strict=True):
                _check_zero_representable(consumer, modules[consumer])
                self.columns.append((modules[consumer], consumer_inputs(index, per)))

    def __call__(self, done: int, total: int) -> None:
        """After step `done` of `total`: the faded weights go from (total - done + 1) / total
        of their share to (total - done) / total (zero at the last step)."""
        import torch

        if not 0 < done <= total:
            raise PruneError(f"fade step {done} lies outside the run's steps 1..{total}")
        factor = (total - done) / (total - done + 1)
        with torch.no_grad():
            for module, index in self.rows:
                module.weight[index] = module.weight[index] * factor
            for module, index in self.columns:
                module.weight[:, index] = module.weight[:, index] * factor
