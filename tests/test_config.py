from pathlib import Path

import pytest
import yaml

from codesign.config import FlowConfig, load_flow, parse_flow
from codesign.errors import ConfigError

FLOWS = sorted((Path(__file__).parents[1] / "flows").glob("*.yaml"))


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_shipped_flows_load(path: Path) -> None:
    flow = load_flow(path)
    assert isinstance(flow, FlowConfig)
    assert flow.name == path.stem
    assert flow.source == str(path)


def test_defaults_fill_missing_sections() -> None:
    flow = parse_flow({"name": "x"})
    assert flow.train.epochs >= 1
    assert flow.folding.mode == "setfolding"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"name": "x", "trian": {}}, "unknown key trian"),
        ({"name": "x", "train": {"epoch": 3}}, "unknown key train.epoch"),
        ({"name": "x", "model": {"arch": "mlp", "wbits": 2}}, "unknown key model.wbits"),
        ({"name": "x", "train": {"epochs": "ten"}}, "train.epochs: expected an integer"),
        ({"name": "x", "train": {"lr": True}}, "train.lr: expected a number"),
        ({"name": "x", "train": {"shift_pixels": -1}}, "train.shift_pixels: must be 0"),
        ({"name": "x", "model": {"weight_bits": 9}}, "model.weight_bits"),
        ({"name": "x", "model": {"act_bits": 0}}, "model.act_bits"),
        ({"name": "x", "folding": {"mode": "magic"}}, "folding.mode"),
        ({"name": "x", "folding": {"mode": "file"}}, "folding.file"),
        ({"name": "x", "dataset": {"test_fraction": 1.5}}, "dataset.test_fraction"),
        ({"name": "x", "verify": {"samples": 0}}, "verify.samples"),
        ({"name": "x", "prune": {"step_sparsity": "0.2, 0.5"}}, "prune.step_sparsity: expected a list"),
        ({"name": "x", "prune": {"step_sparsity": [0.2, "half"]}}, "expected a number, got 'half'"),
        ({"name": "x", "prune": {"steps": 2, "step_sparsity": [0.2, 0.4]}}, "prune.step_sparsity"),
        ({"name": "x", "prune": {"fold_search": -1}}, "prune.fold_search: -1 must be >= 0"),
        ({"name": "x", "prune": {"fold_search": 1.5}}, "prune.fold_search: expected an integer"),
        ({"name": "x", "prune": {"fold_shapes": -2}}, "prune.fold_shapes: -2 must be >= 0"),
        ({"name": "x", "prune": {"fold_shapes": 8, "fold_search": 0}},
         "prune.fold_shapes: the shape sweep runs inside the fold search: it needs"),
        ({"name": "x", "prune": {"shape_order": "widest", "fold_shapes": 8}},
         "prune.shape_order: 'widest' is not one of importance, balanced, even"),
        ({"name": "x", "prune": {"shape_order": "balanced"}},
         "prune.shape_order: it orders the shape sweep's shapes: it needs prune.fold_shapes >= 1"),
        ({"name": "x", "prune": {"shape_order": "even"}},
         "prune.shape_order: it orders the shape sweep's shapes: it needs prune.fold_shapes >= 1"),
        ({"name": "x", "prune": {"shape_trials": -1}}, "prune.shape_trials: -1 must be >= 0"),
        ({"name": "x", "prune": {"shape_trials": 2.5}}, "prune.shape_trials: expected an integer"),
        ({"name": "x", "prune": {"shape_trials": 3, "fold_search": 0}},
         "prune.shape_trials: the trials pick among the fold search's equally fast shapes"),
        ({"name": "x", "prune": {"shape_trials": 3, "allocation": "uniform"}},
         "they need prune.fold_search >= 1 and allocation hardware"),
        ({"name": "x", "prune": {"max_overshoot": -0.01}}, "prune.max_overshoot: -0.01 must lie"),
        ({"name": "x", "prune": {"max_overshoot": 1.0}}, "prune.max_overshoot: 1.0 must lie"),
        ({"name": "x", "prune": {"max_overshoot": 0.01, "fold_search": 0}},
         "prune.max_overshoot: it bounds the fold search past a sparsity target: it needs"),
        ({"name": "x", "prune": {"max_overshoot": 0.01, "budget": "fps", "target_fps": 1000}},
         "needs budget 'sparsity' and prune.fold_search >= 1"),
        ({"name": "x", "prune": {"distill": 1.5}}, "prune.distill: 1.5 must lie between 0"),
        ({"name": "x", "prune": {"soft_epochs": -1}}, "prune.soft_epochs: -1 must be >= 0"),
        ({"name": "x", "prune": {"taylor_batches": 0}}, "prune.taylor_batches: 0 must be >= 1"),
        ({"name": "x", "prune": {"taylor_batches": 2.5}},
         "prune.taylor_batches: expected an integer"),
        ({"name": "x", "prune": {"soft_epochs": 0.5}}, "prune.soft_epochs: expected an integer"),
        ({"name": "x", "prune": {"max_layer_sparsity": 0}}, "prune.max_layer_sparsity: 0.0 must"),
        ({"name": "x", "prune": {"max_layer_sparsity": 1.5}}, "prune.max_layer_sparsity: 1.5"),
        ({"name": "x", "prune": {"layer_max_sparsity": [0.5]}},
         "prune.layer_max_sparsity: expected a mapping"),
        ({"name": "x", "prune": {"layer_max_sparsity": {"stem.0": 1.5}}},
         "prune.layer_max_sparsity.stem.0: 1.5 must be a number in"),
        ({"name": "x", "prune": {"layer_max_sparsity": {"stem.0": "half"}}},
         "prune.layer_max_sparsity.stem.0: 'half' must be a number"),
        ({"name": "x", "prune": {"layer_max_sparsity": {0: 0.5}}},
         "prune.layer_max_sparsity: 0 is not a layer name; give module paths as strings"),
        ({"name": "x", "prune": {"distill_temperature": 0}},
         "prune.distill_temperature: 0.0 must be positive"),
        ({"name": "x", "prune": {"fold_targets": "yes"}},
         "prune.fold_targets: expected true or false"),
        ({"name": "x", "prune": {}, "folding": {"mvau_rtl": True}}, "folding.mvau_rtl: true with a"),
        ({"name": "x", "prune": {"allocation": "global"}},
         "prune.allocation: 'global' is not one of hardware, criterion, uniform"),
        ({"name": "x", "model": {"module": "net.py:make", "arch": "resnet"}},
         "model.arch: model.module 'net.py:make' brings its own layers and bit widths"),
        ({"name": "x", "model": {"module": "net.py:make", "weight_bits": 4}},
         "model.weight_bits: model.module 'net.py:make' brings its own"),
        ({"name": "x", "model": {"module": "net.py"}}, "model.module: model spec 'net.py' has no"),
        ({"name": "x", "model": {"module": "net.py:"}}, "model.module: model spec 'net.py:' is inc"),
        ({"name": "x", "model": {"module": 3}}, "model.module: expected a string"),
        ({"description": "no name"}, "missing required key name"),
        (["not", "a", "mapping"], "expected a mapping"),
    ],
)
def test_bad_flow_is_rejected_with_the_key(data: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")) as info:
        parse_flow(data, source="my.yaml")
    assert str(info.value).startswith("my.yaml: ")


def test_step_sparsity_reads_as_a_tuple_of_floats() -> None:
    flow = parse_flow({"name": "x", "prune": {"steps": 3, "target_sparsity": 0.5,
                                              "step_sparsity": [0.2, 0.35, 0.5]}})
    assert flow.prune is not None and flow.prune.step_sparsity == (0.2, 0.35, 0.5)


@pytest.mark.parametrize("allocation", ["hardware", "criterion", "uniform"])
def test_every_allocation_policy_is_accepted(allocation: str) -> None:
    flow = parse_flow({"name": "x", "prune": {"allocation": allocation}})
    assert flow.prune is not None and flow.prune.allocation == allocation


def test_relative_paths_resolve_against_flow_file(tmp_path: Path) -> None:
    flow_file = tmp_path / "sub" / "f.yaml"
    flow_file.parent.mkdir()
    flow_file.write_text(yaml.safe_dump(
        {"name": "f", "dataset": {"name": "npz", "path": "data.npz"},
         "folding": {"mode": "file", "file": "fold.json"}}))
    flow = load_flow(flow_file)
    assert flow.dataset.path == str(flow_file.parent.resolve() / "data.npz")
    assert flow.folding.file == str(flow_file.parent.resolve() / "fold.json")


@pytest.mark.parametrize(("spec", "resolved"), [
    ("nets/my_net.py:make", "{dir}/nets/my_net.py:make"),  # a file: next to the flow file
    ("/abs/my_net.py:Net", "/abs/my_net.py:Net"),
    ("my_package.nets:make", "my_package.nets:make"),  # an importable module: as given
])
def test_a_module_file_resolves_against_the_flow_file(tmp_path: Path, spec: str,
                                                      resolved: str) -> None:
    flow_file = tmp_path / "f.yaml"
    flow_file.write_text(yaml.safe_dump({"name": "f", "model": {"module": spec}}))
    flow = load_flow(flow_file)
    assert flow.model.module == resolved.format(dir=tmp_path.resolve())


@pytest.mark.parametrize("model", [{"module": "net.py:make"},
                                   {"arch": "resnet", "weight_bits": 4, "act_bits": 4,
                                    "options": {"preset": "resnet8"}}])
def test_the_model_section_writes_back_as_given(model: dict) -> None:
    """A flow file written from a flow (run directories keep one) names a module alone, a zoo
    model without a module key, and parses back to the same flow."""
    flow = parse_flow({"name": "x", "model": model})
    assert flow.to_file_dict()["model"] == model
    assert parse_flow(flow.to_file_dict()) == flow


@pytest.mark.parametrize("text", ["name: [unclosed", "name: x\n  bad: indent: here"])
def test_yaml_syntax_errors_name_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_flow(path)


def test_missing_flow_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_flow("no/such/flow.yaml")


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"enabled": "yes"}, "simulate.enabled: expected true or false"),
        ({"pipeline": "sometimes"}, "simulate.pipeline"),
        ({"layer_frames": 0}, "simulate.layer_frames"),
        ({"samples": -1}, "simulate.samples"),
        ({"rtl_frames": 2}, "unknown key simulate.rtl_frames"),
    ],
)
def test_bad_simulate_section_is_rejected(section: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        parse_flow({"name": "x", "simulate": section}, source="my.yaml")


def test_simulate_section_is_the_library_options() -> None:
    """A flow's simulate: section and the options of codesign.sim are one type, so a flow can
    ask for everything `codesign simulate` can, and both are validated by one function."""
    import inspect

    from codesign.config import SimulateConfig
    from codesign.flow import simulate_run
    from codesign.sim.run import simulate_hardware

    for entry in (simulate_hardware, simulate_run):
        assert inspect.signature(entry).parameters["options"].annotation == "SimulateConfig | None"
    with pytest.raises(ConfigError, match="simulate.layer_frames"):
        SimulateConfig(layer_frames=0)
    flow = parse_flow({"name": "x", "simulate": {"enabled": True, "rtl": False, "pipeline": "off"}})
    assert (flow.simulate.enabled, flow.simulate.rtl, flow.simulate.pipeline) == (True, False, "off")
    assert parse_flow({"name": "x"}).simulate.enabled is False
