"""The Brevitas model zoo: FINN-compatible quantized MLPs and CNNs.

Importing this package is cheap (torch and brevitas load on the first `build_model`), so the
config layer can validate `model.arch` against ARCHS without paying for torch."""

from __future__ import annotations

from numbers import Integral
from typing import TYPE_CHECKING, Any

from codesign.errors import ModelError

if TYPE_CHECKING:
    from torch import nn

ARCHS = ("mlp", "cnv", "cnn1d", "resnet", "mobilenet")
# What input_shape means per arch: images (C, H, W), or sequences (C features, L time steps).
INPUT_DIMS: dict[str, tuple[str, ...]] = {"mlp": ("C", "H", "W"), "cnv": ("C", "H", "W"),
                                          "cnn1d": ("C", "L"), "resnet": ("C", "H", "W"),
                                          "mobilenet": ("C", "H", "W")}

__all__ = ["ARCHS", "build_model"]


def build_model(arch: str, *, input_shape: tuple[int, ...], num_classes: int,
                weight_bits: int, act_bits: int, **options: Any) -> nn.Module:
    """Build zoo model `arch` for uint8 inputs; it returns `num_classes` logits.

    input_shape is (C, H, W) for the image archs mlp, cnv, resnet and mobilenet, (C, L) for cnn1d.
    mlp options: hidden | preset (tfc, sfc, lfc). cnv options: preset (cnv, cnv-small) |
    channels, fc, pool_every, input_padding. cnn1d options: preset (kws-small, vgg10) |
    channels, kernel, pool_every, fc. resnet options: preset (resnet8, resnet-small) | stem,
    stages, final_pool. mobilenet options: preset (ds-cnn, mobilenet-v1, mobilenet-small) |
    stem, stem_stride, blocks, width_multiplier, final_pool. Bit widths are 1..8 (1 = bipolar;
    resnet and mobilenet take act_bits >= 2)."""
    if arch not in ARCHS:
        raise ModelError(f"unknown model arch {arch!r}; choose one of {', '.join(ARCHS)}")
    shape = _check_input_shape(arch, input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if arch == "mlp":
        from codesign.models.mlp import build_mlp

        return build_mlp(shape, num_classes, weight_bits, act_bits, **options)
    if arch == "cnn1d":
        from codesign.models.cnn1d import build_cnn1d

        return build_cnn1d(shape, num_classes, weight_bits, act_bits, **options)
    if arch == "resnet":
        from codesign.models.resnet import build_resnet

        return build_resnet(shape, num_classes, weight_bits, act_bits, **options)
    if arch == "mobilenet":
        from codesign.models.mobilenet import build_mobilenet

        return build_mobilenet(shape, num_classes, weight_bits, act_bits, **options)
    from codesign.models.cnv import build_cnv

    return build_cnv(shape, num_classes, weight_bits, act_bits, **options)


def _check_input_shape(arch: str, input_shape: Any) -> Any:
    """input_shape as a tuple of ints of the rank `arch` takes; ModelError saying the fix if not."""
    rank = len(INPUT_DIMS[arch])
    dims = tuple(input_shape) if isinstance(input_shape, list | tuple) else (input_shape,)
    if len(dims) == rank and all(isinstance(d, Integral) and not isinstance(d, bool) and d >= 1
                                 for d in dims):
        return tuple(int(d) for d in dims)
    if rank == 2 and len(dims) == 3:
        hint = ("a 1-D model needs channels and length; for MNIST rows as a sequence use "
                "dataset sequence: rows")
    elif rank == 3 and len(dims) == 2:
        hint = "an image model needs channels, height and width; for (C, L) sequences use arch cnn1d"
    else:
        hint = "every dimension must be a positive integer"
    expected = f"({', '.join(INPUT_DIMS[arch])})"
    raise ModelError(f"{arch} takes input_shape {expected}, got {input_shape!r}: {hint}")
