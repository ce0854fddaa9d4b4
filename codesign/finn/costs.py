"""FINN's own per-node estimates for candidate foldings, and their cache.

A `NodeEvaluator` holds a private copy of one node of the HW graph. For each candidate it sets
the attributes on that copy, checks FINN's own legality rules (the HLS top module's
AP_INT_MAX_W limit, the RTL sliding window's code-generation checks) and calls exactly the
methods FINN's analyses call (`node_res_estimation(fpgapart)` as in `res_estimation`,
`get_exp_cycles()` as in `exp_cycles_per_layer`), so applying the chosen attributes to the real
graph reproduces FINN's estimates bit for bit.

qonnx re-reads the attribute schema and scans the attribute list on every `get_nodeattr`; the
copy memoises both (the schema is constant and only `set_nodeattr` changes values), which
makes an evaluation ~8x faster without changing any number.

Results are cached in memory, keyed by the node's signature (its proto without name and tensor
names), the part and the attributes; a `CostCache` with a directory also keeps them on disk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from codesign.atomic import write_json
from codesign.boards import RESOURCE_KINDS as RESOURCES

Stream = tuple[int, int]  # (elements per stream word, stream width in bits)
_DATATYPE_ATTRS = ("inputDataType", "weightDataType", "outputDataType", "accDataType",
                   "dataType")


@dataclass(frozen=True)
class NodeCost:
    cycles: int
    cost: Mapping[str, float]
    inputs: tuple[Stream, ...]  # per requested input index
    outputs: tuple[Stream, ...]  # per requested output index

    def to_json(self) -> dict[str, Any]:
        return {"cycles": self.cycles, "cost": dict(self.cost),
                "inputs": [list(s) for s in self.inputs], "outputs": [list(s) for s in self.outputs]}

    @staticmethod
    def from_json(data: dict[str, Any]) -> NodeCost:
        return NodeCost(int(data["cycles"]), dict(data["cost"]),
                        tuple((int(e), int(w)) for e, w in data["inputs"]),
                        tuple((int(e), int(w)) for e, w in data["outputs"]))


def node_signature(node: Any) -> str:
    """What a node's estimates depend on: its op type, domain and attributes, not its name or
    the names of its tensors."""
    import onnx

    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    del copy.input[:]
    del copy.output[:]
    copy.name = ""
    return hashlib.sha1(copy.SerializeToString(deterministic=True)).hexdigest()[:20]


class CostCache:
    """node signature + part -> {attribute key: NodeCost or None (illegal)}."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._tables: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self.hits = self.misses = 0

    def table(self, signature: str, part: str) -> dict[str, Any]:
        name = f"{signature}-{part}"
        if name not in self._tables:
            self._tables[name] = {}
            path = self.directory / f"{name}.json" if self.directory else None
            if path is not None and path.is_file():
                try:
                    self._tables[name] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    pass  # a damaged cache file is rebuilt
        return self._tables[name]

    def mark(self, signature: str, part: str) -> None:
        self._dirty.add(f"{signature}-{part}")

    def flush(self) -> None:
        if self.directory is None:
            return
        for name in sorted(self._dirty):
            write_json(self.directory / f"{name}.json", self._tables[name])
        self._dirty.clear()


def _memoise_attributes(inst: Any) -> None:
    types = inst.get_nodeattr_types()
    values: dict[str, Any] = {}
    read, write = inst.get_nodeattr, inst.set_nodeattr

    def get(name: str) -> Any:
        if name not in values:
            values[name] = read(name)
        value = values[name]
        return list(value) if isinstance(value, list) else value  # callers may mutate lists

    def set_(name: str, value: Any) -> None:
        write(name, value)
        values.pop(name, None)

    inst.get_nodeattr_types = lambda: types
    inst.get_nodeattr = get
    inst.set_nodeattr = set_


def _memoise_datatypes(inst: Any) -> None:
    """Cache the datatype getters: they parse the datatype names on every call, and an
    evaluator never changes a datatype attribute (only folding attributes)."""
    for name in ("get_input_datatype", "get_output_datatype", "get_accumulator_datatype"):
        method = getattr(inst, name, None)
        if method is None:
            continue
        memo: dict[tuple[Any, ...], Any] = {}

        def cached(*args: Any, _method: Any = method, _memo: dict = memo) -> Any:
            if args not in _memo:
                _memo[args] = _method(*args)
            return _memo[args]

        setattr(inst, name, cached)


