"""Per-layer and whole-network estimates of a folded HW graph, from FINN's own analyses:
res_estimation (LUT/BRAM_18K/URAM/DSP), exp_cycles_per_layer, the nodes' op and parameter
counts, and dataflow_performance (bottleneck cycles and critical-path latency). The numbers
are the ones FINN's builder writes to its estimate_*.json reports for the same graph.

Throughput: `compute_fps` is FINN's pipeline estimate; given the board's shell (`host_io`),
`fps` is the accelerator as built, min(compute pipeline, I/O bound of host_io.py), and `bound`
says which binds. Without a shell, `fps` is the compute figure."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from codesign.boards import HostIO
from codesign.errors import CompileError
from codesign.finn._env import quiet_finn
from codesign.finn.compile import HWGraph
from codesign.finn.fifos import FifoEstimate, priced_fifos
from codesign.finn.host_io import IOBound, io_bound

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
# Layer-shape attributes worth showing next to a layer's cost, when the layer has them.
_DIM_ATTRS = ("MH", "MW", "NumChannels", "Channels", "IFMChannels", "Labels", "K", "ImgDim",
              "IFMDim", "OFMDim", "ConvKernelDim", "KernelSize", "Kernel", "numInputVectors")
_MAC_KEY = re.compile(r"op_mac_(\d+)bx(\d+)b")


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    op_type: str
    dims: dict[str, int]
    pe: int | None
    simd: int | None
    cycles: int
    lut: float
    bram_18k: float
    uram: float
    dsp: float
    macs: int
    bops: int
    weight_bits: int | None
    act_bits: int | None
    params: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Estimates:
    layers: tuple[LayerEstimate, ...]
    totals: dict[str, float]  # LUT, BRAM_18K, URAM, DSP: the layers and `fifos`
    max_cycles: int
    bottleneck: str
    clock_mhz: float
    fps: float  # the accelerator as built: min(compute_fps, io.fps)
    latency_cycles: int
    latency_us: float
    macs: int
    bops: int
    params: int
    # every stream FIFO FINN's build inserts, at codesign's depths (codesign.finn.fifos)
    fifos: tuple[FifoEstimate, ...] = ()
    compute_fps: float = 0.0  # FINN's compute-pipeline estimate: clock / max_cycles
    io: IOBound | None = None  # the shell's I/O bound (None: no shell given)

    @property
    def io_fps(self) -> float | None:
        return None if self.io is None else self.io.fps

    @property
    def bound(self) -> str:
        """Which figure binds the headline `fps`: "compute" or "io" (a tie is "io": compute
        sized to keep up with the I/O is what the planner picks at the bound)."""
        return "io" if self.io is not None and self.io.fps <= self.compute_fps else "compute"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["layers"] = [layer.to_dict() for layer in self.layers]
        out["fifos"] = [fifo.to_dict() for fifo in self.fifos]
        out["io"] = None if self.io is None else self.io.to_dict()
        out.update(io_fps=self.io_fps, bound=self.bound)
        return out


def _dims(inst: Any, types: dict[str, Any]) -> dict[str, int]:
    """Shape attributes as flat ints: lists become NAME_h/NAME_w (2 entries) or NAME_0.. ."""
    dims: dict[str, int] = {}
    for attr in _DIM_ATTRS:
        if attr not in types:
            continue
        value = inst.get_nodeattr(attr)
        if isinstance(value, list | tuple):
            suffixes = ("h", "w") if len(value) == 2 else tuple(map(str, range(len(value))))
            dims.update({f"{attr}_{s}": int(v) for s, v in zip(suffixes, value, strict=True)})
        elif value:
            dims[attr] = int(value)
    return dims


def _counts(inst: Any) -> tuple[int, int, int]:
    """(MACs, bit operations, parameters) per frame from the node's own op/param counts."""
    counts = inst.get_op_and_param_counts() if hasattr(inst, "get_op_and_param_counts") else {}
    macs = bops = params = 0
    for key, count in counts.items():
        match = _MAC_KEY.fullmatch(key)
        if match:
            macs += int(count)
            bops += int(count) * int(match.group(1)) * int(match.group(2))
        elif key.startswith("param_"):
            params += int(count)
    return macs, bops, params


