"""Shared by the pruning tests that need FINN: a small real model, trained once per module."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, object]:
    """A W2A2 MLP (64, 32 hidden) trained two epochs on sklearn digits, and its data."""
    from codesign.data import load_dataset
    from codesign.models import build_model
    from codesign.train import set_seed, train_model

    torch.set_num_threads(1)
    data = load_dataset("digits", seed=0)
    set_seed(0)
    model = build_model("mlp", input_shape=data.input_shape, num_classes=10, weight_bits=2,
                        act_bits=2, hidden=[64, 32])
    train_model(model, data, epochs=2, batch_size=64, lr=0.02, seed=0, progress=False)
    return model, data
