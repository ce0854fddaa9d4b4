"""`codesign build`: compile a model the user brings — a QONNX/ONNX file or a Brevitas module —
for a board, without training. Verification inputs are seeded random values over the model's
input range (plus the all-min and all-max inputs); the reference is QONNX execution of the file
or the Brevitas module itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.boards import Board
from codesign.config import FoldingConfig, SimulateConfig
from codesign.errors import ConfigError, ModelError
from codesign.export import export_qonnx, prepare_qonnx
from codesign.flow.accelerator import BUILD_CONFIG, FOLDING_CONFIG, build_accelerator
from codesign.flow.finish import finish_run
from codesign.flow.results import FlowResult, RunResult
from codesign.flow.run import QONNX_MODEL
from codesign.flow.stages import StageTimer
from codesign.models.user import (
    check_input_rank,
    check_outputs,
    check_supported_layers,
    load_user_model,
)
from codesign.train import reference_outputs

ONNX_SUFFIXES = (".onnx",)


def parse_input_shape(text: str) -> tuple[int, ...]:
    """C,H,W for a 2-D model or C,L for a 1-D one, as positive integers."""
    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        dims = ()
    if len(dims) not in (2, 3) or min(dims) < 1:
        raise ConfigError(f"--input-shape {text!r} must be positive integers C,H,W (e.g. "
                          "1,28,28) or, for a 1-D model, C,L (e.g. 28,28)")
    return dims


def verification_inputs(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """uint8 images: all-zero, all-255, then seeded random ones (n in total)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(max(n, 2), *shape), dtype=np.uint8)
    x[0] = 0
    x[1] = 255
    return x[:max(n, 2)]


def _qonnx_reference(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(str(onnx_path))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([
        execute_onnx(model, {iname: x[i:i + 1].astype(np.float32)})[oname] for i in range(len(x))
    ])


def _onnx_input_shape(onnx_path: Path) -> tuple[int, ...]:
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        model = ModelWrapper(str(onnx_path))
    except Exception as exc:  # onnx raises many kinds for a broken file
        raise ModelError(f"{onnx_path} is not a readable ONNX model ({exc}); "
                         "export it with brevitas.export.export_qonnx") from None
    shape = tuple(model.get_tensor_shape(model.graph.input[0].name))
    return shape[1:]


def build_user_model(model_spec: str, board: Board, folding: FoldingConfig, out_dir: Path, *,
                     input_shape: tuple[int, ...] | None = None, samples: int = 20,
                     seed: int = 0, simulate: SimulateConfig | None = None) -> FlowResult:
    """Compile, fold, estimate and verify a model the user brings (QONNX file or Brevitas
    module) for `board`. With `simulate.enabled`, the accelerator is also simulated without
    hardware on the verification inputs (simulation.json/md and a report section)."""
    timer = StageTimer()
    module = None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(model_spec)
    onnx_path = out_dir / QONNX_MODEL
    if path.suffix in ONNX_SUFFIXES:
        if not path.is_file():
            raise ConfigError(f"model file {path} does not exist")
        with timer.stage("cleanup"):
            prepare_qonnx(path, onnx_path)
        x = verification_inputs(_onnx_input_shape(onnx_path), samples, seed)
        with timer.stage("reference"):
            expected = _qonnx_reference(onnx_path, x)
        summary = f"QONNX file {path.name}"
    else:
        if input_shape is None:
            raise ConfigError("a Brevitas module needs --input-shape C,H,W (e.g. 1,28,28), or "
                              "C,L for a 1-D model (e.g. 28,28)")
        module = load_user_model(model_spec)
        check_supported_layers(module)
        check_input_rank(module, input_shape)
        check_outputs(module, model_spec, input_shape)
        with timer.stage("export"):
            export_qonnx(module, input_shape, onnx_path)
        x = verification_inputs(input_shape, samples, seed)
        expected = reference_outputs(module, x)
        summary = f"Brevitas module {model_spec}"
    accelerator = build_accelerator(onnx_path, board, folding, out_dir, x, expected, timer,
                                    simulate=simulate, model=module, x_test=x)
    result = RunResult(
        name=path.stem or model_spec, description=f"codesign build of {summary}", seed=seed,
        board=board, model_summary=summary, accelerator=accelerator,
        artifacts={"QONNX model": QONNX_MODEL, "FINN folding config": FOLDING_CONFIG,
                   "FINN build config": BUILD_CONFIG},
        timings=dict(timer.seconds))
    return finish_run(result, out_dir)
