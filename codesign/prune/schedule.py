"""The pruning schedule: iterative prune -> fine-tune steps under a budget, hardware in the loop.

Each step scores channels (the configured criterion), lets `allocate` decide how many channels
each layer keeps (hardware-cost-aware, counts aligned to the board's PE/SIMD granularity;
`fold_search` rounds then trade granules between layers for FPS within the caps), cuts
them out physically, fine-tunes, and measures the result: accuracy, MACs, and FINN's estimates
for the board (the highest FPS within the caps, and the resources needed at the reference FPS).
Budgets: `sparsity` (remove a fraction of the MACs, spread geometrically over the steps), `fps`
(prune until the board reaches a target FPS) and `fit` (prune until the design fits the caps at
the reference FPS). A budget that cannot be met is reported with the reason, not hidden.
With `prune.plan` (budget sparsity; other budgets ignore it), step 1 first allocates the whole
target from the unpruned model (with give-back) and every step keeps at least those counts, so
the steps approach one final shape instead of each step's greedy goal stranding cuts the last
step makes unneeded. `prune.max_layer_sparsity` (per layer: `layer_max_sparsity`) is a floor
too, from the unpruned model's counts: no step, allocation or fold-search move leaves a layer
fewer channels; under budget sparsity a cap that leaves too little to cut for the target stops
before the first step. An allocation weighed by sensitivity scores also keeps every layer within
the depth the analysis measured (codesign.prune.sensitivity.REACH). `prune.shape_trials` picks
among the fold search's equally fast shapes by a trial fine-tune of each (codesign.prune.trials).
`prune.soft_epochs` trains before each cut while the channels it removes fade out
(codesign.prune.fade)."""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.config import prune_problem
from codesign.errors import FoldingError, PruneError
from codesign.prune.alignment import granularity as board_granularity
from codesign.prune.allocate import allocate, allocate_uniform
from codesign.prune.fade import Fade, check_fadeable
from codesign.prune.fold_search import MAX_EXTRA, search_counts
from codesign.prune.graph import ChannelGroup, channel_groups, weight_layers
from codesign.prune.importance import channel_importance
from codesign.prune.measure import ShapeMeter, check_workers
from codesign.prune.profile import compile_model, fold_profile, layer_dims
from codesign.prune.sensitivity import REACH as SENSITIVITY_REACH
from codesign.prune.sensitivity import layer_sensitivity
from codesign.prune.stats import model_cost
from codesign.prune.surgery import channel_counts, keep_top, prune_channels
from codesign.prune.trials import best_trial, try_shapes
from codesign.train import Teacher, evaluate, train_model

if TYPE_CHECKING:
    from torch import nn

    from codesign.boards import Board
    from codesign.config import PruneConfig, TrainConfig
    from codesign.data import Dataset
    from codesign.prune.profile import HardwareProfile


@dataclass(frozen=True)
class HardwarePoint:
    """FINN's estimates of one model on the board: best FPS within the caps, and the resources
    of the cheapest folding that reaches the reference FPS (None when it does not fit)."""
    fps: float
    bottleneck: str
    resources_at_reference: dict[str, float] | None
    fps_at_reference: float | None
    reference_note: str
    # FINN's compute-pipeline FPS of that best folding; `fps` is as built, min(compute, the
    # shell's host I/O), so a compute gain beyond the I/O bound does not survive the build
    compute_fps: float | None = None

    @property
    def fits_at_reference(self) -> bool:
        return self.resources_at_reference is not None


@dataclass(frozen=True)
class StepRecord:
    step: int  # 0 = the unpruned model
    counts: dict[str, int]
    granularity: dict[str, int]
    params: int
    macs: int
    bops: int
    accuracy: float
    hardware: HardwarePoint
    seconds: float
    search: dict[str, Any] | None = None  # the fold search of this step (fold_search.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PruneResult:
    steps: tuple[StepRecord, ...]  # steps[0] unpruned, steps[-1] after the final fine-tune
    budget: str
    budget_met: bool
    budget_note: str
    seconds: float
    reference_fps: float | None  # where resources were compared
    sensitivity: dict[str, float] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # group name -> the layers whose channels it cuts (a residual sum's producers, depthwise)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def baseline(self) -> StepRecord:
        return self.steps[0]

    @property
    def final(self) -> StepRecord:
        return self.steps[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "budget_met": self.budget_met,
                "reference_fps": self.reference_fps,
                "budget_note": self.budget_note, "seconds": self.seconds,
                "sensitivity": self.sensitivity, "notes": list(self.notes),
                "members": {k: list(v) for k, v in self.members.items()},
                "steps": [s.to_dict() for s in self.steps]}


