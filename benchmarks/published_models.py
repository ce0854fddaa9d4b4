"""Brevitas modules of published FINN accelerators the zoo does not build as published.

VGG10 for RadioML 2018.01A as in Xilinx/finn-examples build/vgg10-radioml (README and
ZCU104 folding config): 4-bit weights and activations, 2 input channels (I/Q) x 1024 samples,
seven 32-filter 1-D convs (kernel 3, zero padding 1, so the length is kept) each followed by a
2x max-pool (1024 -> 8), then FC 256 -> 128 -> 128 -> 24 classes. Written with codesign's own
zoo blocks (raw values scaled by 1/255, quantized conv/linear without bias, BatchNorm, quantized
ReLU), so it compiles through codesign's FINN path like a zoo model; the published model reads
signed INT8 I/Q samples, codesign's UINT8: the stream width (8 bits x 2 channels) is the same."""

from __future__ import annotations

import torch
from brevitas.nn import QuantConv1d
from torch import nn

from codesign.models.mlp import PixelScale, fc_stack, quant_activation, quant_linear, weight_kwargs

VGG10_CHANNELS, VGG10_FC, VGG10_KERNEL, VGG10_BITS = [32] * 7, [128, 128], 3, 4


class VGG10RadioML(nn.Module):
    def __init__(self, input_shape: tuple[int, int] = (2, 1024), num_classes: int = 24,
                 bits: int = VGG10_BITS) -> None:
        super().__init__()
        self.pixel_scale = PixelScale()
        layers: list[nn.Module] = []
        in_ch, length = input_shape
        for out_ch in VGG10_CHANNELS:
            layers += [QuantConv1d(in_ch, out_ch, kernel_size=VGG10_KERNEL, padding=1, bias=False,
                                   **weight_kwargs(bits)),
                       nn.BatchNorm1d(out_ch), quant_activation(bits), nn.MaxPool1d(2)]
            in_ch, length = out_ch, length // 2
        self.conv_features = nn.Sequential(*layers)
        self.fc_features, width = fc_stack(in_ch * length, VGG10_FC, bits, bits)
        self.classifier = quant_linear(width, num_classes, bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_features(self.pixel_scale(x))
        return self.classifier(self.fc_features(x.flatten(1)))
