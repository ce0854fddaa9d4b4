"""A small 1-D residual network written with Brevitas alone, as a user writes a keyword-spotting
or TCN-style model: Conv1d stem and one residual block whose add takes both operands from one
shared quantizer, then a 2x max-pool and a linear classifier over (C, L) sequences."""

from __future__ import annotations

import torch
from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear, QuantReLU
from torch import nn

BITS = 4


def conv(cin: int, cout: int) -> QuantConv1d:
    return QuantConv1d(cin, cout, 3, padding=1, bias=False, weight_bit_width=BITS)


class Residual1d(nn.Module):
    """(C, L) = (channels_in, length) -> stem -> residual block -> MaxPool1d(2) -> logits."""

    def __init__(self, channels_in: int, length: int, width: int = 8,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.stream = QuantIdentity(bit_width=BITS, return_quant_tensor=True)  # both operands
        self.stem = nn.Sequential(conv(channels_in, width), nn.BatchNorm1d(width), self.stream)
        self.conv1, self.bn1 = conv(width, width), nn.BatchNorm1d(width)
        self.relu = QuantReLU(bit_width=BITS)
        self.conv2, self.bn2 = conv(width, width), nn.BatchNorm1d(width)
        self.head = QuantReLU(bit_width=BITS)
        self.pool = nn.MaxPool1d(2)
        self.classifier = QuantLinear(width * (length // 2), num_classes, bias=False,
                                      weight_bit_width=BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x / 255.0)
        y = self.stream(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        return self.classifier(self.pool(self.head(x + y)).flatten(1))