def private_instance(node: Any) -> Any:
    """A FINN custom-op instance on a copy of `node` (the graph is never touched)."""
    import onnx
    from qonnx.custom_op.registry import getCustomOp

    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    inst = getCustomOp(copy)
    _memoise_attributes(inst)
    return inst


def check_legal(inst: Any) -> None:
    """Raise if FINN could not generate this node as configured (the checks that depend on
    folding and run without Vivado)."""
    op_type = inst.onnx_node.op_type
    if op_type.endswith("_hls"):
        inst.get_ap_int_max_w()  # weight/stream words wider than AP_INT_MAX_W cannot compile
    if op_type == "ConvolutionInputGenerator_rtl":
        if inst.select_impl_style() == "parallel":
            inst.prepare_codegen_parallel()
        else:
            inst.prepare_codegen_default()


class NodeEvaluator:
    def __init__(self, node: Any, part: str, cache: CostCache, in_indices: tuple[int, ...],
                 out_indices: tuple[int, ...]) -> None:
        self.node, self.part, self.cache = node, part, cache
        self.in_indices, self.out_indices = in_indices, out_indices
        self.inst = private_instance(node)
        _memoise_datatypes(self.inst)
        self.signature = node_signature(node)
        self.illegal = 0
        self._original: dict[str, Any] = {}  # attributes an earlier candidate changed
        self._current: dict[str, Any] = {}  # ...and the values they have now

    def _set(self, attrs: Mapping[str, Any]) -> None:
        if any(name in _DATATYPE_ATTRS for name in attrs):
            raise ValueError("an evaluator varies folding attributes only, not datatypes")
        for name in [n for n in self._original if n not in attrs]:
            self.inst.set_nodeattr(name, self._original.pop(name))
            del self._current[name]
        for name, value in attrs.items():
            if name not in self._original:
                self._original[name] = self.inst.get_nodeattr(name)
            if self._current.get(name, self._original[name]) != value:
                self.inst.set_nodeattr(name, value)  # only what differs from the last candidate
            self._current[name] = value

    def evaluate(self, attrs: Mapping[str, Any]) -> NodeCost | None:
        key = json.dumps([sorted(attrs.items()), self.in_indices, self.out_indices])
        table = self.cache.table(self.signature, self.part)
        if key in table:
            self.cache.hits += 1
            found = table[key]
            return NodeCost.from_json(found) if found is not None else None
        self.cache.misses += 1
        result = self._compute(attrs)
        table[key] = result.to_json() if result is not None else None
        self.cache.mark(self.signature, self.part)
        return result

    def _compute(self, attrs: Mapping[str, Any]) -> NodeCost | None:
        inst = self.inst
        self._set(attrs)
        try:
            check_legal(inst)
            cycles = int(inst.get_exp_cycles())
            res = inst.node_res_estimation(self.part)
            inputs = tuple((int(inst.get_folded_input_shape(i)[-1]), int(inst.get_instream_width(i)))
                           for i in self.in_indices)
            outputs = tuple((int(inst.get_folded_output_shape(o)[-1]),
                             int(inst.get_outstream_width(o))) for o in self.out_indices)
        except Exception:  # FINN signals an illegal configuration with bare exceptions/asserts
            self.illegal += 1
            return None
        return NodeCost(cycles, {k: float(res[k]) for k in RESOURCES}, inputs, outputs)


@lru_cache(maxsize=65536)
def dwc_cost(in_shape: tuple[int, ...], out_shape: tuple[int, ...], in_width: int, out_width: int,
             datatype: str, part: str) -> tuple[tuple[str, float], ...] | None:
    """Resources of the StreamingDataWidthConverter FINN's InsertDWC would put between two
    streams (specialised to RTL, as SpecializeLayers does), or None if FINN cannot build it."""
    from onnx import helper

    node = helper.make_node(
        "StreamingDataWidthConverter_rtl", ["in0"], ["out0"],
        domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
        inShape=list(in_shape), outShape=list(out_shape), inWidth=in_width, outWidth=out_width,
        dataType=datatype)
    inst = private_instance(node)
    try:
        inst.get_folded_input_shape()
        inst.get_folded_output_shape()
        res = inst.node_res_estimation(part)
    except Exception:  # FINN's width/shape assertions: this conversion cannot be built
        return None
    return tuple((k, float(res[k])) for k in RESOURCES)
