"""QONNX file -> FINN dataflow graph of specialised (HLS/RTL) hardware layers.

We drive FINN's transformations directly, in the order of the builder's estimate-only steps
(qonnx_to_finn, tidy_up, streamline, convert_to_hw, minimize_bit_width_initial,
create_dataflow_partition, specialize_layers, minimize_bit_width), without the builder's
settings, logging and report machinery. Every stage saves its graph in `workdir`, so a failure
can be inspected in Netron; FINN's raw exceptions become `CompileError`/`ModelError` here."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.errors import CompileError, ConfigError, ModelError
from codesign.finn._coverage import check_hw_coverage
from codesign.finn._env import ensure_finn_settings, is_specialised, quiet_finn
from codesign.finn.exact import float64_thresholds, to_float32, to_float64
from codesign.finn.fifos import size_skip_fifos
from codesign.finn.origin import carry_modules, output_modules, tag_modules
from codesign.finn.residual import (
    check_residual_joins,
    has_fork,
    integer_join,
    move_residual_transposes,
    streamline_residual_scales,
)

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

@dataclass(frozen=True)
class HWGraph:
    """A compiled model. `model` is the dataflow partition (specialised HW layers, the part
    that becomes the accelerator); `parent` is the full graph: software head/tail nodes around
    one StreamingDataflowPartition node."""

    model: ModelWrapper
    parent: ModelWrapper
    part: str
    clock_mhz: float

    def with_model(self, model: ModelWrapper) -> HWGraph:
        return dataclasses.replace(self, model=model)

    def software_nodes(self) -> tuple[list[str], list[str]]:
        """(head, tail) op types of the nodes that run outside the accelerator."""
        ops = [node.op_type for node in self.parent.graph.node]
        split = ops.index("StreamingDataflowPartition")
        return ops[:split], ops[split + 1:]

    def to_dict(self) -> dict[str, Any]:
        head, tail = self.software_nodes()
        return {
            "part": self.part,
            "clock_mhz": self.clock_mhz,
            "layers": [{"name": n.name, "op_type": n.op_type} for n in self.model.graph.node],
            "software_head": head,
            "software_tail": tail,
        }


Stage = Callable[["ModelWrapper"], "ModelWrapper"]
PART_NAME = re.compile(r"x[ac][a-z0-9]+(-[a-z0-9]+)+", re.IGNORECASE)


def _tidy(model: ModelWrapper) -> ModelWrapper:
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (
        GiveReadableTensorNames,
        GiveUniqueNodeNames,
        RemoveStaticGraphInputs,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    for transformation in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(),
                           GiveReadableTensorNames(), InferDataTypes(), RemoveStaticGraphInputs()):
        model = model.transform(transformation)
    return model


def _qonnx_to_finn(model: ModelWrapper) -> ModelWrapper:
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from qonnx.transformation.change_3d_tensors_to_4d import Change3DTo4DTensors
    from qonnx.util.cleanup import cleanup_model

    # Thresholds are computed in float64 up to their rounding in _streamline (exact.py).
    model = to_float64(model)
    quantizers = ("Quant", "BipolarQuant", "BinaryQuant", "Trunc")
    if any(node.op_type in quantizers for node in model.graph.node):
        with float64_thresholds():
            model = cleanup_model(model).transform(ConvertQONNXtoFINN())
        model = to_float64(model)  # FINN folds the integer weights into float32 initializers
    if len(model.get_tensor_shape(model.graph.input[0].name)) == 3:
        # A 1-D model (N, C, L): FINN lowers convolutions on 4-D tensors, a length as H, W = 1.
        from codesign.finn.passes import CompletePoolDilations  # subclasses qonnx's

        model = model.transform(Change3DTo4DTensors()).transform(CompletePoolDilations())
    return _tidy(model)


def _streamline(model: ModelWrapper) -> ModelWrapper:
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC, MoveMulPastDWConv
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    from codesign.finn.passes import MoveInputTransposeBeforeThresholds  # subclasses qonnx's

    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(Streamline())
    # A per-channel activation scale in front of a depthwise conv (Brevitas's MobileNet-v1
    # scales its pointwise activations per channel) commutes with it and is absorbed into the
    # thresholds after it.
    model = model.transform(MoveMulPastDWConv())
    model = model.transform(absorb.AbsorbMulIntoMultiThreshold())
    residual = has_fork(model)
    if residual:
        model = streamline_residual_scales(model)
    if model.get_nodes_by_op_type("Conv"):
        for transformation in (LowerConvsToMatMul(), MakeMaxPoolNHWC(),
                               absorb.AbsorbTransposeIntoMultiThreshold(), MakeMaxPoolNHWC(),
                               absorb.AbsorbConsecutiveTransposes(),
                               MoveInputTransposeBeforeThresholds()):
            model = model.transform(transformation)
        if residual:
            model = move_residual_transposes(model)
    model = model.transform(ConvertBipolarMatMulToXnorPopcount())
    model = model.transform(Streamline())
    model = model.transform(absorb.AbsorbScalarMulAddIntoTopK())
    # Integer thresholds before the bit-width minimisation: an input Thresholding with
    # negative fractional thresholds otherwise trips an assertion there (DESIGN.md §4).
    model = model.transform(RoundAndClipThresholds())
    model = to_float32(model)  # integer thresholds and weights: exact in FINN's float32
    model = model.transform(InferDataTypes())
    model = model.transform(InferDataLayouts())
    model = model.transform(RemoveUnusedTensors())
    check_residual_joins(model)
    return model


def _minimize_bit_widths(model: ModelWrapper) -> ModelWrapper:
    from finn.transformation.fpgadataflow.minimize_accumulator_width import (
        MinimizeAccumulatorWidth,
    )
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    for transformation in (MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(), InferDataTypes(),
                           RoundAndClipThresholds(), InferDataTypes(), MinimizeWeightBitWidth(),
                           InferDataTypes()):
        model = model.transform(transformation)
    return model


def _global_average_pool_steps() -> list[Any]:
    """A global average pool becomes FINN's GlobalAccPool (an integer sum) and a scalar Mul by
    1/(H*W); the Mul moves past the layout ops and the classifier's MatMul into the software
    tail's scale, so that the MatMul sees integers and becomes an MVAU."""
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import (
        InferGlobalAccPoolLayer,
    )
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from finn.transformation.streamline.collapse_repeated import CollapseRepeatedMul
    from finn.transformation.streamline.reorder import (
        MoveScalarLinearPastInvariants,
        MoveScalarMulPastMatMul,
    )
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return [InferGlobalAccPoolLayer(), InferShapes(), MoveScalarLinearPastInvariants(),
            RemoveCNVtoFCFlatten(), MoveScalarMulPastMatMul(), CollapseRepeatedMul(),
            InferShapes(), InferDataTypes()]


