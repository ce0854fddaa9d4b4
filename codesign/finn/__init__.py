"""The FINN toolchain boundary: the only package in codesign that imports `finn`.

compile_to_hw (QONNX -> specialised HW layers) -> apply_setfolding / apply_folding_file ->
estimate (FINN's resource/cycle analyses) and verify_against (bit-exact Python execution) ->
write_folding_config / write_fifo_config / write_build_config (files a real FINN build
consumes).
FINN itself is imported only inside these functions, so importing this package is cheap."""

from codesign.finn.artifacts import write_build_config, write_fifo_config, write_folding_config
from codesign.finn.compile import HWGraph, compile_to_hw
from codesign.finn.estimates import Estimates, LayerEstimate, estimate
from codesign.finn.folding import (
    LayerFolding,
    apply_folding_config,
    apply_folding_file,
    apply_setfolding,
    check_folding_legal,
    layer_foldings,
    read_folding,
)
from codesign.finn.verify import Verification, execute_hw, verify_against

__all__ = [
    "Estimates",
    "HWGraph",
    "LayerEstimate",
    "LayerFolding",
    "Verification",
    "apply_folding_config",
    "apply_folding_file",
    "apply_setfolding",
    "check_folding_legal",
    "compile_to_hw",
    "estimate",
    "execute_hw",
    "layer_foldings",
    "read_folding",
    "verify_against",
    "write_build_config",
    "write_fifo_config",
    "write_folding_config",
]
