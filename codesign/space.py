"""Search-space files (`flows/spaces/*.yaml`) parsed into a frozen, typed `SpaceConfig`.

A space names a base flow, the boards every trained variant is folded for, the objectives and
constraints, the Optuna sampler and the dimensions: dotted flow keys with a list of choices or
a {low, high[, step]} range. Every dimension is checked against the flow schema (its key must
be a flow key, each choice and both range ends must make a valid flow), every board must load,
and unknown keys are rejected; every mistake is a one-line `ConfigError` that says the fix."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codesign.boards import load_board
from codesign.config import FlowConfig, load_flow, parse_flow, resolve_module_spec
from codesign.errors import BoardError, ConfigError

# objective name -> what it measures (codesign.flow.explore_trial computes each)
OBJECTIVES = {"accuracy": "test top-1 (fraction)", "fps": "frames per second within the caps",
              "lut": "LUTs", "bram": "BRAM_18K", "uram": "URAM", "dsp": "DSPs"}
DIRECTIONS = ("max", "min")
SAMPLERS = ("nsga2", "tpe", "random", "grid")
SPACE_KEYS = ("name", "base", "boards", "objectives", "constraints", "sampler", "trials", "seed",
              "space")
CONSTRAINT_KEYS = ("fits", "min_accuracy", "min_fps")
RANGE_KEYS = ("low", "high", "step", "log")
_HINT = "see flows/spaces/tfc_space.yaml"
Value = bool | int | float | str


@dataclass(frozen=True)
class Dimension:
    """One searched flow key: `choices`, or a numeric range [low, high] (with `step`: a grid)."""

    key: str
    choices: tuple[Value, ...] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def integer(self) -> bool:
        """A range whose ends and step are integers is searched over integers."""
        ends = (self.low, self.high, *(() if self.step is None else (self.step,)))
        return self.choices is None and all(isinstance(v, int) for v in ends)

    def snap(self, value: Value) -> Value:
        """A sampled value as `grid` spells it: Optuna's stepped floats carry float noise
        (0.1 + 2 * 0.1 = 0.30000000000000004), which would name another trained variant."""
        if self.choices is None and self.step is not None and isinstance(value, float):
            return round(value, 12)
        return value

    def grid(self) -> tuple[Value, ...] | None:
        """The values a grid search visits (None: a continuous range without a step)."""
        if self.choices is not None:
            return self.choices
        if self.step is None or self.low is None or self.high is None:
            return None
        count = int(round((self.high - self.low) / self.step)) + 1
        values = [self.low + i * self.step for i in range(count)]
        return tuple(int(v) if self.integer else round(float(v), 12) for v in values
                     if v <= self.high + 1e-12)


@dataclass(frozen=True)
class Constraints:
    fits: bool = True  # a point counts only if its design fits the board's caps
    min_accuracy: float | None = None
    min_fps: float | None = None


@dataclass(frozen=True)
class SpaceConfig:
    name: str
    base: FlowConfig
    boards: tuple[str, ...]  # board names, aliases or files (load_board reads each)
    objectives: tuple[tuple[str, str], ...]  # (objective, "max" | "min"), in file order
    constraints: Constraints
    sampler: str
    trials: int
    seed: int
    dimensions: tuple[Dimension, ...]
    source: str | None = None

    def dimension(self, key: str) -> Dimension:
        return next(d for d in self.dimensions if d.key == key)


def apply_overrides(flow: FlowConfig, overrides: Mapping[str, Any]) -> FlowConfig:
    """`flow` with dotted keys set (`model.weight_bits: 4`, `prune.target_sparsity: 0.5`,
    `model.options.preset: tfc`), validated like a flow file (ConfigError otherwise)."""
    data = flow.to_file_dict()
    for key, value in overrides.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            if node.get(part) is None:  # e.g. a prune section the base flow does not have
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"space key {key}: {part} is not a section of the flow")
        node[leaf] = list(value) if isinstance(value, tuple) else value
    return parse_flow(data, source=flow.source)


def flow_value(flow: FlowConfig, key: str) -> Any:
    """The value of a dotted key in `flow` (None when its section is absent)."""
    node: Any = flow.to_file_dict()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _key_exists(key: str) -> bool:
    """Whether a dotted key names a flow setting (any key under a mapping setting is allowed)."""
    import typing

    cls: Any = FlowConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            return False
        names = {f.name for f in dataclasses.fields(cls)} - {"source", "name"}
        if part not in names:
            return False
        hint = typing.get_type_hints(cls)[part]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        cls = args[0] if args and dataclasses.is_dataclass(args[0]) else hint
        if (hint is dict or typing.get_origin(hint) is dict) and i < len(parts) - 1:
            return len(parts) == i + 2  # one level under a mapping setting (model.options.X)
    return not dataclasses.is_dataclass(cls)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dimension(key: Any, spec: Any, base: FlowConfig, space_dir: Path) -> Dimension:
    where = f"space.{key}"
    if not isinstance(key, str) or not _key_exists(key):
        raise ConfigError(f"{where}: not a flow key; use a dotted key of the base flow such as "
                          "model.weight_bits or prune.target_sparsity")
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where}: the choice list is empty; give at least one value")
        if any(isinstance(v, list | dict) for v in spec):
            raise ConfigError(f"{where}: choices must be plain values (numbers, strings, booleans)")
        if key == "model.module":  # your own modules: files relative to the space file
            spec = [resolve_module_spec(v, space_dir) if isinstance(v, str) and ":" in v else v
                    for v in spec]
        dim = Dimension(key, choices=tuple(spec))
        ends: tuple[Any, ...] = dim.choices or ()
    elif isinstance(spec, dict):
        unknown = sorted(set(spec) - set(RANGE_KEYS))
        if unknown or not {"low", "high"} <= set(spec):
            raise ConfigError(f"{where}: a range is {{low, high}} (optional step, log); "
                              f"got keys {', '.join(map(str, spec))}")
        if not all(_is_number(spec[k]) for k in ("low", "high")) or not (
                spec.get("step") is None or (_is_number(spec["step"]) and spec["step"] > 0)):
            raise ConfigError(f"{where}: low and high must be numbers and step a positive number")
        if spec["low"] > spec["high"]:
            raise ConfigError(f"{where}: low {spec['low']} > high {spec['high']}; swap them")
        if not isinstance(spec.get("log", False), bool):
            raise ConfigError(f"{where}.log: expected true or false")
        dim = Dimension(key, low=spec["low"], high=spec["high"], step=spec.get("step"),
                        log=spec.get("log", False))
        ends = (dim.low, dim.high)
    else:
        raise ConfigError(f"{where}: give a list of choices or a {{low, high}} range, not {spec!r}")
    for value in ends:
        try:
            apply_overrides(base, {key: value})
        except ConfigError as exc:
            raise ConfigError(f"{where}: value {value!r} makes an invalid flow ({exc})") from None
    return dim


def _base_flow(value: Any, space_dir: Path) -> FlowConfig:
    if not isinstance(value, str):
        raise ConfigError("base: give the path of a flow file, e.g. flows/tfc_w2a2_mnist5k.yaml")
    candidates = [space_dir / value, Path(value)] if not Path(value).is_absolute() else [Path(value)]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise ConfigError(f"base: flow file {value} not found (looked next to the space file and "
                          "in the current directory); give an existing flow file")
    return load_flow(found)


def _objectives(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not value:
        raise ConfigError("objectives: give a mapping such as {accuracy: max, fps: max, lut: min}")
    for name, direction in value.items():
        if name not in OBJECTIVES:
            raise ConfigError(f"objectives.{name}: unknown objective; use {', '.join(OBJECTIVES)}")
        if direction not in DIRECTIONS:
            raise ConfigError(f"objectives.{name}: {direction!r} is not max or min")
    return tuple(value.items())


def _constraints(value: Any) -> Constraints:
    if value is None:
        return Constraints()
    if not isinstance(value, dict):
        raise ConfigError("constraints: give a mapping such as {fits: true, min_accuracy: 0.9}")
    unknown = sorted(set(value) - set(CONSTRAINT_KEYS))
    if unknown:
        raise ConfigError(f"unknown key constraints.{unknown[0]}; allowed: {', '.join(CONSTRAINT_KEYS)}")
    if not isinstance(value.get("fits", True), bool):
        raise ConfigError("constraints.fits: expected true or false")
    acc, fps = value.get("min_accuracy"), value.get("min_fps")
    if acc is not None and not (_is_number(acc) and 0 <= acc <= 1):
        raise ConfigError(f"constraints.min_accuracy: {acc!r} must be a fraction in [0, 1] (0.9 = 90 %)")
    if fps is not None and not (_is_number(fps) and fps > 0):
        raise ConfigError(f"constraints.min_fps: {fps!r} must be a positive number")
    return Constraints(value.get("fits", True), acc, fps)


def parse_space(data: Any, space_dir: Path = Path("."), source: str | None = None) -> SpaceConfig:
    """A validated SpaceConfig from a mapping (e.g. parsed YAML)."""
    try:
        return _parse(data, space_dir, source)
    except (ConfigError, BoardError) as exc:
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}{exc}" + ("" if _HINT in str(exc) else f" ({_HINT})")) from None


def _parse(data: Any, space_dir: Path, source: str | None) -> SpaceConfig:
    if not isinstance(data, dict):
        raise ConfigError("a space file is a mapping of keys (name, base, boards, objectives, ...)")
    unknown = sorted(str(k) for k in set(data) - set(SPACE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]}; allowed keys: {', '.join(SPACE_KEYS)}")
    missing = [k for k in ("name", "base", "boards", "objectives", "space") if k not in data]
    if missing:
        raise ConfigError(f"missing required key {missing[0]}")
    if not isinstance(data["name"], str) or not data["name"]:
        raise ConfigError("name: give the space a non-empty name (it names the output directory)")
    base = _base_flow(data["base"], space_dir)
    boards = data["boards"]
    if not isinstance(boards, list) or not boards or not all(isinstance(b, str) for b in boards):
        raise ConfigError("boards: give a non-empty list of board names, e.g. [pynq-z2, zcu104]")
    names = tuple(boards)  # as given: a name, an alias or a board file, each one that loads
    if len({load_board(b).name for b in boards}) != len(names):
        raise ConfigError("boards: a board is listed twice; list each once")
    sampler = data.get("sampler", "nsga2")
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler: {sampler!r} is not one of {', '.join(SAMPLERS)}")
    for key in ("trials", "seed"):
        value = data.get(key, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "trials" else 0):
            raise ConfigError(f"{key}: {value!r} must be an integer "
                              f"{'>= 1' if key == 'trials' else '>= 0'}")
    space = data["space"]
    if not isinstance(space, dict) or not space:
        raise ConfigError("space: give at least one dotted flow key with choices or a range")
    dims = tuple(_dimension(k, v, base, space_dir) for k, v in space.items())
    if sampler == "grid":
        coarse = [d.key for d in dims if d.grid() is None]
        if coarse:
            raise ConfigError(f"space.{coarse[0]}: the grid sampler needs choices or a range "
                              "with a step; add step or use sampler nsga2")
    return SpaceConfig(name=data["name"], base=base, boards=names,
                       objectives=_objectives(data["objectives"]),
                       constraints=_constraints(data.get("constraints")), sampler=sampler,
                       trials=data.get("trials", 24), seed=data.get("seed", 0), dimensions=dims,
                       source=source)


def load_space(path: str | os.PathLike[str]) -> SpaceConfig:
    """Load and validate a space YAML file (the base flow is found next to it or in the
    current directory)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"space file {p} does not exist; pass a YAML file such as "
                          "flows/spaces/tfc_space.yaml")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ConfigError(f"{p}: not valid YAML ({first}); fix the syntax") from None
    return parse_space(data, p.resolve().parent, source=str(p))