def check_settings(settings: PruneConfig) -> None:
    """Reject settings no schedule can honour, naming the key and the fix."""
    problem = prune_problem(settings)
    if problem is not None:
        raise PruneError(f"{problem[0]}: {problem[1]}")


def measure_hardware(model: nn.Module, input_shape: tuple[int, int, int], board: Board,
                     reference_fps: float | None, workdir: Path
                     ) -> tuple[HardwarePoint, HardwareProfile]:
    """Best FPS within the board's caps, and the resources the model needs at `reference_fps`
    (None: at that best FPS). One FINN compile, two folds."""
    hw = compile_model(model, input_shape, board, workdir)
    names = weight_layers(model, input_shape)
    dims = layer_dims(model, names)  # FINN's MVAUs must have these shapes, or mapping fails
    try:
        best = fold_profile(hw, names, board, objective="maximize", dims=dims)
        fps = best.fps
    except FoldingError:
        # Too big for the caps at any folding (what budget "fit" is for): cost shares for the
        # allocation come from the whole device, and the point says it does not fit.
        whole = board.with_caps(**{kind: 1.0 for kind in board.caps})
        best = fold_profile(hw, names, whole, objective="maximize", dims=dims)
        fps = 0.0
    reference_fps = reference_fps or fps
    if not reference_fps:
        return HardwarePoint(0.0, _bottleneck(best), None, None, "does not fit the caps"), best
    try:
        cheap = fold_profile(hw, names, board, objective="min_resources",
                             target_fps=reference_fps, dims=dims)
        resources, fps_ref = dict(cheap.totals), cheap.fps
        note = f"least resources reaching {reference_fps:,.0f} FPS"
    except FoldingError as exc:
        resources, fps_ref = None, None
        note = f"cannot reach {reference_fps:,.0f} FPS within the caps: {exc}"
    compute = best.estimates.compute_fps if fps else None
    return HardwarePoint(fps, _bottleneck(best), resources, fps_ref, note, compute), best


def _bottleneck(profile: HardwareProfile) -> str:
    slowest = max(profile.layers, key=lambda layer: layer.cycles)
    return slowest.layer


def _record(step: int, model: nn.Module, data: Dataset, granularity: dict[str, int],
            hardware: HardwarePoint, started: float,
            search: dict[str, Any] | None = None) -> StepRecord:

    cost = model_cost(model, data.input_shape)
    return StepRecord(step=step, counts=channel_counts(model, data.input_shape),
                      granularity=dict(granularity), params=cost.params, macs=cost.macs,
                      bops=cost.bops, accuracy=evaluate(model, data.x_test, data.y_test),
                      hardware=hardware, seconds=time.perf_counter() - started, search=search)


def _step_fraction(settings: PruneConfig, step: int, macs0: int, macs: int) -> float:
    """Fraction of the current MACs to remove at `step` (1-based)."""
    if settings.budget != "sparsity":
        return settings.step_fraction
    if settings.step_sparsity is not None:  # explicit: this step's sparsity of the original MACs
        goal = macs0 * (1.0 - settings.step_sparsity[step - 1])
    else:  # geometric spread: after step k, (1 - target)^(k/steps) of the original MACs remain
        goal = macs0 * (1.0 - settings.target_sparsity) ** (step / settings.steps)
    return max(0.0, 1.0 - goal / macs)


def fold_targets(settings: PruneConfig) -> bool:
    """Whether the fold search tries folding targets (`prune.fold_targets`; default: only under
    budget fps, where FPS is what the user asked for)."""
    if settings.fold_targets is not None:
        return settings.fold_targets
    return settings.budget == "fps"


