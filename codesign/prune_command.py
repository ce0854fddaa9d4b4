"""Library side of `codesign prune` and `codesign sensitivity`.

`codesign prune FLOW` runs the flow with pruning: the flow's own `prune:` section, or the
defaults when it has none, with command-line overrides. `codesign sensitivity FLOW` trains the
flow's unpruned model and measures, per layer, how accuracy falls as that layer alone loses
channels (sensitivity.json + sensitivity.png); a flow uses it with `prune.sensitivity: true`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from codesign.config import FlowConfig, PruneConfig, validate_flow
from codesign.errors import ConfigError


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
    from codesign.flow import train_flow_model
    from codesign.prune.driver import sensitivity_stage

    out_dir.mkdir(parents=True, exist_ok=True)
    model, data, _ = train_flow_model(flow, out_dir, progress=progress)
    return sensitivity_stage(model, data, flow, out_dir)
