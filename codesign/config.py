"""Flow files (`flows/*.yaml`) parsed into frozen, typed objects.

Every section is a dataclass; unknown keys, wrong types and out-of-range values are rejected
with a `ConfigError` that names the file and the dotted key, so a typo never silently falls
back to a default."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import ConfigError

# How images may be read as sequences for 1-D models (codesign.data): rows = time steps.
SEQUENCES: tuple[str, ...] = ("rows",)


@dataclass(frozen=True)
class DatasetConfig:
    name: str = "mnist5k"
    path: str | None = None
    test_fraction: float = 0.2
    limit_train: int | None = None
    limit_test: int | None = None
    # read images as sequences for 1-D models (arch cnn1d): rows = row r is time step r
    sequence: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "mlp"
    weight_bits: int = 2
    act_bits: int = 2
    options: dict[str, Any] = field(default_factory=dict)
    # your own Brevitas module instead of a zoo arch: 'package.module:attr' or 'file.py:attr' (a
    # file relative to the flow file); it brings its own layers and bit widths (codesign.models.user)
    module: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.01
    optimizer: str = "adam"
    weight_decay: float = 0.0
    # torch CPU threads. Small QAT models train fastest on one thread (measured 10x faster than
    # two on shared cores), and results are bit-identical only for the same thread count.
    threads: int = 1
    # move every training sample by up to this many pixels (rows/columns; steps of a sequence),
    # a new draw per batch, in training and in the pruning fine-tunes (codesign.augment); 0: off
    shift_pixels: int = 0


SPEC_HELP = "expected 'package.module:attr' or 'path/to/file.py:attr'"


def module_spec_problem(spec: str) -> str | None:
    """What is wrong with the form of a model spec (None if nothing), saying the fix."""
    if ":" not in spec:
        return f"model spec {spec!r} has no ':attr' part; {SPEC_HELP}"
    target, attr = spec.rsplit(":", 1)
    if not target or not attr:
        return f"model spec {spec!r} is incomplete; {SPEC_HELP}"
    return None


def is_file_spec(spec: str) -> bool:
    """Whether `spec` names a Python file (path/to/file.py:attr) rather than an importable module."""
    target = spec.rsplit(":", 1)[0]
    return target.endswith(".py") or "/" in target or "\\" in target


def resolve_module_spec(spec: str, base: Path) -> str:
    """A model spec with a relative file resolved against `base` (the folder of the file that
    names it); an importable module's spec as given."""
    target, attr = spec.rsplit(":", 1)
    if not is_file_spec(spec) or Path(target).is_absolute():
        return spec
    return f"{base / target}:{attr}"


# the model keys that configure a zoo model, which a flow with model.module leaves out
ZOO_MODEL_KEYS = ("arch", "weight_bits", "act_bits", "options")

FOLDING_MODES = ("setfolding", "optimize", "file")
FOLDING_OBJECTIVES = ("maximize", "min_resources")
# What a flow may ask for beyond estimates; all but "estimates" need Vivado (codesign.finn.builder).
OUTPUTS = ("estimates", "ip", "stitched_ip", "rtlsim_perf", "ooc_synth", "power", "bitfile", "driver")
DEFAULT_OUTPUTS = ("estimates",)


@dataclass(frozen=True)
class FoldingConfig:
    mode: str = "setfolding"
    objective: str = "maximize"  # mode optimize: highest FPS in budget, or least resources at target_fps
    target_fps: float = 100_000.0
    mvau_wwidth_max: int = 1024
    file: str | None = None
    # compile matrix-vector units to FINN's RTL MVAU (DSP-based, standalone thresholds) instead
    # of the HLS one: with it an MLP is RTL end to end, so the whole pipeline simulates
    mvau_rtl: bool = False
    # mode optimize: also find FINN's fastest SetFolding design within the same caps on the same
    # graph, so the report shows what the optimizer gains over FINN's own folding
    compare_setfolding: bool = True


@dataclass(frozen=True)
class VerifyConfig:
    samples: int = 20


PRUNE_CRITERIA = ("l1", "l2", "group_l2", "group_l2_skip_depthwise", "bn_scale", "taylor")
PRUNE_BUDGETS = ("sparsity", "fps", "fit")
PRUNE_ALLOCATIONS = ("hardware", "criterion", "uniform")
# the shape sweep's orders, each with what it lists first (the sweep's move text says it)
SHAPE_ORDERS = {"importance": "least importance removed first",
                "balanced": "the widest narrowest group first",
                "even": "the most even first, the nearest a uniform cut kept"}