def _search_allowance(settings: PruneConfig, baseline: StepRecord) -> float | None:
    """MACs a fold-search move may remove beyond its step's allocation, or with
    prune.max_overshoot beyond its step's target (the search's `past_target`): that share of
    the user's model. Under budget fps a step's fraction only paces the schedule, so the allowance is a
    share of the user's model (MAX_EXTRA of the unpruned MACs); otherwise the search's default,
    a share of the step's model, whose MACs the sparsity schedule sets."""
    if settings.max_overshoot is not None:
        return settings.max_overshoot * baseline.macs
    return MAX_EXTRA * baseline.macs if settings.budget == "fps" else None


def _budget_status(settings: PruneConfig, baseline: StepRecord, last: StepRecord
                   ) -> tuple[bool, str]:
    if settings.budget == "sparsity":
        removed = 1.0 - last.macs / baseline.macs
        met = removed >= settings.target_sparsity - 1e-9
        return met, (f"removed {removed:.1%} of the MACs (target {settings.target_sparsity:.0%})")
    if settings.budget == "fps":
        met = last.hardware.fps >= settings.target_fps
        return met, (f"reaches {last.hardware.fps:,.0f} FPS within the caps (target "
                     f"{settings.target_fps:,.0f}; bottleneck {last.hardware.bottleneck})")
    met = last.hardware.fits_at_reference
    return met, (f"{'fits' if met else 'does not fit'} the board's caps at the reference FPS "
                 f"({last.hardware.reference_note})")


def finetune(model: nn.Module, data: Dataset, train: TrainConfig, settings: PruneConfig,
             epochs: int, seed: int, progress: bool, teacher: Teacher | None = None,
             after_step: Callable[[int, int], None] | None = None) -> None:
    """Train `model` on for `epochs` as the schedule fine-tunes (settings.finetune_lr or train.lr;
    settings.finetune_shift_pixels or train.shift_pixels), learning from `teacher` too when the
    settings distill; `after_step` as `train_model`'s."""
    if epochs < 1:
        return
    shift = (train.shift_pixels if settings.finetune_shift_pixels is None
             else settings.finetune_shift_pixels)
    train_model(model, data, epochs=epochs, batch_size=train.batch_size,
                lr=settings.finetune_lr or train.lr, optimizer=train.optimizer,
                weight_decay=train.weight_decay, seed=seed, progress=progress, teacher=teacher,
                shift_pixels=shift, after_step=after_step)


def unpruned_teacher(model: nn.Module, settings: PruneConfig) -> Teacher | None:
    """A frozen copy of the model before any cut, when the settings distill from it."""
    if settings.distill <= 0:
        return None
    return Teacher(copy.deepcopy(model), settings.distill, settings.distill_temperature)


def planned(settings: PruneConfig) -> bool:
    """Whether `prune.plan` applies: only with a known final target (budget sparsity) and a
    greedy allocation (hardware or criterion; uniform has one ratio, nothing to plan)."""
    return settings.plan and settings.budget == "sparsity" and settings.allocation != "uniform"


def plan_floor(groups: list[ChannelGroup], scores: dict[str, Any], profile: HardwareProfile,
               grain: dict[str, int], settings: PruneConfig,
               sensitivity: dict[str, float] | None,
               min_keep: dict[str, int] | None = None) -> dict[str, int]:
    """`prune.plan`: the counts the allocation gives the whole target sparsity from the unpruned
    model, the fewest channels any step may keep (each is at least one granule)."""
    return allocate(groups, scores, profile, grain, settings.target_sparsity,
                    sensitivity=sensitivity, min_keep=min_keep, policy=settings.allocation,
                    give_back=True)


