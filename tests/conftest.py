"""Fixtures shared across test packages."""

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """Tiny models run as fast on one thread, and far faster when the shared cores are busy:
    two spinning torch threads on two contended cores measured 10x slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
