"""codesign.augment: each sample moved by whole pixels within the bound, zero fill, seeded."""

from __future__ import annotations

import pytest
import torch

from codesign.augment import shift_samples


def _moved(sample: torch.Tensor, offset: tuple[int, ...]) -> torch.Tensor:
    """`sample` (C, *spatial) moved by `offset` along its spatial axes, zeros moving in."""
    out = torch.zeros_like(sample)
    src, dst = [slice(None)], [slice(None)]
    for d, size in zip(offset, sample.shape[1:], strict=True):
        src.append(slice(max(0, -d), size - max(0, d)))
        dst.append(slice(max(0, d), size - max(0, -d)))
    out[tuple(dst)] = sample[tuple(src)]
    return out


def _offsets(pixels: int, axes: int) -> list[tuple[int, ...]]:
    grid = torch.cartesian_prod(*[torch.arange(-pixels, pixels + 1)] * axes).view(-1, axes)
    return [tuple(int(v) for v in row) for row in grid]


@pytest.mark.parametrize(("shape", "pixels"), [((64, 1, 8, 8), 1), ((64, 3, 10, 12), 2),
                                                ((64, 2, 16), 3)])
def test_every_sample_is_itself_moved_within_the_bound(shape: tuple[int, ...], pixels: int) -> None:
    x = torch.rand(shape) + 1  # no zeros: a moved copy matches one offset only
    y = shift_samples(x, pixels, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    seen = set()
    for sample, result in zip(x, y, strict=True):
        matches = [o for o in _offsets(pixels, x.dim() - 2) if torch.equal(_moved(sample, o), result)]
        assert len(matches) == 1  # all channels move together, by one offset in the bound
        seen.add(matches[0])
    assert len(seen) > 1  # samples draw their own offsets


def test_no_shift_is_the_batch_itself() -> None:
    x = torch.rand(4, 1, 8, 8)
    assert shift_samples(x, 0, torch.Generator().manual_seed(0)) is x


def test_the_generator_decides_the_draw() -> None:
    x = torch.rand(32, 1, 8, 8) + 1
    first = shift_samples(x, 1, torch.Generator().manual_seed(3))
    assert torch.equal(first, shift_samples(x, 1, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, shift_samples(x, 1, torch.Generator().manual_seed(4)))
