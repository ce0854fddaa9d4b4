"""The functional verification chain: bit-exact through every stage for the zoo at W1A1, W2A2
and W4A4, and a mismatch injected at a stage is reported at that stage and node."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
from zoo_cases import ZooCase

from codesign.sim.chain import chain_inputs, simulate_chain

BITS = [(1, 1), (2, 2), (4, 4)]
STAGES = ["brevitas", "qonnx", "finn_onnx", "streamlined", "hw_layers", "folded"]


def _alive_activations(case: ZooCase) -> None:
    """Every thresholded layer output varies across inputs: the check is not trivially true."""
    from codesign.finn.compile_graphs import FoldedGraph

    folded = FoldedGraph(case.hw)
    try:
        contexts = [folded.run(sample, full=True) for sample in case.x[:3]]
    finally:
        folded.close()
    # Thresholding layers, and MVAUs with built-in thresholds (a third input).
    thresholded = [n for n in folded.partition.graph.node
                   if n.op_type == "Thresholding" or (n.op_type == "MVAU" and len(n.input) == 3)]
    assert thresholded, f"{case.name}: no activation layer found"
    for node in thresholded:
        values = np.stack([c[node.output[0]] for c in contexts])
        assert len(np.unique(values)) > 1, f"{case.name}: {node.name} outputs are constant"


@pytest.mark.slow
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"w{b[0]}a{b[1]}")
@pytest.mark.parametrize("key", ["mlp-tfc", "mlp-sfc", "mlp-lfc", "cnv-small"])
def test_chain_is_bit_exact_on_every_input(zoo, key: str, bits: tuple[int, int]) -> None:
    case = zoo(key, bits)
    _alive_activations(case)
    result = simulate_chain(case.model, case.onnx, case.x, hw=case.hw, random_inputs=4)
    assert result.passed, result.summary()
    assert [s.name for s in result.stages] == STAGES
    n = len(case.x) + 4 + 2
    assert result.inputs == {"test": len(case.x), "random": 4, "min": 1, "max": 1}
    assert all(s.samples == n and s.matched == n for s in result.stages)
    assert all(s.max_lsb_diff < 1e-2 for s in result.stages)
    assert result.to_dict()["passed"] is True


@pytest.mark.slow
def test_corrupted_folded_weight_is_named(zoo) -> None:
    case = zoo("cnv-small", (2, 2))
    model = copy.deepcopy(case.hw.model)
    node = next(n for n in model.graph.node if n.op_type.startswith("MVAU")
                and n.name != model.graph.node[-1].name)
    weights = model.get_initializer(node.input[1]).copy()
    weights.flat[0] = weights.max() if weights.flat[0] != weights.max() else weights.min()
    model.set_initializer(node.input[1], weights)
    result = simulate_chain(None, case.onnx, case.x, hw=case.hw.with_model(model), random_inputs=2)
    assert not result.passed
    assert result.divergence is not None
    assert (result.divergence.stage, result.divergence.previous) == ("folded", "hw_layers")
    assert result.divergence.node is not None and result.divergence.node.node == node.name
    assert result.divergence.max_lsb_diff >= 1
    assert "folded" in result.summary() and node.name in result.summary()
    # Without a Brevitas model the chain starts at the QONNX export.
    assert result.stages[0].name == "qonnx"


@pytest.mark.slow
def test_corrupted_streamlined_threshold_is_named(zoo, tmp_path: Path) -> None:
    from qonnx.core.modelwrapper import ModelWrapper

    case = zoo("mlp-tfc", (2, 2))
    stages = tmp_path / "stages"
    shutil.copytree(case.workdir, stages)
    graph = ModelWrapper(str(stages / "02_streamline.onnx"))
    node = [n for n in graph.graph.node if n.op_type == "MultiThreshold"][1]
    thresholds = graph.get_initializer(node.input[1]).copy()
    thresholds[:, :] -= 4  # every channel of this activation fires earlier
    graph.set_initializer(node.input[1], thresholds)
    graph.save(str(stages / "02_streamline.onnx"))
    result = simulate_chain(case.model, case.onnx, case.x, hw=case.hw, stages_dir=stages,
                            random_inputs=2)
    assert result.divergence is not None and result.divergence.stage == "streamlined"
    assert result.divergence.previous == "finn_onnx"
    assert result.divergence.node is not None and result.divergence.node.node == node.name
    assert [s.name for s in result.stages][-1] == "streamlined"  # stops at the divergence


@pytest.mark.parametrize("random", [0, 3])
def test_chain_inputs_cover_boundaries(random: int) -> None:
    x = np.arange(2 * 4, dtype=np.uint8).reshape(2, 1, 2, 2)
    inputs, kinds = chain_inputs(x, ("UINT8", 0.0, 255.0), (1, 2, 2), random, seed=0)
    assert inputs.shape == (2 + random + 2, 1, 2, 2)
    assert kinds == ["test"] * 2 + ["random"] * random + ["min", "max"]
    np.testing.assert_array_equal(inputs[:2], x)
    assert np.all(inputs[-2] == 0) and np.all(inputs[-1] == 255)
    assert inputs.min() >= 0 and inputs.max() <= 255
    assert np.all(inputs == np.round(inputs))


@pytest.mark.slow
@pytest.mark.parametrize("bits", BITS, ids=lambda b: f"w{b[0]}a{b[1]}")
def test_chain_full_cnv_preset(zoo, bits: tuple[int, int]) -> None:
    """FINN's CNV topology (64..256 channels) on 32x32x3: one test image, one random."""
    case = zoo("cnv", bits)
    result = simulate_chain(case.model, case.onnx, case.x[:1], hw=case.hw, random_inputs=1)
    assert result.passed, result.summary()
    assert result.stages[-1].matched == 4
