"""Space files (codesign.space): the schema, the checks against the flow schema, and the CLI's
one-line errors with exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from codesign.cli import EXIT_USER_ERROR, main
from codesign.errors import ConfigError
from codesign.space import apply_overrides, flow_value, load_space, parse_space

REPO = Path(__file__).resolve().parents[1]
BASE = str(REPO / "flows" / "tfc_w2a2_mnist5k.yaml")


def space_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "s", "base": BASE, "boards": ["pynq-z2", "zcu104"],
        "objectives": {"accuracy": "max", "fps": "max", "lut": "min"},
        "constraints": {"fits": True, "min_accuracy": 0.9},
        "sampler": "nsga2", "trials": 6,
        "space": {"model.weight_bits": [1, 2, 4], "prune.target_sparsity": {"low": 0.1, "high": 0.7}},
    }
    data.update(changes)
    return data


def test_a_valid_space_is_typed_and_frozen() -> None:
    space = parse_space(space_data())
    assert space.boards == ("pynq-z2", "zcu104")
    assert space.objectives == (("accuracy", "max"), ("fps", "max"), ("lut", "min"))
    assert space.constraints.min_accuracy == 0.9 and space.constraints.fits
    bits, sparsity = space.dimensions
    assert bits.choices == (1, 2, 4) and bits.grid() == (1, 2, 4)
    assert (sparsity.low, sparsity.high, sparsity.integer, sparsity.grid()) == (0.1, 0.7, False, None)
    with pytest.raises(AttributeError):
        space.trials = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", ["tfc_space.yaml", "tfc_space_quick.yaml"])
def test_the_shipped_spaces_load(name: str) -> None:
    space = load_space(REPO / "flows" / "spaces" / name)
    assert space.base.name == "tfc_w2a2_mnist5k" and len(space.boards) >= 2


@pytest.mark.parametrize(("changes", "words"), [
    ({"colour": "red"}, "unknown key colour"),
    ({"space": {"model.wbits": [1, 2]}}, "space.model.wbits: not a flow key"),
    ({"space": {"train.epochs.x": [1]}}, "not a flow key"),
    ({"space": {"model.weight_bits": []}}, "choice list is empty"),
    ({"space": {"prune.target_sparsity": {"low": 0.6, "high": 0.2}}}, "low 0.6 > high 0.2; swap"),
    ({"space": {"prune.target_sparsity": {"low": 0.0, "high": 0.5}}}, "value 0.0 makes an invalid flow"),
    ({"space": {"model.weight_bits": [2, 9]}}, "value 9 makes an invalid flow"),
    ({"space": {"model.weight_bits": {"low": 1, "hi": 4}}}, "a range is {low, high}"),
    ({"boards": ["pynq-z2", "pynq-z9"]}, "unknown board 'pynq-z9'"),
    ({"boards": ["pynq-z2", "Pynq-Z2"]}, "listed twice"),
    ({"objectives": {"speed": "max"}}, "objectives.speed: unknown objective"),
    ({"objectives": {"fps": "up"}}, "'up' is not max or min"),
    ({"constraints": {"min_accuracy": 90}}, "must be a fraction"),
    ({"constraints": {"max_lut": 5}}, "unknown key constraints.max_lut"),
    ({"sampler": "cmaes"}, "sampler: 'cmaes' is not one of"),
    ({"sampler": "grid"}, "grid sampler needs choices or a range with a step"),
    ({"trials": 0}, "trials: 0 must be an integer >= 1"),
    ({"base": "flows/nope.yaml"}, "base: flow file flows/nope.yaml not found"),
])
def test_space_mistakes_are_one_line_errors_that_say_the_fix(changes: dict[str, Any],
                                                            words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(space_data(**changes), source="s.yaml")
    message = str(info.value)
    assert words in message and "\n" not in message and message.startswith("s.yaml: ")


@pytest.mark.parametrize(("overrides", "key", "expected"), [
    ({"model.weight_bits": 4}, "model.weight_bits", 4),
    ({"prune.target_sparsity": 0.3}, "prune.target_sparsity", 0.3),
    ({"model.options.hidden": [16, 16]}, "model.options.hidden", [16, 16]),
    ({"train.epochs": 1, "seed": 7}, "seed", 7),
])
def test_overrides_give_a_validated_flow(overrides: dict[str, Any], key: str, expected: Any) -> None:
    space = parse_space(space_data())
    flow = apply_overrides(space.base, overrides)
    assert flow_value(flow, key) == expected
    assert flow_value(space.base, "model.act_bits") == flow_value(flow, "model.act_bits")


def test_an_override_section_the_base_lacks_is_created() -> None:
    base = apply_overrides(parse_space(space_data()).base, {})
    no_prune = base.replace(prune=None)
    assert flow_value(no_prune, "prune.target_sparsity") is None
    assert apply_overrides(no_prune, {"prune.target_sparsity": 0.4}).prune.target_sparsity == 0.4


def test_integer_ranges_with_a_step_form_a_grid() -> None:
    space = parse_space(space_data(sampler="grid", space={
        "train.epochs": {"low": 1, "high": 5, "step": 2},
        "prune.target_sparsity": {"low": 0.2, "high": 0.6, "step": 0.2}}))
    epochs, sparsity = space.dimensions
    assert epochs.integer and epochs.grid() == (1, 3, 5)
    assert sparsity.grid() == pytest.approx((0.2, 0.4, 0.6))


@pytest.mark.parametrize("changes", [{"space": {}}, {"boards": []}, {"space": {"x.y": [1]}},
                                     {"space": {"model.weight_bits": {"low": 4, "high": 1}}}])
def test_the_cli_prints_space_errors_on_one_line_and_exits_2(
        tmp_path: Path, changes: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(space_data(**changes)))
    assert main(["explore", str(path), "--out", str(tmp_path / "out")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("spec", "drawn", "expected"), [
    ({"low": 0.1, "high": 0.7, "step": 0.1}, 0.1 + 2 * 0.1, 0.3),
    ({"low": 0.1, "high": 0.7}, 0.1 + 2 * 0.1, 0.1 + 2 * 0.1),  # continuous: kept as drawn
    ([0.30000000000000004, 0.5], 0.30000000000000004, 0.30000000000000004),  # a choice as given
])
def test_a_stepped_float_snaps_to_its_grid_value(spec: Any, drawn: float, expected: float) -> None:
    space = parse_space(space_data(space={"prune.target_sparsity": spec}))
    assert space.dimension("prune.target_sparsity").snap(drawn) == expected


def test_a_space_over_the_users_own_modules_resolves_them_next_to_the_space_file(
        tmp_path: Path) -> None:
    """`model.module` choices compare the user's architectures: their files are found next to
    the space file, as the base flow's is next to the flow file; an importable module's spec
    stays as given."""
    (tmp_path / "nets").mkdir()
    flow = yaml.safe_load(Path(BASE).read_text())
    flow["model"] = {"module": "nets/a.py:make"}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(flow))
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space_data(
        base="base.yaml", space={"model.module": ["nets/a.py:make", "nets/b.py:Net",
                                                  "my_pkg.nets:make"]})))
    space = load_space(path)
    nets = tmp_path.resolve() / "nets"
    assert space.base.model.module == f"{nets}/a.py:make"
    assert space.dimension("model.module").choices == (f"{nets}/a.py:make", f"{nets}/b.py:Net",
                                                       "my_pkg.nets:make")
    assert apply_overrides(space.base, {"model.module": f"{nets}/b.py:Net"}).model.module == \
        f"{nets}/b.py:Net"
