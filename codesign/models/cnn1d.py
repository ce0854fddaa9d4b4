"""Quantized 1-D CNN (VGG10-RadioML / KWS style): unpadded Conv1d blocks with 2x max-pools, then FCs.

Inputs are (C, L) sequences of uint8 values: C features per time step, L time steps (e.g. MNIST
rows as time steps, dataset `sequence: rows`). As in the other zoo models the first layer after
the 1/255 scale is the conv itself, so FINN reads the UINT8 stream directly. A MaxPool1d(2)
follows every `pool_every`-th conv block, the last one included (VGG10-RadioML pools after each
of its convs); pool_every 0 means no pools."""

from __future__ import annotations

from typing import Any

import torch
from brevitas.nn import QuantConv1d
from torch import nn

from codesign.errors import ModelError
from codesign.models.mlp import (
    PixelScale,
    check_bits,
    check_widths,
    fc_stack,
    quant_activation,
    quant_linear,
    reject_unknown_options,
    weight_kwargs,
)

POOL = 2
DEFAULT_KERNEL = 3
DEFAULT_POOL_EVERY = 1
CNN1D_PRESETS: dict[str, dict[str, Any]] = {
    # Small keyword-spotting-sized net; on 28-step MNIST rows: 28 -> 13 -> 5 -> 1 time steps.
    "kws-small": {"channels": [32, 32, 64], "fc": [64]},
    # VGG10 for RadioML 2018 (1024 I/Q samples): seven 64-channel convs, each pooled, FC 128-128.
    "vgg10": {"channels": [64] * 7, "fc": [128, 128]},
}
CNN1D_OPTIONS = ("channels", "kernel", "pool_every", "fc", "preset")


def pool_after(n_convs: int, pool_every: int) -> list[bool]:
    return [pool_every > 0 and (i + 1) % pool_every == 0 for i in range(n_convs)]


def sequence_lengths(length: int, n_convs: int, kernel: int, pool_every: int) -> list[int] | None:
    """The length after each conv and pool, in order; None if a conv or pool runs out of steps."""
    lengths: list[int] = []
    for pool in pool_after(n_convs, pool_every):
        length -= kernel - 1
        if length < 1:
            return None
        lengths.append(length)
        if pool:
            if length < POOL:
                return None
            length //= POOL
            lengths.append(length)
    return lengths or [length]


def smallest_length(n_convs: int, kernel: int, pool_every: int) -> int:
    """The shortest input the conv stack can process (walked backwards from one output step)."""
    length = 1
    for pool in reversed(pool_after(n_convs, pool_every)):
        if pool:
            length *= POOL
        length += kernel - 1
    return length


def output_length(length: int, n_convs: int, kernel: int, pool_every: int) -> int:
    """Time steps left after the conv stack; ModelError (with the smallest legal length) if none."""
    lengths = sequence_lengths(length, n_convs, kernel, pool_every)
    if lengths is None:
        raise ModelError(
            f"cnn1d with {n_convs} convs (kernel {kernel}, pool_every {pool_every}) cannot "
            f"process a sequence of length {length}: the smallest legal length is "
            f"{smallest_length(n_convs, kernel, pool_every)}. Use fewer channels entries, "
            "a smaller kernel, a larger pool_every (0 = no pools) or a longer input"
        )
    return lengths[-1]


def quant_conv1d(in_channels: int, out_channels: int, kernel: int, bits: int) -> QuantConv1d:
    return QuantConv1d(in_channels, out_channels, kernel_size=kernel, bias=False,
                       **weight_kwargs(bits))


class QuantCNN1d(nn.Module):
    """x/255 -> [QuantConv1d -> BatchNorm1d -> activation (-> MaxPool1d)] per conv -> flatten ->
    [QuantLinear -> BatchNorm1d -> activation] per fc -> QuantLinear."""

    def __init__(self, input_shape: tuple[int, int], num_classes: int, channels: list[int],
                 kernel: int, pool_every: int, fc: list[int], weight_bits: int,
                 act_bits: int) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.pixel_scale = PixelScale()
        layers: list[nn.Module] = []
        in_ch = input_shape[0]
        for out_ch, pool in zip(channels, pool_after(len(channels), pool_every), strict=True):
            layers += [quant_conv1d(in_ch, out_ch, kernel, weight_bits), nn.BatchNorm1d(out_ch),
                       quant_activation(act_bits)]
            if pool:
                layers.append(nn.MaxPool1d(POOL))
            in_ch = out_ch
        self.conv_features = nn.Sequential(*layers)
        in_features = in_ch * output_length(input_shape[1], len(channels), kernel, pool_every)
        self.fc_features, in_features = fc_stack(in_features, fc, weight_bits, act_bits)
        self.classifier = quant_linear(in_features, num_classes, weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_features(self.pixel_scale(x))
        return self.classifier(self.fc_features(x.flatten(1)))


def _int_option(label: str, value: Any, minimum: int, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelError(f"cnn1d {label} must be an integer >= {minimum} ({meaning}), got {value!r}")
    return value


def build_cnn1d(input_shape: tuple[int, int], num_classes: int, weight_bits: int, act_bits: int,
                **options: Any) -> QuantCNN1d:
    """Options: `preset` kws-small|vgg10 (default kws-small), or `channels`, `fc` (hidden FC
    widths), `kernel` (default 3), `pool_every` (default 1: a pool after every conv; 0 = none)."""
    reject_unknown_options("cnn1d", options, CNN1D_OPTIONS)
    check_bits(weight_bits, act_bits)
    preset = options.get("preset", "kws-small")
    if preset not in CNN1D_PRESETS:
        raise ModelError(
            f"unknown cnn1d preset {preset!r}; choose one of {', '.join(CNN1D_PRESETS)}")
    cfg = {"kernel": DEFAULT_KERNEL, "pool_every": DEFAULT_POOL_EVERY, **CNN1D_PRESETS[preset],
           **{k: v for k, v in options.items() if k != "preset"}}
    channels = check_widths("cnn1d channels", cfg["channels"])
    fc = check_widths("cnn1d fc", cfg["fc"])
    if not channels:
        raise ModelError("cnn1d channels must list at least one conv; use the mlp arch for none")
    kernel = _int_option("kernel", cfg["kernel"], 1, "the conv kernel size in time steps")
    pool_every = _int_option("pool_every", cfg["pool_every"], 0,
                             "a MaxPool1d(2) after every n-th conv; 0 = no pools")
    return QuantCNN1d(input_shape, num_classes, channels, kernel, pool_every, fc, weight_bits,
                      act_bits)
