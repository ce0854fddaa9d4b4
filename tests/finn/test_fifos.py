"""Skip-branch FIFOs of residual joins: the depth each shortcut needs (checked against a hand
count), carried by every folding and the folding file, priced exactly as FINN prices the FIFO
its InsertFIFO builds, in the totals and the optimizer's plan, and written as a fifo_config_file
FINN's ApplyFIFODepthsFromFile accepts; chains get none."""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from family_models import SHAPE, resnet

from codesign.boards import load_board
from codesign.export import export_qonnx
from codesign.finn import (
    apply_folding_config,
    apply_setfolding,
    compile_to_hw,
    estimate,
    read_folding,
    write_fifo_config,
)
from codesign.finn.estimates import RESOURCES
from codesign.finn.fifos import SLACK_WORDS, fifo_config, skip_buffers
from codesign.finn.plan import fold_for_board

pytestmark = pytest.mark.slow
BOARD = load_board("pynq-z2")
BLOCKS = {"identity": False, "projection": True}


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = {}
    for name, projection in BLOCKS.items():
        work = tmp_path_factory.mktemp(name)
        onnx = export_qonnx(resnet(projection=projection), SHAPE, work / "model.onnx")
        out[name] = compile_to_hw(onnx, part=BOARD.part, clock_mhz=BOARD.clock_mhz,
                                  workdir=work / "finn")
    return out


def _fork(hw: Any) -> Any:
    from qonnx.custom_op.registry import getCustomOp

    node = next(n for n in hw.model.graph.node if n.op_type.startswith("DuplicateStreams"))
    return node, getCustomOp(node)


def test_identity_shortcut_holds_two_rows_and_three_pixels(blocks: dict) -> None:
    # Two 3x3 convs (pad 1) on a 10x10x8 map: the join's first pixel needs conv2's window up to
    # conv1's pixel (1,1), which needs the block input up to pixel (2,2): 2*10+3 pixels of 8
    # channels, while the shortcut has delivered its first element.
    (buffer,) = skip_buffers(blocks["identity"].model)
    width, channels = SHAPE[2], 8
    assert buffer.elements == (2 * width + 3) * channels - 1
    assert buffer.output == 1 and buffer.join.startswith("ElementwiseAdd")
    for pe in (1, 2, 4, 8):
        assert buffer.depth(pe) == math.ceil(buffer.elements / pe) + SLACK_WORDS


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_compiled_and_refolded_forks_ask_for_the_depth_their_pe_needs(blocks: dict,
                                                                     name: str) -> None:
    hw = blocks[name]
    buffers = skip_buffers(hw.model)
    frame = 8 * SHAPE[1] * SHAPE[2]
    assert buffers and all(0 < b.elements < frame for b in buffers)
    for folded in (hw, apply_setfolding(hw, target_fps=50_000),
                   fold_for_board(hw, BOARD, "maximize")[0]):
        _, fork = _fork(folded)
        pe = fork.get_nodeattr("PE")
        depths = list(fork.get_nodeattr("outFIFODepths"))
        for buffer in buffers:
            assert depths[buffer.output] == buffer.depth(pe)
        assert sorted(depths)[0] == SLACK_WORDS  # the branch that is not waited on


