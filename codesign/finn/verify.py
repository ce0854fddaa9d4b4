"""Functional verification of a folded HW graph against the Brevitas model, bit-exactly.

FINN's specialised nodes (`MVAU_hls`, `Thresholding_rtl`, ...) only execute in cppsim/rtlsim,
neither of which runs here; their abstract parents (`MVAU`, ...) execute in numpy and keep
every folding attribute, so we execute a de-specialised copy of the partition inside the parent
graph. The accelerator outputs integers; the software tail multiplies them by the output scale
(and adds a bias, if any), so the comparison happens on the integer grid of that scale."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import CodesignError, ModelError
from codesign.finn._env import HW_DOMAIN, base_op_type, is_specialised, quiet_finn
from codesign.finn.compile import HWGraph

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

# How far expected/scale may sit from an integer: 1e-3, plus what float32 explains (the
# graph's scale constant and a float32 reference are exact to ~1e-7 relative, so a logit of
# 2e5 LSBs sits up to ~0.02 LSB off the grid), and never so much that a wrong scale passes.
GRID_ATOL, GRID_RTOL, GRID_MAX = 1e-3, 16 * float(np.finfo(np.float32).eps), 0.25


@dataclass(frozen=True)
class Verification:
    samples: int
    matched: int
    max_abs_diff: float
    int_exact: bool
    passed: bool
    details: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def despecialise(model: ModelWrapper) -> ModelWrapper:
    """A copy of `model` whose `_hls`/`_rtl` nodes are their executable abstract layers."""
    import copy

    plain = copy.deepcopy(model)
    for node in plain.graph.node:
        if is_specialised(node):
            node.op_type = base_op_type(node.op_type)
            node.domain = HW_DOMAIN
    return plain


def _sdp(parent: ModelWrapper) -> Any:
    return parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]


def _fit_input(parent: ModelWrapper, x: np.ndarray) -> np.ndarray:
    """Bring NCHW (or flat) samples into the layout of the graph input (NCHW or NHWC)."""
    shape = tuple(parent.get_tensor_shape(parent.graph.input[0].name))[1:]
    x = np.asarray(x)
    if x.shape[1:] == shape:
        return x
    if x.ndim == 4 and x.transpose(0, 2, 3, 1).shape[1:] == shape:
        return x.transpose(0, 2, 3, 1)  # the graph starts after FINN's NCHW->NHWC transpose
    if x.ndim >= 2 and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
        return x.reshape(len(x), *shape)
    raise ModelError(f"inputs of shape {x.shape[1:]} per sample do not fit the compiled graph's "
                     f"input {shape}; pass images in the layout the model was exported with (NCHW)")


def _run(hw: HWGraph, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(final outputs, accelerator outputs) for every sample of `x`."""
    from finn.core.onnx_exec import execute_onnx
    from qonnx.custom_op.registry import getCustomOp

    x = _fit_input(hw.parent, x).astype(np.float32)
    in_name, out_name = hw.parent.graph.input[0].name, hw.parent.graph.output[0].name
    with tempfile.TemporaryDirectory(prefix="codesign-verify-") as tmp, quiet_finn():
        # The partition node executes the model file it names: point a copy at ours.
        partition_path = Path(tmp) / "partition.onnx"
        despecialise(hw.model).save(str(partition_path))
        parent = despecialise(hw.parent)
        sdp = _sdp(parent)
        getCustomOp(sdp).set_nodeattr("model", str(partition_path))
        outputs, accel = [], []
        for sample in x:
            context = execute_onnx(parent, {in_name: sample[None]}, return_full_exec_context=True)
            outputs.append(np.asarray(context[out_name]))
            accel.append(np.asarray(context[sdp.output[0]]))
    return np.concatenate(outputs), np.concatenate(accel)


def execute_hw(hw: HWGraph, x: np.ndarray) -> np.ndarray:
    """Outputs of the full graph (software head/tail + folded accelerator) for samples `x`."""
    return _run(hw, x)[0]


def _tail_affine(parent: ModelWrapper) -> tuple[np.ndarray, np.ndarray, bool]:
    """(scale, bias, ends_in_topk) of the software tail: outputs = accel * scale + bias."""
    nodes = list(parent.graph.node)
    scale, bias, topk = np.ones(1), np.zeros(1), False
    for node in nodes[nodes.index(_sdp(parent)) + 1:]:
        const = next((parent.get_initializer(i) for i in node.input
                      if parent.get_initializer(i) is not None), None)
        if node.op_type == "Mul" and const is not None:
            scale, bias = scale * const, bias * const
        elif node.op_type == "Add" and const is not None:
            bias = bias + const
        elif node.op_type == "TopK":
            topk = True
    return scale.astype(np.float64), bias.astype(np.float64), topk


