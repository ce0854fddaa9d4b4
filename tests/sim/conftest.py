"""Session fixtures: zoo cases compiled once, and one Verilator build cache per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zoo_cases import ZooCase, build_case


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """zoo(key, bits, mvau_rtl=False) -> ZooCase, built once per session (do not mutate)."""
    cache: dict[tuple[str, tuple[int, int], bool], ZooCase] = {}
    root = tmp_path_factory.mktemp("zoo")

    def get(key: str, bits: tuple[int, int], mvau_rtl: bool = False) -> ZooCase:
        if (key, bits, mvau_rtl) not in cache:
            cache[(key, bits, mvau_rtl)] = build_case(key, bits, root, mvau_rtl)
        return cache[(key, bits, mvau_rtl)]

    return get


@pytest.fixture(scope="session")
def verilator_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build cache shared by the session's tests (each design is compiled once)."""
    return tmp_path_factory.mktemp("verilator_cache")
