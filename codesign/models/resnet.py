"""Quantized ResNet of basic blocks (two 3x3 convs), built so FINN can compile the residual joins.

FINN adds integers only, so both operands of every residual add must come out of ONE Brevitas
quantizer instance (one scale; FINN moves it past the add). Here every block input comes out of a
signed "residual stream" quantizer, and a block adds:

- identity shortcut (channels and stride kept): the block input itself plus the residual branch
  quantized by the very quantizer instance that produced the input;
- projection shortcut (channels or stride change): a strided 1x1 QuantConv2d + BatchNorm of the
  input, and the residual branch, both through one quantizer of the block's own.

The sum goes through the next block's stream quantizer (a fresh quantizer, which the next block's
residual branch then shares), or after the last block through the usual ReLU activation. So the
identity path carries no ReLU between blocks, x + F(x) with F = conv-BN-ReLU-conv-BN (the
"identity mapping" form of pre-activation ResNets and transformers), and FINN sees
conv -> Thresholding -> DuplicateStreams -> ... -> ElementwiseAdd -> Thresholding.

The network ends with `final_pool` and a flatten into the QuantLinear classifier: "global" is a
global average pool (FINN's GlobalAccPool; the 1/(H*W) scale moves into the logits' scale), an
integer k a MaxPool2d(k) of the small map (1 = none).
Activations need 2..8 bits (bipolar ones would be padded differently in FINN); weights 1..8."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from brevitas.nn import QuantConv2d, QuantIdentity
from brevitas.quant import Int8ActPerTensorFloatMinMaxInit, SignedBinaryActPerTensorConst
from torch import nn

from codesign.errors import ModelError
from codesign.models.mlp import (
    ACT_CLIP_INIT,
    PixelScale,
    check_bits,
    quant_activation,
    quant_linear,
    reject_unknown_options,
    weight_kwargs,
)

STRIDES = (1, 2)
RESNET_PRESETS: dict[str, dict[str, Any]] = {
    # MLPerf Tiny ResNet-8 (CIFAR-10): on 32x32 the last stage is 8x8x64; its global average pool
    # becomes a 2x2 max-pool, so the classifier reads 4x4x64 = 1024 features.
    "resnet8": {"stem": 16, "stages": [(16, 1, 1), (32, 1, 2), (64, 1, 2)], "final_pool": 2},
    # For tests and quick flows: an identity block, a projection block, an identity block after it.
    "resnet-small": {"stem": 8, "stages": [(8, 1, 1), (16, 2, 2)], "final_pool": 2},
}
RESNET_OPTIONS = ("preset", "stem", "stages", "final_pool")


def int_option(arch: str, label: str, value: Any, minimum: int, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelError(f"{arch} {label} must be an integer >= {minimum} ({meaning}), got {value!r}")
    return int(value)


def check_stride(arch: str, label: str, stride: Any) -> int:
    if isinstance(stride, bool) or stride not in STRIDES:
        raise ModelError(f"{arch} {label} must be 1 (keep the map) or 2 (halve it), "
                         f"got {stride!r}")
    return int(stride)


def check_multibit_activations(arch: str, act_bits: int, why: str) -> None:
    """act_bits=1 (bipolar) is rejected by the archs whose FINN build would not match the model."""
    if act_bits == 1:
        raise ModelError(
            f"{arch} does not support act_bits=1: {why}, so the accelerator would not match the "
            "trained model. Use act_bits >= 2 (weight_bits=1 with act_bits=2 works, as in "
            "FINN's w1a2 ResNet-50), or the cnv arch for a fully binarized network"
        )


def strided_size(size: int, strides: Sequence[int]) -> int:
    """A map side after padded 3x3 (and 1x1) convs of these strides: each stride 2 gives ceil(n/2)."""
    for stride in strides:
        size = (size - 1) // stride + 1
    return size


GLOBAL_POOL = "global"  # final_pool value: a global average pool


def final_pool_option(arch: str, value: Any) -> int | str:
    """`final_pool`: "global" (global average pool) or a MaxPool2d kernel >= 1 (1 = none)."""
    if value == GLOBAL_POOL:
        return GLOBAL_POOL
    return int_option(arch, "final_pool", value, 1, "the MaxPool2d kernel before the classifier, "
                      "1 = none, or \"global\" for a global average pool")


def final_map(arch: str, hw: tuple[int, int], strides: Sequence[int], final_pool: int | str,
              fix: str) -> tuple[int, int]:
    """(H, W) the classifier flattens: after the strided convs and the final pool.
    ModelError with the smallest legal input if the pool does not fit."""
    if final_pool == GLOBAL_POOL:
        return 1, 1
    assert isinstance(final_pool, int)
    h, w = (strided_size(side, strides) for side in hw)
    if h < final_pool or w < final_pool:
        smallest = 1
        while strided_size(smallest, strides) < final_pool:
            smallest += 1
        raise ModelError(
            f"{arch}: a {hw[0]}x{hw[1]} input leaves a {h}x{w} map after the strided convs, "
            f"smaller than final_pool={final_pool}; the smallest legal input is "
            f"{smallest}x{smallest}. Use a smaller final_pool (1 = no pool), {fix} or a larger input"
        )
    return h // final_pool, w // final_pool


def classifier_head(channels: int, hw: tuple[int, int], final_pool: int | str, num_classes: int,
                    weight_bits: int) -> tuple[nn.Module, nn.Module]:
    pool = (nn.AdaptiveAvgPool2d(1) if final_pool == GLOBAL_POOL
            else nn.MaxPool2d(final_pool) if isinstance(final_pool, int) and final_pool > 1
            else nn.Identity())
    return pool, quant_linear(channels * hw[0] * hw[1], num_classes, weight_bits)


def residual_quant(act_bits: int) -> QuantIdentity:
    """The signed quantizer both operands of a residual add go through (one instance per add).

    2..8 bits: signed ints, per-tensor scale learned from a +-2.0 clip (BatchNorm units) as the
    ReLUs start. 1 bit: bipolar with a constant scale. It returns a QuantTensor, so the add
    sees two operands on the one shared scale."""
    if act_bits == 1:
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    return QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=act_bits,
                         min_val=-ACT_CLIP_INIT, max_val=ACT_CLIP_INIT, return_quant_tensor=True)


def quant_conv(in_channels: int, out_channels: int, kernel: int, stride: int, bits: int,
               groups: int = 1) -> QuantConv2d:
    """kxk conv, zero padding k // 2 (a padded 3x3 keeps the map, strided halves it), no bias."""
    return QuantConv2d(in_channels, out_channels, kernel_size=kernel, stride=stride,
                       padding=kernel // 2, groups=groups, bias=False, **weight_kwargs(bits))


class BasicBlock(nn.Module):
    """conv3x3(stride) -> BN -> act -> conv3x3 -> BN -> add_quant, plus the shortcut, -> out_quant.

    `in_quant` is the quantizer that produced this block's input: an identity block quantizes its
    residual branch with that same instance; a projection block quantizes the 1x1 projection and
    the residual branch with a quantizer of its own."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, in_quant: nn.Module,
                 out_quant: nn.Module, weight_bits: int, act_bits: int) -> None:
        super().__init__()
        self.conv1 = quant_conv(in_channels, out_channels, 3, stride, weight_bits)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = quant_activation(act_bits)
        self.conv2 = quant_conv(out_channels, out_channels, 3, 1, weight_bits)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module | None = nn.Sequential(
                quant_conv(in_channels, out_channels, 1, stride, weight_bits),
                nn.BatchNorm2d(out_channels))
            self.add_quant = residual_quant(act_bits)
        else:
            self.shortcut = None
            self.add_quant = in_quant  # shared: the input is already on this quantizer's scale
        self.out_quant = out_quant

    @property
    def projection(self) -> bool:
        return self.shortcut is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.add_quant(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        shortcut = x if self.shortcut is None else self.add_quant(self.shortcut(x))
        return self.out_quant(y + shortcut)


class QuantResNet(nn.Module):
    """x/255 -> conv3x3 stem -> BN -> stream quantizer -> basic blocks -> ReLU activation ->
    MaxPool2d(final_pool) -> flatten -> QuantLinear."""

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, stem: int,
                 stages: list[tuple[int, int, int]], final_pool: int | str, weight_bits: int,
                 act_bits: int) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.pixel_scale = PixelScale()
        specs = []  # (in, out, stride) per block; a stage's stride applies to its first block
        in_ch = stem
        for channels, blocks, stride in stages:
            for i in range(blocks):
                specs.append((in_ch, channels, stride if i == 0 else 1))
                in_ch = channels
        # streams[i] quantizes block i's input; the last block ends in the ReLU activation.
        streams = [residual_quant(act_bits) for _ in specs] + [quant_activation(act_bits)]
        self.stem = nn.Sequential(quant_conv(input_shape[0], stem, 3, 1, weight_bits),
                                  nn.BatchNorm2d(stem), streams[0])
        self.blocks = nn.Sequential(*(
            BasicBlock(i_ch, o_ch, s, streams[i], streams[i + 1], weight_bits, act_bits)
            for i, (i_ch, o_ch, s) in enumerate(specs)))
        hw = final_map("resnet", tuple(input_shape[1:]), [s for _, _, s in specs], final_pool,
                       "fewer stride-2 stages")
        self.pool, self.classifier = classifier_head(in_ch, hw, final_pool, num_classes,
                                                     weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.pixel_scale(x)))
        return self.classifier(self.pool(x).flatten(1))


def check_stages(stages: Any) -> list[tuple[int, int, int]]:
    """stages as (channels, blocks, stride) triples; ModelError saying the form if not."""
    form = ("resnet stages must be a non-empty list of [channels, blocks, stride] (positive "
            "channels and blocks, stride 1 or 2), e.g. [[16, 1, 1], [32, 1, 2]]")
    if not isinstance(stages, list | tuple) or not stages:
        raise ModelError(f"{form}; got {stages!r}")
    out = []
    for stage in stages:
        if not isinstance(stage, list | tuple) or len(stage) != 3:
            raise ModelError(f"{form}; got stage {stage!r}")
        channels, blocks, stride = stage
        int_option("resnet", "stage channels", channels, 1, f"stage {list(stage)}")
        int_option("resnet", "stage blocks", blocks, 1, f"stage {list(stage)}")
        out.append((int(channels), int(blocks), check_stride("resnet", "stage stride", stride)))
    return out


def build_resnet(input_shape: tuple[int, int, int], num_classes: int, weight_bits: int,
                 act_bits: int, **options: Any) -> QuantResNet:
    """Options: `preset` resnet8|resnet-small (default resnet8), or `stem` (channels), `stages`
    ([channels, blocks, stride] per stage), `final_pool` (MaxPool2d kernel before the
    classifier, 1 = none, or "global": global average pool)."""
    reject_unknown_options("resnet", options, RESNET_OPTIONS)
    check_bits(weight_bits, act_bits)
    check_multibit_activations(
        "resnet", act_bits, "its padded 3x3 convs pad bipolar activations with 0, which FINN's "
        "XNOR hardware cannot represent (its padding reads as -1)")
    preset = options.get("preset", "resnet8")
    if preset not in RESNET_PRESETS:
        raise ModelError(
            f"unknown resnet preset {preset!r}; choose one of {', '.join(RESNET_PRESETS)}")
    cfg = {**RESNET_PRESETS[preset], **{k: v for k, v in options.items() if k != "preset"}}
    stem = int_option("resnet", "stem", cfg["stem"], 1, "the stem conv's output channels")
    stages = check_stages(cfg["stages"])
    final_pool = final_pool_option("resnet", cfg["final_pool"])
    return QuantResNet(input_shape, num_classes, stem, stages, final_pool, weight_bits, act_bits)
