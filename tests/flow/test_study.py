"""The Optuna boundary (codesign.flow.study) without training: what a new study asks first,
the grid, and trials an interrupted session left running."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from codesign.errors import ConfigError
from codesign.flow.study import Study
from codesign.space import load_space, parse_space

REPO = Path(__file__).resolve().parents[2]


def test_the_first_trial_is_the_base_flows_point_with_the_fixed_settings(tmp_path: Path) -> None:
    study = Study(load_space(REPO / "flows" / "spaces" / "tfc_space.yaml"), tmp_path)
    _, params = study.ask()
    assert params == {"model.weight_bits": 2, "model.act_bits": 2, "prune.target_sparsity": 0.5,
                      "simulate.enabled": False, "folding.compare_setfolding": False}


@pytest.mark.parametrize("bits", [(1, 2, 4), (1, 4, 8)])  # the base's 2 bits inside / outside
def test_a_grid_study_asks_every_grid_point_once(tmp_path: Path, bits: tuple[int, ...]) -> None:
    space = parse_space({
        "name": "g", "base": str(REPO / "flows" / "tfc_w2a2_mnist5k.yaml"), "boards": ["pynq-z2"],
        "objectives": {"accuracy": "max"}, "sampler": "grid",
        "space": {"model.weight_bits": list(bits), "train.epochs": {"low": 2, "high": 10, "step": 4},
                  "seed": [7]}})
    study = Study(space, tmp_path)
    asked = [tuple(study.ask()[1].values()) for _ in range(9)]
    assert sorted(asked) == sorted(itertools.product(bits, (2, 6, 10), (7,)))
    assert (asked[0] == (2, 10, 7)) == (2 in bits)  # the base flow's point first, when inside


def test_trials_left_running_are_failed_and_asked_again(tmp_path: Path) -> None:
    space = parse_space({
        "name": "r", "base": str(REPO / "flows" / "tfc_w2a2_mnist5k.yaml"), "boards": ["pynq-z2"],
        "objectives": {"accuracy": "max"}, "sampler": "random", "seed": 1,
        "space": {"train.lr": {"low": 0.001, "high": 0.1, "log": True}}})
    first = Study(space, tmp_path)
    _, base = first.ask()
    _, lost = first.ask()  # a session that dies with two trials running
    again = Study(space, tmp_path)
    assert again.finished_count() == 0 and again.finished() == []
    assert [again.ask()[1] for _ in range(2)] == [base, lost]


def test_a_study_resumes_only_with_the_same_space(tmp_path: Path) -> None:
    def space(**changes: object):  # noqa: ANN202 - a SpaceConfig
        data = {"name": "f", "base": str(REPO / "flows" / "tfc_w2a2_mnist5k.yaml"),
                "boards": ["pynq-z2"], "objectives": {"accuracy": "max"}, "trials": 4,
                "space": {"model.weight_bits": [1, 2]}}
        return parse_space({**data, **changes})

    Study(space(), tmp_path)
    Study(space(trials=40), tmp_path)  # a larger budget resumes
    with pytest.raises(ConfigError, match="holds a study of a different space"):
        Study(space(space={"model.weight_bits": [1, 2, 4]}), tmp_path)
    with pytest.raises(ConfigError, match="give a new --out directory"):
        Study(space(boards=["pynq-z2", "zcu104"]), tmp_path)


def test_a_study_of_the_users_modules_resumes_only_with_the_same_code(tmp_path: Path) -> None:
    """Trials recorded for a module's old code are not mixed with its new code: once a module
    the space trains changed, the study asks for a new --out."""
    import yaml

    (tmp_path / "a.py").write_text("def make(): ...\n")
    (tmp_path / "b.py").write_text("def make(): ...\n")
    flow = yaml.safe_load((REPO / "flows" / "tfc_w2a2_mnist5k.yaml").read_text())
    flow["model"] = {"module": "a.py:make"}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(flow))
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({
        "name": "m", "base": "base.yaml", "boards": ["pynq-z2"], "objectives": {"accuracy": "max"},
        "space": {"model.module": ["a.py:make", "b.py:make"]}}))
    out = tmp_path / "out"
    out.mkdir()
    Study(load_space(tmp_path / "space.yaml"), out)
    Study(load_space(tmp_path / "space.yaml"), out)  # the same code resumes
    (tmp_path / "b.py").write_text("def make(): return None\n")
    with pytest.raises(ConfigError, match="holds a study of a different space"):
        Study(load_space(tmp_path / "space.yaml"), out)


@pytest.mark.parametrize("sampler", ["random", "nsga2", "tpe", "grid"])
def test_stepped_floats_are_asked_and_recorded_as_the_grid_spells_them(tmp_path: Path,
                                                                       sampler: str) -> None:
    # Optuna draws 0.1 + 2 * 0.1 = 0.30000000000000004; as a flow value it would name another
    # trained variant than the grid's 0.3 (another cache key) and print as such in the report
    space = parse_space({
        "name": "s", "base": str(REPO / "flows" / "tfc_w2a2_mnist5k.yaml"), "boards": ["pynq-z2"],
        "objectives": {"accuracy": "max"}, "sampler": sampler, "seed": 0,
        "space": {"prune.target_sparsity": {"low": 0.1, "high": 0.7, "step": 0.1}}})
    grid = set(space.dimension("prune.target_sparsity").grid() or ())
    assert grid == {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}
    study = Study(space, tmp_path)
    asked = set()
    for _ in range(30):
        trial, params = study.ask()
        asked.add(params["prune.target_sparsity"])
        study.fail(trial, "not run")
    assert asked <= grid and len(asked) >= 5
    assert {t.params["prune.target_sparsity"] for t in study.finished()} == asked
