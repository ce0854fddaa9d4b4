"""Fast checks of how the FINN boundary reports failures (no compile needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from codesign.errors import CompileError, ModelError
from codesign.finn._env import base_op_type
from codesign.finn.compile import _run


def _raise(exc: Exception) -> Callable[[object], object]:
    """A stage that fails the way FINN transformations do."""
    def stage(model: object) -> object:
        raise exc

    return stage


def test_raw_finn_exception_becomes_compile_error_with_stage_and_last_graph() -> None:
    with pytest.raises(CompileError) as info:
        _run("streamline", _raise(AssertionError("Thresholds must be sorted")), None,
             Path("work/02_streamline.onnx"))
    message = str(info.value)
    assert "'streamline'" in message and "Thresholds must be sorted" in message
    assert "work/02_streamline.onnx" in message
    assert isinstance(info.value.__cause__, AssertionError)


def test_codesign_errors_pass_through_unchanged() -> None:
    error = ModelError("node X (Sigmoid) cannot be mapped")
    with pytest.raises(ModelError) as info:
        _run("convert_to_hw", _raise(error), None, None)
    assert info.value is error


@pytest.mark.parametrize(("op_type", "base"), [
    ("MVAU_hls", "MVAU"), ("MVAU_rtl", "MVAU"), ("ConvolutionInputGenerator_rtl",
                                                 "ConvolutionInputGenerator"), ("Pool", "Pool"),
])
def test_base_op_type(op_type: str, base: str) -> None:
    assert base_op_type(op_type) == base
