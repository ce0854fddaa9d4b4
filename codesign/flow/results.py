"""Typed results of a run: what the stages measured, kept as objects until report.json is
written (codesign.flow.report turns a `RunResult` into the report document)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codesign.boards import Board
from codesign.config import FlowConfig
from codesign.export import ExportCheck
from codesign.finn.builder import HardwareStepsResult
from codesign.flow.accelerator import AcceleratorResult
from codesign.flow.prune import PruneOutcome
from codesign.train import TrainResult


@dataclass(frozen=True)
class Accuracy:
    dataset: str
    train_samples: int
    test_samples: int
    train_top1: float
    test_top1: float
    unpruned_test_top1: float | None = None  # a pruned run: the QAT model before pruning


@dataclass(frozen=True)
class HardwareOutcome:
    """The Vivado steps a flow asked for (`outputs`): done, or not run and why."""

    outputs: tuple[str, ...]
    done: bool
    reason: str = ""
    steps: HardwareStepsResult | None = None


@dataclass(frozen=True)
class RunResult:
    """One run (`codesign run`, `prune` or `build`), as its stages measured it."""

    name: str
    description: str
    seed: int
    board: Board
    model_summary: str
    accelerator: AcceleratorResult
    artifacts: dict[str, str]
    timings: dict[str, float]
    flow: FlowConfig | None = None  # None for `codesign build`
    accuracy: Accuracy | None = None
    training: TrainResult | None = None
    export: ExportCheck | None = None
    pruning: PruneOutcome | None = None
    outputs: tuple[str, ...] = ("estimates",)
    hardware: HardwareOutcome | None = None


@dataclass(frozen=True)
class FlowResult:
    """A finished run: where it lies, what it measured, and the files written."""

    out_dir: Path
    result: RunResult
    files: dict[str, Path] = field(default_factory=dict)
