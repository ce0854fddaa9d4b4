"""Training-time augmentation: every training sample moved by a random whole number of pixels.

An image (C, H, W) moves by up to `pixels` rows and columns, a sequence (C, L) by up to `pixels`
steps; what moves in from outside is 0 (the background of MNIST-style digits) and what moves out
is dropped. A fresh draw per sample and per epoch, from the trainer's seeded generator, so the
same seed gives the same model. Only the training batches move; evaluation, calibration and the
exported model see the data as it is.

Measured on the default TFC flow over 16 seeds (benchmarks/pruning_seeds.py's docstring): up to
1 pixel in both trainings lifts the unpruned and the pruned MLP's top-1 on MNIST-5k by ~0.75 pt
on average and leaves the loss from pruning as it was; in the pruning fine-tune alone
(prune.finetune_shift_pixels, as the default flow ships) the loss falls to -0.05 pt median."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def shift_samples(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """`x` (N, C, H, W) or (N, C, L) with each sample moved by up to `pixels` along each spatial
    axis (zero fill); `x` itself when `pixels` is 0."""
    import torch

    if pixels == 0:
        return x
    n, spatial = len(x), x.shape[2:]
    padded = torch.nn.functional.pad(x, [pixels, pixels] * len(spatial))
    offsets = torch.randint(0, 2 * pixels + 1, (n, len(spatial)), generator=generator)
    index: list[torch.Tensor] = [torch.arange(n).view(n, *[1] * (1 + len(spatial))),
                                 torch.arange(x.shape[1]).view(1, -1, *[1] * len(spatial))]
    for axis, size in enumerate(spatial):
        shape = [n, 1] + [1] * len(spatial)
        shape[2 + axis] = size
        index.append((offsets[:, axis].view(n, 1) + torch.arange(size)).view(shape))
    return padded[tuple(index)]
