"""codesign: FPGA/accelerator co-design for quantized neural networks.

The public API is listed in `__all__`; names are imported on first use so that
`import codesign` (and `codesign --help`) stays fast."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    # boards, flows and their settings (data)
    "Board": "codesign.boards", "load_board": "codesign.boards", "list_boards": "codesign.boards",
    "FlowConfig": "codesign.config", "load_flow": "codesign.config", "parse_flow": "codesign.config",
    "PruneConfig": "codesign.config", "SimulateConfig": "codesign.config",
    "FoldingConfig": "codesign.config",
    "SpaceConfig": "codesign.space", "load_space": "codesign.space",
    # errors
    "CodesignError": "codesign.errors",
    # data, models, training, export
    "load_dataset": "codesign.data", "build_model": "codesign.models",
    "train_model": "codesign.train", "export_qonnx": "codesign.export",
    # hardware-aware pruning of a model for a board
    "prune_model": "codesign.prune",
    # FINN boundary and the folding optimizer
    "compile_to_hw": "codesign.finn", "estimate": "codesign.finn", "verify_against": "codesign.finn",
    "fold_for_board": "codesign.finn.plan",
    # simulation without hardware
    "simulate_hardware": "codesign.sim",
    # orchestration: the same entry points as the commands
    "run_flow": "codesign.flow", "build_user_model": "codesign.flow", "fold_model": "codesign.flow",
    "with_pruning": "codesign.flow", "simulate_run": "codesign.flow",
    "FlowResult": "codesign.flow", "RunResult": "codesign.flow",
    # design-space exploration across boards (Optuna search, Dask engine)
    "explore": "codesign.flow.explore",
}
__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'codesign' has no attribute {name!r}")