def layer_caps(groups: list[ChannelGroup], settings: PruneConfig, *, weighed: bool = False
               ) -> dict[str, float]:
    """The most of its channels each group may lose: `prune.max_layer_sparsity`, or the group's
    `prune.layer_max_sparsity` entry, named by any of its member layers; `weighed` (the
    allocation weighed by sensitivity scores): at most the deepest cut the sensitivity analysis
    measured (codesign.prune.sensitivity.REACH). PruneError for a name that is no group's
    member, or two members of one group given different caps."""
    caps = {g.name: settings.max_layer_sparsity for g in groups}
    owner = {member: g for g in groups for member in g.members}
    named: dict[str, str] = {}
    for name, cap in settings.layer_max_sparsity.items():
        group = owner.get(name)
        if group is None:
            known = "; ".join(g.layers for g in groups)
            raise PruneError(f"prune.layer_max_sparsity names {name}, which is not a prunable "
                             f"layer of this model; name one of its channel groups' layers: "
                             f"{known}")
        if group.name in named and caps[group.name] != cap:
            raise PruneError(f"prune.layer_max_sparsity gives {named[group.name]} "
                             f"{caps[group.name]:g} and {name} {cap:g}, but they share one "
                             f"channel set ({group.layers}); give them one value")
        caps[group.name], named[group.name] = float(cap), name
    if weighed:
        caps = {name: min(cap, SENSITIVITY_REACH) for name, cap in caps.items()}
    return caps


def check_layer_caps(model: nn.Module, input_shape: tuple[int, ...], settings: PruneConfig
                     ) -> None:
    """PruneError, as `layer_caps`, if `prune.layer_max_sparsity` does not fit `model`."""
    layer_caps(list(channel_groups(model, input_shape)), settings)


def prunable_groups(model: nn.Module, input_shape: tuple[int, ...]) -> list[ChannelGroup]:
    """The model's channel groups; PruneError if it has none (only its classifier has weights)."""
    groups = channel_groups(model, input_shape)
    if not groups:
        raise PruneError("the model has no prunable layer: only its classifier has weights")
    return groups


def check_before_training(model: nn.Module, input_shape: tuple[int, ...],
                          settings: PruneConfig) -> None:
    """PruneError, before any training time is spent, where `settings` cannot prune `model`:
    `prune.layer_max_sparsity` naming no channel group, `prune.soft_epochs` with 1-bit weights
    (codesign.prune.fade), and a model with no channel group or one structured pruning cannot
    follow (a concat, a layer called twice: codesign.prune.spaces)."""
    prunable_groups(model, input_shape)
    if settings.layer_max_sparsity:
        check_layer_caps(model, input_shape, settings)
    if settings.soft_epochs > 0:
        check_fadeable(model, input_shape)


def sparsity_floor(groups: list[ChannelGroup], settings: PruneConfig, *, weighed: bool = False
                   ) -> dict[str, int] | None:
    """`prune.max_layer_sparsity` and `prune.layer_max_sparsity` (and with `weighed`, the
    sensitivity analysis' reach: `layer_caps`): the fewest channels each group of the unpruned
    model may keep (None without a cap). The allocation rounds up to the group's granularity."""
    caps = layer_caps(groups, settings, weighed=weighed)
    if all(cap >= 1 for cap in caps.values()):
        return None
    return {g.name: max(1, math.ceil(round((1.0 - caps[g.name]) * g.channels, 9)))
            for g in groups}


def _check_cap_reachable(groups: list[ChannelGroup], profile: HardwareProfile,
                         grain: dict[str, int], settings: PruneConfig,
                         floor: dict[str, int] | None, weighed: bool) -> None:
    """Under budget sparsity, a layer cap that leaves too few channels to cut for the target
    stops the schedule before its first step (the MACs every layer at its floor removes do not
    depend on importance, so flat scores decide it)."""
    if floor is None or settings.budget != "sparsity":
        return
    flat = {g.name: np.ones(g.channels) for g in groups}
    try:
        allocate(groups, flat, profile, grain, settings.target_sparsity, min_keep=floor)
    except PruneError as exc:
        which = "".join(f", layer_max_sparsity {name} {cap:g}"
                        for name, cap in settings.layer_max_sparsity.items())
        if weighed:
            which += (f", and the sensitivity weights' reach (no layer loses more than the "
                      f"{SENSITIVITY_REACH:.0%} they measured)")
        raise PruneError(f"prune.max_layer_sparsity {settings.max_layer_sparsity:g}{which} keeps "
                         f"too many channels for prune.target_sparsity "
                         f"{settings.target_sparsity:g}: {exc}") from None


