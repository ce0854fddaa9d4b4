"""A small 1-D residual network (keyword-spotting / TCN style) written the way a Brevitas user
writes one, with nothing from codesign: `flows/user_res1d_w4a4_fashion_rows_pruned.yaml` trains,
prunes and builds it through `model: {module: models/small_res1d.py:make}`.

Inputs are (C, L) sequences of raw 0..255 values (the dataset's `sequence: rows`: 28 steps of
28 pixels); the model scales them itself. Both operands of each residual add come out of ONE
quantizer instance (`return_quant_tensor=True`), so they share one scale and the hardware adds
integers. Pools are 2x max-pools: a global MaxPool1d over all steps would bound the throughput
at its sliding window's cycles whatever the channel counts (FINN's estimate: 759 cycles for 28
steps at full SIMD)."""

from __future__ import annotations

import torch
from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear, QuantReLU
from torch import nn

BITS = 4


def conv(cin: int, cout: int, padding: int = 1) -> QuantConv1d:
    return QuantConv1d(cin, cout, 3, padding=padding, bias=False, weight_bit_width=BITS)


class Block(nn.Module):
    """An identity residual block: two 3-tap convs, the sum re-quantized by `stream`, the
    quantizer its input already came out of."""

    def __init__(self, width: int, stream: nn.Module) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv(width, width), nn.BatchNorm1d(width)
        self.relu = QuantReLU(bit_width=BITS)
        self.conv2, self.bn2 = conv(width, width), nn.BatchNorm1d(width)
        self.stream = stream

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stream(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        return self.stream(x + y)


class SmallRes1d(nn.Module):
    """(28, 28) -> stem 32 -> two identity blocks -> pool -> conv 64 (no padding) -> pool ->
    10 logits."""

    def __init__(self, features: int = 28, steps: int = 28, num_classes: int = 10) -> None:
        super().__init__()
        stream = QuantIdentity(bit_width=BITS, return_quant_tensor=True)
        self.stem = nn.Sequential(conv(features, 32), nn.BatchNorm1d(32), stream)
        self.blocks = nn.Sequential(Block(32, stream), Block(32, stream))
        self.head = nn.Sequential(QuantReLU(bit_width=BITS), nn.MaxPool1d(2), conv(32, 64, 0),
                                  nn.BatchNorm1d(64), QuantReLU(bit_width=BITS), nn.MaxPool1d(2))
        length = (steps // 2 - 2) // 2
        self.classifier = QuantLinear(64 * length, num_classes, bias=False,
                                      weight_bit_width=BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x / 255.0)))
        return self.classifier(x.flatten(1))


def make() -> SmallRes1d:
    return SmallRes1d()