@dataclass(frozen=True)
class PruneConfig:
    """Structured pruning during QAT (codesign.prune); a flow prunes when it has this section."""

    criterion: str = "taylor"  # channel importance: one of PRUNE_CRITERIA
    # criterion taylor: seeded minibatches of 64 training samples (each drawn anew) its estimate
    # averages; more batches, a steadier ranking (DS-CNN keeping 198 channels: two estimates
    # disagree on 23 of them with 8 batches, 3.5 with 250, at ~0.13 s a batch; it ranked no
    # better for it: docs/pruning-measurements.md, benchmarks/taylor_steadiness.py)
    taylor_batches: int = 8
    budget: str = "sparsity"  # stop at target_sparsity | at target_fps on the board | when it fits
    target_sparsity: float = 0.5  # fraction of the MACs to remove (budget sparsity)
    # budget sparsity: the MAC sparsity to reach after each step (default: geometric spread);
    # one value per step, non-decreasing, the last equal to target_sparsity
    step_sparsity: tuple[float, ...] | None = None
    target_fps: float | None = None  # budget fps: FPS to reach within the board's caps
    steps: int = 3  # prune -> fine-tune iterations
    step_fraction: float = 0.3  # budgets fps/fit: fraction of the remaining MACs cut per step
    finetune_epochs: int = 1  # after each step
    final_epochs: int = 2  # after the last step
    # before each cut, train this many epochs while the channels it removes fade out (their
    # weights, in their layers and their consumers, scaled down step by step to zero;
    # codesign.prune.fade), so the cut itself changes nothing; 0 = cut at once
    soft_epochs: int = 0
    finetune_lr: float | None = None  # default: train.lr
    # the fine-tunes move each training sample by up to this many pixels (codesign.augment);
    # default: train.shift_pixels, as the unpruned model was trained
    finetune_shift_pixels: int | None = None
    # fine-tunes learn from the unpruned model too: weight of its softened logits in the loss
    # (0 = cross-entropy on the labels alone), at temperature distill_temperature
    distill: float = 0.0
    distill_temperature: float = 4.0
    # budget sparsity: step 1 allocates the whole target from the unpruned model, and no step
    # cuts a layer below that plan (the steps approach one final shape; without it each step's
    # greedy goal can strand channels in layers the final step no longer needs to cut). Only
    # where the final target is known: budgets fps/fit and allocation uniform ignore it
    plan: bool = False
    align: bool = True  # kept counts on multiples of the board folding's PE/SIMD granularity
    # hardware: where LUTs/cycles are spent | criterion: global importance order, hardware-blind
    # | uniform: the same ratio in every layer (the last two are baselines for comparisons)
    allocation: str = "hardware"
    # allocation hardware: rounds per step of the fold-in-the-loop search (codesign.prune.
    # fold_search), which trades granules between layers for FPS within the caps; 0 = off
    fold_search: int = 2
    # after the search's rounds, measure up to this many whole shapes on the granule lattice
    # near its counts (codesign.prune.shape_sweep: each group within 3 granules, the step's
    # MACs removed up to the search's allowance, least importance removed first) and keep the
    # fastest: for foldings whose faster shapes lie several granules away; 0 = off. Like the
    # search itself, only allocation hardware uses it
    fold_shapes: int = 0
    # the order the sweep measures its shapes in: importance (least importance removed first,
    # by the allocation's own measure) | balanced (the shape whose most-cut group loses the
    # smallest share first, then importance): where equally fast shapes differ in accuracy by
    # how narrow their narrowest group is (DS-CNN on KV260, docs/pruning-measurements.md) |
    # even (centred on the uniform cut at the step's fraction, the most even shapes first, and
    # of the fastest the one nearest that cut kept: codesign.prune.shape_sweep)
    shape_order: str = "importance"
    # after the fold search: fine-tune up to this many of the shapes it found at its best FPS
    # (each a trial on a copy, as the step fine-tunes) and keep the one with the lowest
    # training loss (codesign.prune.trials); 0 or 1 = off (the search's first-found shape)
    shape_trials: int = 0
    # budget sparsity: the most of the unpruned model's MACs the fold search (its moves and
    # swept shapes) may remove past each step's target, and the allocation gives back the
    # granules it no longer needs, so the pruned model lands within target_sparsity +
    # max_overshoot (or past it by one granule, where none can come back), e.g. 0.01 to compare
    # with another pruner at one sparsity. Default (null): 5 % of the step's MACs past the
    # allocation (codesign.prune.fold_search, MAX_EXTRA), and with shape_order even no deeper
    # than the uniform cut on the granule lattice at the step's target; no give-back
    max_overshoot: float | None = None
    # let the search also try each bottleneck's folding target, the exact count (aligned or not)
    # that folds faster in the same PE x SIMD lanes, and its shape sweep (fold_shapes) counts
    # off the granule lattice that fold in the next pass counts down (codesign.prune.
    # shape_sweep, exact counts); default (null): only under budget fps, as it buys speed
    # with channels of the layer that bounds it, often the one accuracy needs
    fold_targets: bool | None = None
    sensitivity: bool = False  # weigh the allocation by a per-layer sensitivity analysis
    # the most of its unpruned channels any layer (channel group) may lose, as a fraction
    # (Torch-Pruning's max_pruning_ratio); its floor rounds up to the layer's granularity.
    # 1.0: no cap. Binds every allocation (hardware, criterion, uniform) and the fold search
    max_layer_sparsity: float = 1.0
    # per-layer overrides of max_layer_sparsity, by layer name (a channel group, named by any of
    # its member layers), e.g. {stem.0: 0.5}: protect a sensitive layer, let the others go
    # further; 0 keeps a layer whole (Torch-Pruning's ignored_layers)
    layer_max_sparsity: dict[str, float] = field(default_factory=dict)
    reference_fps: float | None = None  # FPS where resources are compared (default: unpruned's best)
    unstructured_control: bool = True  # also report unstructured pruning at the same sparsity

    @property
    def epochs_added(self) -> int:
        """The training epochs the schedule adds to the unpruned model's (fades, fine-tunes and
        the final fine-tune): what an epoch-matched unpruned control trains on for."""
        return self.steps * (self.soft_epochs + self.finetune_epochs) + self.final_epochs


