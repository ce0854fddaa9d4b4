"""The folding search space of a compiled HW graph, priced by FINN's own per-node estimates.

Per node, every legal setting of the attributes FINN's folding config controls:
- MVAU: PE | MH, SIMD | MW; ram_style block/distributed (ultra, see below) when the weights
  stream from memory (mem_mode internal_decoupled); resType lut/dsp for the HLS MVAU (the RTL
  MVAU computes in DSPs). HLS nodes must keep every stream word within AP_INT_MAX_W (FINN's
  MAX_ALLOWED_AP_INT_W, checked by the node's own get_ap_int_max_w).
- VVAU: PE | Channels, SIMD | kernel size only with PE = Channels (FINN's sliding window needs
  the channels fully unfolded first, as SetFolding assumes); resType for the HLS VVAU.
- Thresholding: PE | NumChannels; ram_style for the HLS variant.
- ConvolutionInputGenerator (RTL): SIMD | IFMChannels; ram_style; parallel_window=1 only with
  SIMD = IFMChannels and a kernel larger than 1x1. A depthwise one feeds a Pool or VVAU whose
  PE must equal its SIMD (a Tie); before a Pool its parallel_window stays 0, before a VVAU it
  must be 1 exactly when the VVAU's SIMD > 1 (a Tie on a tag of the VVAU candidates).
  Every setting must pass the RTL generator's own checks (prepare_codegen_*).
- Pool: PE | Channels. LabelSelect: PE | Labels. FMPadding: SIMD | NumChannels.
  GlobalAccPool, DuplicateStreams: PE | NumChannels. Other nodes keep their compiled folding.
- "ultra" (URAM) only if the board has URAM and the node allows it. On non-Versal parts FINN
  requires runtime_writeable_weights=1 with URAM weights, and its step_minimize_bit_width (run
  after the folding config in a real build) then recomputes accumulator widths from worst-case
  weights; URAM is offered only for nodes where that leaves every datatype unchanged, so the
  estimates stay exact.
mem_mode stays as compiled. Between neighbours whose stream words differ FINN's InsertDWC adds
a data-width converter; with `dwc=True` each such pair of port widths is a Link priced by the
converter's own estimate (pairs FINN cannot convert are illegal). A fork's candidates carry
the skip-branch FIFOs its PE asks for (codesign.finn.fifos), priced as FINN's StreamingFIFO."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from codesign.finn._env import base_op_type, ensure_finn_settings, is_hw_node, quiet_finn
from codesign.finn.compile import HWGraph
from codesign.finn.costs import CostCache, NodeEvaluator, dwc_cost, private_instance
from codesign.finn.fifos import SkipBuffer, fifo_cost, skip_buffers
from codesign.folding.dominance import prune_dominated
from codesign.folding.space import Candidate, FoldingSpace, LayerSpace, Link, Tie, divisors

_PE_SIZE = {"MVAU": "MH", "VVAU": "Channels", "Thresholding": "NumChannels", "Pool": "Channels",
            "LabelSelect": "Labels", "GlobalAccPool": "NumChannels",
            "DuplicateStreams": "NumChannels"}
_SIMD_SIZE = {"MVAU": "MW", "ConvolutionInputGenerator": "IFMChannels", "FMPadding": "NumChannels"}
_WEIGHT_MEMORY_OPS = ("MVAU", "VVAU")
_DATATYPE_ATTRS = ("weightDataType", "accDataType", "outputDataType")
_DEFAULT_CACHE = CostCache()  # per process: repeated solves for the same graph are fast


@dataclass(frozen=True)
class BuiltSpace:
    space: FoldingSpace
    evaluated: int  # legal candidates priced by FINN
    kept: int  # after dominance pruning
    illegal: int
    seconds: float
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"layers": len(self.space.layers), "evaluated": self.evaluated, "kept": self.kept,
                "illegal": self.illegal, "links": len(self.space.links),
                "seconds": self.seconds, "notes": list(self.notes)}


def _is_versal(part: str) -> bool:
    from finn.util.basic import is_versal

    return bool(is_versal(part))


def _uram_keeps_datatypes(node: Any, model: Any) -> bool:
    """Would FINN's bit-width minimisation leave this node alone with runtime-writeable
    weights (what URAM needs on non-Versal parts)?"""
    inst = private_instance(node)
    before = {a: inst.get_nodeattr(a) for a in _DATATYPE_ATTRS if a in inst.get_nodeattr_types()}
    inst.set_nodeattr("runtime_writeable_weights", 1)
    try:
        for method in ("minimize_weight_bit_width", "minimize_accumulator_width"):
            if hasattr(inst, method):
                getattr(inst, method)(model)
    except Exception:
        return False
    return all(inst.get_nodeattr(a) == v for a, v in before.items())


def _ram_styles(inst: Any, node: Any, model: Any, part: str, allow_uram: bool,
                notes: list[str]) -> list[dict[str, Any]]:
    types = inst.get_nodeattr_types()
    op = base_op_type(node.op_type)
    if "ram_style" not in types or op not in (*_WEIGHT_MEMORY_OPS, "Thresholding",
                                              "ConvolutionInputGenerator"):
        return [{}]
    if op in _WEIGHT_MEMORY_OPS and inst.get_nodeattr("mem_mode") != "internal_decoupled":
        return [{}]  # embedded or external weights: ram_style does not apply
    allowed = types["ram_style"][3]
    styles: list[dict[str, Any]] = [{"ram_style": s} for s in ("block", "distributed") if s in allowed]
    if allow_uram and "ultra" in allowed:
        if op == "ConvolutionInputGenerator" or _is_versal(part):
            styles.append({"ram_style": "ultra"})
        elif _uram_keeps_datatypes(node, model):
            styles.append({"ram_style": "ultra", "runtime_writeable_weights": 1})
        else:
            notes.append(f"{node.name}: URAM not offered; the runtime-writeable weights it needs "
                         "on this part would change the node's bit widths in FINN's build")
    return styles


def _parallelism(inst: Any, node: Any, model: Any, parallel_window: bool) -> list[dict[str, Any]]:
    op = base_op_type(node.op_type)
    get = inst.get_nodeattr
    grid: list[dict[str, Any]] = []
    if op == "VVAU":
        channels, kernel = get("Channels"), int(get("Kernel")[0] * get("Kernel")[1])
        for pe in divisors(channels):
            for simd in divisors(kernel) if pe == channels else [1]:
                grid.append({"PE": pe, "SIMD": simd})
        return grid
    if op == "ElementwiseAdd":  # a residual join: PE lanes over the channels (last axis)
        return [{"PE": pe} for pe in divisors(int(get("out_shape")[-1]))]
    if op == "ConvolutionInputGenerator":
        channels = get("IFMChannels")
        consumer = model.find_consumer(node.output[0])
        before_vvau = consumer is not None and base_op_type(consumer.op_type) == "VVAU"
        rtl = node.op_type.endswith("_rtl") and not get("dynamic_mode")
        for simd in divisors(channels):
            windows = [0]
            if rtl and parallel_window and list(get("ConvKernelDim")) != [1, 1]:
                if (get("depthwise") and before_vvau) or (not get("depthwise") and simd == channels):
                    windows.append(1)
            grid += [{"SIMD": simd, "parallel_window": w} for w in windows]
        return grid
    pe_size, simd_size = _PE_SIZE.get(op), _SIMD_SIZE.get(op)
    pes = divisors(get(pe_size)) if pe_size else [None]
    simds = divisors(get(simd_size)) if simd_size else [None]
    for pe, simd in itertools.product(pes, simds):
        grid.append({k: v for k, v in (("PE", pe), ("SIMD", simd)) if v is not None})
    return grid


def _grid(node: Any, model: Any, part: str, allow_uram: bool, styles: bool,
          parallel_window: bool, notes: list[str]) -> list[dict[str, Any]]:
    op = base_op_type(node.op_type)
    if op not in _PE_SIZE and op not in _SIMD_SIZE and op not in ("VVAU", "ElementwiseAdd"):
        return [{}]  # a layer FINN folds differently or not at all: keep it as compiled
    inst = private_instance(node)
    try:
        grid = _parallelism(inst, node, model, parallel_window)
    except (AttributeError, KeyError):  # a variant without the size attribute we expect
        notes.append(f"{node.name}: kept as compiled ({node.op_type} lacks the attributes "
                     "its folding rule reads)")
        return [{}]
    if styles:
        variants = _ram_styles(inst, node, model, part, allow_uram, notes)
        if op in _WEIGHT_MEMORY_OPS and node.op_type.endswith("_hls"):
            variants = [{**v, "resType": r} for v in variants for r in ("lut", "dsp")]
        grid = [{**g, **v} for g in grid for v in variants]
    return grid


def _stream_indices(node: Any, model: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Inputs fed by and outputs feeding another HW layer: where FINN may insert converters."""
    ins = tuple(i for i, name in enumerate(node.input)
                if name and is_hw_node(model.find_producer(name)))
    outs = tuple(o for o, name in enumerate(node.output)
                 if any(is_hw_node(c) for c in model.find_consumers(name)))
    return ins, outs


