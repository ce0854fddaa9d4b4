"""Tiny spaces for the exploration tests: an MLP on sklearn digits, one epoch, folded by the
exact optimizer, no simulation (a trial takes a few seconds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def tiny_space(tmp: Path, name: str = "tiny_space", base_changes: dict[str, Any] | None = None,
               **changes: Any) -> Path:
    base = {
        "name": "tiny", "seed": 3, "board": "pynq-z1", "dataset": {"name": "digits"},
        "model": {"arch": "mlp", "weight_bits": 2, "act_bits": 2, "options": {"hidden": [16, 16]}},
        "train": {"epochs": 1, "batch_size": 64, "lr": 0.02},
        "folding": {"mode": "optimize", "objective": "maximize", "compare_setfolding": False},
        "verify": {"samples": 5},
    }
    base.update(base_changes or {})
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(base))
    space = {"name": name, "base": "tiny.yaml", "boards": ["pynq-z1"],
             "objectives": {"accuracy": "max", "fps": "max", "lut": "min"},
             "constraints": {"fits": True, "min_accuracy": 0.3}, "sampler": "random",
             "trials": 3, "space": {"model.weight_bits": [1, 2], "model.act_bits": [2]}}
    space.update(changes)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())