PRUNE_RTL_MVAU = ("true with a prune section: pruning sizes layers by the LUT-based HLS MVAU's "
                  "costs, not the DSP-based RTL one's; set folding.mvau_rtl: false to prune, "
                  "or remove the prune section")

SIMULATE_PIPELINE_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class SimulateConfig:
    """Simulation without hardware (codesign.sim): a flow's `simulate:` section, and the options
    of `codesign simulate` and of codesign.sim's entry points (one type for all three)."""

    enabled: bool = False  # in a flow: simulate after the build
    samples: int = 10  # test-set samples for the functional chain (plus random and boundary inputs)
    random_inputs: int = 8
    streams: bool = True  # stream packing checks of every folded layer
    rtl: bool = True  # per-layer Verilator simulation of the RTL layers
    layer_frames: int = 3
    pipeline: str = "auto"  # whole-pipeline Verilator run: auto = when every layer is RTL
    pipeline_frames: int = 8
    cache_dir: str | None = None  # Verilator builds (default $CODESIGN_CACHE_DIR or ~/.cache)

    def __post_init__(self) -> None:
        problem = simulate_problem(self)
        if problem is not None:
            raise ConfigError(f"{problem[0]}: {problem[1]}")


@dataclass(frozen=True)
class FlowConfig:
    name: str
    description: str = ""
    seed: int = 0
    board: str = "pynq-z2"
    clock_mhz: float | None = None
    caps: dict[str, float] = field(default_factory=dict)  # overrides of the board's utilisation caps
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    folding: FoldingConfig = field(default_factory=FoldingConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    prune: PruneConfig | None = None  # no section: no pruning
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    source: str | None = None  # the file the flow came from

    def replace(self, **changes: Any) -> FlowConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_file_dict(self) -> dict[str, Any]:
        """The flow as a flow file holds it (`parse_flow` on it gives this flow back)."""
        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        data = plain(self.to_dict())
        data.pop("source")
        if data["prune"] is None:
            data.pop("prune")
        model = data["model"]
        for key in (ZOO_MODEL_KEYS if model["module"] is not None else ("module",)):
            model.pop(key)
        return data


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Validate `value` against a (simple) type annotation; ints are accepted for floats."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is tuple:  # tuple[X, ...] from a YAML list
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(annotation)[0]
        return tuple(_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, where)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported value {value!r}")  # pragma: no cover


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'flow'}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown key {prefix}{unknown[0]!s}; allowed keys here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _check_type(data[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {key}")
    return cls(**kwargs)


def prune_problem(p: PruneConfig) -> tuple[str, str] | None:
    """The first invalid prune setting as (dotted key, what is wrong), or None."""
    checks = (
        (p.criterion in PRUNE_CRITERIA, "prune.criterion",
         f"{p.criterion!r} is not one of {', '.join(PRUNE_CRITERIA)}"),
        (p.taylor_batches >= 1, "prune.taylor_batches",
         f"{p.taylor_batches} must be >= 1 (minibatches the taylor criterion averages over)"),
        (p.budget in PRUNE_BUDGETS, "prune.budget",
         f"{p.budget!r} is not one of {', '.join(PRUNE_BUDGETS)}"),
        (p.allocation in PRUNE_ALLOCATIONS, "prune.allocation",
         f"{p.allocation!r} is not one of {', '.join(PRUNE_ALLOCATIONS)}"),
        (0 < p.target_sparsity < 1, "prune.target_sparsity",
         f"{p.target_sparsity} must lie strictly between 0 and 1: it is the fraction of MACs "
         "removed, and 1 or more would remove every channel"),
        (0 < p.step_fraction < 1, "prune.step_fraction",
         f"{p.step_fraction} must lie strictly between 0 and 1"),
        (p.steps >= 1, "prune.steps", f"{p.steps} must be at least 1"),
        (0 < p.max_layer_sparsity <= 1, "prune.max_layer_sparsity",
         f"{p.max_layer_sparsity} must lie in (0, 1]: the most of its channels a layer may lose "
         "(1 = no cap)"),
        (p.fold_search >= 0, "prune.fold_search",
         f"{p.fold_search} must be >= 0 (search rounds per step; 0 turns the search off)"),
        (p.fold_shapes >= 0, "prune.fold_shapes",
         f"{p.fold_shapes} must be >= 0 (shapes the sweep measures per step; 0 turns it off)"),
        (p.fold_shapes == 0 or p.fold_search > 0, "prune.fold_shapes",
         "the shape sweep runs inside the fold search: it needs prune.fold_search >= 1 (or set "
         "fold_shapes to 0)"),
        (p.shape_order in SHAPE_ORDERS, "prune.shape_order",
         f"{p.shape_order!r} is not one of {', '.join(SHAPE_ORDERS)}"),
        (p.shape_order == "importance" or p.fold_shapes > 0, "prune.shape_order",
         "it orders the shape sweep's shapes: it needs prune.fold_shapes >= 1 (or remove "
         "shape_order)"),
        (p.shape_trials >= 0, "prune.shape_trials",
         f"{p.shape_trials} must be >= 0 (equally fast shapes fine-tuned per step; 0 turns the "
         "trials off)"),
        (p.shape_trials <= 1 or (p.fold_search > 0 and p.allocation == "hardware"),
         "prune.shape_trials",
         "the trials pick among the fold search's equally fast shapes: they need "
         "prune.fold_search >= 1 and allocation hardware (or set shape_trials to 0)"),
        (p.max_overshoot is None or 0 <= p.max_overshoot < 1, "prune.max_overshoot",
         f"{p.max_overshoot} must lie in [0, 1): the share of the unpruned MACs the fold search "
         "may remove past the target"),
        (p.max_overshoot is None or (p.budget == "sparsity" and p.fold_search > 0),
         "prune.max_overshoot",
         "it bounds the fold search past a sparsity target: it needs budget 'sparsity' and "
         "prune.fold_search >= 1 (or remove max_overshoot)"),
        *_step_sparsity_checks(p),
        *_layer_cap_checks(p),
        (p.finetune_epochs >= 0 and p.final_epochs >= 0, "prune.finetune_epochs",
         "fine-tune epochs must be >= 0"),
        (p.soft_epochs >= 0, "prune.soft_epochs",
         f"{p.soft_epochs} must be >= 0 (epochs of fading before each cut; 0 cuts at once)"),
        (0 <= p.distill <= 1, "prune.distill",
         f"{p.distill} must lie between 0 (labels only) and 1 (the unpruned model's outputs only)"),
        (p.distill_temperature > 0, "prune.distill_temperature",
         f"{p.distill_temperature} must be positive (4 is usual)"),
        (p.budget != "fps" or (p.target_fps or 0) > 0, "prune.target_fps",
         "budget 'fps' needs a positive prune.target_fps (the FPS to reach within the caps)"),
        *((getattr(p, key) is None or getattr(p, key) > 0, f"prune.{key}", "must be positive")
          for key in ("target_fps", "finetune_lr", "reference_fps")),
        (p.finetune_shift_pixels is None or p.finetune_shift_pixels >= 0,
         "prune.finetune_shift_pixels",
         "must be 0 (no shifts) or a positive number of pixels; remove it to follow train.shift_pixels"),
    )
    return next(((key, msg) for ok, key, msg in checks if not ok), None)


def layer_fractions(pairs: list[str] | None, option: str = "--layer-max-sparsity"
                    ) -> dict[str, float] | None:
    """A command line's LAYER=FRACTION pairs (`option`'s) as prune.layer_max_sparsity's mapping
    (None when not given); the values are checked with the flow, like the file's."""
    if not pairs:
        return None
    fractions: dict[str, float] = {}
    for pair in pairs:
        name, _, value = pair.rpartition("=")
        if name in fractions:
            raise ConfigError(f"{option} names {name} twice ({name}="
                              f"{fractions[name]:g} and {pair}): give each layer once")
        try:
            fractions[name] = float(value)
        except ValueError:
            name = ""
        if not name:
            raise ConfigError(f"{option} {pair!r}: give LAYER=FRACTION, e.g. stem.0=0.5") from None
    return fractions


def _layer_cap_checks(p: PruneConfig) -> tuple[tuple[bool, str, str], ...]:
    key = "prune.layer_max_sparsity"
    checks = []
    for name, cap in p.layer_max_sparsity.items():
        checks += [
            (isinstance(name, str) and bool(name), key,
             f"{name!r} is not a layer name; give module paths as strings (quote a name such as "
             "'0')"),
            (not isinstance(cap, bool) and isinstance(cap, int | float) and 0 <= cap <= 1,
             f"{key}.{name}", f"{cap!r} must be a number in [0, 1]: the most of its channels "
             "this layer may lose (0 keeps it whole, 1 = no cap)"),
        ]
    return tuple(checks)


def _step_sparsity_checks(p: PruneConfig) -> tuple[tuple[bool, str, str], ...]:
    values = p.step_sparsity
    if values is None:
        return ()
    key = "prune.step_sparsity"
    return (
        (p.budget == "sparsity", key, f"needs budget 'sparsity', not {p.budget!r}: it lists the "
         "MAC sparsity to reach after each step; remove it or set prune.budget: sparsity"),
        (len(values) == p.steps, key, f"has {len(values)} value(s) for {p.steps} step(s); give "
         "one per step (or set prune.steps to its length)"),
        (all(0 < v < 1 for v in values), key,
         f"{list(values)}: every value must lie strictly between 0 and 1"),
        (all(a <= b for a, b in zip(values, values[1:], strict=False)), key,
         f"{list(values)} must not decrease: a step cannot add channels back"),
        (not values or abs(values[-1] - p.target_sparsity) < 1e-9, key,
         f"ends at {values[-1] if values else None} but prune.target_sparsity is "
         f"{p.target_sparsity}; make the last step reach the target"),
    )


def simulate_problem(options: SimulateConfig) -> tuple[str, str] | None:
    """The first invalid simulation setting as (dotted key, what is wrong), or None."""
    checks = (
        (options.pipeline in SIMULATE_PIPELINE_MODES, "simulate.pipeline",
         f"{options.pipeline!r} is not one of {', '.join(SIMULATE_PIPELINE_MODES)}"),
        *((getattr(options, key) >= 0, f"simulate.{key}", f"{getattr(options, key)} must be >= 0")
          for key in ("samples", "random_inputs")),
        *((getattr(options, key) >= 1, f"simulate.{key}", f"{getattr(options, key)} must be at least 1")
          for key in ("layer_frames", "pipeline_frames")),
    )
    return next(((key, msg) for ok, key, msg in checks if not ok), None)


def validate_flow(flow: FlowConfig) -> None:
    """ConfigError ("key: what is wrong") for the first invalid setting of `flow`."""
    def need(ok: bool, key: str, msg: str) -> None:
        if not ok:
            raise ConfigError(f"{key}: {msg}")

    need(0 < flow.dataset.test_fraction < 1, "dataset.test_fraction", "must be in (0, 1)")
    need(flow.dataset.sequence is None or flow.dataset.sequence in SEQUENCES, "dataset.sequence",
         f"{flow.dataset.sequence!r} is not one of {', '.join(SEQUENCES)} (or remove the key "
         "to keep images)")
    need(flow.model.module is None or module_spec_problem(flow.model.module) is None,
         "model.module", module_spec_problem(flow.model.module or "") or "")
    for bits_key in ("weight_bits", "act_bits"):
        bits = getattr(flow.model, bits_key)
        need(1 <= bits <= 8, f"model.{bits_key}", f"{bits} is outside the supported 1..8")
    need(flow.train.epochs >= 1, "train.epochs", "must be at least 1")
    need(flow.train.batch_size >= 1, "train.batch_size", "must be at least 1")
    need(flow.train.lr > 0, "train.lr", "must be positive")
    need(flow.train.threads >= 1, "train.threads", "must be at least 1")
    need(flow.train.shift_pixels >= 0, "train.shift_pixels",
         "must be 0 (no shifts) or a positive number of pixels")
    need(flow.folding.mode in FOLDING_MODES, "folding.mode",
         f"{flow.folding.mode!r} is not one of {', '.join(FOLDING_MODES)}")
    need(flow.folding.objective in FOLDING_OBJECTIVES, "folding.objective",
         f"{flow.folding.objective!r} is not one of {', '.join(FOLDING_OBJECTIVES)}")
    need(flow.folding.target_fps > 0, "folding.target_fps", "must be positive")
    need(flow.folding.mvau_wwidth_max >= 1, "folding.mvau_wwidth_max", "must be at least 1")
    need(flow.folding.mode != "file" or bool(flow.folding.file), "folding.file",
         "mode 'file' needs folding.file: path to a FINN folding_config.json")
    need(flow.verify.samples >= 1, "verify.samples", "must be at least 1")
    need(flow.clock_mhz is None or flow.clock_mhz > 0, "clock_mhz", "must be positive")
    problem = prune_problem(flow.prune) if flow.prune is not None else None
    need(problem is None, *(problem or ("", "")))
    need(flow.prune is None or not flow.folding.mvau_rtl, "folding.mvau_rtl", PRUNE_RTL_MVAU)
    unknown = [o for o in flow.outputs if o not in OUTPUTS]
    need(not unknown, "outputs", f"{unknown[0] if unknown else ''!r} is not one of {', '.join(OUTPUTS)}")


def _zoo_keys_beside_module(data: Any) -> None:
    """ConfigError if a flow's model section names a module and also sets up a zoo model."""
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("module") is None:
        return
    given = [key for key in ZOO_MODEL_KEYS if key in model]
    if given:
        raise ConfigError(f"model.{given[0]}: model.module {model['module']!r} brings its own "
                          f"layers and bit widths; remove model.{given[0]} (it configures a zoo "
                          "model), or remove model.module to use the zoo")


def parse_flow(data: Any, source: str | None = None) -> FlowConfig:
    """Build a validated FlowConfig from a mapping (e.g. parsed YAML)."""
    try:
        _zoo_keys_beside_module(data)
        flow = _build(FlowConfig, data, "")
        validate_flow(flow)
    except ConfigError as exc:
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}{exc}. Fix the flow file (see flows/ for examples).") from None
    return dataclasses.replace(flow, source=source)


def load_flow(path: str | os.PathLike[str]) -> FlowConfig:
    """Load and validate a flow YAML file. Relative paths inside (dataset.path, folding.file)
    are resolved against the flow file's directory."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"flow file {p} does not exist; pass a YAML file such as flows/tfc_w2a2_mnist5k.yaml")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc}); fix the syntax") from None
    flow = parse_flow(data, source=str(p))
    base = p.resolve().parent

    def resolve(value: str | None) -> str | None:
        if value is None or Path(value).is_absolute():
            return value
        return str(base / value)

    module = flow.model.module and resolve_module_spec(flow.model.module, base)
    return dataclasses.replace(
        flow,
        dataset=dataclasses.replace(flow.dataset, path=resolve(flow.dataset.path)),
        model=dataclasses.replace(flow.model, module=module),
        folding=dataclasses.replace(flow.folding, file=resolve(flow.folding.file)),
    )
