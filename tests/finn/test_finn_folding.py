from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tiny_models import CLOCK_MHZ, PART

from codesign.errors import FoldingError
from codesign.finn import (
    apply_folding_config,
    apply_folding_file,
    apply_setfolding,
    check_folding_legal,
    compile_to_hw,
    estimate,
    layer_foldings,
    read_folding,
    write_folding_config,
)
from codesign.finn.folding import target_cycles

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("mvau_rtl", [False, True])
def test_higher_fps_target_gives_fewer_cycles(compiled: Any, name: str, mvau_rtl: bool) -> None:
    hw = compiled(name, mvau_rtl)
    slow, fast = 20_000.0, 150_000.0
    slow_est = estimate(apply_setfolding(hw, target_fps=slow))
    fast_est = estimate(apply_setfolding(hw, target_fps=fast))
    assert fast_est.max_cycles < slow_est.max_cycles
    # Both targets are reachable for these tiny models, so SetFolding must meet them.
    assert slow_est.max_cycles <= target_cycles(CLOCK_MHZ, slow)
    assert fast_est.max_cycles <= target_cycles(CLOCK_MHZ, fast)
    assert fast_est.fps >= fast


def test_setfolding_leaves_the_input_graph_alone(compiled: Any) -> None:
    hw = compiled("mlp")
    before = read_folding(hw)
    folded = apply_setfolding(hw, target_fps=1e6)
    assert read_folding(hw) == before
    assert read_folding(folded) != before


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_folding_file_round_trip_reproduces_attrs_and_estimates(
        compiled: Any, tiny_cases: Any, tmp_path: Path, name: str) -> None:
    folded = apply_setfolding(compiled(name), target_fps=100_000)
    path = write_folding_config(folded, tmp_path / "folding_config.json")
    config = json.loads(path.read_text())
    assert config == read_folding(folded)
    assert config["Defaults"] == {}
    fresh = compile_to_hw(tiny_cases[name].onnx, part=PART, clock_mhz=CLOCK_MHZ,
                          workdir=tmp_path / "fresh")
    assert read_folding(fresh) != config  # the fresh compile starts unfolded
    applied = apply_folding_file(fresh, path)
    assert read_folding(applied) == config
    assert layer_foldings(applied) == layer_foldings(folded)
    assert estimate(applied).to_dict() == estimate(folded).to_dict()


def _first(hw: Any, op_type: str) -> str:
    return next(n.name for n in hw.model.graph.node if n.op_type == op_type)


def test_pe_not_dividing_mh_names_node_and_legal_values(compiled: Any, tmp_path: Path) -> None:
    hw = compiled("mlp")  # hidden layers MH = 16, 12
    config = read_folding(hw)
    node = _first(hw, "MVAU_hls")
    config[node]["PE"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    with pytest.raises(FoldingError) as info:
        apply_folding_file(hw, path)
    message = str(info.value)
    assert node in message and "PE=3" in message and "MH=16" in message
    assert "1, 2, 4, 8, 16" in message


@pytest.mark.parametrize(("op_type", "attr", "value", "expected"), [
    ("ConvolutionInputGenerator_rtl", "SIMD", 3, "IFMChannels=1"),  # first conv: 1 channel
    ("Pool_hls", "PE", 3, "Channels=4"),
    ("MVAU_hls", "SIMD", 4, "MW=9"),  # 3x3 kernel x 1 channel
])
def test_illegal_folding_of_other_layers(compiled: Any, op_type: str, attr: str, value: int,
                                         expected: str) -> None:
    hw = compiled("cnn")
    node = _first(hw, op_type)
    config = read_folding(hw)
    config[node][attr] = value
    with pytest.raises(FoldingError, match=expected) as info:
        apply_folding_config(hw, config)
    assert node in str(info.value)


def test_check_folding_legal_on_a_graph_edited_directly(compiled: Any) -> None:
    from qonnx.custom_op.registry import getCustomOp

    hw = compiled("cnn")
    check_folding_legal(hw)
    broken = hw.with_model(copy.deepcopy(hw.model))
    node = broken.model.get_nodes_by_op_type("MVAU_hls")[0]
    getCustomOp(node).set_nodeattr("PE", 3)  # MH = 4
    with pytest.raises(FoldingError, match=rf"{node.name}.*legal PE values are 1, 2, 4"):
        check_folding_legal(broken)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda c, n: c.update({"MVAU_hls_99": {"PE": 1}}), r"'MVAU_hls_99'.*not in the compiled graph"),
    (lambda c, n: c[n].update({"FOO": 1}), r"no folding attribute 'FOO'"),
    (lambda c, n: c[n].update({"MH": 32}), r"no folding attribute 'MH'"),
    (lambda c, n: c[n].update({"ram_style": "fast"}), r"ram_style='fast' is not allowed"),
    (lambda c, n: c["Defaults"].update({"MH": [1, "all"]}), r"Defaults"),
])
def test_unknown_names_and_attributes_are_rejected(compiled: Any, tmp_path: Path, mutate: Any,
                                                    expected: str) -> None:
    hw = compiled("mlp")
    config = read_folding(hw)
    mutate(config, _first(hw, "MVAU_hls"))
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(config))
    with pytest.raises(FoldingError, match=expected):
        apply_folding_file(hw, path)


def test_unreadable_folding_files(compiled: Any, tmp_path: Path) -> None:
    hw = compiled("mlp")
    with pytest.raises(FoldingError, match="does not exist"):
        apply_folding_file(hw, tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{ not json")
    with pytest.raises(FoldingError, match="not valid JSON"):
        apply_folding_file(hw, tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(FoldingError, match="JSON object"):
        apply_folding_file(hw, tmp_path / "list.json")


def test_defaults_section_applies_by_op_type(compiled: Any) -> None:
    hw = compiled("mlp")
    folded = apply_folding_config(hw, {"Defaults": {"SIMD": [4, ["MVAU_hls"]]}})
    assert {f.attrs["SIMD"] for f in layer_foldings(folded)} == {4}


@pytest.mark.parametrize("fps", [0.0, -5.0, 1e12])
def test_unreachable_or_invalid_targets(compiled: Any, fps: float) -> None:
    with pytest.raises(FoldingError, match="target_fps"):
        apply_setfolding(compiled("mlp"), target_fps=fps)
