"""Renderers for the command line: a finished run's summary table, from its typed result."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from codesign.finn.estimates import Estimates
from codesign.flow.results import RunResult

MISSING = "—"  # a resource the board does not have


def resource_cell(used: float, budget: float, capacity: int, utilisation: float) -> str:
    """'used / budget budget (x % of capacity)', or — when the board has none of it."""
    if capacity == 0 and used == 0:
        return MISSING
    return f"{used:,.0f} / {budget:,.0f} budget ({utilisation:.1%} of {capacity:,})"


def throughput_cell(est: Estimates) -> str:
    """The as-built FPS, and with a shell's I/O bound both figures and which one binds."""
    line = f"{est.fps:,.0f} FPS at {est.clock_mhz:g} MHz"
    if est.io_fps is None:
        return line
    return (f"{line}, {est.bound}-bound (compute {est.compute_fps:,.0f}, "
            f"I/O {est.io_fps:,.0f} FPS)")


def run_summary(result: RunResult, out_dir: Path) -> Table:
    acc = result.accelerator
    est, ver = acc.estimates, acc.verification
    table = Table(title=f"codesign — {result.name} on {result.board.name}", show_header=False)
    if result.accuracy is not None:
        a = result.accuracy
        line = f"{a.test_top1:.2%} ({a.test_samples} samples)"
        if a.unpruned_test_top1 is not None:
            line += f"; unpruned {a.unpruned_test_top1:.2%}"
        table.add_row("test accuracy", line)
    table.add_row("throughput", throughput_cell(est))
    folding = acc.folding
    if folding.compared:
        point = folding.setfolding_baseline
        table.add_row("vs FINN SetFolding", "no SetFolding design fits the caps" if point is None
                      else f"{point.fps:,.0f} FPS (best fitting): codesign ×{est.fps / point.fps:.2f}")
    table.add_row("latency", f"{est.latency_us:,.1f} µs")
    for r in acc.fit.resources:
        table.add_row(r.kind, resource_cell(r.used, r.budget, r.capacity, r.utilisation))
    table.add_row("verdict", acc.fit.verdict())
    table.add_row("bit-exact", f"{ver.matched}/{ver.samples}")
    if acc.simulation is not None:
        passed = acc.simulation.section["passed"]
        table.add_row("simulation", f"{'passed' if passed else 'FAILED'} (simulation.md)")
    return table


def prune_line(result: RunResult) -> str | None:
    """One line with what pruning bought, or None for an unpruned run."""
    if result.pruning is None:
        return None
    section = result.pruning.section()
    r = section["ratios"]
    lut = MISSING if r["lut_reduction"] is None else f"−{r['lut_reduction']:.1%}"
    fps = MISSING if r["fps_gain"] is None else f"×{r['fps_gain']:.2f}"
    ref = section["reference_fps"]
    at = "the reference FPS" if ref is None else f"{ref:,.0f} FPS"
    budget = section["budget"]
    return (f"pruning: accuracy {r['accuracy_delta_points']:+.2f} pt, MACs "
            f"−{r['macs_reduction']:.1%}, LUT at {at} {lut}, FPS within caps {fps}; budget "
            f"{budget['kind']} {'met' if budget['met'] else 'NOT met'}: {budget['note']}")


def print_run(console: Console, result: RunResult, out_dir: Path) -> None:
    console.print(run_summary(result, out_dir))
    line = prune_line(result)
    if line:
        console.print(line)
    console.print(f"report: {out_dir / 'report.md'}")
