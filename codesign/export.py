"""Brevitas -> QONNX export, cleaned up for FINN, plus a numerical check of the exported graph.

The exported graph takes raw pixels: its input tensor is annotated UINT8, which is what lets
FINN size the first MVAU/ConvolutionInputGenerator for an 8-bit pixel stream."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import ModelError
from codesign.finn.exact import execute_float64, to_float64
from codesign.finn.origin import tag_modules
from codesign.train import reference_outputs

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ExportCheck:
    samples: int
    max_abs_diff: float
    argmax_equal: int  # how many of `samples` predict the same class in torch and QONNX
    passed: bool


class _LayerTracker:
    """Forward hooks keeping the stack of modules being executed, so that when the exporter
    fails mid-trace the innermost user-level layer on the stack is the one to blame."""
    def __init__(self, model: nn.Module) -> None:
        self.stack: list[tuple[str, nn.Module]] = []
        self.hooks: list[Any] = []
        for name, module in model.named_modules():
            if name:
                self.hooks.append(module.register_forward_pre_hook(self._enter(name)))
                self.hooks.append(module.register_forward_hook(self._leave))

    def _enter(self, name: str) -> Any:
        def hook(module: nn.Module, _inputs: Any) -> None:
            self.stack.append((name, module))
        return hook

    def _leave(self, _module: nn.Module, _inputs: Any, _output: Any) -> None:
        # Must return None: a forward hook's return value replaces the module's output.
        if self.stack:
            self.stack.pop()

    def culprit(self) -> str:
        for name, module in reversed(self.stack):
            # brevitas' proxies and quantizer internals are implementation details
            if not type(module).__module__.startswith(("brevitas.proxy", "brevitas.core")):
                return f"{name} ({type(module).__name__})"
        return "<model input>" if not self.stack else self.stack[0][0]

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()


def export_qonnx(model: nn.Module, input_shape: tuple[int, ...], path: Path) -> Path:
    """Export `model` (in eval mode, batch size 1) to a cleaned QONNX file at `path`."""
    import torch
    from brevitas.export import export_qonnx as brevitas_export_qonnx

    path = Path(path)
    was_training = model.training
    model.eval()
    example = torch.zeros((1, *input_shape), dtype=torch.float32)
    try:
        with atomic_path(path) as raw_path:
            tracker = _LayerTracker(model)
            try:
                # The TorchScript exporter: ~10x faster than dynamo here and the graph shape
                # (Quant nodes, MatMul/Conv, BatchNormalization) FINN's frontend is tested on.
                brevitas_export_qonnx(model, example, export_path=str(raw_path), dynamo=False)
            except Exception as exc:
                first_line = (str(exc).strip().splitlines() or [""])[0][:300]
                raise ModelError(
                    f"QONNX export failed at layer {tracker.culprit()}: {type(exc).__name__}: "
                    f"{first_line}. Check the input shape {tuple(input_shape)} (C,H,W, or C,L "
                    "for a 1-D model) and that "
                    "every layer is a Brevitas quant layer FINN supports "
                    "(codesign.models.user.check_supported_layers)"
                ) from exc
            finally:
                tracker.remove()
            _clean(raw_path, raw_path)
    finally:
        model.train(was_training)
    return path


def _clean(src: Path, dst: Path) -> None:
    """qonnx cleanup, shape and datatype inference, readable names; a float input becomes the
    UINT8 pixel stream codesign builds for."""
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    raw = ModelWrapper(str(src))
    tag_modules(raw)  # before the nodes are renamed: errors can then name the module
    wrapped = cleanup_model(raw)
    wrapped = wrapped.transform(InferShapes())
    wrapped = wrapped.transform(GiveUniqueNodeNames())
    wrapped = wrapped.transform(GiveReadableTensorNames())
    iname = wrapped.graph.input[0].name
    if wrapped.get_tensor_datatype(iname) == DataType["FLOAT32"]:
        wrapped.set_tensor_datatype(iname, DataType["UINT8"])
    wrapped = wrapped.transform(InferDataTypes())
    wrapped.save(str(dst))


def prepare_qonnx(src: Path, dst: Path) -> Path:
    """A QONNX file as a user brings it (straight from brevitas.export.export_qonnx, or already
    cleaned) made ready for FINN at `dst`: cleaned up, shapes and datatypes inferred."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise ModelError(f"model file {src} does not exist; pass a QONNX file (.onnx)")
    try:
        with atomic_path(dst) as tmp:
            _clean(src, tmp)
    except ModelError:
        raise
    except Exception as exc:  # onnx/qonnx raise many kinds for a broken file
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ModelError(f"{src} is not a QONNX model codesign can read ({type(exc).__name__}: "
                         f"{first_line}); export it with brevitas.export.export_qonnx") from None
    return dst


def check_export(model: nn.Module, onnx_path: Path, x: np.ndarray, atol: float = 1e-4) -> ExportCheck:
    """Execute the QONNX file sample by sample on uint8 images `x` and compare with torch.

    Both sides run in float64 (torch through reference_outputs, the graph through
    codesign.finn.exact): the float32 parameters evaluated exactly, so that an activation a few
    float32 ulps from a rounding boundary cannot round one way in torch and the other in
    onnxruntime. Passes if every logit agrees within `atol` (relative to the logits' magnitude,
    at least 1) and the QONNX graph picks the torch model's class for every sample."""
    from qonnx.core.modelwrapper import ModelWrapper

    if len(x) == 0:
        raise ModelError("check_export needs at least one sample")
    expected = reference_outputs(model, x)
    wrapped = to_float64(ModelWrapper(str(onnx_path)))
    out_name = wrapped.graph.output[0].name
    got = np.stack([execute_float64(wrapped, x[i: i + 1])[out_name][0] for i in range(len(x))])
    if got.shape != expected.shape:
        raise ModelError(f"exported model outputs shape {got.shape}, torch {expected.shape}")
    diff = float(np.max(np.abs(got - expected)))
    scale = max(1.0, float(np.max(np.abs(expected))))
    # Quantized logits tie often (equal integer accumulators); a tie broken differently by
    # float rounding is still the same prediction.
    rows = np.arange(len(x))
    torch_choice_in_qonnx = got[rows, expected.argmax(axis=1)]
    argmax_equal = int(np.sum(got.max(axis=1) - torch_choice_in_qonnx <= atol * scale))
    passed = diff <= atol * scale and argmax_equal == len(x)
    return ExportCheck(samples=len(x), max_abs_diff=diff, argmax_equal=argmax_equal, passed=passed)
