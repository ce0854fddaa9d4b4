"""A 1-D convolutional network written the way Brevitas's own examples write them (VGG10 for
RadioML, keyword spotting): an 8-bit input quantizer, QuantConv1d -> BatchNorm1d -> QuantReLU
blocks with MaxPool1d, a flattened QuantLinear head. `kws_like` is loadable by `codesign build`
(`tests/finn/conv1d_models.py:kws_like`)."""

from __future__ import annotations

import torch
from brevitas import nn as qnn
from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerTensorFloat
from calibration import shifted_globally
from torch import nn

CHANNELS, LENGTH = 28, 28  # MNIST rows as a sequence: 28 features per step, 28 steps


class KwsLike(nn.Module):
    def __init__(self, bits: int = 2, width: int = 16, classes: int = 10) -> None:
        super().__init__()
        weights = {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": bits, "bias": False}
        self.input_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8,
                                             return_quant_tensor=True)
        self.features = nn.Sequential(
            qnn.QuantConv1d(CHANNELS, width, 3, **weights), nn.BatchNorm1d(width),
            qnn.QuantReLU(bit_width=bits, return_quant_tensor=True), nn.MaxPool1d(2),
            qnn.QuantConv1d(width, width, 3, **weights), nn.BatchNorm1d(width),
            qnn.QuantReLU(bit_width=bits, return_quant_tensor=True),
        )
        self.classifier = qnn.QuantLinear(width * 11, classes, **weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.input_quant(x / 255.0))
        return self.classifier(x.flatten(1))


def kws_like(bits: int = 2, seed: int = 0) -> KwsLike:
    """The model with BatchNorm statistics and activation scales calibrated on random inputs
    (so that no activation is dead and bit-exactness is not trivially true)."""
    torch.manual_seed(seed)
    return shifted_globally(KwsLike(bits), (CHANNELS, LENGTH))
