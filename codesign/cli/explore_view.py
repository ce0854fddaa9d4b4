"""Renderers of `codesign explore`: the live table of trials and the closing summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from codesign.flow.explore import ExploreProgress, ExploreResult

_STATE_STYLE = {"running": "yellow", "done": "green", "cached": "cyan", "failed": "red"}


def _params(params: tuple[tuple[str, object], ...]) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.3g}" if isinstance(v, float)
                     else f"{k.rsplit('.', 1)[-1]}={v}" for k, v in params)


def progress_table(progress: ExploreProgress, last: int = 15) -> Table:
    """The last `last` trials: state, parameters, accuracy, best FPS over fitting boards."""
    rows = progress.rows
    title = (f"codesign explore — {progress.finished}/{progress.budget} trials finished "
             f"({progress.engine})")
    caption = "best so far (designs meeting the constraints): " + (", ".join(
        f"{name} {value:.2%}" if name == "accuracy" else f"{name} {value:,.0f}"
        for name, _, value in progress.best) or "none yet")
    table = Table(title=title, caption=caption)
    for column in ("trial", "state", "parameters", "top-1", "best FPS (fits)", "seconds"):
        table.add_column(column)
    for r in rows[-last:]:
        style = _STATE_STYLE.get(r.state, "")
        table.add_row(str(r.number), f"[{style}]{r.state}[/{style}]", _params(r.params),
                      "" if r.accuracy is None else f"{r.accuracy:.2%}",
                      "" if r.best_fps is None else f"{r.best_fps:,.0f}",
                      "" if r.seconds is None else f"{r.seconds:.1f}",
                      end_section=False)
        if r.reason:
            table.add_row("", "", f"[red]{r.reason[:150]}[/red]", "", "", "")
    return table


def result_lines(result: ExploreResult) -> list[str]:
    failed = sum(1 for t in result.trials if not t.complete)
    lines = ["", f"{len(result.trials)} trials in the study ({failed} failed); this run finished "
             f"{result.new_trials} in {result.seconds:.1f} s, {result.cache_hits} reused a "
             "trained variant"]
    lines += [f"{name}: {path}" for name, path in result.files.items()]
    return lines