def _window_tag(node: Any, model: Any) -> bool:
    """Does this VVAU's SIMD decide its sliding window's parallel_window (see module doc)?"""
    producer = model.find_producer(node.input[0])
    return (base_op_type(node.op_type) == "VVAU" and producer is not None
            and producer.op_type == "ConvolutionInputGenerator_rtl")


def _ties(model: Any) -> list[Tie]:
    ties = []
    for node in model.graph.node:
        if base_op_type(node.op_type) != "ConvolutionInputGenerator":
            continue
        if not private_instance(node).get_nodeattr("depthwise"):
            continue
        consumer = model.find_consumer(node.output[0])
        if consumer is not None and base_op_type(consumer.op_type) in ("Pool", "VVAU"):
            ties.append(Tie(node.name, "SIMD", consumer.name, "PE"))
            if base_op_type(consumer.op_type) == "VVAU" and node.op_type.endswith("_rtl"):
                ties.append(Tie(node.name, "parallel_window", consumer.name, "parallel_window"))
    return ties


def _links(model: Any, part: str, layers: dict[str, LayerSpace],
           ports: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]) -> list[Link]:
    links = []
    for node in model.graph.node:
        for o, name in enumerate(node.output):
            for consumer in model.find_consumers(name):
                if not is_hw_node(consumer) or o not in ports[node.name][1]:
                    continue
                i = list(consumer.input).index(name)
                po, ci = ports[node.name][1].index(o), ports[consumer.name][0].index(i)
                producer_inst, consumer_inst = private_instance(node), private_instance(consumer)
                in_shape = tuple(int(d) for d in producer_inst.get_normal_output_shape(o))
                out_shape = tuple(int(d) for d in consumer_inst.get_normal_input_shape(i))
                dtype = producer_inst.get_output_datatype(o).name
                costs = {}
                for p in {c.out_port for c in layers[node.name].candidates}:
                    for q in {c.in_port for c in layers[consumer.name].candidates}:
                        (p_elems, p_width), (q_elems, q_width) = p[po], q[ci]
                        if p_elems == q_elems:  # InsertDWC compares the folded word sizes
                            costs[(p, q)] = {}
                            continue
                        cost = dwc_cost(in_shape, out_shape, p_width, q_width, dtype, part)
                        if cost is not None:
                            costs[(p, q)] = dict(cost)
                links.append(Link(node.name, consumer.name, costs, "data-width converter"))
    return links