def _check_reachable(settings: PruneConfig, board: Board, profile: HardwareProfile) -> None:
    """Under budget fps, a target above the host I/O bound is out of reach of any pruning: the
    DMA moves the same bytes per frame however few channels are left. Say so before training."""
    io = profile.estimates.io
    if settings.budget != "fps" or io is None or (settings.target_fps or 0) <= io.fps:
        return
    raise PruneError(
        f"prune.target_fps {settings.target_fps:,.0f} is above what {board.name}'s host I/O "
        f"moves for this model ({io.fps:,.0f} FPS: {io.bytes_per_frame('in'):,.0f} bytes in, "
        f"{io.bytes_per_frame('out'):,.0f} out per frame at {io.port_clock_mhz:g} MHz), which "
        f"no pruning changes; set prune.target_fps to at most {io.fps:,.0f} or choose a board "
        "with a wider DMA port")


def prune_model(model: nn.Module, data: Dataset, board: Board, settings: PruneConfig,
                train: TrainConfig, *, reference_fps: float | None = None, workdir: Path,
                seed: int = 0,
                sensitivity: dict[str, float] | None = None, progress: bool = True,
                on_step: Callable[[StepRecord], None] | None = None, workers: int = 1
                ) -> PruneResult:
    """Prune the trained `model` in place following `settings`; returns the whole schedule.
    Resources are compared at `reference_fps`, by default the unpruned model's best FPS within
    the caps (the throughput the pruned design must match with fewer resources). `workers`:
    processes compiling the fold search's candidates (codesign.prune.measure); the schedule
    does not depend on it. Above 1 they start with `spawn`, which imports the calling script
    again: a script needs its `if __name__ == "__main__":` guard. `sensitivity`: the
    allocation's weight per group; with `settings.sensitivity` on and none given, the per-layer
    sensitivity analysis of `model` (codesign.prune.sensitivity) supplies them."""
    check_settings(settings)
    check_workers(workers)
    if settings.sensitivity and sensitivity is None:
        sensitivity = layer_sensitivity(model, data, settings.criterion, seed=seed,
                                        taylor_batches=settings.taylor_batches).scores()
    searching = settings.allocation == "hardware" and settings.fold_search > 0
    with ShapeMeter(data.input_shape, board, workers=workers if searching else 1) as meter:
        return _schedule(model, data, board, settings, train, reference_fps, workdir, seed,
                         sensitivity, progress, on_step, meter)


