"""Checkpoints: a model's state dict plus JSON-able meta, written atomically.

A pruned model's checkpoint records its channel counts (meta `channel_counts`), so
`load_checkpoint` can shrink a freshly built model of the same architecture before loading."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codesign.atomic import atomic_path
from codesign.errors import ModelError

if TYPE_CHECKING:
    from torch import nn

CHECKPOINT_FORMAT = "codesign-checkpoint-1"


def save_checkpoint(model: nn.Module, path: Path, meta: dict) -> None:
    """Write the state dict and JSON-able `meta` atomically (a crash never leaves half a file)."""
    import torch

    payload = {"format": CHECKPOINT_FORMAT, "state_dict": model.state_dict(), "meta": dict(meta)}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _read_checkpoint(path: Path) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; train the model first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot read checkpoint {path} ({exc}); it is not a codesign "
                         "checkpoint or it is corrupt, retrain to recreate it") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{path} is not a codesign checkpoint (written by save_checkpoint)")
    return payload


def load_checkpoint(model: nn.Module, path: Path, input_shape: tuple[int, ...] | None = None
                    ) -> dict:
    """Load weights saved by save_checkpoint into `model`; returns the stored meta.
    A pruned model's checkpoint records its channel counts: the model is shrunk to them first,
    tracing it with `input_shape` (by default the model's own `input_shape`, as zoo models have)."""
    payload = _read_checkpoint(path)
    counts = payload["meta"].get("channel_counts")
    if counts:
        # Imported here, not at the top: training writes checkpoints and must not depend on
        # pruning; only restoring a pruned model needs its surgery.
        from codesign.prune.surgery import shrink_to_counts

        shape = input_shape or getattr(model, "input_shape", None)
        if shape is None:
            raise ModelError(f"checkpoint {path} holds a pruned model; pass input_shape ((C, H, "
                             "W) or (C, L)) or set it on the model so its channel counts can be "
                             "restored")
        shrink_to_counts(model, counts, tuple(shape))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ModelError(f"checkpoint {path} does not fit this model (different architecture or "
                         f"bit widths?): {exc}") from exc
    return dict(payload["meta"])
