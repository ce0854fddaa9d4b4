"""`run_flow`: a whole co-design flow as ordered, named, timed stages (DESIGN.md §1).

data → Brevitas QAT → (hardware-aware pruning) → QONNX → FINN HW graph → folding → estimates →
bit-exact verification → (simulation) → report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codesign.boards import Board
from codesign.config import FlowConfig
from codesign.export import check_export, export_qonnx
from codesign.flow.accelerator import BUILD_CONFIG, FINN_DIR, FOLDING_CONFIG, build_accelerator
from codesign.flow.finish import finish_run
from codesign.flow.prune import PRUNING_PLOT, PruneOutcome, prune_stage
from codesign.flow.results import Accuracy, FlowResult, RunResult
from codesign.flow.stages import (
    CHECKPOINT,
    UNPRUNED_CHECKPOINT,
    StageTimer,
    save_trained_model,
    train_flow_model,
)
from codesign.models.user import module_source_digest
from codesign.prune.measure import check_workers
from codesign.prune.surgery import channel_counts
from codesign.train import evaluate, reference_outputs

QONNX_MODEL = "model.qonnx.onnx"


def flow_board(flow: FlowConfig, board: Board) -> Board:
    """`board` with the flow's clock and cap overrides."""
    if flow.clock_mhz is not None:
        board = board.with_clock(flow.clock_mhz)
    if flow.caps:
        board = board.with_caps(**flow.caps)
    return board


def _prune(model: object, data: object, board: Board, flow: FlowConfig, out_dir: Path,
           timer: StageTimer, progress: bool, workers: int) -> PruneOutcome:
    """The pruning stage: the unpruned checkpoint is kept as model_unpruned.pt and model.pt
    becomes the pruned model (with its channel counts, so it can be rebuilt)."""
    (out_dir / CHECKPOINT).replace(out_dir / UNPRUNED_CHECKPOINT)
    with timer.stage("prune"):
        outcome = prune_stage(model, data, board, flow, out_dir, progress=progress,
                              workers=workers)
    save_trained_model(model, out_dir / CHECKPOINT, flow, pruned=True,
                       channel_counts=channel_counts(model, data.input_shape))
    return outcome


def _artifacts(pruned: bool) -> dict[str, str]:
    return {"QONNX model": QONNX_MODEL, "checkpoint": CHECKPOINT,
            "FINN folding config": FOLDING_CONFIG, "FINN build config": BUILD_CONFIG,
            "FINN intermediate graphs": f"{FINN_DIR}/", "cycles plot": "cycles.png",
            "resources plot": "resources.png",
            **({"unpruned checkpoint": UNPRUNED_CHECKPOINT, "pruning plot": PRUNING_PLOT}
               if pruned else {})}


def run_flow(flow: FlowConfig, board: Board, out_dir: Path, *, progress: bool = True,
             on_stage: Callable[[str], None] | None = None, workers: int = 1) -> FlowResult:
    """Run a whole co-design flow and write its report into `out_dir`. `workers`: processes
    compiling the pruning fold search's candidates (codesign.prune.measure); the results do not
    depend on it."""
    check_workers(workers)  # before the training, not after it
    board = flow_board(flow, board)
    timer = StageTimer(on_stage=on_stage)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, data, trained = train_flow_model(flow, out_dir, progress=progress, timer=timer)
    pruning = (_prune(model, data, board, flow, out_dir, timer, progress, workers)
               if flow.prune is not None else None)
    x_verify = data.x_test[:min(flow.verify.samples, len(data.x_test))]
    with timer.stage("export"):
        onnx_path = export_qonnx(model, data.input_shape, out_dir / QONNX_MODEL)
        export_check = check_export(model, onnx_path, x_verify)
        expected = reference_outputs(model, x_verify)
    accelerator = build_accelerator(onnx_path, board, flow.folding, out_dir, x_verify, expected,
                                    timer, simulate=flow.simulate, model=model,
                                    x_test=data.x_test)
    n_params = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    m = flow.model
    zoo_or_module = (f"Brevitas module {m.module} (source {module_source_digest(m.module)})"
                     if m.module is not None
                     else f"{m.arch} W{m.weight_bits}A{m.act_bits}")
    accuracy = Accuracy(
        dataset=data.name, train_samples=len(data.x_train), test_samples=len(data.x_test),
        train_top1=trained.train_accuracy,
        test_top1=(trained.test_accuracy if pruning is None
                   else evaluate(model, data.x_test, data.y_test)),
        unpruned_test_top1=trained.test_accuracy if pruning is not None else None)
    result = RunResult(
        name=flow.name, description=flow.description, seed=flow.seed, board=board,
        model_summary=" ".join([zoo_or_module, *([str(m.options)] if m.options else []),
                                *(["pruned"] if pruning else []),
                                f"({n_params:,} trainable parameters)"]),
        accelerator=accelerator, artifacts=_artifacts(pruning is not None),
        timings=dict(timer.seconds), flow=flow, accuracy=accuracy, training=trained,
        export=export_check, pruning=pruning, outputs=flow.outputs)
    return finish_run(result, out_dir)