def _with_buffers(cost: Any, pe: int, buffers: list[SkipBuffer], datatype: str,
                  part: str) -> dict[str, float]:
    """A fork candidate's cost plus its skip-branch FIFOs at `pe` lanes."""
    total = dict(cost)
    for buffer in buffers:
        for kind, value in fifo_cost(buffer.depth(pe), pe, buffer.bits, datatype, part):
            total[kind] = total.get(kind, 0.0) + value
    return total


def build_space(hw: HWGraph, *, allow_uram: bool, dwc: bool = True, styles: bool = True,
                parallel_window: bool = True, prune: bool = True,
                cache: CostCache | None = None) -> BuiltSpace:
    """Every legal folding of every layer of `hw`, priced by FINN at `hw.part`."""
    start = time.perf_counter()
    ensure_finn_settings()  # the RTL generators' checks look up FINN's library paths
    cache = cache if cache is not None else _DEFAULT_CACHE
    model = hw.model
    notes: list[str] = []
    layers: dict[str, LayerSpace] = {}
    ports: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    evaluated = illegal = 0
    buffers = skip_buffers(model)
    with quiet_finn():
        for node in model.graph.node:
            own = [b for b in buffers if b.fork == node.name]
            datatype = private_instance(node).get_output_datatype(0).name if own else ""
            ins, outs = _stream_indices(node, model) if dwc else ((), ())
            ports[node.name] = (ins, outs)
            evaluator = NodeEvaluator(node, hw.part, cache, ins, outs)
            window_tag = _window_tag(node, model)
            cands = []
            for attrs in _grid(node, model, hw.part, allow_uram, styles, parallel_window, notes):
                cost = evaluator.evaluate(attrs)
                if cost is None:
                    illegal += 1
                    continue
                price = (_with_buffers(cost.cost, int(attrs.get("PE", 1)), own, datatype, hw.part)
                         if own else cost.cost)
                cands.append(Candidate.make(attrs, cost.cycles, price, in_port=cost.inputs,
                                            out_port=cost.outputs,
                                            tags={"parallel_window": int(attrs.get("SIMD", 1) > 1)}
                                            if window_tag else None))
            if not cands:
                raise RuntimeError(f"FINN accepts no folding of {node.name}; please report this")
            evaluated += len(cands)
            layers[node.name] = LayerSpace(node.name, node.op_type, tuple(cands))
        links = _links(model, hw.part, layers, ports) if dwc else []
    cache.flush()
    space = FoldingSpace(tuple(layers.values()), ties=tuple(_ties(model)), links=tuple(links))
    if prune:
        space = prune_dominated(space)
    return BuiltSpace(space, evaluated, space.size(), illegal, time.perf_counter() - start,
                      tuple(notes))
