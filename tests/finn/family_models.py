"""Residual and depthwise-separable networks written the way Brevitas's own examples write them,
small enough for tests: a basic residual block with an identity or a 1x1 strided projection
shortcut (both add operands through one shared quantizer, or, to test the error, not), and a
depthwise 3x3 + pointwise 1x1 block. BatchNorm statistics and scales are calibrated on random
inputs so that no activation is dead."""

from __future__ import annotations

import torch
from brevitas import nn as qnn
from brevitas.quant import Int8WeightPerTensorFloat
from calibration import trained_looking
from torch import nn

SHAPE = (1, 10, 10)


def _weights(bits: int) -> dict[str, object]:
    return {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": bits, "bias": False}


class BasicBlock(nn.Module):
    def __init__(self, channels: int, shared: nn.Module, bits: int, projection: bool,
                 unshared: bool) -> None:
        super().__init__()
        stride = 2 if projection else 1
        w = _weights(bits)
        self.conv1 = qnn.QuantConv2d(channels, channels, 3, stride=stride, padding=1, **w)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(channels, channels, 3, padding=1, **w)
        self.bn2 = nn.BatchNorm2d(channels)
        self.unshared = unshared
        # The add's operands: through the block's shared quantizer, or (unshared) through one of
        # their own, as float tensors on different scales.
        self.quant2 = (qnn.QuantIdentity(bit_width=bits, return_quant_tensor=False) if unshared
                       else shared)
        self.shared = shared
        self.downsample = (nn.Sequential(qnn.QuantConv2d(channels, channels, 1, stride=2, **w),
                                         nn.BatchNorm2d(channels)) if projection else None)
        self.relu_out = qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.quant2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))
        shortcut = self.shared(self.downsample(x)) if self.downsample is not None else x
        if self.unshared:
            shortcut = shortcut.value if hasattr(shortcut, "value") else shortcut
        return self.relu_out(y + shortcut)


class TinyResNet(nn.Module):
    def __init__(self, bits: int = 4, projection: bool = False, unshared: bool = False) -> None:
        super().__init__()
        self.stem = qnn.QuantConv2d(1, 8, 3, padding=1, **_weights(bits))
        self.stem_bn = nn.BatchNorm2d(8)
        self.shared = qnn.QuantIdentity(bit_width=bits, return_quant_tensor=True)
        # the projection block's input has its own quantizer; the two add operands share `shared`
        self.stem_quant = (qnn.QuantIdentity(bit_width=bits, return_quant_tensor=True)
                           if projection else self.shared)
        self.layer1 = nn.ModuleList([BasicBlock(8, self.shared, bits, projection, unshared)])
        self.pool = nn.Identity() if projection else nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(8 * 5 * 5, 10, **_weights(bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_quant(self.stem_bn(self.stem(x / 255.0)))
        for block in self.layer1:
            x = block(x)
        return self.fc(self.pool(x).flatten(1))


class TinyDepthwise(nn.Module):
    """conv 3x3 -> depthwise 3x3 -> pointwise 1x1 -> max-pool -> linear (MobileNet-v1 style)."""

    def __init__(self, bits: int = 4) -> None:
        super().__init__()
        w = _weights(bits)
        self.conv = qnn.QuantConv2d(1, 8, 3, padding=1, **w)
        self.bn = nn.BatchNorm2d(8)
        self.relu = qnn.QuantReLU(bit_width=bits)
        self.dw = qnn.QuantConv2d(8, 8, 3, padding=1, groups=8, **w)
        self.dw_bn = nn.BatchNorm2d(8)
        self.dw_relu = qnn.QuantReLU(bit_width=bits)
        self.pw = qnn.QuantConv2d(8, 16, 1, **w)
        self.pw_bn = nn.BatchNorm2d(16)
        self.pw_relu = qnn.QuantReLU(bit_width=bits)
        self.pool = nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(16 * 5 * 5, 10, **w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x / 255.0)))
        x = self.dw_relu(self.dw_bn(self.dw(x)))
        x = self.pool(self.pw_relu(self.pw_bn(self.pw(x))))
        return self.fc(x.flatten(1))


def calibrated(model: nn.Module, seed: int = 0) -> nn.Module:
    return trained_looking(model, SHAPE, seed)


def resnet(projection: bool = False, unshared: bool = False, bits: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return calibrated(TinyResNet(bits, projection, unshared))


def depthwise(bits: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return calibrated(TinyDepthwise(bits))


class ConcatBranches(nn.Module):
    """Two convolutions of one input concatenated on channels (an Inception-style join)."""

    def __init__(self, bits: int = 4) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=bits, return_quant_tensor=True)
        self.wide = qnn.QuantConv2d(1, 4, 3, padding=1, **_weights(bits))
        self.narrow = qnn.QuantConv2d(1, 4, 1, **_weights(bits))
        self.relu = qnn.QuantReLU(bit_width=bits)
        self.fc = qnn.QuantLinear(8 * SHAPE[1] * SHAPE[2], 10, **_weights(bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x / 255.0)
        y = torch.cat([self.wide(x), self.narrow(x)], dim=1)
        return self.fc(self.relu(y).flatten(1))


class RecurrentHead(nn.Module):
    """An LSTM over the image rows (as KWS models sometimes end)."""

    def __init__(self, bits: int = 4) -> None:
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=bits, return_quant_tensor=False)
        self.rnn = nn.LSTM(SHAPE[2], 16, batch_first=True)
        self.fc = qnn.QuantLinear(16 * SHAPE[1], 10, **_weights(bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(self.inp(x / 255.0).squeeze(1))
        return self.fc(y.flatten(1))
