"""Session fixtures: the tiny models of tiny_models.py, exported and compiled once."""

from __future__ import annotations

from typing import Any

import pytest
from tiny_models import CLOCK_MHZ, PART, TinyCase, build_cnn, build_mlp, make_case


@pytest.fixture(scope="session")
def tiny_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TinyCase]:
    directory = tmp_path_factory.mktemp("tiny_models")
    return {
        "mlp": make_case("mlp", build_mlp, (1, 8, 8), directory),
        "cnn": make_case("cnn", build_cnn, (1, 10, 10), directory),
        "cnn_rgb": make_case("cnn_rgb", build_cnn, (3, 10, 10), directory),
        "cnn_w4": make_case("cnn_w4", build_cnn, (1, 10, 10), directory, bits=4),
        "mlp_topk": make_case("mlp_topk", build_mlp, (1, 8, 8), directory, topk=True),
        "cnn_topk": make_case("cnn_topk", build_cnn, (1, 10, 10), directory, topk=True),
    }


@pytest.fixture(scope="session")
def compiled(tiny_cases: dict[str, TinyCase], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """compile(name, mvau_rtl=False) -> HWGraph, cached per session (callers must not mutate)."""
    from codesign.finn import compile_to_hw

    cache: dict[tuple[str, bool], object] = {}

    def compile_case(name: str, mvau_rtl: bool = False) -> Any:
        key = (name, mvau_rtl)
        if key not in cache:
            workdir = tmp_path_factory.mktemp(f"compile_{name}_{'rtl' if mvau_rtl else 'hls'}")
            cache[key] = compile_to_hw(tiny_cases[name].onnx, part=PART, clock_mhz=CLOCK_MHZ,
                                       workdir=workdir, mvau_rtl=mvau_rtl)
        return cache[key]

    return compile_case
