"""Folding (PE/SIMD parallelism and memory/compute styles) of a compiled HW graph, in FINN's
own folding_config.json format: {"Defaults": {}, "<node name>": {"PE": 4, "SIMD": 8, ...}}.

Every function returns a new HWGraph; the one passed in is left untouched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.errors import FoldingError
from codesign.finn._env import base_op_type, quiet_finn
from codesign.finn.compile import HWGraph
from codesign.finn.fifos import SLACK_WORDS, size_skip_fifos
from codesign.folding.space import divisors

# The attributes FINN's builder writes to auto_folding_config.json (step_target_fps_parallelization)
# and accepts back through ApplyConfig: parallelism, memory and compute implementation styles.
FOLDING_ATTRS = (
    "PE", "SIMD", "EmbFold", "SeqFold", "parallel_window", "ram_style", "ram_style_thresholds",
    "ram_style_mask", "depth", "impl_style", "resType", "mac_resource", "mem_mode",
    "runtime_writeable_weights", "depth_trigger_uram", "depth_trigger_bram",
)

# (parallelism attribute, attribute holding the size it must divide) per abstract layer type.
# Layers not listed fall back to the channel count of their input (SIMD) or output (PE) stream.
_DIVISIBILITY: dict[str, tuple[tuple[str, str], ...]] = {
    "MVAU": (("PE", "MH"), ("SIMD", "MW")),
    "VVAU": (("PE", "Channels"),),
    "Thresholding": (("PE", "NumChannels"),),
    "ConvolutionInputGenerator": (("SIMD", "IFMChannels"),),
    "Pool": (("PE", "Channels"),),
    "LabelSelect": (("PE", "Labels"),),
    "FMPadding": (("SIMD", "NumChannels"),),
    "GlobalAccPool": (("PE", "NumChannels"),),
    "DuplicateStreams": (("PE", "NumChannels"),),
}


@dataclass(frozen=True)
class LayerFolding:
    name: str
    op_type: str
    attrs: dict[str, object]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_type": self.op_type, "attrs": dict(self.attrs)}


def _plain(value: Any) -> Any:
    """FINN attribute values as JSON types (ints attributes may come back as numpy ints)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def _node_attrs(node: Any) -> tuple[Any, dict[str, Any]]:
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    return inst, inst.get_nodeattr_types()


def layer_foldings(hw: HWGraph) -> list[LayerFolding]:
    """Every layer's folding attributes, and the stream FIFO depths a node asks for beyond
    FINN's default (skip-branch buffers, codesign.finn.fifos), which FINN's InsertFIFO reads."""
    result = []
    for node in hw.model.graph.node:
        inst, types = _node_attrs(node)
        attrs = {a: _plain(inst.get_nodeattr(a)) for a in FOLDING_ATTRS if a in types}
        depths = _plain(inst.get_nodeattr("outFIFODepths")) if "outFIFODepths" in types else []
        if any(d > SLACK_WORDS for d in depths):
            attrs["outFIFODepths"] = depths
        result.append(LayerFolding(node.name, node.op_type, attrs))
    return result


def read_folding(hw: HWGraph) -> dict[str, Any]:
    """The current folding in FINN's folding_config.json format."""
    config: dict[str, Any] = {"Defaults": {}}
    for layer in layer_foldings(hw):
        if layer.attrs:
            config[layer.name] = dict(layer.attrs)
    return config


def _size_for(inst: Any, node: Any, attr: str, types: dict[str, Any]) -> tuple[str, int] | None:
    for name, size_attr in _DIVISIBILITY.get(base_op_type(node.op_type), ()):
        if name == attr and size_attr in types:
            return size_attr, int(inst.get_nodeattr(size_attr))
    if attr == "SIMD" and base_op_type(node.op_type) == "VVAU":  # SIMD spans the kernel window
        return "kernel size", int(np.prod(inst.get_nodeattr("Kernel")))
    if attr == "SIMD":
        return "input channels", int(inst.get_normal_input_shape()[-1])
    if attr == "PE":
        return "output channels", int(inst.get_normal_output_shape()[-1])
    return None


def check_folding_legal(hw: HWGraph) -> None:
    """Raise FoldingError naming the first node whose folding FINN cannot build."""
    for node in hw.model.graph.node:
        inst, types = _node_attrs(node)
        for attr in ("PE", "SIMD"):
            if attr not in types:
                continue
            value = inst.get_nodeattr(attr)
            size = _size_for(inst, node, attr, types)
            if size is None:
                continue
            size_name, n = size
            if not isinstance(value, int) or value < 1 or n % value != 0:
                legal = ", ".join(map(str, divisors(n)))
                raise FoldingError(f"{node.name} ({node.op_type}): {attr}={value} does not divide "
                                   f"{size_name}={n}; legal {attr} values are {legal}")
        op = base_op_type(node.op_type)
        if (op == "ConvolutionInputGenerator" and "parallel_window" in types
                and inst.get_nodeattr("parallel_window") == 1 and not inst.get_nodeattr("depthwise")
                and list(inst.get_nodeattr("ConvKernelDim")) != [1, 1]
                and inst.get_nodeattr("SIMD") != inst.get_nodeattr("IFMChannels")):
            raise FoldingError(f"{node.name}: parallel_window=1 needs SIMD equal to IFMChannels="
                               f"{inst.get_nodeattr('IFMChannels')}; raise SIMD or set "
                               "parallel_window=0")
        if node.op_type == "MVAU_rtl" and inst.get_nodeattr("resType") == "lut":
            raise FoldingError(f"{node.name}: the RTL MVAU computes in DSPs only; set resType "
                               "to 'dsp' or 'auto', or compile with mvau_rtl=False for a LUT-based MVAU")


