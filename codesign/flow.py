"""Orchestration of a co-design flow as ordered, named, timed stages.

`run_flow` walks DESIGN.md §1 for a flow file: data → Brevitas QAT → QONNX → FINN HW graph →
folding → estimates → bit-exact verification → report. `build_hardware` is the shared tail
(compile, fold, estimate, verify, artefacts) that `codesign build` uses for user models too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign import __version__
from codesign.analysis.budget import check_budget
from codesign.boards import Board
from codesign.config import FlowConfig, FoldingConfig, SimulateConfig
from codesign.errors import ConfigError, VerificationError
from codesign.report import SCHEMA, write_report

FOLDED_PARTITION = "06_partition_folded.onnx"  # what FINN's hardware steps start from


@dataclass
class StageTimer:
    """Wall time per named stage, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)
    on_stage: Callable[[str], None] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.on_stage:
            self.on_stage(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass(frozen=True)
class FlowResult:
    out_dir: Path
    report: dict[str, Any]
    files: dict[str, Path]


def reference_outputs(model: Any, x: np.ndarray) -> np.ndarray:
    """The Brevitas model's outputs in float64, the reference for bit-exact verification.

    In float32, pre-activations that sit within rounding error of a quantisation boundary can
    round either way (the exported QONNX graph disagrees with float32 torch there); float64 does
    not have that ambiguity at the bit widths FINN integerises."""
    import copy

    import torch

    reference = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return reference(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


def describe_folding(folding: FoldingConfig) -> str:
    if folding.mode == "file":
        return f"from file {folding.file}"
    if folding.mode == "optimize":
        if folding.objective == "maximize":
            return "codesign optimizer: highest FPS within the board's caps"
        return f"codesign optimizer: least resources reaching {folding.target_fps:,.0f} FPS"
    return (f"FINN SetFolding at target {folding.target_fps:,.0f} FPS "
            f"(mvau_wwidth_max={folding.mvau_wwidth_max})")


def build_hardware(
    onnx_path: Path,
    board: Board,
    folding: FoldingConfig,
    out_dir: Path,
    x_verify: np.ndarray,
    expected: np.ndarray,
    timer: StageTimer,
    *,
    simulate: SimulateConfig | None = None,
    model: Any = None,
    x_test: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compile a QONNX model for `board`, fold it, estimate it and verify it bit-exactly against
    `expected` (the reference outputs on `x_verify`). Returns the hardware part of the report.
    With `simulate.enabled`, the folded graph is also simulated without hardware (codesign.sim)
    on `x_test`, with `model` (the Brevitas source, if any) as the chain's first stage."""
    from codesign.finn import (
        apply_folding_file,
        apply_setfolding,
        compile_to_hw,
        estimate,
        verify_against,
        write_build_config,
        write_folding_config,
    )

    with timer.stage("finn_compile"):
        hw = compile_to_hw(onnx_path, part=board.part, clock_mhz=board.clock_mhz,
                           workdir=out_dir / "finn", mvau_rtl=folding.mvau_rtl)
    optimizer: dict[str, Any] | None = None
    with timer.stage("folding"):
        if folding.mode == "file":
            if not folding.file or not Path(folding.file).is_file():
                raise ConfigError(f"folding file {folding.file} does not exist; pass a FINN "
                                  "folding_config.json (e.g. one written by an earlier run)")
            hw = apply_folding_file(hw, Path(folding.file))
        elif folding.mode == "optimize":
            from codesign.finn.plan import fold_for_board

            hw, plan, fold_report = fold_for_board(
                hw, board, folding.objective,
                folding.target_fps if folding.objective == "min_resources" else None)
            optimizer = {"max_cycles": plan.max_cycles, "solve_seconds": plan.solve_seconds,
                         "solves": plan.solves, "message": plan.message, **fold_report.to_dict()}
        else:
            hw = apply_setfolding(hw, target_fps=folding.target_fps,
                                  mvau_wwidth_max=folding.mvau_wwidth_max)
    with timer.stage("estimates"):
        est = estimate(hw)
        budget = check_budget(est.totals, board.resources, board.caps)
    with timer.stage("verification"):
        verification = verify_against(hw, x_verify, expected)
    write_folding_config(hw, out_dir / "folding_config.json")
    hw.model.save(str(out_dir / "finn" / FOLDED_PARTITION))
    write_build_config(out_dir / "finn_build_config.json", onnx_name=onnx_path.name,
                       folding_name="folding_config.json", part=board.part,
                       clock_mhz=board.clock_mhz, board=board.finn_board, shell=board.shell)
    simulation = (_simulate(hw, onnx_path, out_dir, simulate, model, x_test, timer)
                  if simulate is not None and simulate.enabled else {})
    return {
        "estimates": est.to_dict(),
        "budget": budget.to_dict(),
        "verification": verification.to_dict(),
        "folding": {"mode": folding.mode, "description": describe_folding(folding),
                    "target_fps": folding.target_fps if folding.mode == "setfolding" else None,
                    "optimizer": optimizer},
        "_verification_passed": verification.passed,
        "_verification_details": verification.details,
        **simulation,
    }


def _simulate(hw: Any, onnx_path: Path, out_dir: Path, config: SimulateConfig, model: Any,
              x_test: np.ndarray | None, timer: StageTimer) -> dict[str, Any]:
    """The flow's simulation stage; writes simulation.json/md. A mismatch or a missing Verilator
    is raised by _finish, after the report is written."""
    import dataclasses

    from codesign.errors import ToolchainMissing
    from codesign.sim.report import write_simulation
    from codesign.sim.run import SimulationOptions, simulate_hardware

    options = SimulationOptions(**{k: v for k, v in dataclasses.asdict(config).items()
                                   if k != "enabled"})
    missing: ToolchainMissing | None = None
    with timer.stage("simulation"):
        try:
            section = simulate_hardware(hw, onnx_path, x_test, out_dir / "simulation", model=model,
                                        options=options)
        except ToolchainMissing as exc:
            if not hasattr(exc, "section"):
                raise
            section, missing = exc.section, exc  # the Python results, without the RTL part
    write_simulation(section, out_dir)
    return {"simulation": section, "_simulation_missing": missing}


def _finish(report: dict[str, Any], out_dir: Path, board: Board,
            outputs: tuple[str, ...] = ("estimates",), flow_file: str | None = None) -> FlowResult:
    """Write the estimate report, fail loudly on a verification mismatch, then run the hardware
    steps the flow asks for (they need Vivado; without it the estimate report is kept and a
    ToolchainMissing error says how to run them in docker)."""
    passed = report.pop("_verification_passed")
    details = report.pop("_verification_details")
    simulation_missing = report.pop("_simulation_missing", None)
    if "simulation" in report:
        report.setdefault("artifacts", {})["simulation"] = "simulation.json, simulation.md"
    files = write_report(report, out_dir)
    if not passed:
        raise VerificationError(
            f"the hardware graph does not reproduce the Brevitas model bit-exactly ({details}); "
            f"see {out_dir / 'report.md'}. This is a bug in the toolchain path, please report it."
        )
    if "simulation" in report:
        from codesign.sim.run import check_simulation

        check_simulation(report["simulation"], out_dir / "simulation.md")
        if simulation_missing is not None:
            raise simulation_missing
    if all(o == "estimates" for o in outputs):
        return FlowResult(out_dir, report, files)
    from codesign.errors import ToolchainMissing
    from codesign.hardware import run_hardware_steps

    try:
        hw = run_hardware_steps(outputs, out_dir, board, out_dir / "finn" / FOLDED_PARTITION,
                                out_dir / "folding_config.json", flow_file=flow_file)
    except ToolchainMissing as exc:
        report["hardware"] = {"outputs": list(outputs), "status": "not run", "reason": str(exc)}
        write_report(report, out_dir)
        raise
    report["hardware"] = {"status": "done", **hw.to_dict(report["estimates"])}
    return FlowResult(out_dir, report, write_report(report, out_dir))


def train_flow_model(flow: FlowConfig, out_dir: Path, *, progress: bool = True,
                     timer: StageTimer | None = None) -> tuple[Any, Any, Any]:
    """Load the flow's dataset and train its model (checkpoint in out_dir/model.pt).
    Returns (model, dataset, TrainResult)."""
    import torch

    from codesign.data import load_dataset
    from codesign.models import build_model
    from codesign.train import set_seed, train_model

    timer = timer or StageTimer()
    with timer.stage("data"):
        ds = flow.dataset
        data = load_dataset(ds.name, path=ds.path, test_fraction=ds.test_fraction, seed=flow.seed,
                            limit_train=ds.limit_train, limit_test=ds.limit_test)
    with timer.stage("train"):
        torch.set_num_threads(flow.train.threads)
        set_seed(flow.seed)
        model = build_model(flow.model.arch, input_shape=data.input_shape,
                            num_classes=data.num_classes, weight_bits=flow.model.weight_bits,
                            act_bits=flow.model.act_bits, **flow.model.options)
        t = flow.train
        trained = train_model(model, data, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                              optimizer=t.optimizer, weight_decay=t.weight_decay, seed=flow.seed,
                              checkpoint=out_dir / "model.pt", progress=progress)
    return model, data, trained


def _prune(model: Any, data: Any, board: Board, flow: FlowConfig, out_dir: Path,
           timer: StageTimer, progress: bool) -> dict[str, Any]:
    """The flow's pruning stage; the unpruned checkpoint is kept as model_unpruned.pt and
    model.pt becomes the pruned model (with its channel counts, so it can be rebuilt)."""
    from codesign.prune.driver import prune_stage
    from codesign.prune.surgery import channel_counts
    from codesign.train import save_checkpoint

    (out_dir / "model.pt").replace(out_dir / "model_unpruned.pt")
    with timer.stage("prune"):
        section = prune_stage(model, data, board, flow, out_dir, progress=progress)
    save_checkpoint(model, out_dir / "model.pt",
                    {"seed": flow.seed, "pruned": True,
                     "channel_counts": channel_counts(model, data.input_shape)})
    return section


def run_flow(flow: FlowConfig, board: Board, out_dir: Path, *, progress: bool = True,
             on_stage: Callable[[str], None] | None = None) -> FlowResult:
    """Run a whole co-design flow and write its report into `out_dir`."""
    import torch

    from codesign.export import check_export, export_qonnx
    from codesign.train import evaluate

    if flow.clock_mhz is not None:
        board = board.with_clock(flow.clock_mhz)
    if flow.caps:
        board = board.with_caps(**flow.caps)
    timer = StageTimer(on_stage=on_stage)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, data, trained = train_flow_model(flow, out_dir, progress=progress, timer=timer)
    pruning = (_prune(model, data, board, flow, out_dir, timer, progress)
               if flow.prune is not None else None)
    n_verify = min(flow.verify.samples, len(data.x_test))
    x_verify = data.x_test[:n_verify]
    with timer.stage("export"):
        onnx_path = export_qonnx(model, data.input_shape, out_dir / "model.qonnx.onnx")
        export_check = check_export(model, onnx_path, x_verify)
        expected = reference_outputs(model, x_verify)
    hw_report = build_hardware(onnx_path, board, flow.folding, out_dir, x_verify, expected, timer,
                               simulate=flow.simulate, model=model, x_test=data.x_test)
    n_params = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    test_top1 = (trained.test_accuracy if pruning is None
                 else evaluate(model, data.x_test, data.y_test))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "codesign_version": __version__,
        "torch_version": torch.__version__,
        "name": flow.name,
        "description": flow.description,
        "seed": flow.seed,
        "flow": flow.to_dict(),
        "board": board.to_dict(),
        "model_summary": (f"{flow.model.arch} W{flow.model.weight_bits}A{flow.model.act_bits} "
                          f"{flow.model.options or ''}{' pruned' if pruning else ''} "
                          f"({n_params:,} trainable parameters)"),
        "accuracy": {
            "dataset": data.name, "train_samples": len(data.x_train),
            "test_samples": len(data.x_test), "train_top1": trained.train_accuracy,
            "test_top1": test_top1,
            **({"unpruned_test_top1": trained.test_accuracy} if pruning else {}),
        },
        "training": {"epochs": trained.epochs, "seconds": trained.seconds,
                     "history": list(trained.history)},
        "export": {"samples": export_check.samples, "max_abs_diff": export_check.max_abs_diff,
                   "argmax_equal": export_check.argmax_equal, "passed": export_check.passed},
        **hw_report,
        **({"pruning": pruning} if pruning else {}),
        "timings_s": dict(timer.seconds),
        "artifacts": {
            "QONNX model": onnx_path.name, "checkpoint": "model.pt",
            "FINN folding config": "folding_config.json",
            "FINN build config": "finn_build_config.json",
            "FINN intermediate graphs": "finn/", "cycles plot": "cycles.png",
            "resources plot": "resources.png",
            **({"unpruned checkpoint": "model_unpruned.pt",
                "pruning plot": "pruning.png"} if pruning else {}),
        },
    }
    return _finish(report, out_dir, board, flow.outputs, flow.source)
