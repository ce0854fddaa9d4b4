"""Quantized CNN in FINN's CNV family: blocks of unpadded 3x3 convs with 2x2 max-pools, then FCs.

A pool follows every `pool_every`-th conv except the last one, so the defaults on a 32x32x3
input are exactly FINN's CNV (64,64,P,128,128,P,256,256 -> FC 512,512 -> classes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from codesign.errors import ModelError
from codesign.models.mlp import (
    PixelScale,
    check_bits,
    check_widths,
    fc_stack,
    quant_activation,
    quant_conv3x3,
    quant_linear,
    reject_unknown_options,
)

KERNEL, POOL = 3, 2
# Zero padding the first conv may add on its own (per side): 2 turns 28x28 MNIST-style images
# into the 32x32 CNV expects, the classic LeNet convention. More would mostly convolve zeros.
MAX_AUTO_PADDING = 2
CNV_PRESETS: dict[str, dict[str, Any]] = {
    "cnv": {"channels": [64, 64, 128, 128, 256, 256], "fc": [512, 512], "pool_every": 2},
    "cnv-small": {"channels": [16, 16, 32, 32], "fc": [128], "pool_every": 2},
}
CNV_OPTIONS = ("channels", "fc", "pool_every", "preset", "input_padding")


@dataclass(frozen=True)
class ConvGeometry:
    """Spatial sizes through the conv stack; `valid` is False if a conv or pool runs out of pixels."""

    sizes: tuple[tuple[int, int], ...]  # (H, W) after each conv/pool, in order
    valid: bool

    @property
    def output(self) -> tuple[int, int]:
        return self.sizes[-1]


def pool_after(n_convs: int, pool_every: int) -> list[bool]:
    return [(i + 1) % pool_every == 0 and i + 1 < n_convs for i in range(n_convs)]


def conv_geometry(hw: tuple[int, int], n_convs: int, pool_every: int, padding: int) -> ConvGeometry:
    h, w = hw
    sizes: list[tuple[int, int]] = []
    for i, pool in enumerate(pool_after(n_convs, pool_every)):
        pad = padding if i == 0 else 0
        h, w = h + 2 * pad - KERNEL + 1, w + 2 * pad - KERNEL + 1
        if h < 1 or w < 1:
            return ConvGeometry(tuple(sizes), False)
        sizes.append((h, w))
        if pool:
            if h < POOL or w < POOL:
                return ConvGeometry(tuple(sizes), False)
            h, w = h // POOL, w // POOL
            sizes.append((h, w))
    return ConvGeometry(tuple(sizes) or ((h, w),), True)


def smallest_input(n_convs: int, pool_every: int, padding: int) -> int:
    size = 1
    while not conv_geometry((size, size), n_convs, pool_every, padding).valid:
        size += 1
    return size


def choose_padding(hw: tuple[int, int], n_convs: int, pool_every: int, padding: Any) -> int:
    """The first conv's zero padding: as given, or (None) the least in 0..MAX_AUTO_PADDING that fits."""
    if padding is not None:
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ModelError(f"cnv input_padding must be a non-negative integer, got {padding!r}")
        candidates = [padding]
    else:
        candidates = list(range(MAX_AUTO_PADDING + 1))
    for pad in candidates:
        if conv_geometry(hw, n_convs, pool_every, pad).valid:
            return pad
    limits = [f"{smallest_input(n_convs, pool_every, pad)}x{smallest_input(n_convs, pool_every, pad)}"
              f" with input_padding={pad}" for pad in sorted({candidates[0], candidates[-1]})]
    raise ModelError(
        f"cnv with {n_convs} convs (pool every {pool_every}) cannot process a {hw[0]}x{hw[1]} "
        f"input: the smallest legal input is {' or '.join(limits)}. Use fewer channels entries "
        "(e.g. preset: cnv-small), a larger pool_every, more input_padding, or the mlp arch"
    )


class QuantCNV(nn.Module):
    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, channels: list[int],
                 fc: list[int], pool_every: int, input_padding: int, weight_bits: int,
                 act_bits: int) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.pixel_scale = PixelScale()
        layers: list[nn.Module] = []
        in_ch = input_shape[0]
        for i, (out_ch, pool) in enumerate(zip(channels, pool_after(len(channels), pool_every),
                                               strict=True)):
            layers += [quant_conv3x3(in_ch, out_ch, weight_bits, input_padding if i == 0 else 0),
                       nn.BatchNorm2d(out_ch), quant_activation(act_bits)]
            if pool:
                layers.append(nn.MaxPool2d(POOL))
            in_ch = out_ch
        self.conv_features = nn.Sequential(*layers)
        h, w = conv_geometry(input_shape[1:], len(channels), pool_every, input_padding).output
        in_features = in_ch * h * w
        self.fc_features, in_features = fc_stack(in_features, fc, weight_bits, act_bits)
        self.classifier = quant_linear(in_features, num_classes, weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_features(self.pixel_scale(x))
        return self.classifier(self.fc_features(x.flatten(1)))


def build_cnv(input_shape: tuple[int, int, int], num_classes: int, weight_bits: int,
              act_bits: int, **options: Any) -> QuantCNV:
    """Options: `preset` cnv|cnv-small, or `channels`, `fc`, `pool_every` (defaults: FINN CNV),
    `input_padding` (first conv; default: the least of 0..2 that makes the geometry legal)."""
    reject_unknown_options("cnv", options, CNV_OPTIONS)
    check_bits(weight_bits, act_bits)
    preset = options.get("preset", "cnv")
    if preset not in CNV_PRESETS:
        raise ModelError(f"unknown cnv preset {preset!r}; choose one of {', '.join(CNV_PRESETS)}")
    cfg = {**CNV_PRESETS[preset], **{k: v for k, v in options.items() if k != "preset"}}
    channels = check_widths("cnv channels", cfg["channels"])
    fc = check_widths("cnv fc", cfg["fc"])
    if not channels:
        raise ModelError("cnv channels must list at least one conv; use the mlp arch for none")
    pool_every = cfg["pool_every"]
    if isinstance(pool_every, bool) or not isinstance(pool_every, int) or pool_every < 1:
        raise ModelError(f"cnv pool_every must be a positive integer, got {pool_every!r}")
    padding = choose_padding(tuple(input_shape[1:]), len(channels), pool_every,
                             cfg.get("input_padding"))
    return QuantCNV(input_shape, num_classes, channels, fc, pool_every, padding, weight_bits,
                    act_bits)
