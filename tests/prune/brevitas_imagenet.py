"""Brevitas's own ImageNet models (brevitas_examples.imagenet_classification), built tiny, as a
user who deploys MobileNet-v1 (finn-examples' model) or ProxylessNAS brings them: per-channel
weights everywhere, per-channel activation scales in front of each depthwise conv, inverted
residuals on one shared quantizer, a TruncAvgPool2d and a biased classifier. Calibrated so that
no channel is dead and the per-channel activation scales differ."""

from __future__ import annotations

import pytest
import torch
from brevitas import nn as qnn
from calibration import trained_looking
from torch import nn


def _mobilenet_v1() -> nn.Module:
    # 12x12 -> 3x3 stem at stride 2, no padding -> 5x5 -> stride-2 stage -> 3x3 -> 3x3 average
    from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

    return MobileNet(channels=[[8], [16], [16, 16]], first_stage_stride=False, act_bit_width=4,
                     weight_bit_width=4, round_average_pool=False, avg_pool_kernel_size=3,
                     in_channels=1, num_classes=10)


def _proxylessnas() -> nn.Module:
    # 14x14 -> 3x3 stem at stride 2 -> 7x7 (the model's fixed 7x7 average pool): a unit without
    # expansion, then an expanded one with a residual add on the stage's shared QuantIdentity
    from brevitas_examples.imagenet_classification.models.proxylessnas import ProxylessNAS

    return ProxylessNAS(channels=[[8, 8]], init_block_channels=8, final_block_channels=16,
                        residuals=[[1, 1]], shortcuts=[[0, 1]], kernel_sizes=[[3, 3]],
                        expansions=[[1, 3]], bit_width=4, depthwise_bit_width=4,
                        first_layer_weight_bit_width=8, hadamard_classifier=False,
                        round_average_pool=False, in_channels=1, num_classes=10)


MODELS = {"mobilenet-v1": (_mobilenet_v1, (1, 12, 12)), "proxylessnas": (_proxylessnas, (1, 14, 14))}


def brevitas_model(name: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    pytest.importorskip("brevitas_examples.imagenet_classification.models")
    make, shape = MODELS[name]
    torch.manual_seed(seed)
    model = make()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, qnn.QuantReLU | qnn.QuantIdentity):
                for pname, p in module.named_parameters():
                    if pname.endswith("scaling_impl.value") and p.numel() > 1:
                        p.mul_(torch.empty_like(p).uniform_(0.7, 1.3))
    return trained_looking(model, shape, seed), shape
