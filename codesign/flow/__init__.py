"""Orchestration: a run is an ordered list of named stages over typed results.

`run_flow` (a flow file: train, prune, compile, fold, estimate, verify, simulate, report),
`build_user_model` (a model the user brings), `fold_model` (`codesign fold`), `with_pruning` /
`run_sensitivity` (`codesign prune` / `codesign sensitivity`) and `simulate_run` (`codesign
simulate` of a finished run). Results stay typed (`RunResult`) until report.json is written."""

from codesign.flow.accelerator import AcceleratorResult, FoldingOutcome, build_accelerator
from codesign.flow.build import build_user_model
from codesign.flow.fold import fold_model
from codesign.flow.prune import PruneOutcome, prune_stage, run_sensitivity, with_pruning
from codesign.flow.results import Accuracy, FlowResult, RunResult
from codesign.flow.run import run_flow
from codesign.flow.simulate import simulate_run
from codesign.flow.stages import (
    StageTimer,
    load_flow_data,
    load_trained_model,
    train_flow_model,
)
from codesign.train import reference_outputs

__all__ = [
    "AcceleratorResult",
    "Accuracy",
    "FlowResult",
    "FoldingOutcome",
    "PruneOutcome",
    "RunResult",
    "StageTimer",
    "build_accelerator",
    "build_user_model",
    "fold_model",
    "load_flow_data",
    "load_trained_model",
    "prune_stage",
    "reference_outputs",
    "run_flow",
    "run_sensitivity",
    "simulate_run",
    "train_flow_model",
    "with_pruning",
]
