"""BatchNorm calibration of untrained test models, one home for every test package.

An untrained model with default BatchNorm statistics outputs mostly zeros, and an all-zero
activation makes a bit-exactness check trivially true. Each helper runs a few training-mode
passes on random uint8 inputs so the statistics (and Brevitas' activation scales) match them,
after setting the BatchNorm affines its way. The random streams are part of each helper's
contract: the tests that use one rely on the models it makes.
(`tests/` is on sys.path for every test module: pytest puts the root conftest's directory there.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _passes(model: Any, shape: Sequence[int], batches: int, batch: int,
            generator: Any = None) -> Any:
    import torch

    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randint(0, 256, (batch, *shape), generator=generator).float())
    return model.eval()


def _batch_norms(model: Any) -> list[Any]:
    from torch import nn

    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]


def settled(model: Any, shape: Sequence[int]) -> Any:
    """Statistics only: three batches of 16 from torch's global generator seeded 0."""
    import torch

    torch.manual_seed(0)
    return _passes(model, shape, 3, 16)


def trained_looking(model: Any, shape: Sequence[int], seed: int = 0) -> Any:
    """Affines as training leaves them (scales uniform in 0.5..1.5, shifts normal with sd 0.2),
    then four batches of 8; all from torch's global generator seeded `seed`."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    for module in _batch_norms(model):
        nn.init.uniform_(module.weight, 0.5, 1.5)
        nn.init.normal_(module.bias, 0.0, 0.2)
    return _passes(model, shape, 4, 8)


def shifted(model: Any, shape: Sequence[int], seed: int = 0, batches: int = 8,
            batch: int = 16) -> Any:
    """Random shifts (normal, sd 0.5), then exact averages over `batches` of `batch` images;
    from a private generator seeded `seed`, so the global one is left alone."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for module in _batch_norms(model):
        module.momentum = None  # cumulative average over the calibration batches
        module.bias.data.copy_(torch.randn(module.num_features, generator=generator) * 0.5)
    return _passes(model, shape, batches, batch, generator)


def shifted_globally(model: Any, shape: Sequence[int], batches: int = 8, batch: int = 16) -> Any:
    """As `shifted`, drawn from torch's global generator where it stands (the caller seeds it
    before building the model)."""
    for module in _batch_norms(model):
        module.momentum = None
        module.bias.data.normal_(0.0, 0.5)
    return _passes(model, shape, batches, batch)
