"""`codesign build`: compile a model the user brings — a QONNX/ONNX file or a Brevitas module —
for a board, without training. Verification inputs are seeded random values over the model's
input range (plus the all-min and all-max inputs); the reference is QONNX execution of the file
or the Brevitas module itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codesign import __version__
from codesign.boards import Board
from codesign.config import FoldingConfig, SimulateConfig
from codesign.errors import ConfigError, ModelError
from codesign.flow import FlowResult, StageTimer, _finish, build_hardware, reference_outputs
from codesign.report import SCHEMA

ONNX_SUFFIXES = (".onnx",)


def parse_input_shape(text: str) -> tuple[int, int, int]:
    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise ConfigError(f"--input-shape {text!r} must be three positive integers C,H,W, e.g. 1,28,28")
    return dims  # type: ignore[return-value]


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
                     input_shape: tuple[int, int, int] | None = None, samples: int = 20,
                     seed: int = 0, simulate: SimulateConfig | None = None) -> FlowResult:
    """With `simulate.enabled`, the accelerator is also simulated without hardware on the
    verification inputs (simulation.json/md and a report section)."""
    timer = StageTimer()
    module = None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(model_spec)
    if path.suffix in ONNX_SUFFIXES:
        if not path.is_file():
            raise ConfigError(f"model file {path} does not exist")
        onnx_path = out_dir / "model.qonnx.onnx"
        onnx_path.write_bytes(path.read_bytes())
        x = verification_inputs(_onnx_input_shape(onnx_path), samples, seed)
        with timer.stage("reference"):
            expected = _qonnx_reference(onnx_path, x)
        summary = f"QONNX file {path.name}"
    else:
        from codesign.export import export_qonnx
        from codesign.models.user import check_supported_layers, load_user_model

        if input_shape is None:
            raise ConfigError("a Brevitas module needs --input-shape C,H,W (e.g. 1,28,28)")
        module = load_user_model(model_spec)
        check_supported_layers(module)
        with timer.stage("export"):
            onnx_path = export_qonnx(module, input_shape, out_dir / "model.qonnx.onnx")
        x = verification_inputs(input_shape, samples, seed)
        expected = reference_outputs(module, x)
        summary = f"Brevitas module {model_spec}"
    hw_report = build_hardware(onnx_path, board, folding, out_dir, x, expected, timer,
                               simulate=simulate, model=module, x_test=x)
    report: dict[str, Any] = {
        "schema": SCHEMA, "codesign_version": __version__, "name": path.stem or model_spec,
        "description": f"codesign build of {summary}", "seed": seed, "board": board.to_dict(),
        "model_summary": summary, "accuracy": None, **hw_report,
        "timings_s": dict(timer.seconds),
        "artifacts": {"QONNX model": onnx_path.name, "FINN folding config": "folding_config.json",
                      "FINN build config": "finn_build_config.json"},
    }
    return _finish(report, out_dir, board)