def _schedule(model: nn.Module, data: Dataset, board: Board, settings: PruneConfig,
              train: TrainConfig, reference_fps: float | None, workdir: Path, seed: int,
              sensitivity: dict[str, float] | None, progress: bool,
              on_step: Callable[[StepRecord], None] | None, meter: ShapeMeter) -> PruneResult:
    """prune_model's steps, the fold search's candidates measured by `meter`."""
    started = time.perf_counter()
    shape = data.input_shape
    point, profile = measure_hardware(model, shape, board, reference_fps, workdir / "step0")
    reference_fps = reference_fps or point.fps or None
    _check_reachable(settings, board, profile)
    groups = prunable_groups(model, shape)
    members = {g.name: g.members for g in groups}
    # Granularity comes from the folding the board affords the unpruned model, and stays: every
    # count the schedule visits is a multiple of it, so that parallelism remains legal.
    grain = (board_granularity(groups, profile) if settings.align
             else {g.name: 1 for g in groups})
    teacher = unpruned_teacher(model, settings)
    # the fewest channels a step may keep: prune.max_layer_sparsity's, raised to prune.plan's
    # counts at step 1
    weighed = sensitivity is not None
    floor = sparsity_floor(groups, settings, weighed=weighed)
    _check_cap_reachable(groups, profile, grain, settings, floor, weighed)
    plan_pending = planned(settings)
    baseline = _record(0, model, data, grain, point, started)
    records = [baseline]
    notes: list[str] = []
    if on_step:
        on_step(baseline)
    for step in range(1, settings.steps + 1):
        last = records[-1]
        if settings.budget != "sparsity" and _budget_status(settings, baseline, last)[0]:
            break
        fraction = _step_fraction(settings, step, baseline.macs, last.macs)
        if fraction <= 0:
            continue
        groups = channel_groups(model, shape)
        scores = channel_importance(model, groups, settings.criterion,
                                    (data.x_train, data.y_train), seed=seed + step,
                                    batches=settings.taylor_batches)
        search = None
        try:
            if plan_pending:
                # the plan is allocated above the cap's floor, so it is the floor from here on
                floor = plan_floor(groups, scores, profile, grain, settings, sensitivity, floor)
                plan_pending = False
            if settings.allocation == "uniform":
                counts = allocate_uniform(groups, profile, grain, fraction, min_keep=floor)
            elif settings.allocation == "hardware" and settings.fold_search > 0:
                search = search_counts(model, groups, scores, profile, grain, fraction, meter,
                                       workdir / f"step{step}-search",
                                       rounds=settings.fold_search, sensitivity=sensitivity,
                                       min_keep=floor,
                                       targets=fold_targets(settings),
                                       extra_macs=_search_allowance(settings, baseline),
                                       past_target=settings.max_overshoot is not None,
                                       shapes=settings.fold_shapes,
                                       shape_order=settings.shape_order)
                counts = search.counts
            else:
                # criterion gives back: its last channel can overshoot (allocate.py, Give back)
                counts = allocate(groups, scores, profile, grain, fraction,
                                  sensitivity=sensitivity, min_keep=floor,
                                  policy=settings.allocation,
                                  give_back=settings.allocation == "criterion")
        except PruneError as exc:
            notes.append(f"step {step}: {exc}")
            break
        found = search.to_dict() if search else None
        if search and settings.shape_trials > 1 and len(search.ties) > 1:
            tune = functools.partial(finetune, data=data, train=train, settings=settings,
                                     epochs=settings.finetune_epochs, seed=seed + step,
                                     progress=progress, teacher=teacher)
            trials = try_shapes(model, scores, search.ties[:settings.shape_trials], data, tune)
            counts = best_trial(trials).counts
            found = {**found, "trials": [t.to_dict() for t in trials]}
        keep = keep_top(scores, counts)
        if settings.soft_epochs > 0:
            finetune(model, data, train, settings, settings.soft_epochs, seed + 500 + step,
                     progress, teacher, after_step=Fade(model, keep, shape))
        prune_channels(model, keep, shape)
        # after shape trials, the winner's fine-tune again, in place (without a fade: the same
        # seed, the same weights)
        finetune(model, data, train, settings, settings.finetune_epochs, seed + step, progress,
                 teacher)
        point, profile = measure_hardware(model, shape, board, reference_fps,
                                          workdir / f"step{step}")
        records.append(_record(step, model, data, grain, point, started, found))
        if on_step:
            on_step(records[-1])
    if len(records) > 1 and settings.final_epochs > 0:
        finetune(model, data, train, settings, settings.final_epochs, seed + 1000, progress,
                 teacher)
        last = records[-1]
        # Re-measured: FINN sizes accumulators and thresholds from the weight values.
        point, profile = measure_hardware(model, shape, board, reference_fps, workdir / "final")
        records.append(_record(last.step + 1, model, data, last.granularity, point, started))
        if on_step:
            on_step(records[-1])
    met, note = _budget_status(settings, baseline, records[-1])
    if len(records) == 1:
        note = ("nothing was pruned: the unpruned model already meets the budget; " + note
                if met else note)
    if not met:
        note = f"budget '{settings.budget}' not met after {len(records) - 1} step(s): {note}"
        if notes:
            note += "; " + "; ".join(notes)
        else:
            note += "; raise prune.steps or prune.step_fraction, or relax the target"
    return PruneResult(tuple(records), settings.budget, met, note,
                       time.perf_counter() - started, reference_fps, sensitivity, tuple(notes),
                       members)
