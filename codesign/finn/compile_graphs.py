"""Executing the graphs a compile passes through, for the functional verification chain.

compile_to_hw saves every stage in its workdir (01_qonnx_to_finn, 02_streamline,
03_convert_to_hw, 04_dataflow_parent, 05_partition_specialised); the folded graph is the
HWGraph itself. Each runs here in Python on one sample at a time, optionally with every
intermediate tensor, which is what lets the chain point at the node where two stages part."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import ModelError
from codesign.finn._env import ensure_finn_settings, quiet_finn
from codesign.finn.compile import HWGraph
from codesign.finn.exact import execute_float64
from codesign.finn.verify import despecialise

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

PARENT_GRAPH = "04_dataflow_parent.onnx"  # compile_to_hw's full graph around the partition
FOLDED_PARTITION = "06_partition_folded.onnx"  # the folded partition, as codesign.flow saves it
# (the one name of that file: the flow saves it, simulation and FINN's builder start from it)

# (stage name, file compile_to_hw writes, what the graph is, executed in float64)
COMPILE_STAGES = (
    ("finn_onnx", "01_qonnx_to_finn.onnx", "QONNX converted to FINN-ONNX (MultiThreshold)", True),
    ("streamlined", "02_streamline.onnx", "streamlined FINN graph (integer MatMul/thresholds)",
     False),
    ("hw_layers", "03_convert_to_hw.onnx", "abstract HW-layer graph (MVAU, Thresholding, ...)",
     False),
)


@dataclass(frozen=True)
class NodeView:
    """A node of an executed graph, in execution order, with its dynamic (non-constant) inputs."""
    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def stages_dir(hw: HWGraph) -> Path:
    """The workdir compile_to_hw saved its stage graphs in (where the parent points)."""
    from qonnx.custom_op.registry import getCustomOp

    sdp = hw.parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]
    return Path(str(getCustomOp(sdp).get_nodeattr("model"))).parent


def load_hw_graph(parent_path: Path, partition_path: Path, *, part: str, clock_mhz: float) -> HWGraph:
    """The folded accelerator a flow saved: its parent graph and folded partition."""
    return HWGraph(model=load_graph(partition_path), parent=load_graph(parent_path), part=part,
                   clock_mhz=float(clock_mhz))


def load_graph(path: Path) -> ModelWrapper:
    from qonnx.core.modelwrapper import ModelWrapper

    if not Path(path).is_file():
        raise ModelError(f"stage graph {path} does not exist; compile the model with "
                         "codesign.finn.compile_to_hw into that directory first")
    return ModelWrapper(str(path))


def input_range(model: ModelWrapper) -> tuple[str, float, float]:
    """(datatype name, min, max) of the graph input, as the export annotated it."""
    dtype = model.get_tensor_datatype(model.graph.input[0].name)
    return dtype.name, float(dtype.min()), float(dtype.max())


def fit_input(model: ModelWrapper, sample: np.ndarray) -> np.ndarray:
    """One sample (NCHW, NCL or flat) in the shape of the graph input (batch 1)."""
    shape = tuple(model.get_tensor_shape(model.graph.input[0].name))
    sample = np.asarray(sample, dtype=np.float32)
    if sample.size != int(np.prod(shape)):
        raise ModelError(f"an input of {sample.size} values does not fit the graph input {shape}")
    if sample.ndim == 3 and len(shape) == 4 and sample.shape != shape[1:]:
        sample = sample.transpose(1, 2, 0)  # NCHW sample, NHWC graph
    if sample.ndim == 2 and len(shape) == 4 and tuple(shape[1:3]) != sample.shape:
        sample = sample.T  # NCL sample, a 1-D model's NHWC graph (N, L, 1, C)
    return sample.reshape(shape)


def run_graph(model: ModelWrapper, sample: np.ndarray, full: bool = False,
              float64: bool = False) -> Any:
    """Output of `model` on one sample, or (full) every tensor of the execution. With
    `float64`, `model` is a to_float64 copy, executed in float64 (codesign.finn.exact)."""
    from finn.core.onnx_exec import execute_onnx


    ensure_finn_settings()
    name = model.graph.input[0].name
    with quiet_finn():
        if float64:
            context = execute_float64(model, fit_input(model, sample).astype(np.float64))
        else:
            context = execute_onnx(model, {name: fit_input(model, sample)},
                                   return_full_exec_context=full)
    if full:
        return {k: np.asarray(v) for k, v in context.items()}
    return np.asarray(context[model.graph.output[0].name])


def graph_nodes(model: ModelWrapper) -> list[NodeView]:
    constants = {init.name for init in model.graph.initializer}
    return [NodeView(n.name, n.op_type, tuple(i for i in n.input if i and i not in constants),
                     tuple(n.output)) for n in model.graph.node]


class FoldedGraph:
    """The folded accelerator inside its parent, executable in Python: the de-specialised
    partition runs in place of the StreamingDataflowPartition node."""
    def __init__(self, hw: HWGraph) -> None:
        from qonnx.custom_op.registry import getCustomOp

        self._tmp = tempfile.TemporaryDirectory(prefix="codesign-chain-")
        self.partition = despecialise(hw.model)
        path = Path(self._tmp.name) / "partition.onnx"
        self.partition.save(str(path))
        self.parent = despecialise(hw.parent)
        self.sdp = self.parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]
        getCustomOp(self.sdp).set_nodeattr("model", str(path))

    def run(self, sample: np.ndarray, full: bool = False) -> Any:
        if not full:
            return run_graph(self.parent, sample)
        outer = run_graph(self.parent, sample, full=True)
        inner = run_graph(self.partition, outer[self.sdp.input[0]], full=True)
        return {**outer, **inner}

    def nodes(self) -> list[NodeView]:
        """Parent head, the partition's layers, parent tail: the order values flow."""
        outer = graph_nodes(self.parent)
        split = next(i for i, n in enumerate(outer) if n.op_type == "StreamingDataflowPartition")
        return outer[:split] + graph_nodes(self.partition) + outer[split + 1:]

    def constants(self) -> set[str]:
        return {i.name for m in (self.parent, self.partition) for i in m.graph.initializer}

    def close(self) -> None:
        self._tmp.cleanup()


def output_affine(parent: ModelWrapper) -> tuple[np.ndarray, np.ndarray]:
    """(scale, bias) of the graph's final outputs: the accelerator's integers times the
    software tail's scale plus its bias (arrays broadcastable to the output)."""
    nodes = list(parent.graph.node)
    split = next(i for i, n in enumerate(nodes) if n.op_type == "StreamingDataflowPartition")
    scale, bias = np.ones(1), np.zeros(1)
    for node in nodes[split + 1:]:
        const = next((parent.get_initializer(i) for i in node.input
                      if parent.get_initializer(i) is not None), None)
        if const is None:
            continue
        if node.op_type == "Mul":
            scale, bias = scale * const, bias * const
        elif node.op_type == "Add":
            bias = bias + const
    return np.asarray(scale, dtype=np.float64), np.asarray(bias, dtype=np.float64)
