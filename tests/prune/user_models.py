"""Small user Brevitas models for the pruning tests: ones that structured pruning supports
(per-channel and parameter-scaled quantizers, quantized biases, QuantHardTanh, nn.Flatten,
Dropout, view(x.size(0), -1)) and ones it must refuse."""

from __future__ import annotations

import torch
from brevitas.nn import (
    QuantConv2d,
    QuantHardTanh,
    QuantIdentity,
    QuantLinear,
    QuantReLU,
    TruncAvgPool2d,
)
from brevitas.quant import Int8ActPerTensorFloat, Int8Bias, Int8WeightPerChannelFloat, Int32Bias
from torch import nn

from codesign.models.mlp import PixelScale

SHAPE = (3, 10, 10)


class PerChannelNet(nn.Module):
    """conv(float bias, per-channel weights) -> BN -> QuantReLU -> pool -> conv -> HardTanh ->
    Flatten -> Dropout -> linear(bias) -> QuantReLU(per-channel) -> linear."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = PixelScale()
        self.conv1 = QuantConv2d(3, 8, 3, bias=True, weight_quant=Int8WeightPerChannelFloat,
                                 weight_bit_width=4)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = QuantReLU(bit_width=4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = QuantConv2d(8, 6, 3, bias=False, weight_quant=Int8WeightPerChannelFloat,
                                 weight_bit_width=4)
        self.act2 = QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0)
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(0.1)
        self.fc1 = QuantLinear(6 * 2 * 2, 12, bias=True, weight_bit_width=4)
        self.act3 = QuantReLU(bit_width=4, scaling_per_output_channel=True,
                              per_channel_broadcastable_shape=(1, 12),
                              scaling_stats_permute_dims=(1, 0))
        self.fc2 = QuantLinear(12, 4, bias=False, weight_bit_width=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.bn1(self.conv1(self.scale(x)))))
        x = self.drop(self.flatten(self.act2(self.conv2(x))))
        return self.fc2(self.act3(self.fc1(x)))


PER_CHANNEL = {"weight_quant": Int8WeightPerChannelFloat, "weight_bit_width": 4}


def per_channel_act(cls: type, channels: int, spatial: bool, **kwargs) -> nn.Module:
    """A quantized activation with one learned scale per channel."""
    shape = (1, channels, 1, 1) if spatial else (1, channels)
    permute = (1, 0, 2, 3) if spatial else (1, 0)
    return cls(bit_width=4, scaling_per_output_channel=True,
               per_channel_broadcastable_shape=shape, scaling_stats_permute_dims=permute,
               **kwargs)


class QuantBiasNet(nn.Module):
    """Quantized biases (Int32Bias, Int8Bias, which need a quantized input: return_quant_tensor)
    and learned per-channel weight scales (PARAMETER and PARAMETER_FROM_STATS), per-channel
    QuantReLU on a conv and per-channel QuantIdentity on a linear, view(x.size(0), -1)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = PixelScale()
        self.inp = QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.conv1 = QuantConv2d(3, 8, 3, bias=True, bias_quant=Int32Bias,
                                 weight_scaling_impl_type="parameter", weight_scaling_init=0.05,
                                 **PER_CHANNEL)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = per_channel_act(QuantReLU, 8, spatial=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = QuantConv2d(8, 6, 3, bias=False,
                                 weight_scaling_impl_type="parameter_from_stats", **PER_CHANNEL)
        self.act2 = QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0, return_quant_tensor=True)
        self.drop = nn.Dropout(0.1)
        self.fc1 = QuantLinear(6 * 2 * 2, 12, bias=True, bias_quant=Int8Bias,
                               weight_scaling_impl_type="parameter", weight_scaling_init=0.1,
                               **PER_CHANNEL)
        self.act3 = per_channel_act(QuantIdentity, 12, spatial=False)
        self.fc2 = QuantLinear(12, 4, bias=False, weight_bit_width=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.bn1(self.conv1(self.inp(self.scale(x))))))
        x = self.act2(self.conv2(x))
        x = self.drop(x.view(x.size(0), -1))
        return self.fc2(self.act3(self.fc1(x)))


