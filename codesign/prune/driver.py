"""Pruning as a flow stage: optional sensitivity analysis, the schedule, the unstructured control,
and the report section with its plot. `codesign run` (a flow with a `prune:` section) and
`codesign prune` both come through `prune_stage`."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.atomic import write_json

if TYPE_CHECKING:
    from torch import nn

    from codesign.boards import Board
    from codesign.config import FlowConfig
    from codesign.data import Dataset


def unstructured_control(model: nn.Module, data: Dataset, board: Board, sparsity: float,
                         ref_fps: float | None, workdir: Path) -> dict[str, Any]:
    """The unpruned model with `sparsity` of its weights zeroed, measured like the others."""
    from codesign.prune.schedule import measure_hardware
    from codesign.prune.stats import model_cost, weight_sparsity
    from codesign.prune.surgery import channel_counts
    from codesign.prune.unstructured import magnitude_pruned_copy
    from codesign.train import evaluate

    control = magnitude_pruned_copy(model, sparsity)
    point, _ = measure_hardware(control, data.input_shape, board, ref_fps, workdir)
    cost = model_cost(control, data.input_shape)
    return {"accuracy": evaluate(control, data.x_test, data.y_test), "params": cost.params,
            "macs": cost.macs, "bops": cost.bops,
            "counts": channel_counts(control, data.input_shape),
            "weight_sparsity": weight_sparsity(control), "target_sparsity": sparsity,
            "resources_at_reference": point.resources_at_reference,
            "fps_within_caps": point.fps, "bottleneck": point.bottleneck,
            "reference_note": point.reference_note}


def sensitivity_stage(model: nn.Module, data: Dataset, flow: FlowConfig, out_dir: Path
                      ) -> dict[str, Any]:
    """Run the per-layer sensitivity analysis; writes sensitivity.json and sensitivity.png."""
    from codesign.prune.sensitivity import layer_sensitivity, plot_sensitivity

    criterion = flow.prune.criterion if flow.prune else "l1"
    result = layer_sensitivity(model, data, criterion, seed=flow.seed)
    section = result.to_dict()
    write_json(out_dir / "sensitivity.json", section)
    plot_sensitivity(result, out_dir / "sensitivity.png", f"{flow.name}: pruning sensitivity")
    return section


def prune_stage(model: nn.Module, data: Dataset, board: Board, flow: FlowConfig, out_dir: Path,
                *, progress: bool = True) -> dict[str, Any]:
    """Prune `model` in place as the flow's `prune:` section says; returns the report section
    and writes pruning.png (and sensitivity.json/png when the allocation uses sensitivity)."""
    from codesign.prune.report import plot_schedule, prune_section
    from codesign.prune.schedule import check_settings, prune_model

    settings = flow.prune
    assert settings is not None
    check_settings(settings)
    workdir = out_dir / "pruning"
    sensitivity = None
    if settings.sensitivity:
        section = sensitivity_stage(model, data, flow, out_dir)
        sensitivity = {layer["name"]: layer["score"] for layer in section["layers"]}
    unpruned = copy.deepcopy(model) if settings.unstructured_control else None
    result = prune_model(model, data, board, settings, flow.train,
                         reference_fps=settings.reference_fps,
                         workdir=workdir, seed=flow.seed, sensitivity=sensitivity,
                         progress=progress)
    control = None
    achieved = 1.0 - result.final.macs / result.baseline.macs
    if unpruned is not None and achieved > 0:
        # The unpruned weights with as many weights zeroed as the structured result removed MACs.
        control = unstructured_control(unpruned, data, board, achieved, result.reference_fps,
                                       workdir / "unstructured")
    section = prune_section(result.to_dict(), dataclasses.asdict(settings),
                            result.reference_fps, control)
    plot_schedule(section, out_dir / section["plot"], f"{flow.name}: pruning on {board.name}")
    return section
