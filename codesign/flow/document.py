"""The report document: a `RunResult` turned into the versioned JSON of report.json.

This is the only place a run's results become a dict; report.md and the plots are rendered
from this document, so a report can be re-rendered from report.json alone."""

from __future__ import annotations

import dataclasses
from typing import Any

from codesign import __version__
from codesign.finn.power import power_instructions
from codesign.flow.accelerator import AcceleratorResult, FoldingOutcome
from codesign.flow.results import HardwareOutcome, RunResult
from codesign.folding.optimize import json_gap
from codesign.train import machine

SCHEMA = "codesign.report/1"


def _optimizer(folding: FoldingOutcome) -> dict[str, Any] | None:
    if folding.optimizer is None:
        return None
    plan, report = folding.optimizer.plan, folding.optimizer.report
    return {"max_cycles": plan.max_cycles, "solve_seconds": plan.solve_seconds,
            "solves": plan.solves, "message": plan.message, "gap": json_gap(plan.gap), **report.to_dict()}


def _setfolding_baseline(acc: AcceleratorResult) -> dict[str, Any] | None:
    """FINN's best fitting SetFolding beside codesign's folding (mode optimize)."""
    folding = acc.folding
    if not folding.compared:
        return None
    point = folding.setfolding_baseline
    if point is None:
        return {"fits": False, "note": "no SetFolding design fits the board's caps"}
    return {"fits": True, **point.to_dict(),
            "fps_ratio": acc.estimates.fps / point.fps if point.fps else None,
            "note": "FINN SetFolding, the fastest target (over mvau_wwidth_max 36-1024) whose "
                    "design, with its data-width converters, fits the same caps; FPS as built "
                    "(min of compute and the shell's I/O) on both sides"}


def _folding(acc: AcceleratorResult) -> dict[str, Any]:
    f = acc.folding
    return {"mode": f.mode, "description": f.description, "target_fps": f.target_fps,
            "optimizer": _optimizer(f), "setfolding_baseline": _setfolding_baseline(acc)}


def _hardware(outcome: HardwareOutcome, estimates: dict[str, Any]) -> dict[str, Any]:
    if not outcome.done or outcome.steps is None:
        return {"outputs": list(outcome.outputs), "status": "not run", "reason": outcome.reason}
    return {"status": "done", **outcome.steps.to_dict(estimates)}


def _power(result: RunResult, fps: float) -> dict[str, Any]:
    """Vivado's power and the energy per inference at the report's throughput, or how to get
    them (codesign never estimates power itself)."""
    steps = result.hardware.steps if result.hardware is not None else None
    if steps is not None and steps.power is not None:
        return {"status": "estimated", **steps.power.to_dict(fps)}
    flow_file = result.flow.source if result.flow is not None else None
    return {"status": "not estimated", "how": power_instructions(flow_file, result.board.name)}


def report_document(result: RunResult) -> dict[str, Any]:
    """The JSON document of report.json for `result`."""
    acc = result.accelerator
    estimates = acc.estimates.to_dict()
    doc: dict[str, Any] = {"schema": SCHEMA, "codesign_version": __version__}
    if result.flow is not None:  # a trained model: its weights depend on the machine too
        trained_on = machine()
        doc["torch_version"] = trained_on["torch"]
        doc["machine"] = trained_on
    doc.update(name=result.name, description=result.description, seed=result.seed)
    if result.flow is not None:
        doc["flow"] = result.flow.to_dict()
    doc["board"] = result.board.to_dict()
    doc["model_summary"] = result.model_summary
    acc_doc = None
    if result.accuracy is not None:
        acc_doc = dataclasses.asdict(result.accuracy)
        if acc_doc["unpruned_test_top1"] is None:
            del acc_doc["unpruned_test_top1"]
    doc["accuracy"] = acc_doc
    if result.training is not None:
        t = result.training
        doc["training"] = {"epochs": t.epochs, "seconds": t.seconds, "history": list(t.history)}
    if result.export is not None:
        doc["export"] = dataclasses.asdict(result.export)
    doc.update(estimates=estimates, budget=acc.fit.to_dict(),
               verification=acc.verification.to_dict(), folding=_folding(acc))
    if acc.simulation is not None:
        doc["simulation"] = acc.simulation.section
    if result.pruning is not None:
        doc["pruning"] = result.pruning.section()
    doc["timings_s"] = dict(result.timings)
    doc["artifacts"] = dict(result.artifacts)
    if acc.simulation is not None:
        doc["artifacts"]["simulation"] = "simulation.json, simulation.md"
    if result.hardware is not None:
        doc["hardware"] = _hardware(result.hardware, estimates)
    doc["power"] = _power(result, estimates["fps"])
    return doc
