"""What RTL simulation needs from FINN, without Vivado: each RTL layer's HDL (FINN's own
per-node code generation, as PrepareIP does it), its stream interfaces (folded shapes, widths,
datatypes), FINN's stream packing, the weight stream of a decoupled MVAU, Python execution of
every node of a partition, and the stream infrastructure (FIFOs, width converters) a stitched
accelerator gets. codesign.sim builds and runs the simulations; this module only talks to FINN."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import CompileError
from codesign.finn._env import base_op_type, ensure_finn_settings, quiet_finn
from codesign.finn.verify import despecialise

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

RTL_DOMAIN = "finn.custom_op.fpgadataflow.rtl"
# Files in a code-gen directory that the simulation reads at run time ($readmemh).
DATA_SUFFIXES = (".dat", ".mem")


@dataclass(frozen=True)
class StreamInfo:
    """One AXI stream of a layer as the accelerator carries it."""

    port: str  # e.g. in0_V
    width: int  # TDATA bits, padded to whole bytes as in FINN's wrappers
    dtype: str  # FINN datatype name of the elements
    folded_shape: tuple[int, ...]  # (..., elements per beat), batch 1
    normal_shape: tuple[int, ...]
    element_bits: int = 0  # bits of one element in a beat
    low: float = 0.0  # the datatype's range
    high: float = 0.0

    @property
    def beats_per_frame(self) -> int:
        return int(np.prod(self.folded_shape[:-1]))


@dataclass(frozen=True)
class RtlLayer:
    name: str
    op_type: str
    top: str  # Verilog top module
    sources: tuple[Path, ...]  # HDL files, in FINN's order
    data_files: tuple[Path, ...]  # memory images read at simulation start
    code_gen_dir: Path
    inputs: tuple[StreamInfo, ...]
    outputs: tuple[StreamInfo, ...]
    weights: StreamInfo | None  # MVAU_rtl with decoupled weights: the weight stream (in1_V)
    weight_values: np.ndarray | None = field(compare=False)  # one pass over the weight memory
    memstream_top: str | None  # the generated weight streamer wrapper, if any
    exp_cycles: int  # FINN's cycles-per-frame estimate
    has_clock2x: bool
    input_tensors: tuple[str, ...]  # graph tensors on the input streams, in port order
    output_tensors: tuple[str, ...]


def is_rtl_node(node: Any) -> bool:
    return str(getattr(node, "domain", "")) == RTL_DOMAIN


def _inst(node: Any) -> Any:
    from qonnx.custom_op.registry import getCustomOp

    return getCustomOp(node)


def generate_rtl(model: ModelWrapper, part: str, clock_mhz: float) -> ModelWrapper:
    """A copy of `model` whose RTL layers have their HDL generated (FINN's PrepareIP, RTL
    nodes only: HLS code generation would need Vitis HLS later anyway)."""
    from finn.transformation.fpgadataflow.prepare_ip import _codegen_single_node

    ensure_finn_settings()
    model = copy.deepcopy(model)
    with quiet_finn():
        for node in model.graph.node:
            if not is_rtl_node(node):
                continue
            try:
                _codegen_single_node(node, model, part, 1000.0 / clock_mhz)
            except Exception as exc:  # FINN raises bare exceptions with the reason
                raise CompileError(f"FINN could not generate the RTL of {node.name} "
                                   f"({node.op_type}): {type(exc).__name__}: {exc}") from exc
    return model


def _stream(inst: Any, port: str, index: int, *, output: bool) -> StreamInfo:
    if output:
        width, dtype = inst.get_outstream_width(index), inst.get_output_datatype(index)
        folded, normal = inst.get_folded_output_shape(index), inst.get_normal_output_shape(index)
    else:
        width, dtype = inst.get_instream_width(index), inst.get_input_datatype(index)
        folded, normal = inst.get_folded_input_shape(index), inst.get_normal_input_shape(index)
    return StreamInfo(port, (int(width) + 7) // 8 * 8, dtype.name,
                      tuple(int(d) for d in folded), tuple(int(d) for d in normal),
                      int(dtype.bitwidth()), float(dtype.min()), float(dtype.max()))


def _weight_stream(model: ModelWrapper, node: Any, inst: Any) -> tuple[StreamInfo | None, np.ndarray | None]:
    """The stream a decoupled MVAU's weight streamer feeds it: (stream, one pass of values in
    stream order, as FINN's rtlsim feeds it from make_weight_file's decoupled layout)."""
    import tempfile

    from qonnx.core.datatype import DataType

    types = inst.get_nodeattr_types()
    if base_op_type(node.op_type) != "MVAU" or inst.get_nodeattr("mem_mode") != "internal_decoupled":
        return None, None
    if "pumpedCompute" in types and inst.get_nodeattr("pumpedCompute"):
        raise CompileError(f"{node.name}: double-pumped DSPs (pumpedCompute=1) need a second "
                           "clock the simulation does not model; set pumpedCompute=0")
    wdt = inst.get_input_datatype(1)
    if wdt == DataType["BIPOLAR"]:  # exported as binary, as in make_weight_file
        wdt = DataType["BINARY"]
    width = int(inst.get_instream_width(1))
    with tempfile.TemporaryDirectory(prefix="codesign-weights-") as tmp:
        path = Path(tmp) / "weights.npy"
        inst.make_weight_file(model.get_initializer(node.input[1]), "decoupled_npy", str(path))
        values = np.load(path)
    per_beat = width // wdt.bitwidth()
    depth = values.size // per_beat
    stream = StreamInfo("in1_V", (width + 7) // 8 * 8, wdt.name, (1, depth, per_beat),
                        (1, depth * per_beat), int(wdt.bitwidth()), float(wdt.min()), float(wdt.max()))
    return stream, values.reshape(1, depth * per_beat)


def weight_stream(model: ModelWrapper, node: Any) -> tuple[StreamInfo | None, np.ndarray | None]:
    """(stream, values of one pass, frames first) of a decoupled MVAU's weights, else (None, None)."""
    return _weight_stream(model, node, _inst(node))


