"""Brevitas modules of published FINN accelerators the zoo does not build as published: VGG10
for RadioML (below) and FINN's cybersecurity MLP (CybSecMLP, further down).

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


# The cybersecurity MLP (UNSW-NB15) of Xilinx/finn's end-to-end notebooks
# (notebooks/end2end_example/cybersecurity): 600 input bits (593 binarized features, padded),
# three hidden layers of 64 and one output, 2-bit weights and activations. The published model
# reads 600 bipolar bits, codesign's compile path UINT8 values: layer 0's MAC array is wider
# (resources), but its cycles, the layers' shapes and the input DMA's words per frame are the
# same (600 bits at gcd(600, 64) = 8-bit words and 4,800 bits at 64-bit words are both 75).
CYBSEC_FEATURES, CYBSEC_HIDDEN, CYBSEC_BITS = 600, [64, 64, 64], 2


class CybSecMLP(nn.Module):
    def __init__(self, features: int = CYBSEC_FEATURES, bits: int = CYBSEC_BITS) -> None:
        super().__init__()
        self.pixel_scale = PixelScale()
        self.features, width = fc_stack(features, CYBSEC_HIDDEN, bits, bits)
        self.classifier = quant_linear(width, 1, bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.pixel_scale(x.flatten(1))))
