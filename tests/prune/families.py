"""Small residual, depthwise-separable and 1-D models for the coupled-group pruning tests (zoo
models, and a user's 1-D residual network written with Brevitas alone), with their per-tensor
quantizers or every weight and activation quantizer made per-channel (shared residual
quantizers stay one instance), calibrated so that no channel is dead."""

from __future__ import annotations

from collections.abc import Callable

import torch
from brevitas import nn as qnn
from torch import nn

from codesign.models import build_model
from codesign.prune.graph import execution_trace
from tests.prune.residual1d import Residual1d

Builder = Callable[[tuple[int, ...]], nn.Module]


def _zoo(arch: str, **options: object) -> Builder:
    return lambda shape: build_model(arch, input_shape=shape, num_classes=10, weight_bits=4,
                                     act_bits=4, **options)


# name -> (builder of the model for an input shape, input shape); small enough to compile
# through FINN in seconds
FAMILIES: dict[str, tuple[Builder, tuple[int, ...]]] = {
    # identity block, projection block (strided 1x1 shortcut), identity block
    "resnet": (_zoo("resnet", preset="resnet-small"), (1, 12, 12)),
    # a stride-1 and a stride-2 depthwise-separable block
    "mobilenet": (_zoo("mobilenet", preset="mobilenet-small"), (1, 12, 12)),
    "cnn1d": (_zoo("cnn1d", channels=[8, 8], fc=[16]), (8, 24)),
    # a residual add on 1-D sequences (Conv1d stream group, BatchNorm1d, one shared quantizer)
    "residual1d": (lambda shape: Residual1d(*shape), (8, 24)),
}
# per-channel activation scales are cut like weights'; FINN builds them only in front of a
# depthwise conv (tests/prune/test_brevitas_imagenet.py), not in front of the dense convs and
# linear layers these models also have (an Im2Col is left over); "per-channel-weights" builds
QUANT = ("per-tensor", "per-channel-weights", "per-channel")
FINN_QUANT = ("per-tensor", "per-channel-weights")
ACTS = (qnn.QuantReLU, qnn.QuantIdentity, qnn.QuantHardTanh)
WEIGHTS = (qnn.QuantConv1d, qnn.QuantConv2d, qnn.QuantLinear)


def per_channel(model: nn.Module, shape: tuple[int, ...], activations: bool = True) -> nn.Module:
    """Every weight quantizer (and, with `activations`, every activation quantizer) per channel,
    through Brevitas' injectors (a shared module is converted once and stays shared)."""
    shapes = {e.module: e.output_shape
              for e in execution_trace(model, shape, lambda m: isinstance(m, ACTS))}
    for module in model.modules():
        if isinstance(module, WEIGHTS):
            proxy = module.weight_quant
            proxy.quant_injector = proxy.quant_injector.let(scaling_per_output_channel=True)
            proxy.init_tensor_quant()
        elif activations and isinstance(module, ACTS) and module in shapes:
            out = shapes[module]
            proxy = module.act_quant
            proxy.quant_injector = proxy.quant_injector.let(
                scaling_per_output_channel=True,
                per_channel_broadcastable_shape=(1, out[1]) + (1,) * (len(out) - 2),
                scaling_stats_permute_dims=(1, 0, *range(2, len(out))))
            proxy.init_tensor_quant()
    return model


def family_model(family: str, quant: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...]]:
    """A calibrated W4A4 model: trained-looking BatchNorm affines and per-channel activation
    scales, BatchNorm statistics from a few random uint8 batches."""
    build, shape = FAMILIES[family]
    torch.manual_seed(seed)
    model = build(shape)
    if quant != "per-tensor":
        per_channel(model, shape, activations=quant == "per-channel")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.normal_(module.bias, 0.0, 0.2)
                module.momentum = None  # exact averages of the batches seen
            elif isinstance(module, ACTS) and quant == "per-channel":
                for name, p in module.named_parameters():
                    if name.endswith("scaling_impl.value") and p.numel() > 1:
                        p.mul_(torch.empty_like(p).uniform_(0.7, 1.3))
        model.train()
        for _ in range(4):
            model(torch.randint(0, 256, (8, *shape)).float())
    return model.eval(), shape
