"""The generated SystemVerilog top level of a whole-pipeline simulation, for chains and for
dataflow graphs with forks and joins.

Every graph tensor is one AXI stream (a wire bundle); each layer connects its input and output
tensors by port, so a join with two inputs and a fork with two outputs need nothing special
beyond their ports. A fork (FINN's DuplicateStreams, HLS-only in finn-plus 1.6.1) is replaced
by codesign's own broadcast module, hdl/codesign_fork.sv; every other layer is FINN's RTL.
Decoupled MVAUs get their weight streamer (FINN's memstream) and each FIFO named in `fifos` an
occupancy monitor counted from its input and output handshakes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.errors import CompileError
from codesign.finn.rtl import RtlLayer, exp_cycles, memstream_sources, node_streams
from codesign.sim.verilator import SourceFile

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

TOP = "codesign_pipeline"
FORK_TOP = "codesign_fork"
FORK_SOURCE = Path(__file__).resolve().parent / "hdl" / f"{FORK_TOP}.sv"
MEMSTREAM_TIES = ("s_axilite_AWVALID", "s_axilite_AWPROT", "s_axilite_AWADDR", "s_axilite_WVALID",
                  "s_axilite_WDATA", "s_axilite_WSTRB", "s_axilite_BREADY", "s_axilite_ARVALID",
                  "s_axilite_ARPROT", "s_axilite_ARADDR", "s_axilite_RREADY", "s_axis_0_tvalid",
                  "s_axis_0_tdata")


def fork_layer(model: ModelWrapper, node: Any) -> RtlLayer:
    """codesign's broadcast module standing in for the fork `node` (same streams)."""
    inputs, outputs = node_streams(node)
    if len(inputs) != 1 or any(o.width != inputs[0].width for o in outputs):
        raise CompileError(f"{node.name}: a fork needs one input and outputs as wide as it; "
                           f"got {[s.width for s in inputs]} -> {[s.width for s in outputs]}")
    return RtlLayer(
        name=node.name, op_type=FORK_TOP, top=FORK_TOP, sources=(FORK_SOURCE,), data_files=(),
        code_gen_dir=FORK_SOURCE.parent, inputs=inputs, outputs=outputs, weights=None,
        weight_values=None, memstream_top=None, exp_cycles=exp_cycles(model)[node.name],
        has_clock2x=False, input_tensors=tuple(node.input[:1]), output_tensors=tuple(node.output))


def _stream_ports(prefix: str, wire: str) -> list[str]:
    return [f".{prefix}_TDATA({wire}_tdata)", f".{prefix}_TVALID({wire}_tvalid)",
            f".{prefix}_TREADY({wire}_tready)"]


def _fork_instance(layer: RtlLayer, wire: Any) -> str:
    outs = [wire(t) for t in reversed(layer.output_tensors)]  # output i in bits [i*W +: W]
    ports = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)",
             *_stream_ports("in0_V", wire(layer.input_tensors[0]))]
    ports += [f".out_V_{sig}({{{', '.join(f'{o}_{sig.lower()}' for o in outs)}}})"
              for sig in ("TDATA", "TVALID", "TREADY")]
    return (f"  {FORK_TOP} #(.WIDTH({layer.inputs[0].width}), .N({len(outs)})) {layer.name}_i (\n"
            "    " + ",\n    ".join(ports) + "\n  );")


def _weight_streamer(layer: RtlLayer) -> str:
    assert layer.weights is not None
    w = f"w_{layer.name}"
    ties = ", ".join(f".{p}('0)" for p in MEMSTREAM_TIES)
    return (f"  wire [{layer.weights.width - 1}:0] {w}_tdata;\n  wire {w}_tvalid, {w}_tready;\n"
            f"  {layer.memstream_top} {layer.name}_weights (.ap_clk(ap_clk), "
            f".ap_clk2x(ap_clk), .ap_rst_n(ap_rst_n), {ties}, .m_axis_0_tready({w}_tready), "
            f".m_axis_0_tvalid({w}_tvalid), .m_axis_0_tdata({w}_tdata));")


def _monitor(i: int, into: str, out: str, source: str | None) -> str:
    """Occupancy counter (and largest occupancy) of FIFO i from its handshakes on the wires
    `into` and `out`. With a `source` (the producer's wires), `into` is that stream gated: the
    FIFO takes no word while `fifo_cap_i` (0: no cap) words are in it, as a FIFO that deep."""
    text = (f"  logic [31:0] occ_{i} = 0, max_{i} = 0;\n"
            f"  wire [31:0] next_{i} = occ_{i} + ({into}_tvalid && {into}_tready) "
            f"- ({out}_tvalid && {out}_tready);\n"
            f"  always_ff @(posedge ap_clk) if (!ap_rst_n) begin occ_{i} <= 0; max_{i} <= 0; end\n"
            f"    else begin occ_{i} <= next_{i}; if (next_{i} > max_{i}) max_{i} <= next_{i}; end\n"
            f"  assign fifo_max_{i} = max_{i};")
    if source is None:
        return text
    return (f"{text}\n  wire open_{i} = fifo_cap_{i} == 0 || occ_{i} < fifo_cap_{i};\n"
            f"  assign {into}_tvalid = {source}_tvalid && open_{i};\n"
            f"  assign {source}_tready = {into}_tready && open_{i};\n"
            f"  assign {into}_tdata = {source}_tdata;")


