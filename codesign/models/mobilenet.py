"""Quantized MobileNet-v1 style network of depthwise-separable blocks (FINN: VVAU + MVAU).

x/255 -> 3x3 stem conv (stride `stem_stride`, 2 as in MobileNet, 1 for small inputs) -> BN ->
activation, then per block a depthwise 3x3 QuantConv2d (groups = channels, the block's stride)
-> BN -> activation and a pointwise 1x1 QuantConv2d -> BN -> activation. FINN builds the depthwise
convs as VVAUs and the stem and pointwise convs as MVAUs. `width_multiplier` scales every
channel count, rounded to a multiple of 8 (at least 8) as MobileNet does; at 1.0 the channels
are taken as given.

The network ends with `final_pool` ("global": global average pool; k: MaxPool2d(k), 1 = none)
and a flatten into the QuantLinear classifier, as the resnet does.
Activations need 2..8 bits (FINN has no bipolar depthwise layer); weights 1..8."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from codesign.errors import ModelError
from codesign.models.mlp import PixelScale, check_bits, quant_activation, reject_unknown_options
from codesign.models.resnet import (
    check_multibit_activations,
    check_stride,
    classifier_head,
    final_map,
    final_pool_option,
    int_option,
    quant_conv,
)

CHANNEL_DIVISOR = 8
MOBILENET_V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       *[(512, 1)] * 5, (1024, 2), (1024, 1)]
MOBILENET_PRESETS: dict[str, dict[str, Any]] = {
    # DS-CNN for keyword spotting (Hello Edge; MLPerf Tiny KWS): a 64-channel strided stem conv
    # and four 64-channel depthwise-separable blocks; its average pool becomes a 2x2 max-pool.
    "ds-cnn": {"stem": 64, "stem_stride": 2, "blocks": [(64, 1)] * 4, "final_pool": 2},
    # MobileNet-v1 (ImageNet, 224x224: 7x7x1024 after the last block).
    "mobilenet-v1": {"stem": 32, "stem_stride": 2, "blocks": MOBILENET_V1_BLOCKS, "final_pool": 2},
    # For tests and quick flows: a stride-1 and a stride-2 depthwise block on a stride-1 stem.
    "mobilenet-small": {"stem": 8, "stem_stride": 1, "blocks": [(16, 1), (16, 2)],
                        "final_pool": 2},
}
MOBILENET_OPTIONS = ("preset", "stem", "stem_stride", "blocks", "width_multiplier", "final_pool")


def scaled_channels(channels: int, width_multiplier: float) -> int:
    """channels * width_multiplier to the nearest multiple of 8, at least 8 and never more than
    10% below the exact product (MobileNet's rounding); at 1.0 the channels as given."""
    if width_multiplier == 1:
        return channels
    exact = channels * width_multiplier
    rounded = max(CHANNEL_DIVISOR, int(exact + CHANNEL_DIVISOR / 2) // CHANNEL_DIVISOR
                  * CHANNEL_DIVISOR)
    return rounded + CHANNEL_DIVISOR if rounded < 0.9 * exact else rounded


def conv_bn_act(in_channels: int, out_channels: int, kernel: int, stride: int, weight_bits: int,
                act_bits: int, groups: int = 1) -> list[nn.Module]:
    return [quant_conv(in_channels, out_channels, kernel, stride, weight_bits, groups),
            nn.BatchNorm2d(out_channels), quant_activation(act_bits)]


class DepthwiseSeparable(nn.Sequential):
    """depthwise 3x3 (stride) -> BN -> act -> pointwise 1x1 -> BN -> act."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, weight_bits: int,
                 act_bits: int) -> None:
        super().__init__(*conv_bn_act(in_channels, in_channels, 3, stride, weight_bits, act_bits,
                                      groups=in_channels),
                         *conv_bn_act(in_channels, out_channels, 1, 1, weight_bits, act_bits))


class QuantMobileNet(nn.Module):
    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, stem: int,
                 stem_stride: int, blocks: list[tuple[int, int]], final_pool: int | str,
                 weight_bits: int, act_bits: int) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.pixel_scale = PixelScale()
        self.stem = nn.Sequential(*conv_bn_act(input_shape[0], stem, 3, stem_stride, weight_bits,
                                               act_bits))
        layers = []
        in_ch = stem
        for channels, stride in blocks:
            layers.append(DepthwiseSeparable(in_ch, channels, stride, weight_bits, act_bits))
            in_ch = channels
        self.blocks = nn.Sequential(*layers)
        hw = final_map("mobilenet", tuple(input_shape[1:]), [stem_stride] + [s for _, s in blocks],
                       final_pool, "stem_stride 1, fewer stride-2 blocks")
        self.pool, self.classifier = classifier_head(in_ch, hw, final_pool, num_classes,
                                                     weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.pixel_scale(x)))
        return self.classifier(self.pool(x).flatten(1))


def check_blocks(blocks: Any) -> list[tuple[int, int]]:
    form = ("mobilenet blocks must be a list of [out_channels, stride] (positive channels, "
            "stride 1 or 2), e.g. [[64, 1], [128, 2]]")
    if not isinstance(blocks, list | tuple):
        raise ModelError(f"{form}; got {blocks!r}")
    out = []
    for block in blocks:
        if not isinstance(block, list | tuple) or len(block) != 2:
            raise ModelError(f"{form}; got block {block!r}")
        channels, stride = block
        int_option("mobilenet", "block out_channels", channels, 1, f"block {list(block)}")
        out.append((int(channels), check_stride("mobilenet", "block stride", stride)))
    return out


def check_width_multiplier(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ModelError(f"mobilenet width_multiplier must be a positive number (e.g. 0.25, 0.5, "
                         f"1.0), got {value!r}")
    return float(value)


def build_mobilenet(input_shape: tuple[int, int, int], num_classes: int, weight_bits: int,
                    act_bits: int, **options: Any) -> QuantMobileNet:
    """Options: `preset` ds-cnn|mobilenet-v1|mobilenet-small (default ds-cnn), or `stem`
    (channels), `stem_stride` (1 or 2), `blocks` ([out_channels, stride] per depthwise-separable
    block), `width_multiplier` (default 1.0), `final_pool` (MaxPool2d kernel before the
    classifier, 1 = none, or "global": global average pool)."""
    reject_unknown_options("mobilenet", options, MOBILENET_OPTIONS)
    check_bits(weight_bits, act_bits)
    check_multibit_activations(
        "mobilenet", act_bits, "FINN cannot build a depthwise conv on bipolar activations (its "
        "XNOR layers need dense bipolar weights; a depthwise conv's are mostly zeros) and "
        "FINN pads bipolar activations with -1 where the model pads with 0")
    preset = options.get("preset", "ds-cnn")
    if preset not in MOBILENET_PRESETS:
        raise ModelError(
            f"unknown mobilenet preset {preset!r}; choose one of {', '.join(MOBILENET_PRESETS)}")
    cfg = {"width_multiplier": 1.0, **MOBILENET_PRESETS[preset],
           **{k: v for k, v in options.items() if k != "preset"}}
    width = check_width_multiplier(cfg["width_multiplier"])
    stem = scaled_channels(int_option("mobilenet", "stem", cfg["stem"], 1,
                                      "the stem conv's output channels"), width)
    stem_stride = check_stride("mobilenet", "stem_stride", cfg["stem_stride"])
    blocks = [(scaled_channels(c, width), s) for c, s in check_blocks(cfg["blocks"])]
    final_pool = final_pool_option("mobilenet", cfg["final_pool"])
    return QuantMobileNet(input_shape, num_classes, stem, stem_stride, blocks, final_pool,
                          weight_bits, act_bits)
