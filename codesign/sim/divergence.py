"""Where two stages of the chain part: the first node of the later graph whose output has no
counterpart among the earlier graph's tensors although its inputs have.

Stages rename tensors, change layouts (NCHW/NHWC) and move scales into thresholds, so a
counterpart is found by value, not by name: a tensor of the same size that equals it up to a
positive scale and an offset (quantised floats vs their integers, bipolar vs binary
encodings), directly or through an NCHW/NHWC transpose."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MATCH_RTOL = 1e-4  # residual of the affine fit, relative to the tensor's range


@dataclass(frozen=True)
class NodeDivergence:
    node: str
    op_type: str
    tensor: str  # the node output without a counterpart
    closest: str | None  # the earlier tensor that fits it best
    max_diff: float  # largest element difference to that fit, in the tensor's own units

    def describe(self) -> str:
        near = f" (closest earlier tensor {self.closest}, off by up to {self.max_diff:.4g})" \
            if self.closest else ""
        return f"node {self.node} ({self.op_type}), output {self.tensor}{near}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _views(value: np.ndarray) -> list[np.ndarray]:
    flat = np.ravel(value).astype(np.float64)
    views = [flat]
    if value.ndim == 4:
        views.append(np.ravel(value.transpose(0, 2, 3, 1)).astype(np.float64))
        views.append(np.ravel(value.transpose(0, 3, 1, 2)).astype(np.float64))
    return views


def _fit(t: np.ndarray, v: np.ndarray) -> float:
    """Largest |t - (s*v + c)| of the least-squares fit with s > 0 (inf if s <= 0)."""
    vc, tc = v - v.mean(), t - t.mean()
    denom = float(vc @ vc)
    if denom == 0.0:
        return float(np.max(np.abs(tc), initial=0.0))  # v constant: fits a constant t
    s = float(tc @ vc) / denom
    if s <= 0.0:
        return float("inf")
    return float(np.max(np.abs(tc - s * vc), initial=0.0))


class _Reference:
    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self.by_size: dict[int, list[tuple[str, np.ndarray]]] = {}
        for name, value in tensors.items():
            value = np.asarray(value)
            if value.dtype.kind not in "fiub":
                continue
            for view in _views(value):
                self.by_size.setdefault(view.size, []).append((name, view))

    def best(self, value: np.ndarray) -> tuple[bool, str | None, float]:
        t = np.ravel(np.asarray(value)).astype(np.float64)
        span = float(np.ptp(t)) if t.size else 0.0
        best_name, best = None, float("inf")
        for name, view in self.by_size.get(t.size, []):
            residual = _fit(t, view)
            if residual < best:
                best_name, best = name, residual
        return best <= MATCH_RTOL * max(span, 1.0), best_name, best


def locate_divergence(nodes: Iterable[Any], context: dict[str, np.ndarray],
                      reference: dict[str, np.ndarray]) -> NodeDivergence | None:
    """The node where the later graph's values leave the earlier graph's for good: the first
    node with an output without counterpart in `reference` after the last node whose outputs
    all have one. (Earlier unmatched tensors are re-expressions, such as an Im2Col in place of
    a Conv, whose consumers match again.) Constant tensors count as no evidence either way.
    `nodes` are in execution order, with name, op_type, inputs and outputs."""
    ref = _Reference(reference)
    nodes = list(nodes)
    status = []  # per node: True (outputs matched), False (an output unmatched), None (no evidence)
    for node in nodes:
        values = [np.asarray(context[o]) for o in node.outputs if o in context]
        informative = [v for v in values if v.size > 1 and np.ptp(v) > 0]
        status.append(all(ref.best(v)[0] for v in informative) if informative else None)
    last_good = max((i for i, ok in enumerate(status) if ok), default=-1)
    for i in range(last_good + 1, len(nodes)):
        if status[i] is False:
            node = nodes[i]
            tensor = next(o for o in node.outputs if o in context and not ref.best(context[o])[0])
            _, closest, diff = ref.best(context[tensor])
            return NodeDivergence(node.name, node.op_type, tensor, closest,
                                  diff if closest else float("nan"))
    return None
