"""Bring-your-own Brevitas model: load it from a module or a file, and check its layers.
`codesign build` compiles it as given; a flow (`model.module`) trains a fresh copy from
`build_user_module`, checked against the dataset, and keys cached results by
`module_source_digest`.

`check_supported_layers` is a fast pre-flight check: it names the first layer that the QONNX ->
FINN path cannot turn into hardware, before the user waits for an export or a compile."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.config import SPEC_HELP, is_file_spec, module_spec_problem
from codesign.errors import ModelError
from codesign.quiet import import_brevitas

if TYPE_CHECKING:
    from torch import nn


def _resolve_attr(obj: Any, dotted: str, where: str) -> Any:
    for part in dotted.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in vars(obj) if not n.startswith("_")) if hasattr(
                obj, "__dict__") else []
            raise ModelError(
                f"{where} has no attribute {dotted!r}; it defines: {', '.join(public) or 'nothing'}"
            )
        obj = getattr(obj, part)
    return obj


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; {SPEC_HELP}")
    # A stable, path-derived module name: re-loading the same file reuses one entry in sys.modules.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"codesign_user_model_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"cannot import {path} as Python; {SPEC_HELP}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # as `python file.py` would: the file's own directory is importable (its sibling modules)
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ModelError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(folder)
    return module


def load_user_model(spec: str) -> nn.Module:
    """Load `package.module:attr` or `path/to/file.py:attr`.

    `attr` (dotted names allowed) may be an nn.Module instance, an nn.Module class or a
    zero-argument factory returning one."""
    from torch import nn

    problem = (f"model spec {spec!r} is not a string; {SPEC_HELP}" if not isinstance(spec, str)
               else module_spec_problem(spec))
    if problem is not None:
        raise ModelError(problem)
    target, attr = spec.rsplit(":", 1)
    import_brevitas()  # first, so the user's module's own brevitas imports stay quiet too
    if is_file_spec(spec):
        module = _import_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ModelError(
                f"cannot import module {target!r} ({type(exc).__name__}: {exc}); check it is on "
                "PYTHONPATH, or pass a file path instead: path/to/file.py:attr"
            ) from exc
    obj = _resolve_attr(module, attr, target)
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise ModelError(f"{spec} is a {type(obj).__name__}, not an nn.Module, class or factory")
    try:
        model = obj()
    except TypeError as exc:
        raise ModelError(
            f"calling {spec}() failed ({exc}); the attribute must be an nn.Module instance, or "
            "a class or factory that takes no arguments (wrap it: def make(): return Net(...))"
        ) from exc
    except Exception as exc:
        raise ModelError(f"building {spec}() failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ModelError(f"{spec}() returned a {type(model).__name__}, not a torch nn.Module")
    return model


def module_source_digest(spec: str) -> str:
    """A hash of the source a model spec names, so that results cached for a module are not
    reused once its code changed: for a file, every .py file in its folder (it may import its
    siblings); for an importable module, its source file. Empty if there is none to read."""
    import hashlib

    target = spec.rsplit(":", 1)[0]
    if is_file_spec(spec):
        folder = Path(target).parent
        files = sorted(folder.glob("*.py")) if Path(target).is_file() else []
    else:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            found = None
        files = [Path(found.origin)] if found and found.has_location and found.origin else []
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16] if files else ""


def build_user_module(spec: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A fresh copy of the Brevitas module `spec` names, for a flow to train: FINN can build
    its layers, it takes the dataset's inputs (uint8 values as floats, `input_shape` per sample)
    and returns `num_classes` logits. ModelError naming the layer or the mismatch otherwise."""
    import copy

    model = copy.deepcopy(load_user_model(spec))  # an instance in a module stays untouched
    check_supported_layers(model)
    check_input_rank(model, input_shape)
    check_outputs(model, spec, input_shape, num_classes)
    return model


def check_outputs(model: nn.Module, spec: str, input_shape: tuple[int, ...],
                  num_classes: int | None = None) -> None:
    """ModelError unless `model` takes inputs of `input_shape` and returns a plain tensor of
    logits (`num_classes` of them, when given), saying the fix. Runs a copy: the model's state
    stays as it was."""
    import copy

    import torch

    probe = copy.deepcopy(model).eval()
    try:
        with torch.no_grad():
            out = probe(torch.zeros(2, *input_shape))
    except Exception as exc:
        raise ModelError(f"{spec} cannot take inputs of shape {tuple(input_shape)} "
                         f"({type(exc).__name__}: {exc}); make its first layer fit them, or "
                         "pick another dataset or --input-shape") from exc
    if not isinstance(out, torch.Tensor):
        fix = ("set return_quant_tensor=False on its last layer, or return out.value"
               if "QuantTensor" in type(out).__name__ else "return the logits tensor alone")
        raise ModelError(f"{spec} returns a value of type {type(out).__name__}, not a tensor of "
                         f"logits; {fix}")
    if num_classes is not None and tuple(out.shape) != (2, num_classes):
        raise ModelError(f"{spec} returns outputs of shape {tuple(out.shape[1:])} per sample, but "
                         f"the dataset has {num_classes} classes; make its last layer return "
                         f"{num_classes} logits")