def _convert_to_hw(mvau_rtl: bool) -> Stage:
    def convert(model: ModelWrapper) -> ModelWrapper:
        from finn.transformation.fpgadataflow.convert_to_hw import (
            binary_matrix_vector_activation,
            conv_inp_gen,
            duplicate_streams,
            fm_padding,
            global_acc_pool,
            label_select,
            pool,
            quantized_matrix_vector_activation,
            thresholding,
            vector_vector_activation,
        )
        from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
            InferElementwiseBinaryOperation,
        )
        from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
        from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes
        from qonnx.custom_op.registry import getCustomOp
        from qonnx.transformation.general import GiveUniqueNodeNames
        from qonnx.transformation.infer_data_layouts import InferDataLayouts
        from qonnx.transformation.infer_datatypes import InferDataTypes
        from qonnx.transformation.infer_shapes import InferShapes

        # Only the residual joins become ElementwiseAdd layers (FINN's inference would also
        # take every scalar Mul/Add of the software head and tail).
        steps: list[Any] = [InferElementwiseBinaryOperation(integer_join)]
        if model.get_nodes_by_op_type("GlobalAveragePool"):
            steps += _global_average_pool_steps()
        if mvau_rtl:  # the RTL MVAU has no built-in activation: thresholds become own layers
            steps.append(thresholding.InferThresholdingLayer())
        steps += [
            binary_matrix_vector_activation.InferBinaryMatrixVectorActivation(),
            quantized_matrix_vector_activation.InferQuantizedMatrixVectorActivation(),
            vector_vector_activation.InferVectorVectorActivation(),
            label_select.InferLabelSelectLayer(),
            thresholding.InferThresholdingLayer(),
            fm_padding.InferFMPadding(),
            pool.InferPool(),
            conv_inp_gen.InferConvInpGen(),
            RemoveCNVtoFCFlatten(),
            global_acc_pool.InferGlobalAccPoolLayer(),
            duplicate_streams.InferDuplicateStreamsLayer(),
            AbsorbConsecutiveTransposes(),
            RemoveCNVtoFCFlatten(),
            GiveUniqueNodeNames(),
            InferDataLayouts(),
            InferDataTypes(),
            InferShapes(),
        ]
        for transformation in steps:
            model = model.transform(transformation)
        if mvau_rtl:
            for node in model.get_nodes_by_op_type("MVAU"):
                getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
        return _minimize_bit_widths(model)

    return convert