def generate_top(layers: list[RtlLayer], graph_in: str, graph_out: str,
                 fifos: list[str], capped: bool = False) -> str:
    """SystemVerilog top level connecting `layers` (in graph order) through their tensors, with
    weight streamers and, for each FIFO layer named in `fifos`, an occupancy monitor; with
    `capped`, also a run-time depth limit `fifo_cap_<i>` (see _monitor)."""
    widths: dict[str, int] = {}
    for layer in layers:
        for tensor, stream in zip(layer.input_tensors, layer.inputs, strict=True):
            widths[tensor] = stream.width
        for tensor, stream in zip(layer.output_tensors, layer.outputs, strict=True):
            widths.setdefault(tensor, stream.width)
    # Wires are numbered in graph order: FINN names inserted tensors randomly, and the top's
    # text is part of the build's cache key.
    numbers = {tensor: i for i, tensor in enumerate(widths)}
    by_name = {layer.name: layer for layer in layers}

    def _wire(tensor: str) -> str:
        return f"s{numbers[tensor]}"

    ports = [f"input [{widths[graph_in] - 1}:0] in0_V_TDATA", "input in0_V_TVALID",
             "output in0_V_TREADY", f"output [{widths[graph_out] - 1}:0] out0_V_TDATA",
             "output out0_V_TVALID", "input out0_V_TREADY"]
    ports += [f"output [31:0] fifo_max_{i}" for i in range(len(fifos))]
    ports += [f"input [31:0] fifo_cap_{i}" for i in range(len(fifos)) if capped]
    gated = {name: f"g{i}" for i, name in enumerate(fifos) if capped}  # capped FIFOs' inputs
    body = [f"  wire [{w - 1}:0] {_wire(t)}_tdata;\n  wire {_wire(t)}_tvalid, {_wire(t)}_tready;"
            for t, w in widths.items()]
    body += [f"  assign {_wire(graph_in)}_tdata = in0_V_TDATA;",
             f"  assign {_wire(graph_in)}_tvalid = in0_V_TVALID;",
             f"  assign in0_V_TREADY = {_wire(graph_in)}_tready;",
             f"  assign out0_V_TDATA = {_wire(graph_out)}_tdata;",
             f"  assign out0_V_TVALID = {_wire(graph_out)}_tvalid;",
             f"  assign {_wire(graph_out)}_tready = out0_V_TREADY;"]
    body += [f"  wire [{widths[by_name[n].input_tensors[0]] - 1}:0] {g}_tdata;\n"
             f"  wire {g}_tvalid, {g}_tready;" for n, g in gated.items()]
    for i, name in enumerate(fifos):
        source = _wire(by_name[name].input_tensors[0])
        body.append(_monitor(i, gated.get(name, source), _wire(by_name[name].output_tensors[0]),
                             source if capped else None))
    for layer in layers:
        if layer.top == FORK_TOP:
            body.append(_fork_instance(layer, _wire))
            continue
        conns = [".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)"]
        if layer.has_clock2x:
            conns.append(".ap_clk2x(ap_clk)")  # FINN ties it to ap_clk unless pumped
        for tensor, stream in zip(layer.input_tensors, layer.inputs, strict=True):
            conns += _stream_ports(stream.port, gated.get(layer.name, _wire(tensor)))
        for tensor, stream in zip(layer.output_tensors, layer.outputs, strict=True):
            conns += _stream_ports(stream.port, _wire(tensor))
        if layer.weights is not None:
            body.append(_weight_streamer(layer))
            conns += _stream_ports(layer.weights.port, f"w_{layer.name}")
        body.append(f"  {layer.top} {layer.name}_i (\n    " + ",\n    ".join(conns) + "\n  );")
    return (f"module {TOP} (\n  input ap_clk,\n  input ap_rst_n,\n  " + ",\n  ".join(ports)
            + "\n);\n" + "\n".join(body) + "\nendmodule\n")


def top_sources(layers: list[RtlLayer], top_text: str) -> tuple[list[SourceFile], list[tuple[Path, str]]]:
    """Every layer's HDL (shared library files once), weight streamers with their memory
    image made a relative path, and the top level; plus the memory images to copy."""
    paths: list[Path] = []
    data: list[tuple[Path, str]] = []
    streamers: list[SourceFile] = []
    for layer in layers:
        paths += [p for p in layer.sources if p not in paths]
        data += [(p, p.name) for p in layer.data_files if p.name != "memblock.dat"]
        if layer.memstream_top is not None:
            paths += [p for p in memstream_sources() if p not in paths]
            text = (layer.code_gen_dir / f"{layer.memstream_top}.v").read_text(encoding="utf-8")
            image = f"memblock_{layer.name}.dat"
            text = text.replace(str(layer.code_gen_dir / "memblock.dat"), image)
            if image not in text:
                raise CompileError(f"{layer.name}: its weight streamer does not read "
                                   f"{layer.code_gen_dir / 'memblock.dat'}; cannot relocate it")
            streamers.append(SourceFile(f"{layer.memstream_top}.v", text))
            data.append((layer.code_gen_dir / "memblock.dat", image))
    names = [p.name for p in paths]
    sources = [SourceFile(p.name if names.count(p.name) == 1 else f"{i}_{p.name}",
                          p.read_text(encoding="utf-8")) for i, p in enumerate(paths)]
    return sources + streamers + [SourceFile(f"{TOP}.sv", top_text)], data
