"""Fixtures shared across test packages."""

import os
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker (pyproject's addopts run two) trains with one torch thread, and so
    do the processes it starts: two workers with two threads each on two cores oversubscribe
    them (see single_thread)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """Tiny models run as fast on one thread, and far faster when the shared cores are busy:
    two spinning torch threads on two contended cores measured 10x slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
