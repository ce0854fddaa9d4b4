from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
from tiny_models import SAMPLES

from codesign.errors import ModelError
from codesign.finn import HWGraph, apply_setfolding, execute_hw, verify_against

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["mlp", "cnn", "cnn_rgb", "cnn_w4", "mlp_topk", "cnn_topk"])
@pytest.mark.parametrize("mvau_rtl", [False, True])
def test_folded_graph_is_bit_exact(compiled: Any, tiny_cases: Any, name: str, mvau_rtl: bool) -> None:
    case = tiny_cases[name]
    hw = apply_setfolding(compiled(name, mvau_rtl), target_fps=100_000)
    result = verify_against(hw, case.x, case.expected)
    assert (result.samples, result.matched) == (SAMPLES, SAMPLES), result.details
    assert result.passed and result.int_exact
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_execute_hw_reproduces_the_logits(compiled: Any, tiny_cases: Any, name: str) -> None:
    case = tiny_cases[name]
    out = execute_hw(compiled(name), case.x)
    assert out.shape == case.expected.shape
    np.testing.assert_allclose(out, case.expected, atol=1e-5)
    assert len(np.unique(out)) > 3  # the logits are alive, not a constant


def _classifier_inputs(hw: HWGraph, x: np.ndarray, op_type: str) -> np.ndarray:
    """The activations entering the classifier (last `op_type` layer) for every sample."""
    from finn.core.onnx_exec import execute_onnx

    from codesign.finn.verify import despecialise

    parent, partition = despecialise(hw.parent), despecialise(hw.model)
    sdp = parent.get_nodes_by_op_type("StreamingDataflowPartition")[0]
    classifier = partition.get_nodes_by_op_type(op_type.split("_")[0])[-1]
    rows = []
    for sample in x.astype(np.float32):
        # Stop before the partition node: its input is what the accelerator receives.
        head = execute_onnx(parent, {parent.graph.input[0].name: sample[None]},
                            return_full_exec_context=True,
                            end_node=parent.graph.node[list(parent.graph.node).index(sdp) - 1])
        accel_in = head[sdp.input[0]]
        inner = execute_onnx(partition, {partition.graph.input[0].name: accel_in},
                             return_full_exec_context=True)
        rows.append(inner[classifier.input[0]].reshape(-1))
    return np.stack(rows)


def _corrupt_one_weight(hw: HWGraph, x: np.ndarray, op_type: str) -> HWGraph:
    """+-1 on one classifier weight, on the input row that is active in the most samples."""
    active = (_classifier_inputs(hw, x, op_type) != 0).sum(axis=0)
    row = int(np.argmax(active))
    assert active[row] > 0
    broken = hw.with_model(copy.deepcopy(hw.model))
    node = broken.model.get_nodes_by_op_type(op_type)[-1]
    weights = broken.model.get_initializer(node.input[1]).copy()
    weights[row, 0] += 1 if weights[row, 0] < 1 else -1  # stays within INT2 [-2, 1]
    broken.model.set_initializer(node.input[1], weights)
    return broken


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("mvau_rtl", [False, True])
def test_one_changed_weight_is_detected(compiled: Any, tiny_cases: Any, name: str,
                                        mvau_rtl: bool) -> None:
    case = tiny_cases[name]
    hw = apply_setfolding(compiled(name, mvau_rtl), target_fps=100_000)
    broken = _corrupt_one_weight(hw, case.x, "MVAU_rtl" if mvau_rtl else "MVAU_hls")
    result = verify_against(broken, case.x, case.expected)
    assert not result.passed and not result.int_exact
    assert result.matched < result.samples == SAMPLES
    assert result.max_abs_diff > 0
    assert "bit-exact" in result.details and "sample" in result.details
    assert verify_against(hw, case.x, case.expected).passed  # the original is untouched


def test_reference_off_the_output_grid_fails(compiled: Any, tiny_cases: Any) -> None:
    case, hw = tiny_cases["mlp"], compiled("mlp")
    tail_mul = hw.parent.graph.node[-1]
    assert tail_mul.op_type == "Mul"
    scale = float(hw.parent.get_initializer(tail_mul.input[1]).reshape(-1)[0])
    result = verify_against(hw, case.x, case.expected + 0.5 * scale)  # half an LSB off
    assert not result.passed and result.matched == 0
    assert "integer grid" in result.details
    shifted = verify_against(hw, case.x, case.expected + scale)  # on the grid, one LSB off
    assert not shifted.passed and "max difference 1 LSB" in shifted.details


def test_wrong_input_shape_is_a_model_error(compiled: Any, tiny_cases: Any) -> None:
    with pytest.raises(ModelError, match="do not fit"):
        execute_hw(compiled("cnn"), np.zeros((2, 3, 10, 10), dtype=np.uint8))


def test_nhwc_input_is_accepted_for_a_graph_that_starts_in_nhwc(compiled: Any, tiny_cases: Any) -> None:
    """A graph whose input is already NHWC (no software Transpose head) gets NCHW samples
    transposed: drop the head Transpose of an RGB CNN's parent and feed NCHW images."""
    case = tiny_cases["cnn_rgb"]
    hw = compiled("cnn_rgb")
    parent = copy.deepcopy(hw.parent)
    head = parent.graph.node[0]
    assert head.op_type == "Transpose"
    nhwc_name = head.output[0]
    parent.graph.node.remove(head)
    old_input = parent.graph.input[0]
    for node in parent.graph.node:
        node.input[:] = [old_input.name if i == nhwc_name else i for i in node.input]
    parent.set_tensor_shape(old_input.name, [1, 10, 10, 3])
    nhwc = HWGraph(hw.model, parent, hw.part, hw.clock_mhz)
    np.testing.assert_allclose(execute_hw(nhwc, case.x), case.expected, atol=1e-5)
    assert verify_against(nhwc, case.x, case.expected).passed


def test_graph_finn_cannot_execute_fails_without_raising(compiled: Any, tiny_cases: Any) -> None:
    case, hw = tiny_cases["mlp"], compiled("mlp")
    broken = hw.with_model(copy.deepcopy(hw.model))
    node = broken.model.get_nodes_by_op_type("MVAU_hls")[-1]
    weights = broken.model.get_initializer(node.input[1])
    broken.model.set_initializer(node.input[1], weights[:-1])  # one input row short
    result = verify_against(broken, case.x, case.expected)
    assert not result.passed and result.matched == 0
    assert "could not execute" in result.details
