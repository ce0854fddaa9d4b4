"""Zoo models (codesign.models) for the simulation tests: untrained, but with BatchNorm shifts
and statistics set from random images, so that every activation is alive (all-zero activations
would make bit-exactness trivially true), exported and compiled the way the flow does it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from calibration import shifted

PART, CLOCK_MHZ = "xc7z020clg400-1", 100.0
TEST_SAMPLES = 6


@dataclass(frozen=True)
class ZooCase:
    name: str
    model: Any  # the Brevitas module
    onnx: Path
    hw: Any  # folded HWGraph
    x: np.ndarray  # (TEST_SAMPLES, C, H, W) uint8 "test" inputs
    workdir: Path


def calibrated(arch: str, bits: tuple[int, int], input_shape: tuple[int, int, int], seed: int = 0,
               **options: Any) -> Any:
    import torch

    from codesign.models import build_model

    torch.manual_seed(seed)
    model = build_model(arch, input_shape=input_shape, num_classes=10, weight_bits=bits[0],
                        act_bits=bits[1], **options)
    return shifted(model, input_shape, seed, batches=4, batch=32)


def make_case(name: str, arch: str, bits: tuple[int, int], input_shape: tuple[int, int, int],
              directory: Path, *, target_fps: float, mvau_rtl: bool = False, **options: Any) -> ZooCase:
    from codesign.export import export_qonnx
    from codesign.finn import apply_setfolding, compile_to_hw

    model = calibrated(arch, bits, input_shape, **options)
    directory.mkdir(parents=True, exist_ok=True)
    onnx = export_qonnx(model, input_shape, directory / "model.qonnx.onnx")
    hw = compile_to_hw(onnx, part=PART, clock_mhz=CLOCK_MHZ, workdir=directory / "finn",
                       mvau_rtl=mvau_rtl)
    hw = apply_setfolding(hw, target_fps=target_fps)
    x = np.random.default_rng(1).integers(0, 256, (TEST_SAMPLES, *input_shape), dtype=np.uint8)
    return ZooCase(name, model, onnx, hw, x, directory / "finn")


# name -> (arch, input shape, options, target fps)
ZOO = {
    "mlp-tfc": ("mlp", (1, 28, 28), {"preset": "tfc"}, 20_000),
    "mlp-sfc": ("mlp", (1, 28, 28), {"preset": "sfc"}, 20_000),
    "mlp-lfc": ("mlp", (1, 28, 28), {"preset": "lfc"}, 20_000),
    "cnv-small": ("cnv", (3, 16, 16), {"preset": "cnv-small"}, 5_000),
    "cnv-small-padded": ("cnv", (1, 12, 12), {"preset": "cnv-small", "input_padding": 1}, 5_000),
    "cnv": ("cnv", (3, 32, 32), {"preset": "cnv"}, 1_000),
}


def build_case(key: str, bits: tuple[int, int], directory: Path, mvau_rtl: bool = False) -> ZooCase:
    import torch

    arch, shape, options, fps = ZOO[key]
    name = f"{key}-w{bits[0]}a{bits[1]}{'-rtl' if mvau_rtl else ''}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models export and run fastest on one thread of a shared machine
    try:
        return make_case(name, arch, bits, shape, directory / name, target_fps=fps,
                         mvau_rtl=mvau_rtl, **options)
    finally:
        torch.set_num_threads(threads)