def _finn_totals_with_fifos(hw: Any) -> dict[str, float]:
    """FINN's res_estimation of the graph as its build inserts FIFOs (converters aside:
    the estimates price them in the optimizer's links, not per layer)."""
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    model = hw.model.transform(InsertDWC()).transform(InsertFIFO())
    model = model.transform(SpecializeLayers(hw.part))
    fifos = model.get_nodes_by_op_type("StreamingFIFO_rtl")
    assert fifos, "FINN inserted no FIFO for the skip branch"
    res = model.analysis(partial(res_estimation, fpgapart=hw.part))
    kept = [n.name for n in model.graph.node if not n.op_type.startswith("StreamingDataWidth")]
    return {r: sum(float(res[n][r]) for n in kept) for r in RESOURCES}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_totals_include_the_fifos_exactly_as_finn_prices_them(blocks: dict, name: str) -> None:
    for folded in (apply_setfolding(blocks[name], target_fps=20_000),
                   fold_for_board(blocks[name], BOARD, "maximize")[0]):
        est = estimate(folded)
        assert est.fifos and est.totals == _finn_totals_with_fifos(folded)
        layers = {r: sum(getattr(layer, r.lower()) for layer in est.layers) for r in RESOURCES}
        assert est.totals["LUT"] > layers["LUT"] or est.totals["BRAM_18K"] > layers["BRAM_18K"]


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_optimizer_plan_prices_the_fifo_its_fork_pe_asks_for(blocks: dict, name: str) -> None:
    folded, plan, report = fold_for_board(blocks[name], BOARD, "maximize")
    assert plan.feasible
    assert {k: plan.totals[k] for k in RESOURCES} == pytest.approx(estimate(folded).totals)


def test_folding_file_carries_depths_and_only_deepens(blocks: dict) -> None:
    hw = blocks["identity"]
    config = read_folding(hw)
    node, fork = _fork(hw)
    needed = list(fork.get_nodeattr("outFIFODepths"))
    assert config[node.name]["outFIFODepths"] == needed
    assert not any("outFIFODepths" in v for k, v in config.items() if k != node.name)
    deeper = {**config, node.name: {**config[node.name], "outFIFODepths": [2, needed[1] + 50]}}
    assert list(_fork(apply_folding_config(hw, deeper))[1].get_nodeattr("outFIFODepths")) == [
        2, needed[1] + 50]
    shallow = {**config, node.name: {**config[node.name], "outFIFODepths": [2, 2]}}
    assert list(_fork(apply_folding_config(hw, shallow))[1].get_nodeattr("outFIFODepths")) == needed


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_fifo_config_file_is_applied_by_finn(blocks: dict, name: str, tmp_path: Path) -> None:
    """The sequence of FINN's step_set_fifo_depths with auto_fifo_depths=False (the step
    itself imports Vivado's simulator interface, so its transformations are run here)."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.set_fifo_depths import ApplyFIFODepthsFromFile
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.give_unique_node_names_recursive import (
        GiveUniqueNodeNamesRecursive,
    )
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveReadableTensorNames

    hw = fold_for_board(blocks[name], BOARD, "maximize")[0]
    path = write_fifo_config(hw, tmp_path / "fifo_config.json")
    assert path is not None and json.loads(path.read_text()) == fifo_config(hw)
    model = hw.model.transform(InsertDWC()).transform(InsertFIFO(create_shallow_fifos=True))
    model = model.transform(SpecializeLayers(hw.part)).transform(GiveUniqueNodeNamesRecursive())
    model = model.transform(GiveReadableTensorNames())
    for node in model.get_nodes_by_op_type("StreamingFIFO_rtl"):  # the file sets every depth
        getCustomOp(node).set_nodeattr("depth", 2)
    model = model.transform(ApplyFIFODepthsFromFile(path))
    depths = sorted(getCustomOp(n).get_nodeattr("depth")
                    for n in model.get_nodes_by_op_type("StreamingFIFO_rtl"))
    assert depths[-len(estimate(hw).fifos):] == sorted(f.depth for f in estimate(hw).fifos)
    assert set(depths[:-len(estimate(hw).fifos)]) <= {SLACK_WORDS}


def test_a_chain_has_no_skip_fifos(compiled: Any, tmp_path: Path) -> None:
    hw = apply_setfolding(compiled("cnn"), target_fps=10_000)
    assert skip_buffers(hw.model) == () and estimate(hw).fifos == ()
    assert not any("outFIFODepths" in v for v in read_folding(hw).values())
    stale = tmp_path / "fifo_config.json"
    stale.write_text("{}")
    assert write_fifo_config(hw, stale) is None and not stale.exists()
