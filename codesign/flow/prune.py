"""Pruning as flow stages: the schedule with its optional sensitivity analysis and the
unstructured control (`prune_stage`), `codesign prune`'s settings (`with_pruning`) and
`codesign sensitivity` (`run_sensitivity`).

`prune_stage` returns a typed `PruneOutcome`; its report section and plot are made when the
report is written. With a folding file (`folding.mode: file`) the pruned model is folded as the
file says, so the file is checked against the unpruned model before pruning and the kept counts
against the file's PE/SIMD after it (`check_kept_counts`): a count the file cannot fold stops the
run there, naming the layers, instead of at the build with FINN's node names."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.atomic import write_json
from codesign.boards import Board
from codesign.config import FlowConfig, PruneConfig, validate_flow
from codesign.data import Dataset
from codesign.errors import ConfigError
from codesign.finn import apply_folding_file, estimate
from codesign.flow.stages import train_flow_model
from codesign.folding.fits import check_board
from codesign.prune.alignment import check_kept_counts
from codesign.prune.graph import ChannelGroup, channel_groups, weight_layers
from codesign.prune.profile import HardwareProfile, attribute, compile_model, layer_dims
from codesign.prune.report import plot_schedule, prune_section
from codesign.prune.schedule import PruneResult, measure_hardware, prune_model
from codesign.prune.sensitivity import layer_sensitivity, plot_sensitivity
from codesign.prune.stats import model_cost, weight_sparsity
from codesign.prune.surgery import channel_counts
from codesign.prune.unstructured import magnitude_pruned_copy
from codesign.train import evaluate

if TYPE_CHECKING:
    from torch import nn

    from codesign.config import FoldingConfig

PRUNING_PLOT = "pruning.png"


@dataclass(frozen=True)
class UnstructuredControl:
    """The unpruned model with as many weights zeroed as the structured result removed MACs,
    measured like the others (FINN's dense units save nothing from it)."""

    accuracy: float
    params: int
    macs: int
    bops: int
    counts: dict[str, int]
    weight_sparsity: float
    target_sparsity: float
    resources_at_reference: dict[str, float] | None
    fps_within_caps: float
    bottleneck: str
    reference_note: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PruneOutcome:
    settings: PruneConfig
    result: PruneResult
    control: UnstructuredControl | None
    sensitivity: dict[str, Any] | None  # sensitivity.json's document, when the allocation used it

    def section(self) -> dict[str, Any]:
        """The report's pruning section."""
        return prune_section(self.result.to_dict(), dataclasses.asdict(self.settings),
                             self.result.reference_fps,
                             None if self.control is None else self.control.to_dict())

    def write_plot(self, out_dir: Path, title: str) -> Path:
        return plot_schedule(self.section(), out_dir / PRUNING_PLOT, title)


def unstructured_control(model: nn.Module, data: Dataset, board: Board, sparsity: float,
                         ref_fps: float | None, workdir: Path) -> UnstructuredControl:
    """The unpruned model with `sparsity` of its weights zeroed, measured like the others."""
    control = magnitude_pruned_copy(model, sparsity)
    point, _ = measure_hardware(control, data.input_shape, board, ref_fps, workdir)
    cost = model_cost(control, data.input_shape)
    return UnstructuredControl(
        accuracy=evaluate(control, data.x_test, data.y_test), params=cost.params, macs=cost.macs,
        bops=cost.bops, counts=channel_counts(control, data.input_shape),
        weight_sparsity=weight_sparsity(control), target_sparsity=sparsity,
        resources_at_reference=point.resources_at_reference, fps_within_caps=point.fps,
        bottleneck=point.bottleneck, reference_note=point.reference_note)


def sensitivity_stage(model: nn.Module, data: Dataset, flow: FlowConfig, out_dir: Path
                      ) -> dict[str, Any]:
    """Run the per-layer sensitivity analysis; writes sensitivity.json and sensitivity.png."""
    settings = flow.prune or PruneConfig(criterion="l1")
    result = layer_sensitivity(model, data, settings.criterion, seed=flow.seed,
                               taylor_batches=settings.taylor_batches)
    section = result.to_dict()
    write_json(out_dir / "sensitivity.json", section)
    plot_sensitivity(result, out_dir / "sensitivity.png", f"{flow.name}: pruning sensitivity")
    return section


FILE_FOLDING_FIX = ("lower those PE/SIMD values in the folding file to divisors of the kept "
                    "counts, or let codesign fold the pruned model (folding.mode: optimize or "
                    "setfolding)")


@dataclass(frozen=True)
class FixedFolding:
    """The folding a flow keeps for the pruned model (its folding file), as it folds the
    unpruned one: the groups and, per weight layer, the PE/SIMD the file gives it."""

    source: str
    groups: tuple[ChannelGroup, ...]
    profile: HardwareProfile

    def check(self, counts: dict[str, int]) -> None:
        """PruneError naming the layers whose kept count the file cannot fold."""
        check_kept_counts(self.groups, self.profile, counts, folding=self.source,
                          fix=FILE_FOLDING_FIX)


def fixed_folding(model: nn.Module, data: Dataset, board: Board, folding: FoldingConfig,
                  workdir: Path) -> FixedFolding:
    """The unpruned `model` compiled for `board` and folded by `folding.file`; FoldingError
    (before any pruning) when the file does not fit the model at all."""
    shape = data.input_shape
    names = weight_layers(model, shape)
    folded = apply_folding_file(compile_model(model, shape, board, workdir), Path(folding.file))
    est = estimate(folded, board.host_io)
    profile = HardwareProfile(attribute(est, names, layer_dims(model, names)), est.fps,
                              est.max_cycles, dict(est.totals),
                              check_board(est.totals, board).fits, "file", None, est)
    return FixedFolding(f"folding file {folding.file}", channel_groups(model, shape), profile)


def prune_stage(model: nn.Module, data: Dataset, board: Board, flow: FlowConfig, out_dir: Path,
                *, progress: bool = True, workers: int = 1) -> PruneOutcome:
    """Prune `model` in place as the flow's `prune:` section says (and write sensitivity.json/
    png when the allocation uses sensitivity); `workers` as `prune_model`'s."""
    settings = flow.prune
    if settings is None:
        raise ConfigError("the flow has no prune: section; add one (see flows/*_pruned.yaml)")
    workdir = out_dir / "pruning"
    fixed = (fixed_folding(model, data, board, flow.folding, workdir / "folding-file")
             if flow.folding.mode == "file" else None)
    sensitivity = None
    scores = None
    if settings.sensitivity:
        sensitivity = sensitivity_stage(model, data, flow, out_dir)
        scores = {layer["name"]: layer["score"] for layer in sensitivity["layers"]}
    unpruned = copy.deepcopy(model) if settings.unstructured_control else None
    result = prune_model(model, data, board, settings, flow.train,
                         reference_fps=settings.reference_fps,
                         workdir=workdir, seed=flow.seed, sensitivity=scores,
                         progress=progress, workers=workers)
    if fixed is not None:
        fixed.check(channel_counts(model, data.input_shape))
    control = None
    achieved = 1.0 - result.final.macs / result.baseline.macs
    if unpruned is not None and achieved > 0:
        control = unstructured_control(unpruned, data, board, achieved, result.reference_fps,
                                       workdir / "unstructured")
    return PruneOutcome(settings, result, control, sensitivity)


def with_pruning(flow: FlowConfig, **overrides: Any) -> FlowConfig:
    """`flow` with a prune section (its own or the defaults) and the non-None overrides."""
    settings = flow.prune or PruneConfig()
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(PruneConfig)})
    if unknown:
        raise ConfigError(f"unknown prune setting(s) {', '.join(unknown)}")
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items()
                                                if v is not None})
    flow = flow.replace(prune=settings)
    validate_flow(flow)  # the prune settings, and how they combine with the rest of the flow
    return flow


def run_sensitivity(flow: FlowConfig, out_dir: Path, *, progress: bool = True
                    ) -> dict[str, Any]:
    """Train the flow's unpruned model, then write sensitivity.json/png into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model, data, _ = train_flow_model(flow, out_dir, progress=progress)
    return sensitivity_stage(model, data, flow, out_dir)
