"""Quantized MLP (FINN's TFC/SFC/LFC family) and the layer building blocks both zoo models share.

Every zoo model reads raw pixel values (0..255 as floats) and scales them by 1/255 with a plain
scalar multiply: FINN's streamlining moves that Mul past the first MatMul/Conv into the next
thresholds, so the hardware consumes the UINT8 pixel stream directly. Hidden layers are
QuantLinear/QuantConv2d (no bias) -> BatchNorm -> quantized activation, which FINN turns into
MVAU + Thresholding; the classifier is a bare QuantLinear, i.e. integer accumulators times one
per-tensor scale (a scalar Mul FINN can keep as a tail node or absorb into a TopK)."""

from __future__ import annotations

from typing import Any

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant import (
    Int8WeightPerTensorFloat,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    Uint8ActPerTensorFloatMaxInit,
)
from torch import nn

from codesign.errors import ModelError
from codesign.quiet import import_brevitas

import_brevitas()  # before brevitas.export imports it: keeps its notice out of run output

MIN_BITS, MAX_BITS = 1, 8
ACT_CLIP_INIT = 2.0  # initial clip of the hidden ReLUs, in units of the BatchNorm output
MLP_PRESETS: dict[str, list[int]] = {
    "tfc": [64, 64, 64],
    "sfc": [256, 256, 256],
    "lfc": [1024, 1024, 1024, 1024],
}


def check_bits(weight_bits: Any, act_bits: Any) -> None:
    for label, bits in (("weight_bits", weight_bits), ("act_bits", act_bits)):
        if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
            raise ModelError(
                f"{label}={bits!r} is not supported; FINN zoo models take integer bit widths "
                f"{MIN_BITS}..{MAX_BITS} (1 = bipolar)"
            )
    # Brevitas exports every 1-bit quantizer as BipolarQuant (+-s), and FINN turns bipolar
    # activations into hardware only when the weights they meet are bipolar too (XNOR-popcount).
    if act_bits == 1 and weight_bits != 1:
        raise ModelError(
            f"act_bits=1 with weight_bits={weight_bits} is not supported: 1-bit activations are "
            "bipolar, and FINN only builds bipolar activations into XNOR layers with 1-bit "
            "weights. Use weight_bits=1 (a binarized network) or act_bits >= 2"
        )


def check_widths(label: str, widths: Any) -> list[int]:
    if not isinstance(widths, list | tuple) or not all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ModelError(f"{label} must be a list of positive integers, got {widths!r}")
    return [int(w) for w in widths]


def reject_unknown_options(arch: str, options: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ModelError(
            f"unknown {arch} option(s) {', '.join(unknown)}; valid options are {', '.join(known)}"
        )


# 1/255 rounded to float32, the value float32 training multiplies by and the exported Mul holds.
# As a Python float it is the same number in a float64 copy of the model (the exact reference),
# where 1.0 / 255.0 would be a different one (5.9e-8 relative), a different model.
PIXEL_SCALE = float(torch.tensor(1.0 / 255.0, dtype=torch.float32))


class PixelScale(nn.Module):
    """Multiply raw 0..255 pixels by 1/255; exported as one scalar Mul that FINN streamlines away."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * PIXEL_SCALE


def weight_kwargs(bits: int) -> dict[str, Any]:
    # 1 bit: bipolar {-s, +s} with a constant scale (exported as BipolarQuant, FINN's BIPOLAR
    # weights). 2..8 bits: narrow-range signed ints with one per-tensor scale from max |w|.
    if bits == 1:
        return {"weight_quant": SignedBinaryWeightPerTensorConst}
    return {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": bits}


def quant_linear(in_features: int, out_features: int, bits: int) -> QuantLinear:
    return QuantLinear(in_features, out_features, bias=False, **weight_kwargs(bits))


def fc_stack(in_features: int, widths: list[int], weight_bits: int, act_bits: int
             ) -> tuple[nn.Sequential, int]:
    """Hidden [QuantLinear -> BatchNorm1d -> activation] layers after a flatten, and the width
    the classifier then reads (the conv zoo models' FC head)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [quant_linear(in_features, width, weight_bits), nn.BatchNorm1d(width),
                   quant_activation(act_bits)]
        in_features = width
    return nn.Sequential(*layers), in_features


def quant_conv3x3(in_channels: int, out_channels: int, bits: int, padding: int = 0) -> QuantConv2d:
    return QuantConv2d(in_channels, out_channels, kernel_size=3, padding=padding, bias=False,
                       **weight_kwargs(bits))


def quant_activation(act_bits: int) -> nn.Module:
    """Hidden activation, which FINN turns into a MultiThreshold once BatchNorm is folded in.

    2..8 bits: unsigned ReLU whose per-tensor clip (scale) is learned, starting at 2.0, i.e.
    two standard deviations of the BatchNorm output. Measured against brevitas' default
    percentile-statistics init it trains as well or better and skips the costly per-batch
    kthvalue of the statistics phase. 1 bit: bipolar sign, as in BNN-PYNQ, so that with 1-bit
    weights the next layer becomes an XNOR-popcount MVAU."""
    if act_bits == 1:
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
    return QuantReLU(act_quant=Uint8ActPerTensorFloatMaxInit, bit_width=act_bits,
                     max_val=ACT_CLIP_INIT)


class QuantMLP(nn.Module):
    """Flatten -> x/255 -> [QuantLinear -> BatchNorm1d -> activation] * len(hidden) -> QuantLinear."""

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int, hidden: list[int],
                 weight_bits: int, act_bits: int) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.pixel_scale = PixelScale()
        layers: list[nn.Module] = []
        in_features = int(input_shape[0] * input_shape[1] * input_shape[2])
        for width in hidden:
            layers += [quant_linear(in_features, width, weight_bits), nn.BatchNorm1d(width),
                       quant_activation(act_bits)]
            in_features = width
        self.features = nn.Sequential(*layers)
        self.classifier = quant_linear(in_features, num_classes, weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pixel_scale(x.flatten(1))
        return self.classifier(self.features(x))


MLP_OPTIONS = ("hidden", "preset")


def build_mlp(input_shape: tuple[int, int, int], num_classes: int, weight_bits: int,
              act_bits: int, **options: Any) -> QuantMLP:
    """Options: `hidden` (list of widths, default TFC [64, 64, 64]) or `preset` tfc|sfc|lfc."""
    reject_unknown_options("mlp", options, MLP_OPTIONS)
    check_bits(weight_bits, act_bits)
    if "hidden" in options and "preset" in options:
        raise ModelError("mlp: give either `hidden` or `preset`, not both")
    preset = options.get("preset", "tfc")
    if preset not in MLP_PRESETS:
        raise ModelError(f"unknown mlp preset {preset!r}; choose one of {', '.join(MLP_PRESETS)}")
    hidden = check_widths("mlp hidden", options.get("hidden", MLP_PRESETS[preset]))
    return QuantMLP(input_shape, num_classes, hidden, weight_bits, act_bits)
