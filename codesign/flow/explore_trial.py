"""One exploration trial, as a worker runs it: train (+ prune), export and compile the trial's
flow once with `run_flow`, then fold the QONNX model for every other board of the space with
the exact optimizer (cheap), one `BoardPoint` per board (the flow's own board keeps the run's
fold when the flow folds with the optimizer).

Trained variants are cached by the content hash of the effective flow (its seed included): a
repeated configuration reuses the run directory `variants/<hash>/` instead of retraining, and a
board missing from its cache is folded from the saved QONNX model. Everything crosses process
boundaries as plain frozen dataclasses, so the Dask boundary (codesign.flow.cluster) needs no
knowledge of them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codesign.atomic import write_json
from codesign.boards import Board, load_board
from codesign.config import FlowConfig, parse_flow
from codesign.errors import FoldingError
from codesign.finn import compile_to_hw, write_folding_config
from codesign.finn.plan import fold_for_board
from codesign.flow.accelerator import FOLDING_CONFIG
from codesign.flow.results import RunResult
from codesign.flow.run import QONNX_MODEL, flow_board, run_flow
from codesign.folding import fits
from codesign.models.user import module_source_digest

VARIANT_FILE = "variant.json"  # the trained variant's accuracy and its board points
BOARDS_DIR = "boards"


@dataclass(frozen=True)
class TrialSpec:
    """What a worker needs: the effective flow (as a flow file holds it) and the boards."""

    flow: dict[str, Any]
    boards: tuple[str, ...]
    root: str  # directory of the cached variants (out/variants)

    @property
    def needs_hardware(self) -> bool:
        return any(o != "estimates" for o in self.flow.get("outputs", ()))


@dataclass(frozen=True)
class BoardPoint:
    """The trained variant folded for one board (fps 0 and no resources when nothing fits)."""

    board: str
    fits: bool
    fps: float
    lut: float
    bram: float
    uram: float
    dsp: float
    folding_config: str  # relative to the run directory ("" when nothing fits)
    reason: str = ""  # why it does not fit


@dataclass(frozen=True)
class TrialOutcome:
    key: str  # content hash of the effective flow
    run_dir: str
    accuracy: float
    points: tuple[BoardPoint, ...]
    cached: bool  # the variant was trained by an earlier trial
    seconds: float
    worker: str  # host:pid that ran it


def variant_key(flow: dict[str, Any]) -> str:
    """Content hash of everything that shapes a trained variant: the flow without its
    name and description, seed included, and the source of the user's own module, if any."""
    relevant = {k: v for k, v in flow.items() if k not in ("name", "description")}
    module = flow.get("model", {}).get("module")
    if module:
        relevant["module_source"] = module_source_digest(module)
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _slug(board: Board) -> str:
    return "".join(c if c.isalnum() else "-" for c in board.name.lower())


def fold_board(run_dir: Path, flow: FlowConfig, board: Board) -> BoardPoint:
    """Compile the variant's QONNX model for `board` and fold it with the exact optimizer
    (the flow's optimize objective, else the highest FPS within the caps)."""
    board = flow_board(flow, board)
    where = Path(BOARDS_DIR) / _slug(board)
    hw = compile_to_hw(run_dir / QONNX_MODEL, part=board.part, clock_mhz=board.clock_mhz,
                       workdir=run_dir / where / "finn", mvau_rtl=flow.folding.mvau_rtl)
    optimize = flow.folding.mode == "optimize"
    objective = flow.folding.objective if optimize else "maximize"
    target = flow.folding.target_fps if objective == "min_resources" else None
    try:
        folded, plan, report = fold_for_board(hw, board, objective, target)
    except FoldingError as exc:
        return BoardPoint(board.name, False, 0.0, 0.0, 0.0, 0.0, 0.0, "", str(exc))
    write_folding_config(folded, run_dir / where / "folding_config.json")
    used = plan.grand_totals()
    return BoardPoint(board.name, fits(used, report.budget), report.fps, used["LUT"],
                      used["BRAM_18K"], used["URAM"], used["DSP"],
                      str(where / "folding_config.json"))


def _own_point(result: RunResult) -> BoardPoint | None:
    """The point of the run's own board when the run folded it with the exact optimizer (the
    fold `fold_board` would repeat: same QONNX, same board, same objective)."""
    optimizer = result.accelerator.folding.optimizer
    if optimizer is None:
        return None
    used = optimizer.plan.grand_totals()
    return BoardPoint(result.board.name, fits(used, optimizer.report.budget), optimizer.report.fps,
                      used["LUT"], used["BRAM_18K"], used["URAM"], used["DSP"], FOLDING_CONFIG)


def _train(flow: FlowConfig, root: Path, key: str) -> tuple[Path, float, BoardPoint | None]:
    """Run the flow into a private staging directory, then publish it as root/<key> (when
    another worker published the same variant first, its copy is kept)."""
    target = root / key
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        result = run_flow(flow, load_board(flow.board), staging, progress=False).result
        assert result.accuracy is not None  # a flow run always measures it
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / QONNX_MODEL).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, result.accuracy.test_top1, _own_point(result)


def _read_variant(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / VARIANT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def evaluate_trial(spec: TrialSpec) -> TrialOutcome:
    """Train (or reuse) the variant of `spec.flow` and fold it for every board."""
    start = time.perf_counter()
    flow = parse_flow(spec.flow, source=spec.flow.get("source"))
    root = Path(spec.root)
    root.mkdir(parents=True, exist_ok=True)
    key = variant_key(spec.flow)
    run_dir = root / key
    saved = _read_variant(run_dir) if (run_dir / QONNX_MODEL).is_file() else None
    cached = saved is not None
    if saved is None:
        run_dir, accuracy, own = _train(flow, root, key)
        saved = {"accuracy": float(accuracy), "points": {own.board: asdict(own)} if own else {}}
    points = []
    for spec_board in spec.boards:
        board = load_board(spec_board)
        known = saved["points"].get(board.name)
        point = BoardPoint(**known) if known else fold_board(run_dir, flow, board)
        saved["points"][board.name] = asdict(point)
        points.append(point)
    write_json(run_dir / VARIANT_FILE, saved)
    return TrialOutcome(key, str(run_dir), saved["accuracy"], tuple(points), cached,
                        time.perf_counter() - start, f"{socket.gethostname()}:{os.getpid()}")