def node_streams(node: Any) -> tuple[tuple[StreamInfo, ...], tuple[StreamInfo, ...]]:
    """(input, output) streams of any HW layer (HLS or RTL), as its hardware interface has them."""
    inst = _inst(node)
    intf = inst.get_verilog_top_module_intf_names()
    return (tuple(_stream(inst, port, i, output=False) for i, (port, _) in enumerate(intf["s_axis"])),
            tuple(_stream(inst, port, i, output=True) for i, (port, _) in enumerate(intf["m_axis"])))


def rtl_layer(model: ModelWrapper, node: Any) -> RtlLayer:
    """Everything a simulation of `node` (an RTL layer with generated HDL) needs."""
    inst = _inst(node)
    code_gen_dir = Path(str(inst.get_nodeattr("code_gen_dir_ipgen")))
    if not code_gen_dir.is_dir():
        raise CompileError(f"{node.name} has no generated HDL; call generate_rtl first")
    inputs, outputs = node_streams(node)
    weights, weight_values = _weight_stream(model, node, inst)
    memstream = code_gen_dir / f"{node.name}_memstream_wrapper.v"
    sources = tuple(Path(p) for p in inst.get_rtl_file_list(abspath=True))
    top = str(inst.get_nodeattr("gen_top_module") or inst.get_verilog_top_module_name())
    text = next((p.read_text() for p in sources if p.name.startswith(top)), "")
    return RtlLayer(
        name=node.name, op_type=node.op_type, top=top, sources=sources,
        data_files=tuple(sorted(p for p in code_gen_dir.iterdir() if p.suffix in DATA_SUFFIXES)),
        code_gen_dir=code_gen_dir, inputs=inputs, outputs=outputs, weights=weights,
        weight_values=weight_values,
        memstream_top=f"{node.name}_memstream_wrapper" if weights and memstream.is_file() else None,
        exp_cycles=int(inst.get_exp_cycles()), has_clock2x="ap_clk2x" in text,
        input_tensors=tuple(node.input[:len(inputs)]), output_tensors=tuple(node.output),
    )


def memstream_sources() -> tuple[Path, ...]:
    """finn-rtllib's weight streamer (behind every decoupled MVAU's memstream wrapper)."""
    from finn.util.settings import get_settings

    rtllib = Path(get_settings().finn_rtllib)
    return (rtllib / "axi" / "hdl" / "axilite.sv", rtllib / "memstream" / "hdl" / "memstream.sv",
            rtllib / "memstream" / "hdl" / "memstream_axi.sv")


def pack_stream(values: np.ndarray, stream: StreamInfo) -> list[int]:
    """Frames (any leading batch) as the accelerator streams them: one int per beat, FINN's
    packing (element 0 of a beat in the least significant bits)."""
    from finn.util.data_packing import npy_to_rtlsim_input
    from qonnx.core.datatype import DataType

    frames = np.asarray(values, dtype=np.float32).reshape(-1, *stream.folded_shape[1:])
    return [int(b) for b in npy_to_rtlsim_input(frames, DataType[stream.dtype], stream.width)]