def _bits(inst: Any, types: dict[str, Any], macs: int) -> tuple[int | None, int | None]:
    """(weight bits, input activation bits) of a layer; weight bits only for layers that
    multiply by weights (a Thresholding's weightDataType holds its thresholds)."""
    weight_bits = None
    if macs and "weightDataType" in types:
        weight_bits = inst.get_input_datatype(1).bitwidth()
    try:
        act_bits = inst.get_input_datatype(0).bitwidth()
    except Exception:  # a few layers have no typed data input
        act_bits = None
    return weight_bits, act_bits


def _attr_or_none(inst: Any, types: dict[str, Any], name: str) -> int | None:
    return int(inst.get_nodeattr(name)) if name in types else None


def _failing_layer(hw: HWGraph) -> str:
    """The first layer whose own estimate functions raise, for the error message."""
    from qonnx.custom_op.registry import getCustomOp

    for node in hw.model.graph.node:
        try:
            inst = getCustomOp(node)
            inst.node_res_estimation(hw.part)
            inst.get_exp_cycles()
        except Exception:
            return f"layer {node.name} ({node.op_type})"
    return "the graph"


def with_io(est: Estimates, io: IOBound | None) -> Estimates:
    """`est` with the headline FPS bounded by `io` (None: the compute figure)."""
    fps = est.compute_fps if io is None else min(est.compute_fps, io.fps)
    return dataclasses.replace(est, io=io, fps=fps)


def estimate(hw: HWGraph, host_io: HostIO | None = None, *, search_fifos: bool = True
             ) -> Estimates:
    """Estimates of `hw` (not modified) at its part and clock; with the board's `host_io`, the
    headline FPS is bounded by the shell's I/O (module doc). The stream FIFOs are at their
    searched depths, the accelerator as built (search_fifos=False: at their safe depths, which
    are never cheaper; what the folding optimizer prices its trial plans at)."""
    from finn.analysis.fpgadataflow.dataflow_performance import dataflow_performance
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles
    from qonnx.custom_op.registry import getCustomOp

    with quiet_finn():
        try:
            resources = hw.model.analysis(partial(res_estimation, fpgapart=hw.part))
            cycles = hw.model.analysis(exp_cycles_per_layer)
            # dataflow_performance reads the cycles_estimate attributes AnnotateCycles writes;
            # transform() annotates a copy, so `hw` keeps its own attributes.
            performance = hw.model.transform(AnnotateCycles()).analysis(dataflow_performance)
        except Exception as exc:  # e.g. an RTL MVAU whose operands exceed the part's DSPs
            raise CompileError(f"FINN cannot estimate {_failing_layer(hw)}: {type(exc).__name__}: "
                               f"{exc}; change that layer's folding/implementation style or the "
                               "bit widths") from exc
        layers = []
        for node in hw.model.graph.node:
            inst = getCustomOp(node)
            types = inst.get_nodeattr_types()
            res = resources[node.name]
            macs, bops, params = _counts(inst)
            weight_bits, act_bits = _bits(inst, types, macs)
            layers.append(LayerEstimate(
                name=node.name, op_type=node.op_type, dims=_dims(inst, types),
                pe=_attr_or_none(inst, types, "PE"), simd=_attr_or_none(inst, types, "SIMD"),
                cycles=int(cycles[node.name]),
                lut=float(res["LUT"]), bram_18k=float(res["BRAM_18K"]), uram=float(res["URAM"]),
                dsp=float(res["DSP"]), macs=macs, bops=bops, weight_bits=weight_bits,
                act_bits=act_bits, params=params,
            ))
    fifos = priced_fifos(hw, search=search_fifos)
    totals = {r: float(sum(float(resources[n][r]) for n in resources)
                       + sum(fifo.cost()[r] for fifo in fifos)) for r in RESOURCES}
    max_cycles = int(performance["max_cycles"])
    latency_cycles = int(performance["critical_path_cycles"])
    compute_fps = hw.clock_mhz * 1e6 / max(max_cycles, 1)
    est = Estimates(
        layers=tuple(layers), totals=totals, max_cycles=max_cycles,
        bottleneck=str(performance["max_cycles_node_name"]), clock_mhz=hw.clock_mhz,
        fps=compute_fps,
        latency_cycles=latency_cycles, latency_us=latency_cycles / hw.clock_mhz,
        macs=sum(layer.macs for layer in layers), bops=sum(layer.bops for layer in layers),
        params=sum(layer.params for layer in layers), fifos=fifos, compute_fps=compute_fps,
    )
    return with_io(est, None if host_io is None else io_bound(hw, host_io))
