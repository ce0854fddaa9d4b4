"""The search space of a folding problem, as plain data.

Each foldable layer has a finite list of legal candidates (attribute settings such as PE, SIMD,
ram_style) with their cost: cycles per frame and LUT/BRAM_18K/URAM/DSP. Ties couple layers
whose attributes must agree (e.g. a depthwise sliding window's SIMD and the following Pool's
PE). Layers that cannot be folded contribute a fixed cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codesign.boards import RESOURCE_KINDS


@dataclass(frozen=True)
class Candidate:
    attrs: tuple[tuple[str, Any], ...]  # sorted (name, value) pairs, e.g. (("PE", 4), ("SIMD", 8))
    cycles: int
    cost: Mapping[str, float]  # LUT, BRAM_18K, URAM, DSP

    @staticmethod
    def make(attrs: Mapping[str, Any], cycles: int, cost: Mapping[str, float]) -> Candidate:
        return Candidate(tuple(sorted(attrs.items())), int(cycles),
                         {k: float(cost.get(k, 0.0)) for k in RESOURCE_KINDS})

    def attr(self, name: str) -> Any:
        return dict(self.attrs)[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.attrs)


@dataclass(frozen=True)
class LayerSpace:
    name: str
    op_type: str
    candidates: tuple[Candidate, ...]

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError(f"layer {self.name} has no legal folding candidate")


@dataclass(frozen=True)
class Tie:
    """Candidate of `layer_a` must have attrs[attr_a] equal to the candidate of `layer_b`'s attrs[attr_b]."""

    layer_a: str
    attr_a: str
    layer_b: str
    attr_b: str


@dataclass(frozen=True)
class FoldingSpace:
    layers: tuple[LayerSpace, ...]
    ties: tuple[Tie, ...] = ()
    fixed_cost: Mapping[str, float] = field(default_factory=dict)  # non-foldable layers
    fixed_cycles: int = 0  # the slowest non-foldable layer's cycles

    def layer(self, name: str) -> LayerSpace:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def cycle_values(self) -> list[int]:
        """Every achievable bottleneck value, ascending: the optimum is one of them."""
        values = {c.cycles for layer in self.layers for c in layer.candidates}
        return sorted(v for v in values | {self.fixed_cycles} if v >= self.fixed_cycles)