def unpack_stream(beats: list[int], stream: StreamInfo) -> np.ndarray:
    """Beats back to frames in the stream's normal shape (batch first), FINN's unpacking."""
    from finn.util.data_packing import rtlsim_output_to_npy
    from qonnx.core.datatype import DataType

    per_frame = stream.beats_per_frame
    if len(beats) % per_frame:
        raise ValueError(f"{len(beats)} beats are not whole frames of {per_frame} beats")
    frames = len(beats) // per_frame
    dtype = DataType[stream.dtype]
    folded = (frames, *stream.folded_shape[1:])
    out = rtlsim_output_to_npy(beats, None, dtype, folded, stream.width, dtype.bitwidth())
    return np.asarray(out, dtype=np.float32).reshape(frames, *stream.normal_shape[1:])


def execute_frames(model: ModelWrapper, frames: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Python execution of a (specialised) partition, frame by frame: every tensor of every
    node, from the executable abstract layers of a de-specialised copy."""
    from finn.core.onnx_exec import execute_onnx

    plain = despecialise(model)
    name = plain.graph.input[0].name
    shape = tuple(plain.get_tensor_shape(name))
    contexts = []
    with quiet_finn():
        for frame in np.asarray(frames, dtype=np.float32):
            context = execute_onnx(plain, {name: frame.reshape(shape)}, return_full_exec_context=True)
            contexts.append({k: np.asarray(v) for k, v in context.items()})
    return contexts


def to_stream_order(node: Any, values: np.ndarray) -> np.ndarray:
    """A node's Python output (frames first) in the element order its RTL streams it. Only a
    depthwise sliding window with SIMD < channels differs: it interleaves channel folds with
    kernel positions (what a following VVAU/Pool expects), where Python gives plain Im2Col."""
    if base_op_type(node.op_type) != "ConvolutionInputGenerator":
        return values
    inst = _inst(node)
    simd, channels = int(inst.get_nodeattr("SIMD")), int(inst.get_nodeattr("IFMChannels"))
    if not inst.get_nodeattr("depthwise") or simd == channels:
        return values
    kernel = int(np.prod(inst.get_nodeattr("ConvKernelDim")))
    frames, oh, ow = values.shape[0], *inst.get_nodeattr("OFMDim")
    order = values.reshape(frames, oh, ow, kernel, channels // simd, simd).transpose(0, 1, 2, 4, 3, 5)
    return order.reshape(values.shape)


def exp_cycles(model: ModelWrapper) -> dict[str, int]:
    return {node.name: int(_inst(node).get_exp_cycles()) for node in model.graph.node}


def set_fifo_depths(model: ModelWrapper, depth_for: Callable[[str, int], int]) -> ModelWrapper:
    """A copy whose FIFOs are `depth_for(name, beats per frame of their stream)` deep. FIFOs
    whose depth changes lose their generated HDL (generate_rtl makes it anew); other layers
    keep theirs, so regenerating a resized pipeline only touches its FIFOs."""
    model = copy.deepcopy(model)
    for node in model.graph.node:
        if base_op_type(node.op_type) == "StreamingFIFO":
            inst = _inst(node)
            beats = int(np.prod(inst.get_folded_output_shape()[:-1]))
            depth = int(depth_for(node.name, beats))
            if depth != inst.get_nodeattr("depth"):
                inst.set_nodeattr("depth", depth)
                inst.set_nodeattr("code_gen_dir_ipgen", "")
    return model


def fifo_depth(model: ModelWrapper, name: str) -> int:
    return int(_inst(model.get_node_from_name(name)).get_nodeattr("depth"))


def add_stream_infrastructure(model: ModelWrapper, part: str, fifo_depth: int) -> ModelWrapper:
    """What a stitched FINN accelerator puts between layers: width converters where stream
    widths differ and a FIFO on every stream (`fifo_depth` deep), specialised for `part`."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    model = copy.deepcopy(model)
    with quiet_finn():
        model = model.transform(InsertDWC())
        model = model.transform(InsertFIFO(create_shallow_fifos=True))
        for node in model.graph.node:
            if node.op_type.startswith("StreamingFIFO"):
                _inst(node).set_nodeattr("depth", int(fifo_depth))
        for transformation in (SpecializeLayers(part), GiveUniqueNodeNames(), InferShapes(),
                               InferDataTypes()):
            model = model.transform(transformation)
    return model
