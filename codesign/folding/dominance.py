"""Per-layer dominance pruning that never changes an optimum.

Candidate d of a layer may be dropped when another candidate k of the same layer is at least
as good whatever the other layers choose: k is not slower, agrees with d on every attribute a
tie reads (so tied layers stay consistent), and its own cost plus the worst extra it can cause
on the layer's links is within d's cost in every resource kind. The worst extra of k over d on
a link is, per resource kind, the maximum over the neighbour's ports of
cost(k's port, q) - cost(d's port, q), infinite where d's pair is legal and k's is not. Swapping
d for k in any feasible design then keeps it feasible, no slower and no dearer, so every
problem the optimizer solves (fastest, leanest at a bound, Pareto) keeps an optimal solution.
Among mutually dominating candidates the first is kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

import numpy as np

from codesign.boards import RESOURCE_KINDS
from codesign.folding.space import FoldingSpace, LayerSpace, Link


def _port_penalties(ports: list[Hashable], link: Link, side: str,
                    neighbour_ports: list[Hashable]) -> np.ndarray:
    """P[i, j, r] = max over neighbour ports q of cost(port i, q)[r] - cost(port j, q)[r]."""
    kinds = len(RESOURCE_KINDS)
    table = np.full((len(ports), len(neighbour_ports), kinds), np.nan)
    for i, p in enumerate(ports):
        for j, q in enumerate(neighbour_ports):
            cost = link.cost(p, q) if side == "producer" else link.cost(q, p)
            if cost is not None:
                table[i, j] = [cost.get(k, 0.0) for k in RESOURCE_KINDS]
    a = table[:, None, :, :]  # the dominating candidate's port
    b = table[None, :, :, :]  # the dominated one's
    diff = a - b
    # Only neighbour ports where the dominated port is legal matter; there the dominating
    # port must be legal too.
    diff = np.where(np.isnan(b), -np.inf, np.where(np.isnan(a), np.inf, diff))
    if diff.shape[2] == 0:
        return np.zeros((len(ports), len(ports), kinds))
    return np.max(diff, axis=2)


def _cost_dominance(layer: LayerSpace, tie_attrs: list[str], links: list[tuple[Link, str]],
                    ports_of: dict[tuple[str, str], list[Hashable]]) -> np.ndarray:
    """W[k, d]: candidate k costs no more than d in any resource kind, even counting the worst
    extra k can cause on the layer's links, and agrees with d on every tied attribute."""
    cands = layer.candidates
    n = len(cands)
    cost = np.array([[c.cost[k] for k in RESOURCE_KINDS] for c in cands]).reshape(n, -1)
    ids: dict[tuple, int] = {}
    key_ids = np.array([ids.setdefault(tuple(c.attr(a) for a in tie_attrs), len(ids))
                        for c in cands])
    weak = key_ids[:, None] == key_ids[None, :]
    tables = []
    for link, side in links:
        own = "out_port" if side == "producer" else "in_port"
        ports = sorted({getattr(c, own) for c in cands}, key=repr)
        index = {p: i for i, p in enumerate(ports)}
        other = ports_of[(link.consumer if side == "producer" else link.producer,
                          "in_port" if side == "producer" else "out_port")]
        idx = np.array([index[getattr(c, own)] for c in cands])
        tables.append((_port_penalties(ports, link, side, other), idx))
    for r in range(len(RESOURCE_KINDS)):  # one kind at a time keeps the arrays n x n
        penalty = np.zeros((n, n))
        for table, idx in tables:
            penalty += table[:, :, r][np.ix_(idx, idx)]
        if not penalty.any() and not cost[:, r].any():
            continue  # a kind nobody here uses
        weak &= cost[:, r][:, None] + penalty <= cost[:, r][None, :] + 1e-9
    np.fill_diagonal(weak, False)
    return weak


def undominated(weak: np.ndarray) -> np.ndarray:
    """Mask of candidates no other one dominates under the weak order `weak` (mutual ties
    resolved in favour of the earlier candidate)."""
    n = weak.shape[0]
    earlier = np.triu(np.ones((n, n), dtype=bool), k=1)  # earlier[k, d]: k comes before d
    return ~(weak & (~weak.T | earlier)).any(axis=0)


def cost_dominance(space: FoldingSpace) -> list[np.ndarray]:
    """Per layer of `space`, the cost-dominance matrix (cycles not considered)."""
    ports_of = {}
    for layer in space.layers:
        ports_of[(layer.name, "in_port")] = sorted({c.in_port for c in layer.candidates}, key=repr)
        ports_of[(layer.name, "out_port")] = sorted({c.out_port for c in layer.candidates},
                                                    key=repr)
    result = []
    for layer in space.layers:
        tie_attrs = sorted({t.attr_a for t in space.ties if t.layer_a == layer.name}
                           | {t.attr_b for t in space.ties if t.layer_b == layer.name})
        links = [(link, "producer") for link in space.links if link.producer == layer.name]
        links += [(link, "consumer") for link in space.links if link.consumer == layer.name]
        result.append(_cost_dominance(layer, tie_attrs, links, ports_of))
    return result


def prune_dominated(space: FoldingSpace) -> FoldingSpace:
    """The same problem with dominated candidates removed (see the module docstring)."""
    layers = []
    for layer, weak in zip(space.layers, cost_dominance(space), strict=True):
        cycles = np.array([c.cycles for c in layer.candidates])
        keep = undominated(weak & (cycles[:, None] <= cycles[None, :]))
        layers.append(dataclasses.replace(layer, candidates=tuple(
            c for c, k in zip(layer.candidates, keep, strict=True) if k)))
    return dataclasses.replace(space, layers=tuple(layers))
