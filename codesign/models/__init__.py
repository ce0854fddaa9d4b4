"""The Brevitas model zoo: FINN-compatible quantized MLPs and CNNs.

Importing this package is cheap (torch and brevitas load on the first `build_model`), so the
config layer can validate `model.arch` against ARCHS without paying for torch."""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

from codesign.errors import ModelError

if TYPE_CHECKING:
    from torch import nn

ARCHS = ("mlp", "cnv")

__all__ = ["ARCHS", "build_model"]


def build_model(arch: str, *, input_shape: tuple[int, int, int], num_classes: int,
                weight_bits: int, act_bits: int, **options: Any) -> nn.Module:
    """Build zoo model `arch` for (C, H, W) uint8-pixel inputs; it returns `num_classes` logits.

    mlp options: hidden | preset (tfc, sfc, lfc). cnv options: preset (cnv, cnv-small) |
    channels, fc, pool_every, input_padding. Bit widths are 1..8 (1 = bipolar)."""
    if arch not in ARCHS:
        raise ModelError(f"unknown model arch {arch!r}; choose one of {', '.join(ARCHS)}")
    if len(input_shape) != 3 or not all(isinstance(d, Integral) and d >= 1 for d in input_shape):
        raise ModelError(f"input_shape must be (C, H, W) positive integers, got {input_shape!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    if arch == "mlp":
        from codesign.models.mlp import build_mlp

        return build_mlp(shape, num_classes, weight_bits, act_bits, **options)
    from codesign.models.cnv import build_cnv

    return build_cnv(shape, num_classes, weight_bits, act_bits, **options)