class AvgPoolNet(nn.Module):
    """An 8-bit input quantizer, a per-channel QuantReLU handing a QuantTensor to a TruncAvgPool2d
    (its output is 8 bits again), nn.Flatten and Dropout, a linear layer with its own 6-bit input
    quantizer and a per-channel QuantHardTanh."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = PixelScale()
        self.inp = QuantIdentity(bit_width=8)
        self.conv1 = QuantConv2d(3, 8, 3, bias=True, **PER_CHANNEL)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = per_channel_act(QuantReLU, 8, spatial=True, return_quant_tensor=True)
        self.pool = TruncAvgPool2d(2)
        self.conv2 = QuantConv2d(8, 6, 3, bias=False, weight_bit_width=4)
        self.act2 = QuantHardTanh(bit_width=4, min_val=-1.0, max_val=1.0)
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(0.1)
        self.fc1 = QuantLinear(6 * 2 * 2, 12, bias=True, input_quant=Int8ActPerTensorFloat,
                               input_bit_width=6, **PER_CHANNEL)
        self.act3 = per_channel_act(QuantHardTanh, 12, spatial=False, min_val=-1.0, max_val=1.0)
        self.fc2 = QuantLinear(12, 4, bias=False, weight_bit_width=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.bn1(self.conv1(self.inp(self.scale(x))))))
        x = self.drop(self.flatten(self.act2(self.conv2(x))))
        return self.fc2(self.act3(self.fc1(x)))


class SharedActNet(nn.Module):
    """One activation module after two layers; per-channel or per-tensor."""

    def __init__(self, per_channel: bool) -> None:
        super().__init__()
        self.fc1 = QuantLinear(16, 8, bias=False, weight_bit_width=2)
        self.act = per_channel_act(QuantReLU, 8, spatial=False) if per_channel else \
            QuantReLU(bit_width=4)
        self.fc2 = QuantLinear(8, 8, bias=False, weight_bit_width=2)
        self.fc3 = QuantLinear(8, 3, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x.flatten(1))))))


class _ThreeLinears(nn.Module):
    """16 -> 8 -> 8 -> 3 linears and one shared activation; subclasses wire them unusually."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = QuantLinear(16, 8, bias=False, weight_bit_width=2)
        self.act = QuantReLU(bit_width=2)
        self.fc2 = QuantLinear(8, 8, bias=False, weight_bit_width=2)
        self.fc3 = QuantLinear(8, 3, bias=False, weight_bit_width=2)


class SharedNet(_ThreeLinears):
    """One linear layer called twice."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.fc2(self.act(self.fc2(self.act(self.fc1(x.flatten(1)))))))


class ConcatNet(nn.Module):
    """Two producers concatenated into one consumer."""

    def __init__(self) -> None:
        super().__init__()
        self.a = QuantLinear(16, 4, bias=False, weight_bit_width=2)
        self.b = QuantLinear(16, 4, bias=False, weight_bit_width=2)
        self.fc = QuantLinear(8, 3, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return self.fc(torch.cat([self.a(x), self.b(x)], dim=1))


class ResidualNet(_ThreeLinears):
    """A residual add around fc2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x.flatten(1)))
        return self.fc3(h + self.fc2(h))


class WrittenNet(_ThreeLinears):
    """fc1 -> act -> fc2 with a residual add around fc2, and the input scaling, the add and a
    scale written as `write(x, fc1, act, fc2)` says (plain Python arithmetic or torch calls)."""

    def __init__(self, write) -> None:
        super().__init__()
        self.write = write

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.write(x.flatten(1), self.fc1, self.act, self.fc2))


def _in_place_sum(x, fc1, act, fc2):
    h = act(fc1(torch.true_divide(x, 255.0)))
    h += fc2(h)
    return h


WRITTEN = {
    "x / 255.0, h + fc2(h)": lambda x, fc1, act, fc2: (lambda h: h + fc2(h))(act(fc1(x / 255.0))),
    "torch.div, torch.add, * 0.5": lambda x, fc1, act, fc2: (
        lambda h: torch.add(h, fc2(h)) * 0.5)(act(fc1(torch.div(x, 255.0)))),
    "true_divide, in-place +=": _in_place_sum,
    "torch.mul, .sub": lambda x, fc1, act, fc2: (
        lambda h: h.sub(fc2(h)))(act(fc1(torch.mul(x, 1 / 255)))),
}


class PreprocessedNet(_ThreeLinears):
    """The input reshaped and shifted as BNN-PYNQ's FC models do (x.shape, a constant tensor on
    x.device) before fc1; with `after_fc1`, the same shift on fc1's output instead."""

    def __init__(self, after_fc1: bool = False) -> None:
        super().__init__()
        self.after_fc1 = after_fc1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        if not self.after_fc1:
            x = 2.0 * x - torch.tensor([1.0], device=x.device)
        h = self.fc1(x)
        if self.after_fc1:
            h = h - torch.tensor([1.0], device=h.device)
        return self.fc3(self.fc2(self.act(h)))


class GroupedNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = QuantConv2d(4, 8, 3, groups=2, bias=False, weight_bit_width=2)
        self.act = QuantReLU(bit_width=2)
        self.fc = QuantLinear(8 * 4 * 4, 3, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv1(x)).flatten(1))


class SigmoidNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = QuantLinear(16, 8, bias=False, weight_bit_width=2)
        self.sig = nn.Sigmoid()
        self.fc2 = QuantLinear(8, 3, bias=False, weight_bit_width=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.sig(self.fc1(x.flatten(1))))