def _partition(workdir: Path) -> Callable[[ModelWrapper], tuple[ModelWrapper, ModelWrapper]]:
    def partition(model: ModelWrapper) -> tuple[ModelWrapper, ModelWrapper]:
        from finn.transformation.fpgadataflow.create_dataflow_partition import (
            CreateDataflowPartition,
        )
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.custom_op.registry import getCustomOp

        parent = model.transform(CreateDataflowPartition(
            partition_model_dir=str(workdir / "partition")))
        sdps = parent.get_nodes_by_op_type("StreamingDataflowPartition")
        if len(sdps) != 1:
            raise ModelError(f"the hardware layers form {len(sdps)} separate partitions; FINN "
                             "builds one accelerator, so every layer between input and logits "
                             "must map to hardware")
        return parent, ModelWrapper(getCustomOp(sdps[0]).get_nodeattr("model"))

    return partition


def _specialise(part: str) -> Stage:
    def specialise(model: ModelWrapper) -> ModelWrapper:
        from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
        from qonnx.transformation.general import GiveUniqueNodeNames
        from qonnx.transformation.infer_datatypes import InferDataTypes
        from qonnx.transformation.infer_shapes import InferShapes

        for transformation in (SpecializeLayers(part), GiveUniqueNodeNames(), InferShapes(),
                               InferDataTypes()):
            model = model.transform(transformation)
        for node in model.graph.node:
            if not is_specialised(node):
                raise CompileError(f"node {node.name} ({node.op_type}) has no HLS/RTL "
                                   f"implementation for part {part}; use another board or layer")
        # What the builder's step_minimize_bit_width repeats after specialisation.
        return _minimize_bit_widths(model)

    return specialise


def _run(stage: str, fn: Callable[[Any], Any], model: Any, saved: Path | None) -> Any:
    try:
        return fn(model)
    except (ModelError, CompileError):
        raise
    except Exception as exc:  # FINN raises bare Exceptions/AssertionErrors with the detail
        where = f"; the last good graph is {saved}" if saved else ""
        raise CompileError(
            f"FINN stage '{stage}' failed: {type(exc).__name__}: {exc}{where}. The model uses a "
            "pattern FINN cannot compile: keep to Brevitas quant layers without bias, "
            "BatchNorm followed by a quantized activation, and <= 8-bit quantizers"
        ) from exc


def compile_to_hw(onnx_path: Path, *, part: str, clock_mhz: float, workdir: Path,
                  mvau_rtl: bool = False) -> HWGraph:
    """Compile a cleaned QONNX file (input annotated UINT8) to specialised FINN HW layers."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    if not clock_mhz > 0:
        raise ConfigError(f"clock_mhz must be positive, got {clock_mhz!r}; take it from the board file")
    if not isinstance(part, str) or not PART_NAME.fullmatch(part):
        # FINN accepts any string and silently guesses the DSP type from its third letter.
        raise ConfigError(f"part {part!r} is not an AMD/Xilinx part name (xc<device><package>-"
                          "<speed>, as in the `part` of the board files); FINN derives DSP and "
                          "memory types from it")
    onnx_path, workdir = Path(onnx_path), Path(workdir)
    if not onnx_path.is_file():
        raise ModelError(f"{onnx_path} does not exist; export the model with codesign.export.export_qonnx")
    ensure_finn_settings()
    workdir.mkdir(parents=True, exist_ok=True)
    with quiet_finn():
        try:
            model = ModelWrapper(str(onnx_path))
        except Exception as exc:  # onnx raises several kinds for a broken file
            raise ModelError(f"{onnx_path} is not a readable ONNX model ({exc}); "
                             "export it with brevitas.export.export_qonnx") from None
        saved: Path | None = None
        stages: list[tuple[str, Stage]] = [
            ("qonnx_to_finn", _qonnx_to_finn), ("streamline", _streamline),
            ("convert_to_hw", _convert_to_hw(mvau_rtl)),
        ]
        tag_modules(model)  # so that errors can name the module a node came from
        for i, (name, stage) in enumerate(stages, start=1):
            before = output_modules(model)
            model = _run(name, stage, model, saved)
            carry_modules(before, model)
            saved = workdir / f"{i:02d}_{name}.onnx"
            model.save(str(saved))
        check_hw_coverage(model)
        parent, partition = _run("create_dataflow_partition", _partition(workdir), model, saved)
        partition = _run("specialize_layers", _specialise(part), partition, saved)
        # every fork's skip-branch FIFO deep enough for its join at the compiled folding
        partition = size_skip_fifos(HWGraph(partition, parent, part, float(clock_mhz))).model
        partition_path = workdir / "05_partition_specialised.onnx"
        partition.save(str(partition_path))
        # Point the parent at the specialised partition, so the saved pair is self-consistent.
        sdp = parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]
        getCustomOp(sdp).set_nodeattr("model", str(partition_path.resolve()))
        parent.save(str(workdir / "04_dataflow_parent.onnx"))
    return HWGraph(model=partition, parent=parent, part=part, clock_mhz=float(clock_mhz))