def _verify_topk(indices: np.ndarray, expected: np.ndarray) -> Verification:
    """Top-k class indices: each must point at one of the k largest expected logits (ties ok)."""
    n, k = len(expected), indices.shape[-1]
    idx = indices.reshape(n, k).astype(np.int64)
    best = -np.sort(-expected.reshape(n, -1), axis=1)[:, :k]
    picked = np.take_along_axis(expected.reshape(n, -1), idx, axis=1)
    diff = np.abs(np.sort(picked, axis=1)[:, ::-1] - best)
    matched = int(np.sum(np.all(diff == 0, axis=1)))
    return Verification(samples=n, matched=matched, max_abs_diff=float(diff.max(initial=0.0)),
                        int_exact=matched == n, passed=matched == n,
                        details=f"{matched}/{n} samples select a top-{k} class of the reference")


def verify_against(hw: HWGraph, x: np.ndarray, expected: np.ndarray) -> Verification:
    """Compare the HW graph with reference logits `expected` (Brevitas on `x`) bit-exactly.
    A mismatch, or a graph FINN cannot execute, gives passed=False; only inputs that do not
    fit the graph raise (ModelError)."""
    expected = np.asarray(expected, dtype=np.float64)
    n = len(expected)
    try:
        outputs, accel = _run(hw, x)
    except CodesignError:
        raise
    except Exception as exc:  # a FINN layer that fails in Python execution
        return Verification(n, 0, float("nan"), False, False,
                            f"FINN could not execute the graph: {type(exc).__name__}: {exc}")
    scale, bias, topk = _tail_affine(hw.parent)
    if topk or base_op_type(hw.model.graph.node[-1].op_type) == "LabelSelect":
        return _verify_topk(outputs, expected)
    if outputs.size != expected.size:
        return Verification(n, 0, float("nan"), False, False,
                            f"graph outputs {outputs.shape}, reference {expected.shape}")
    outputs = outputs.reshape(expected.shape).astype(np.float64)
    accel = accel.reshape(expected.shape).astype(np.float64)
    max_abs_diff = float(np.max(np.abs(outputs - expected), initial=0.0))
    if np.any(scale == 0):
        return Verification(n, 0, max_abs_diff, False, False, "the output scale is zero")
    on_grid = (expected - bias) / scale
    grid_error = np.abs(on_grid - np.round(on_grid))
    grid_ok = grid_error <= np.minimum(GRID_MAX, GRID_ATOL + GRID_RTOL * np.abs(on_grid))
    equal = (np.round(on_grid) == accel) & (accel == np.round(accel))
    per_sample = np.all((grid_ok & equal).reshape(n, -1), axis=1)
    matched = int(per_sample.sum())
    int_exact = bool(grid_ok.all() and equal.all())
    scale_text = np.array2string(np.unique(scale), precision=6, threshold=4)
    if matched == n:
        details = f"{n}/{n} samples bit-exact (integer outputs x scale {scale_text})"
    elif not grid_ok.all():
        details = (f"reference outputs are not on the integer grid of the graph's output scale "
                   f"{scale_text} (max off-grid {float(grid_error.max()):.3g}): the compiled graph "
                   "and the reference disagree on the output quantisation")
    else:
        first = int(np.argmin(per_sample))
        lsb = int(np.abs(np.round(on_grid) - accel).max())
        top1 = int(np.sum(outputs.reshape(n, -1).argmax(1) == expected.reshape(n, -1).argmax(1)))
        details = (f"{matched}/{n} samples bit-exact (max difference {lsb} LSB, same top-1 class "
                   f"in {top1}/{n}); sample {first}: hardware integers "
                   f"{accel[first].astype(np.int64).ravel()[:8].tolist()} vs reference "
                   f"{np.round(on_grid[first]).astype(np.int64).ravel()[:8].tolist()}")
    return Verification(samples=n, matched=matched, max_abs_diff=max_abs_diff,
                        int_exact=int_exact, passed=matched == n and int_exact, details=details)