def _check_config(hw: HWGraph, config: Any, source: str) -> None:
    """Reject what FINN's ApplyConfig would silently ignore: unknown nodes and attributes."""
    if not isinstance(config, dict):
        raise FoldingError(f"{source} must hold a JSON object {{node name: {{attribute: value}}}}")
    nodes = {node.name: node for node in hw.model.graph.node}
    for key, attrs in config.items():
        if key == "Defaults":
            bad = sorted(set(attrs) - set(FOLDING_ATTRS)) if isinstance(attrs, dict) else ["?"]
            if bad:
                raise FoldingError(f"{source}: 'Defaults' must map folding attributes to "
                                   f"[value, [op types]]; unknown: {', '.join(bad)}")
            continue
        if key not in nodes:
            raise FoldingError(f"{source} names node {key!r}, which is not in the compiled graph; "
                               f"its layers are {', '.join(nodes)} (was the file written for "
                               "another model?)")
        if not isinstance(attrs, dict):
            raise FoldingError(f"{source}: entry {key!r} must be an object of attributes")
        inst, types = _node_attrs(nodes[key])
        known = [a for a in (*FOLDING_ATTRS, "outFIFODepths") if a in types]
        for attr, value in attrs.items():
            if attr not in known:
                raise FoldingError(f"{source}: {key} ({nodes[key].op_type}) has no folding "
                                   f"attribute {attr!r}; it accepts {', '.join(known)}")
            allowed = types[attr][3] if len(types[attr]) > 3 else None
            if allowed and value not in allowed:
                raise FoldingError(f"{source}: {key}.{attr}={value!r} is not allowed; use one "
                                   f"of {', '.join(map(str, sorted(allowed)))}")


def apply_folding_config(hw: HWGraph, config: dict[str, Any], source: str = "folding config") -> HWGraph:
    """Apply a folding dict (FINN format) with FINN's ApplyConfig, after checking it; skip-branch
    FIFOs are then deepened to what the new folding needs."""
    from finn.transformation.general import ApplyConfig

    _check_config(hw, config, source)
    with quiet_finn():
        try:
            model = hw.model.transform(ApplyConfig(config))
        except Exception as exc:  # e.g. a value of the wrong type for an attribute
            raise FoldingError(f"{source} could not be applied: {type(exc).__name__}: {exc}; "
                               "check attribute types (integers for PE/SIMD, strings for styles)"
                               ) from exc
    asked = frozenset(k for k, v in config.items() if isinstance(v, dict) and "outFIFODepths" in v)
    folded = size_skip_fifos(hw.with_model(model), keep=asked)
    check_folding_legal(folded)
    return folded


def apply_folding_file(hw: HWGraph, path: Path) -> HWGraph:
    """Apply a FINN folding_config.json (e.g. one written by write_folding_config)."""
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FoldingError(f"folding file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FoldingError(f"folding file {path} is not valid JSON ({exc}); FINN's format is "
                           '{"Defaults": {}, "MVAU_hls_0": {"PE": 2, "SIMD": 4}}') from None
    return apply_folding_config(hw, config, source=f"folding file {path}")


def target_cycles(clock_mhz: float, target_fps: float) -> int:
    """Cycles per frame for a target throughput, computed as the FINN builder does."""
    return int(clock_mhz * 1e6 / target_fps)


def apply_setfolding(hw: HWGraph, *, target_fps: float, mvau_wwidth_max: int = 1024,
                     two_pass_relaxation: bool = True) -> HWGraph:
    """FINN's greedy SetFolding for `target_fps` at the graph's clock. It never looks at the
    board's resources: check the estimates against the board afterwards."""
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from qonnx.transformation.general import GiveUniqueNodeNames

    if not target_fps > 0:
        raise FoldingError(f"target_fps must be positive, got {target_fps!r}")
    cycles = target_cycles(hw.clock_mhz, target_fps)
    if cycles < 1:
        raise FoldingError(f"target_fps={target_fps:g} leaves less than one clock cycle per frame "
                           f"at {hw.clock_mhz:g} MHz; lower the target")
    with quiet_finn():
        try:
            model = hw.model.transform(SetFolding(cycles, mvau_wwidth_max=mvau_wwidth_max,
                                                  two_pass_relaxation=two_pass_relaxation))
            model = model.transform(GiveUniqueNodeNames())
        except Exception as exc:
            raise FoldingError(f"FINN SetFolding failed at {cycles} cycles/frame: "
                               f"{type(exc).__name__}: {exc}; set the folding with a file") from exc
    folded = size_skip_fifos(hw.with_model(model))
    check_folding_legal(folded)
    return folded
