"""Tiny Brevitas models exported the way codesign.export delivers them (cleaned QONNX, input
tensor annotated UINT8), plus reference logits on 20 seeded uint8 inputs.

The models are built here rather than taken from codesign.models so that these tests pin
down the FINN boundary on their own: an MLP (x/255 -> [QuantLinear -> BN -> QuantReLU]*2 ->
QuantLinear) and a CNN (x/255 -> QuantConv3x3 -> BN -> QuantReLU -> MaxPool2d -> QuantConv3x3
-> BN -> QuantReLU -> flatten -> QuantLinear). BatchNorm statistics and activation scales are
calibrated on random images so that every activation is alive (dead ReLUs would make the
bit-exactness checks trivially true)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from calibration import shifted

SAMPLES = 20
PART, CLOCK_MHZ = "xc7z020clg400-1", 100.0


@dataclass(frozen=True)
class TinyCase:
    name: str
    onnx: Path
    input_shape: tuple[int, int, int]
    x: np.ndarray  # (SAMPLES, C, H, W) uint8
    expected: np.ndarray  # Brevitas logits on x


def _weight_quant(bits: int) -> dict[str, object]:
    from brevitas.quant import Int8WeightPerTensorFloat

    return {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": bits}


def _relu(bits: int) -> Any:
    from brevitas.nn import QuantReLU
    from brevitas.quant import Uint8ActPerTensorFloat

    return QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=bits)


def build_mlp(input_shape: tuple[int, int, int], hidden: tuple[int, ...] = (16, 12),
              classes: int = 10, bits: int = 2) -> Any:
    import torch
    from brevitas.nn import QuantLinear
    from torch import nn

    class TinyMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            features = int(np.prod(input_shape))
            for width in hidden:
                layers += [QuantLinear(features, width, bias=False, **_weight_quant(bits)),
                           nn.BatchNorm1d(width), _relu(bits)]
                features = width
            self.features = nn.Sequential(*layers)
            self.classifier = QuantLinear(features, classes, bias=False, **_weight_quant(bits))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.features(x.flatten(1) * (1.0 / 255.0)))

    return TinyMLP()


def build_cnn(input_shape: tuple[int, int, int], channels: tuple[int, int] = (4, 8),
              classes: int = 10, bits: int = 2) -> Any:
    import torch
    from brevitas.nn import QuantConv2d, QuantLinear
    from torch import nn

    class TinyCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c0, c1 = channels
            self.features = nn.Sequential(
                QuantConv2d(input_shape[0], c0, 3, bias=False, **_weight_quant(bits)),
                nn.BatchNorm2d(c0), _relu(bits), nn.MaxPool2d(2),
                QuantConv2d(c0, c1, 3, bias=False, **_weight_quant(bits)),
                nn.BatchNorm2d(c1), _relu(bits),
            )
            side = (input_shape[1] - 2) // 2 - 2
            self.classifier = QuantLinear(c1 * side * side, classes, bias=False, **_weight_quant(bits))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.features(x * (1.0 / 255.0)).flatten(1))

    return TinyCNN()


def build_cnv(input_shape: tuple[int, int, int] = (3, 32, 32), classes: int = 10,
              bits: int = 2) -> Any:
    """FINN's CNV topology: 3x3 convs 64,64,P,128,128,P,256,256 (no padding), FC 512,512."""
    import torch
    from brevitas.nn import QuantConv2d, QuantLinear
    from torch import nn

    class CNV(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            channels = input_shape[0]
            for i, width in enumerate((64, 64, 128, 128, 256, 256)):
                layers += [QuantConv2d(channels, width, 3, bias=False, **_weight_quant(bits)),
                           nn.BatchNorm2d(width), _relu(bits)]
                if i in (1, 3):
                    layers.append(nn.MaxPool2d(2))
                channels = width
            self.features = nn.Sequential(*layers)
            fc: list[nn.Module] = []
            features = 256  # 32x32 -> 1x1 after the six convs and two pools
            for width in (512, 512):
                fc += [QuantLinear(features, width, bias=False, **_weight_quant(bits)),
                       nn.BatchNorm1d(width), _relu(bits)]
                features = width
            self.fc = nn.Sequential(*fc)
            self.classifier = QuantLinear(features, classes, bias=False, **_weight_quant(bits))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.classifier(self.fc(self.features(x * (1.0 / 255.0)).flatten(1)))

    return CNV()


def calibrate(model: Any, input_shape: tuple[int, int, int], seed: int = 0,
              batches: int = 8) -> Any:
    """Random BN shifts, then BN statistics and activation scales from random images."""
    return shifted(model, input_shape, seed, batches)


def export(model: Any, input_shape: tuple[int, int, int], path: Path, topk: bool = False) -> Path:
    """What codesign.export.export_qonnx delivers: cleaned QONNX, UINT8 input annotation."""
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.insert_topk import InsertTopK
    from qonnx.util.cleanup import cleanup_model

    export_qonnx(model.eval(), torch.zeros(1, *input_shape), export_path=str(path), dynamo=False)
    wrapped = cleanup_model(ModelWrapper(str(path))).transform(InferShapes())
    wrapped.set_tensor_datatype(wrapped.graph.input[0].name, DataType["UINT8"])
    wrapped = wrapped.transform(InferDataTypes())
    if topk:
        wrapped = wrapped.transform(InsertTopK(k=1))
    wrapped.save(str(path))
    return path


def reference_logits(model: Any, x: np.ndarray) -> np.ndarray:
    """Brevitas logits computed in float64. In float32 an activation that lands within
    rounding error of a quantisation boundary can flip (measured: 1-3 of 10 samples of a
    4-5 bit CNN); FINN's integer graph agrees with the float64 result."""
    import copy

    import torch

    with torch.no_grad():
        return copy.deepcopy(model).double()(torch.from_numpy(x).double()).numpy()


def make_case(name: str, builder: Callable[..., object], input_shape: tuple[int, int, int],
              directory: Path, topk: bool = False, seed: int = 0, bits: int = 2,
              batches: int = 8, samples: int = SAMPLES) -> TinyCase:
    import torch

    torch.manual_seed(seed)
    model = calibrate(builder(input_shape, bits=bits), input_shape, seed, batches)
    onnx = export(model, input_shape, directory / f"{name}.onnx", topk=topk)
    x = np.random.default_rng(seed + 1).integers(0, 256, (samples, *input_shape), dtype=np.uint8)
    return TinyCase(name, onnx, input_shape, x, reference_logits(model, x))


def assert_estimates_are_finns(hw: Any) -> None:
    """codesign's per-node estimates of a folded graph are FINN's own analyses: cycles
    (exp_cycles_per_layer) and LUT, BRAM_18K, URAM, DSP (res_estimation)."""
    from functools import partial

    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    from codesign.finn import estimate
    from codesign.finn.estimates import RESOURCES

    est = estimate(hw)
    resources = hw.model.analysis(partial(res_estimation, fpgapart=hw.part))
    cycles = hw.model.analysis(exp_cycles_per_layer)
    assert est.layers
    for layer in est.layers:
        assert layer.cycles == cycles[layer.name]
        assert (layer.lut, layer.bram_18k, layer.uram, layer.dsp) == tuple(
            float(resources[layer.name][r]) for r in RESOURCES)
