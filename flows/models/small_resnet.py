"""A small residual network written the way a Brevitas user writes one, with nothing from
codesign: `flows/user_resnet_w4a4_mnist5k_pruned.yaml` trains, prunes and builds it through
`model: {module: models/small_resnet.py:make}`.

What FINN needs from a residual network, and so what this model does:
- both operands of an add come out of ONE quantizer instance (`return_quant_tensor=True`), so
  they share one scale and the hardware adds integers;
- an identity block adds its input to its branch quantized by the quantizer that produced the
  input; a block that changes the width or the map adds a strided 1x1 projection, both through
  a quantizer of its own;
- inputs are the dataset's raw 0..255 pixels: the model scales them itself.
"""

from __future__ import annotations

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from torch import nn

BITS = 4


def conv(cin: int, cout: int, kernel: int, stride: int = 1) -> QuantConv2d:
    return QuantConv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False,
                       weight_bit_width=BITS)


def stream() -> QuantIdentity:
    """The signed quantizer both operands of a residual add go through."""
    return QuantIdentity(bit_width=BITS, return_quant_tensor=True)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, in_quant: nn.Module,
                 out_quant: nn.Module) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv(cin, cout, 3, stride), nn.BatchNorm2d(cout)
        self.relu = QuantReLU(bit_width=BITS)
        self.conv2, self.bn2 = conv(cout, cout, 3), nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.project = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))
            self.add_quant = stream()
        else:
            self.project = None
            self.add_quant = in_quant  # the input is on this quantizer's scale already
        self.out_quant = out_quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.add_quant(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        shortcut = x if self.project is None else self.add_quant(self.project(x))
        return self.out_quant(y + shortcut)


class SmallResNet(nn.Module):
    """28x28 -> stem 16 -> identity block 16 -> projection block 32 (stride 2) -> 2x2 max-pool
    -> 10 logits."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        first, second, head = stream(), stream(), QuantReLU(bit_width=BITS)
        self.stem = nn.Sequential(conv(1, 16, 3), nn.BatchNorm2d(16), first)
        self.blocks = nn.Sequential(Block(16, 16, 1, first, second),
                                    Block(16, 32, 2, second, head))
        self.pool = nn.MaxPool2d(2)
        self.classifier = QuantLinear(32 * 7 * 7, num_classes, bias=False, weight_bit_width=BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x / 255.0))
        return self.classifier(self.pool(x).flatten(1))


def make() -> SmallResNet:
    return SmallResNet()
