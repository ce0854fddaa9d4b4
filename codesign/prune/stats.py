"""Work and size of a Brevitas model: parameters, MACs and BOPs per weight layer.

BOPs (bit operations) = MACs x weight bits x input bits, the usual cost measure for
quantized networks. Input bits come from the activation quantizer that ran last before the
layer; a layer that sees raw pixels (nothing quantized before it) gets 8 bits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

PIXEL_BITS = 8


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str  # conv | linear
    in_features: int  # input channels (conv) or features (linear)
    out_features: int
    params: int
    macs: int
    bops: int
    weight_bits: int
    input_bits: int


@dataclass(frozen=True)
class ModelCost:
    layers: tuple[LayerCost, ...]
    params: int
    macs: int
    bops: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _act_bits(module: nn.Module) -> int | None:
    quant = getattr(module, "act_quant", None)
    if quant is None or not callable(getattr(quant, "bit_width", None)):
        return None
    bits = quant.bit_width()
    return None if bits is None else int(round(float(bits)))


def model_cost(model: nn.Module, input_shape: tuple[int, int, int]) -> ModelCost:
    from brevitas.nn import QuantConv2d, QuantLinear

    from codesign.prune.graph import execution_trace

    trace = execution_trace(model, input_shape, lambda m: isinstance(m, QuantConv2d | QuantLinear)
                            or _act_bits(m) is not None)
    layers: list[LayerCost] = []
    input_bits = PIXEL_BITS
    for name, module, out_shape in trace:
        bits = _act_bits(module)
        if bits is not None:
            input_bits = bits
            continue
        if not isinstance(module, QuantConv2d | QuantLinear):
            continue
        weight = module.weight
        positions = int(out_shape[2] * out_shape[3]) if isinstance(module, QuantConv2d) else 1
        macs = int(weight.numel()) * positions
        weight_bits = int(round(float(module.quant_weight().bit_width)))
        params = int(weight.numel()) + (0 if module.bias is None else int(module.bias.numel()))
        layers.append(LayerCost(
            name=name, kind="conv" if isinstance(module, QuantConv2d) else "linear",
            in_features=int(weight.shape[1]), out_features=int(weight.shape[0]), params=params,
            macs=macs, bops=macs * weight_bits * input_bits, weight_bits=weight_bits,
            input_bits=input_bits))
    return ModelCost(tuple(layers), sum(c.params for c in layers), sum(c.macs for c in layers),
                     sum(c.bops for c in layers))


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero quantized weights over all weight layers."""
    import torch
    from brevitas.nn import QuantConv2d, QuantLinear

    zeros = total = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, QuantConv2d | QuantLinear):
                weight = module.quant_weight().value
                zeros += int((weight == 0).sum())
                total += int(weight.numel())
    return zeros / total if total else 0.0
