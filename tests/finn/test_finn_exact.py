"""The compiled hardware rounds like the model where float32 cannot tell: a model whose
hidden-layer boundaries each lie a hair (< 0.05 float32 ulp) above an integer accumulator.

An MLP on 2x2 images whose first layer passes pixel 0 to every channel (integer weight 1),
so that every channel's accumulator is that pixel, 0..255. Each channel's BatchNorm mean is
tuned, one float32 ulp at a time, until the exact boundary between activation levels 7 and 8
lies just above an integer n_c: the model puts the input n_c on level 7. With the thresholds
computed in float32, FINN rounded such boundaries onto n_c itself, and the hardware put that
input on level 8: it differed from the model on 30 of the 256 inputs, by up to 14 LSB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from codesign.export import check_export, export_qonnx
from codesign.finn import compile_to_hw, verify_against
from codesign.models import build_model
from codesign.models.mlp import PIXEL_SCALE
from codesign.train import reference_outputs

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("single_thread")]

SHAPE, CHANNELS, CLASSES, LEVEL = (1, 2, 2), 32, 4, 7
PART, CLOCK_MHZ = "xc7z020clg400-1", 100.0


def _boundary(bn: nn.BatchNorm1d, c: int, act_scale: float) -> float:
    """The accumulator (pixel) value at which channel c leaves LEVEL, in exact arithmetic."""
    g = bn.weight[c].item() / np.sqrt(bn.running_var[c].item() + bn.eps)
    pre = ((LEVEL + 0.5) * act_scale - bn.bias[c].item()) / g + bn.running_mean[c].item()
    return pre / PIXEL_SCALE  # the first layer's weight scale is 1


def _place_boundary(bn: nn.BatchNorm1d, c: int, act_scale: float, n: int) -> None:
    """Channel c's boundary at the first float32 mean that puts it above n."""
    g = bn.weight[c].item() / np.sqrt(bn.running_var[c].item() + bn.eps)
    # A mean of about 0.01 has fine ulps (each moves the boundary 2.4e-7); the bias carries
    # the bulk of the offset.
    bn.bias[c] = float((LEVEL + 0.5) * act_scale - (n * PIXEL_SCALE - 0.01) * g)
    mean = np.float32(0.01)
    step = np.float32(-1.0)  # down to at most n, then up to the first value above it
    while True:
        bn.running_mean[c] = float(mean)
        above = _boundary(bn, c, act_scale) > n
        if step < 0 and not above:
            step = np.float32(1.0)
        elif step > 0 and above:
            return
        mean = np.nextafter(mean, step)


def _boundary_model() -> tuple[nn.Module, np.ndarray]:
    """The model, and per channel the pixel value n_c just below its boundary."""
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=SHAPE, num_classes=CLASSES, weight_bits=4,
                        act_bits=4, hidden=[CHANNELS]).eval()
    first, bn, act = model.features[0], model.features[1], model.features[2]
    rng = np.random.default_rng(0)
    targets = rng.integers(40, 250, CHANNELS)
    with torch.no_grad():
        first.weight.zero_()
        first.weight[:, 0] = 1.0
        first.weight[0, 1] = 7.0  # per-tensor scale 7 / 7 = 1: the weights are integers
        signs = rng.choice([-1.0, 1.0], (CLASSES, CHANNELS))
        model.classifier.weight.copy_(torch.from_numpy(signs))  # every level change shows
        # (not 1: FINN's RemoveIdentityOps drops a multiplier within 1e-5 of 1 altogether)
        bn.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, CHANNELS)))
        bn.running_var.fill_(1.0)
        act_scale = act.act_quant.scale().item()
        for c, n in enumerate(targets):
            _place_boundary(bn, c, act_scale, int(n))
    return model, targets


def test_thresholds_just_above_an_integer_round_like_the_model(tmp_path: Path) -> None:
    model, targets = _boundary_model()
    act_scale = model.features[2].act_quant.scale().item()
    margins = np.array([_boundary(model.features[1], c, act_scale) - n
                        for c, n in enumerate(targets)])
    assert np.all(margins > 0) and np.all(margins < 1e-6)  # within float32 error of n_c
    x = np.zeros((256, *SHAPE), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(256)  # every accumulator value 0..255 in every channel
    hidden: list[torch.Tensor] = []  # the reference's hidden activations (its copy keeps hooks)
    hook = model.features.register_forward_hook(lambda _m, _i, out: hidden.append(out))
    expected = reference_outputs(model, x)
    hook.remove()
    levels = np.rint(hidden[0].numpy() / act_scale)
    channels = np.arange(CHANNELS)
    assert np.all(levels[targets, channels] == LEVEL)  # n_c stays on the level ...
    assert np.all(levels[targets + 1, channels] == LEVEL + 1)  # ... n_c + 1 leaves it

    path = export_qonnx(model, SHAPE, tmp_path / "m.onnx")
    assert check_export(model, path, x).passed
    hw = compile_to_hw(path, part=PART, clock_mhz=CLOCK_MHZ, workdir=tmp_path / "finn")
    result = verify_against(hw, x, expected)
    assert result.passed, result.details
