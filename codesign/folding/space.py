"""The search space of a folding problem, as plain data.

Each foldable layer has a finite list of legal candidates (attribute settings such as PE, SIMD,
ram_style) with their cost: cycles per frame and LUT/BRAM_18K/URAM/DSP. Ties couple layers
whose attributes must agree (e.g. a depthwise sliding window's SIMD and the following Pool's
PE). Layers that cannot be folded contribute a fixed cost. Links price the stream between two
layers when its cost depends on both ends (FINN's data-width converters): each candidate names
its input and output "port" (what the neighbour sees of it), a link maps port pairs to a cost,
and a pair it does not list is illegal."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codesign.boards import RESOURCE_KINDS


def divisors(n: int) -> list[int]:
    """The divisors of a positive integer, ascending: the legal PE (SIMD) values for a
    dimension of n (FINN needs MH % PE == 0 and MW % SIMD == 0)."""
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class Candidate:
    attrs: tuple[tuple[str, Any], ...]  # sorted (name, value) pairs, e.g. (("PE", 4), ("SIMD", 8))
    cycles: int
    cost: Mapping[str, float]  # LUT, BRAM_18K, URAM, DSP
    in_port: Hashable = None  # what the producer link sees of this candidate (e.g. stream width)
    out_port: Hashable = None  # what the consumer link sees
    # Derived properties other layers may be tied to, not attributes to apply (e.g. "needs a
    # parallel-window input"); `attr` looks them up after `attrs`.
    tags: tuple[tuple[str, Any], ...] = ()

    @staticmethod
    def make(attrs: Mapping[str, Any], cycles: int, cost: Mapping[str, float], *,
             in_port: Hashable = None, out_port: Hashable = None,
             tags: Mapping[str, Any] | None = None) -> Candidate:
        return Candidate(tuple(sorted(attrs.items())), int(cycles),
                         {k: float(cost.get(k, 0.0)) for k in RESOURCE_KINDS},
                         in_port, out_port, tuple(sorted((tags or {}).items())))

    def attr(self, name: str) -> Any:
        for key, value in self.attrs + self.tags:
            if key == name:
                return value
        raise KeyError(name)

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
class Link:
    """The stream from `producer` to `consumer`. `costs` maps (producer candidate's out_port,
    consumer candidate's in_port) to the resources the stream needs; pairs not listed are
    illegal. `label` names what the cost is (e.g. "data-width converter")."""

    producer: str
    consumer: str
    costs: Mapping[tuple[Hashable, Hashable], Mapping[str, float]]
    label: str = ""

    def cost(self, out_port: Hashable, in_port: Hashable) -> Mapping[str, float] | None:
        return self.costs.get((out_port, in_port))

    @property
    def name(self) -> str:
        return f"{self.producer}->{self.consumer}"


@dataclass(frozen=True)
class FoldingSpace:
    layers: tuple[LayerSpace, ...]
    ties: tuple[Tie, ...] = ()
    fixed_cost: Mapping[str, float] = field(default_factory=dict)  # non-foldable layers
    fixed_cycles: int = 0  # the slowest non-foldable layer's cycles
    links: tuple[Link, ...] = ()

    def size(self) -> int:
        return sum(len(layer.candidates) for layer in self.layers)

    def layer(self, name: str) -> LayerSpace:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def cycle_values(self) -> list[int]:
        """Every achievable bottleneck value, ascending: the optimum is one of them."""
        values = {c.cycles for layer in self.layers for c in layer.candidates}
        return sorted(v for v in values | {self.fixed_cycles} if v >= self.fixed_cycles)
