"""Stream FIFOs: the skip-branch buffers of residual joins (the token count each shortcut needs,
checked against a hand count, carried by every folding and the folding file) and the depth
codesign's stream model gives every FIFO FINN's build inserts, chains included: priced exactly
as FINN prices the FIFOs of that build, in the totals and the optimizer's plan, and written as a
fifo_config_file FINN's ApplyFIFODepthsFromFile accepts."""

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
from codesign.finn.fifos import (
    SLACK_WORDS,
    fifo_config,
    size_stream_fifos,
    skip_buffers,
    stream_fifos,
)
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


def _as_built(hw: Any, config: Path) -> Any:
    """The sequence of FINN's step_set_fifo_depths with auto_fifo_depths=False (the step itself
    imports Vivado's simulator interface, so its transformations are run here)."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.set_fifo_depths import ApplyFIFODepthsFromFile
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.qonnx.give_unique_node_names_recursive import (
        GiveUniqueNodeNamesRecursive,
    )
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.general import GiveReadableTensorNames

    model = hw.model.transform(InsertDWC()).transform(InsertFIFO(create_shallow_fifos=True))
    model = model.transform(SpecializeLayers(hw.part)).transform(GiveUniqueNodeNamesRecursive())
    model = model.transform(GiveReadableTensorNames())
    for node in model.get_nodes_by_op_type("StreamingFIFO_rtl"):  # the file sets every depth
        getCustomOp(node).set_nodeattr("depth", 2)
    return model.transform(ApplyFIFODepthsFromFile(Path(config)))


def _finn_totals_as_built(hw: Any, tmp_path: Path) -> dict[str, float]:
    """FINN's res_estimation of the graph as its build makes it from codesign's fifo_config_file
    (converters aside: the estimates price them in the optimizer's links, not per layer)."""
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    model = _as_built(hw, write_fifo_config(hw, tmp_path / "fifo_config.json"))
    assert model.get_nodes_by_op_type("StreamingFIFO_rtl")
    res = model.analysis(partial(res_estimation, fpgapart=hw.part))
    kept = [n.name for n in model.graph.node if not n.op_type.startswith("StreamingDataWidth")]
    return {r: sum(float(res[n][r]) for n in kept) for r in RESOURCES}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_totals_include_the_fifos_exactly_as_finn_prices_them(blocks: dict, name: str,
                                                             tmp_path: Path) -> None:
    for i, folded in enumerate((apply_setfolding(blocks[name], target_fps=20_000),
                                fold_for_board(blocks[name], BOARD, "maximize")[0])):
        est = estimate(folded)
        assert est.totals == pytest.approx(_finn_totals_as_built(folded, tmp_path / str(i)))
        layers = {r: sum(getattr(layer, r.lower()) for layer in est.layers) for r in RESOURCES}
        assert est.totals["LUT"] > layers["LUT"]
        # the fork's FIFOs hold at least the skip buffer's token count; the deepest FIFO is on a
        # branch into the join (behind a projection conv, it is the one before the join)
        (skip,) = skip_buffers(folded.model)
        pe = int(_fork(folded)[1].get_nodeattr("PE"))
        assert max(f.depth for f in est.fifos if f.producer == skip.fork) >= skip.depth(pe)
        deepest = max(est.fifos, key=lambda f: f.depth)
        assert deepest.producer == skip.fork or deepest.consumer == skip.join
        assert len(est.fifos) == len(fifo_config(folded)["fifo_depths"])


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
    from qonnx.custom_op.registry import getCustomOp

    hw = fold_for_board(blocks[name], BOARD, "maximize")[0]
    path = write_fifo_config(hw, tmp_path / "fifo_config.json")
    config = json.loads(path.read_text())
    assert config == fifo_config(hw)
    model = _as_built(hw, path)
    applied = {n.name: getCustomOp(n).get_nodeattr("depth")
               for n in model.get_nodes_by_op_type("StreamingFIFO_rtl")}
    assert applied == config["fifo_depths"] and max(applied.values()) > SLACK_WORDS
    assert sorted(applied.values()) == sorted(f.depth for f in estimate(hw).fifos)


def test_a_chain_gets_a_fifo_on_every_stream(compiled: Any, tmp_path: Path) -> None:
    """No skip buffers, but the stream model sizes every FIFO of the chain; its pipeline runs at
    FINN's estimated rate; the file and the totals carry them."""
    hw = apply_setfolding(compiled("cnn"), target_fps=10_000)
    assert skip_buffers(hw.model) == ()
    assert not any("outFIFODepths" in v for v in read_folding(hw).values())
    est = estimate(hw)
    model, sized = stream_fifos(hw)
    assert len(est.fifos) == len(model.get_nodes_by_op_type("StreamingFIFO_rtl")) >= len(est.layers)
    assert sized.cycles_per_frame == pytest.approx(est.max_cycles, rel=0.05)
    assert sized.sized_cycles_per_frame == pytest.approx(sized.cycles_per_frame, rel=0.01)
    layers = sum(layer.lut for layer in est.layers)
    assert est.totals["LUT"] == pytest.approx(layers + sum(f.lut for f in est.fifos))
    path = write_fifo_config(hw, tmp_path / "fifo_config.json")
    assert json.loads(path.read_text())["fifo_depths"] == {f.name: f.depth for f in est.fifos}
    assert est.totals == pytest.approx(_finn_totals_as_built(hw, tmp_path))


def _keeps_with_depths(model: Any, sized: Any) -> bool:
    """The model's pipeline with every FIFO holding what its FINN depth holds keeps the rate."""
    from codesign.finn.fifos import Pipeline
    from codesign.finn.stream_timing import SHALLOW_WORDS

    timing = Pipeline(model).run({s: max(f.words, SHALLOW_WORDS) for s, f in enumerate(sized.fifos)})
    return timing.finished and timing.cycles_per_frame <= sized.cycles_per_frame


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_searched_depths_keep_the_rate_and_shrink_what_does_not_matter(blocks: dict,
                                                                       name: str) -> None:
    """Every FIFO whose price can drop is searched (the residual block is small: the search
    completes); the model's pipeline keeps the unbounded rate with all of them together, no
    FIFO is deeper than its safe depth or shallower than its token count, the input FIFO (the
    DMA writes whenever there is room) gets FINN's minimum, and the total depth drops."""
    from codesign.finn.fifos import fifo_price, stitched_streams
    from codesign.finn.stream_timing import SHALLOW_WORDS

    hw, _, _ = fold_for_board(blocks[name], BOARD, "maximize")
    model = stitched_streams(hw)
    sized = size_stream_fifos(model, fifo_price(model, hw.part))
    assert sized.tightened and sized.complete and sized.runs > 1
    assert sized.sized_cycles_per_frame == sized.cycles_per_frame
    assert _keeps_with_depths(model, sized)
    for fifo in sized.fifos:
        safe = max(fifo.occupancy, fifo.asked)
        assert fifo.asked <= fifo.depth and fifo.words <= max(safe, SHALLOW_WORDS)
        assert fifo.searched or fifo.words == safe
    assert sized.fifos[0].producer == "input" and sized.fifos[0].depth == SLACK_WORDS
    safe_total = sum(max(finn_depth_of(f), f.asked) for f in sized.fifos)
    assert sum(f.depth for f in sized.fifos) < safe_total
    (buffer,) = skip_buffers(hw.model)
    skip = next(f for f in sized.fifos if f.producer == buffer.fork and f.asked > SLACK_WORDS)
    assert skip.depth >= buffer.depth(int(_fork(hw)[1].get_nodeattr("PE")))


def finn_depth_of(fifo: Any) -> int:
    from codesign.finn.fifos import finn_depth

    return finn_depth(max(fifo.occupancy, fifo.asked))


def test_a_search_without_budget_keeps_the_safe_depths(blocks: dict,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """SEARCH_WORDS (simulated stream words; it replaced a limit on the pipeline's size) too
    small for fifo_sizing.MIN_RUNS model runs: no search and no run; every depth is the safe
    one (the most each FIFO holds with the input paced, at least the token count), the search
    says it is incomplete, and the model's pipeline runs at the rate with them (its paced run)."""
    from codesign.finn import fifo_sizing
    from codesign.finn.fifos import fifo_price, stitched_streams

    hw, _, _ = fold_for_board(blocks["identity"], BOARD, "maximize")
    model = stitched_streams(hw)
    price = fifo_price(model, hw.part)
    least = size_stream_fifos(model, price)
    monkeypatch.setattr(fifo_sizing, "SEARCH_WORDS", 0)
    safe = size_stream_fifos(model, price)
    assert least.complete and not safe.complete and safe.runs == 0
    assert safe.cycles_per_frame == least.cycles_per_frame > 0
    assert [f.name for f in safe.fifos] == [f.name for f in least.fifos]
    for kept, tight in zip(safe.fifos, least.fifos, strict=True):
        assert kept.words == max(kept.occupancy, kept.asked) >= tight.words
        assert not kept.searched
    assert sum(f.depth for f in least.fifos) < sum(f.depth for f in safe.fifos)


@pytest.mark.parametrize("name,fps", [("cnn", 5_000), ("cnn", 50_000), ("mlp", 20_000)])
def test_the_stream_model_of_a_chain_takes_well_under_a_second(compiled: Any, name: str,
                                                               fps: float) -> None:
    """Event times instead of cycle steps (it was ~10 us per layer-cycle): CPU time, so that a
    loaded machine does not make it flaky."""
    import time

    from codesign.finn.fifos import stitched_streams

    model = stitched_streams(apply_setfolding(compiled(name), target_fps=fps))
    start = time.process_time()
    sized = size_stream_fifos(model)
    assert time.process_time() - start < 1.0 and sized.cycles_per_frame > 0


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_a_fold_searches_only_the_plan_it_chooses(blocks: dict, name: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial plans are priced with their FIFOs at safe depths; the least-depth search runs once,
    on the chosen plan, whose reported FIFOs and totals are then at the searched depths (what
    fifo_config gives FINN's build), never dearer than the same plan at safe depths."""
    from codesign.finn import fifo_pricing

    searches: list[bool] = []
    sizing = fifo_pricing.size_stream_fifos

    def counted(model: Any, price: Any = None, *, search: bool = True) -> Any:
        searches.append(search)
        return sizing(model, price, search=search)

    monkeypatch.setattr(fifo_pricing, "size_stream_fifos", counted)
    fifo_pricing._SIZED.clear()
    folded, plan, report = fold_for_board(blocks[name], BOARD, "maximize")
    assert searches.count(True) == 1 and searches.count(False) >= 1
    safe = estimate(folded, BOARD.host_io, search_fifos=False)
    est = report.estimates
    assert [f.depth for f in est.fifos] == list(fifo_config(folded)["fifo_depths"].values())
    assert all(a.depth <= b.depth for a, b in zip(est.fifos, safe.fifos, strict=True))
    assert all(est.totals[k] <= safe.totals[k] for k in RESOURCES)
    assert dict(plan.totals) == est.totals and est.max_cycles == safe.max_cycles
    # without the search (FPS-only callers, e.g. pruning's fold search): the same plan, safe depths
    _, unsearched, quick = fold_for_board(blocks[name], BOARD, "maximize", search_fifos=False)
    assert searches.count(True) == 1
    assert unsearched.choices == plan.choices and quick.fps == report.fps
    assert quick.estimates.totals == safe.totals


def test_setfolding_is_judged_at_safe_depths_and_reported_as_built(blocks: dict) -> None:
    """SetFolding's designs are judged to fit as codesign's trial plans are (FIFOs at safe
    depths); the best fitting one comes back as codesign's chosen plan does (searched depths)."""
    from codesign.finn.baseline import SetFoldingSweep

    sweep = SetFoldingSweep(blocks["identity"], BOARD.host_io)
    best = sweep.best_fitting(BOARD.budget(), grid=6, steps=4, wwidths=(36,))
    assert best is not None
    judged = sweep.point(best.target_fps, best.mvau_wwidth_max)
    assert judged.fits(BOARD.budget()) and judged.max_cycles == best.max_cycles
    assert all(best.totals[k] <= judged.totals[k] for k in RESOURCES)
    assert best.totals["LUT"] < judged.totals["LUT"]  # the search shrinks some FIFO here
