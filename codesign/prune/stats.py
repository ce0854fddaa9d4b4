"""Work and size of a Brevitas model: parameters, MACs and BOPs per weight layer.

BOPs (bit operations) = MACs x weight bits x input bits, the usual cost measure for
quantized networks. A layer's input bits are, first match: its own enabled input quantizer, the
bit width of a QuantTensor it receives, the last quantizer that ran before it (an activation's,
or a truncating average pool's output), else 8 for raw pixels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from codesign.prune.graph import execution_trace

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


def _quantizer_bits(quantizer: Any) -> int | None:
    """Bit width of an enabled Brevitas activation quantizer proxy, else None."""
    if quantizer is None or not getattr(quantizer, "is_quant_enabled", False):
        return None
    bits = quantizer.bit_width()
    return None if bits is None else int(round(float(bits)))


def _sets_bits(module: nn.Module) -> bool:
    """Quantized activations and truncating pools: modules whose output bit width the next
    weight layer sees."""
    return hasattr(module, "act_quant") or hasattr(module, "trunc_quant")


def model_cost(model: nn.Module, input_shape: tuple[int, ...]) -> ModelCost:
    from math import prod

    from brevitas.nn import QuantConv1d, QuantConv2d, QuantLinear

    weight_types = (QuantConv1d, QuantConv2d, QuantLinear)
    trace = execution_trace(model, input_shape,
                            lambda m: isinstance(m, weight_types) or _sets_bits(m))
    layers: list[LayerCost] = []
    bits_so_far = PIXEL_BITS
    for call in trace:
        module = call.module
        if not isinstance(module, weight_types):
            bits = call.output_bits or _quantizer_bits(getattr(module, "act_quant", None))
            bits_so_far = bits or bits_so_far
            continue
        input_bits = _quantizer_bits(module.input_quant) or call.input_bits or bits_so_far
        weight = module.weight
        conv = isinstance(module, QuantConv1d | QuantConv2d)
        positions = int(prod(call.output_shape[2:])) if conv else 1  # output pixels / steps
        macs = int(weight.numel()) * positions
        weight_bits = int(round(float(module.quant_weight().bit_width)))
        params = int(weight.numel()) + (0 if module.bias is None else int(module.bias.numel()))
        layers.append(LayerCost(
            name=call.name, kind="conv" if conv else "linear", in_features=int(weight.shape[1]),
            out_features=int(weight.shape[0]), params=params, macs=macs,
            bops=macs * weight_bits * input_bits, weight_bits=weight_bits,
            input_bits=input_bits))
    return ModelCost(tuple(layers), sum(c.params for c in layers), sum(c.macs for c in layers),
                     sum(c.bops for c in layers))


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero quantized weights over all weight layers."""
    import torch
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantLinear

    zeros = total = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, QuantConv1d | QuantConv2d | QuantLinear):
                weight = module.quant_weight().value
                zeros += int((weight == 0).sum())
                total += int(weight.numel())
    return zeros / total if total else 0.0