def _supported_types() -> dict[type, str]:
    """Layer types the QONNX -> FINN path maps to hardware (or removes), with why/how."""
    from brevitas import nn as qnn
    from torch import nn

    from codesign.models.mlp import PixelScale  # imports torch

    supported: dict[type, str] = {
        qnn.QuantLinear: "MVAU", qnn.QuantConv2d: "ConvolutionInputGenerator + MVAU",
        qnn.QuantConv1d: "ConvolutionInputGenerator (1-D) + MVAU", nn.MaxPool1d: "Pool (max, 1-D)",
        qnn.QuantReLU: "Thresholding", qnn.QuantIdentity: "Thresholding",
        qnn.QuantHardTanh: "Thresholding", qnn.TruncAvgPool2d: "Pool (average)",
        nn.BatchNorm1d: "folded into thresholds", nn.BatchNorm2d: "folded into thresholds",
        nn.MaxPool2d: "Pool (max)", nn.AdaptiveAvgPool2d: "GlobalAccPool (output size 1 only)",
        nn.Flatten: "removed", nn.Dropout: "removed (eval)",
        nn.Identity: "removed", PixelScale: "folded into thresholds",
    }
    try:  # BNN-PYNQ's scalar output normalisation streamlines into a scalar Mul/Add tail.
        from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm

        supported[TensorNorm] = "scalar Mul/Add tail"
    except ImportError:
        pass
    return supported


def _unsupported(name: str, module: nn.Module, why: str, supported: dict[type, str]) -> ModelError:
    names = ", ".join(sorted({t.__name__ for t in supported}))
    return ModelError(
        f"layer {name or '<model>'} ({type(module).__name__}) cannot be built by FINN: {why}. "
        f"Supported layers: {names}"
    )


def _rounding(pool: nn.Module) -> str:
    """How a TruncAvgPool2d turns its scaled sum into an integer: 'FLOOR', 'ROUND', ..."""
    mode = pool.trunc_quant.quant_injector.float_to_int_impl_type
    return str(getattr(mode, "value", mode)).upper()


def check_supported_layers(model: nn.Module) -> None:
    """Raise ModelError naming the first layer (qualified name, type) FINN cannot handle."""
    from brevitas import nn as qnn
    from torch import nn

    supported = _supported_types()
    hints = {
        nn.Linear: "float nn.Linear is not quantized; use brevitas.nn.QuantLinear",
        nn.Conv2d: "float nn.Conv2d is not quantized; use brevitas.nn.QuantConv2d",
        nn.Conv1d: "float nn.Conv1d is not quantized; use brevitas.nn.QuantConv1d",
        nn.ReLU: "float activations have no integer hardware; use brevitas.nn.QuantReLU",
        nn.AvgPool2d: "a float average pool has no FINN layer; use nn.AdaptiveAvgPool2d(1) for "
                      "a global average pool, or brevitas.nn.TruncAvgPool2d",
        nn.Softmax: "softmax does not change the argmax; drop it and return logits",
        nn.LogSoftmax: "softmax does not change the argmax; drop it and return logits",
        nn.LSTM: "recurrent layers are not supported by the FINN dataflow flow",
        nn.GRU: "recurrent layers are not supported by the FINN dataflow flow",
        nn.RNN: "recurrent layers are not supported by the FINN dataflow flow",
    }

    def visit(prefix: str, module: nn.Module) -> None:
        kind = type(module)
        if kind in supported:
            if isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size not in (1, (1, 1)):
                raise _unsupported(prefix, module, f"output size {module.output_size} is not a "
                                   "global pool; only AdaptiveAvgPool2d(1) has a FINN layer "
                                   "(GlobalAccPool)", supported)
            if isinstance(module, qnn.QuantLinear | qnn.QuantConv1d | qnn.QuantConv2d) and not (
                module.weight_quant.is_quant_enabled
            ):
                raise _unsupported(prefix, module, "its weights are not quantized (weight_quant="
                                   "None); give it a weight quantizer", supported)
            if isinstance(module, qnn.TruncAvgPool2d) and _rounding(module) != "FLOOR":
                raise _unsupported(prefix, module, "it rounds its sum (float_to_int_impl_type="
                                   f"{_rounding(module)!r}, Brevitas's default) and FINN's pool "
                                   "truncates; pass float_to_int_impl_type='FLOOR' (in "
                                   "brevitas_examples: round_average_pool=False)", supported)
            if isinstance(module, qnn.QuantReLU | qnn.QuantIdentity | qnn.QuantHardTanh) and not (
                module.act_quant.is_quant_enabled
            ):
                raise _unsupported(prefix, module, "its output is not quantized (act_quant=None)",
                                   supported)
            return
        for base, hint in hints.items():
            if isinstance(module, base):
                raise _unsupported(prefix, module, hint, supported)
        children = list(module.named_children())
        own_params = [n for n, _ in module.named_parameters(recurse=False)]
        if not children or own_params:
            # A custom leaf (or a container with its own weights) runs arbitrary torch code.
            raise _unsupported(prefix, module, "it is not a layer type the FINN flow knows",
                               supported)
        for child_name, child in children:
            visit(f"{prefix}.{child_name}" if prefix else child_name, child)

    visit("", model)


def check_input_rank(model: nn.Module, input_shape: tuple[int, ...]) -> None:
    """ModelError if the model's convolutions or pools are 1-D and the input shape is not
    (C, L), or 2-D and it is not (C, H, W); names the first such layer."""
    from torch import nn

    expected = {nn.Conv1d: 2, nn.MaxPool1d: 2, nn.AvgPool1d: 2,
                nn.Conv2d: 3, nn.MaxPool2d: 3, nn.AvgPool2d: 3}
    for name, module in model.named_modules():
        rank = next((r for kind, r in expected.items() if isinstance(module, kind)), None)
        if rank is not None and rank != len(input_shape):
            want = "C,L (a 1-D model)" if rank == 2 else "C,H,W (a 2-D model)"
            raise ModelError(f"layer {name} ({type(module).__name__}) needs an input shape "
                             f"{want}, got {','.join(map(str, input_shape))}; pass "
                             f"--input-shape {want.split()[0]}")
