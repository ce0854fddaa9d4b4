"""The results of an exploration, written from the study's finished trials (atomically, so a
Ctrl-C never leaves a half-written file):

- results.json: the space, every trial (failed ones with their reason), every design point,
  the Pareto front of each board and the front across boards;
- points.csv: one row per design point (trial x board), with its run directory;
- pareto.png: the first two objectives per board and across boards, the front highlighted and
  the base flow's point marked;
- report.md: the best design per board for each objective under the constraints, the smallest
  board (by LUTs) that meets min accuracy and min FPS, and the fronts, each point linking its
  run directory (report.md, folding_config.json, model.qonnx.onnx)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codesign.atomic import atomic_path, write_json, write_text
from codesign.boards import load_board
from codesign.flow.explore_points import DesignPoint, feasible, pareto_front
from codesign.flow.study import STUDY_DB, FinishedTrial
from codesign.space import SpaceConfig

CSV_COLUMNS = ("trial", "board", "accuracy", "fps", "lut", "bram", "uram", "dsp", "fits",
               "feasible", "base", "params", "run_dir", "folding_config")


def _rel(path: str, out_dir: Path) -> str:
    return os.path.relpath(path, out_dir)


def _row(p: DesignPoint, space: SpaceConfig, out_dir: Path) -> dict[str, Any]:
    b = p.point
    return {"trial": p.trial, "board": b.board, "accuracy": p.accuracy, "fps": b.fps,
            "lut": b.lut, "bram": b.bram, "uram": b.uram, "dsp": b.dsp, "fits": b.fits,
            "feasible": feasible(space, p), "base": p.base,
            "params": dict(p.params), "run_dir": _rel(p.run_dir, out_dir),
            "folding_config": b.folding_config}


def fronts(space: SpaceConfig, points: Sequence[DesignPoint]) -> dict[str, list[DesignPoint]]:
    """Pareto front of the feasible points of each board, and across boards ("all")."""
    ok = [p for p in points if feasible(space, p)]
    boards = list(dict.fromkeys(p.point.board for p in points))
    out = {b: pareto_front([p for p in ok if p.point.board == b], space.objectives) for b in boards}
    out["all"] = pareto_front(ok, space.objectives)
    return out


def _plot(space: SpaceConfig, points: list[DesignPoint], front: dict[str, list[DesignPoint]],
          path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [o for o, _ in space.objectives]
    x, y = names[:2] if len(names) >= 2 else (names[0], "accuracy" if names[0] == "fps" else "fps")
    panels = [b for b in front if b != "all"] + ["all"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        mine = [p for p in points if panel == "all" or p.point.board == panel]
        ax.scatter([p.value(x) for p in mine], [p.value(y) for p in mine], s=18,
                   facecolors=["C0" if feasible(space, p) else "none" for p in mine],
                   edgecolors="C0", label="trials (hollow: infeasible)")
        best = sorted(front[panel], key=lambda p: p.value(x))
        # a line only joins a front of two objectives; a projection of more is just points
        ax.plot([p.value(x) for p in best], [p.value(y) for p in best],
                "o-" if len(names) == 2 else "o", color="C3", mfc="none", ms=9,
                label="Pareto front")
        base = [p for p in mine if p.base]
        if base:
            ax.scatter([p.value(x) for p in base], [p.value(y) for p in base], marker="*", s=200,
                       color="C2", zorder=5, label="base flow")
        ax.set_title("across boards" if panel == "all" else panel)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"codesign explore — {space.name}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def _fmt(p: DesignPoint, out_dir: Path, fixed: frozenset[str] = frozenset()) -> str:
    params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in p.params if k not in fixed)
    run = _rel(p.run_dir, out_dir)
    return (f"trial {p.trial} on {p.point.board}: {p.accuracy:.2%} top-1, {p.point.fps:,.0f} FPS, "
            f"{p.point.lut:,.0f} LUT, {p.point.bram:,.0f} BRAM_18K ({params}; "
            f"[run]({run}/report.md), [folding]({run}/{p.point.folding_config}))")


def _fixed_note(space: SpaceConfig, fixed: frozenset[str]) -> str:
    values = [f"{k}={(space.dimension(k).choices or ('',))[0]}" for k in sorted(fixed)]
    return f" Fixed for every trial: {', '.join(values)}." if values else ""


def _markdown(space: SpaceConfig, trials: Sequence[FinishedTrial], points: list[DesignPoint],
              front: dict[str, list[DesignPoint]], out_dir: Path) -> str:
    failed = [t for t in trials if not t.complete]
    # settings the space fixes (one choice) are the same in every line: said once, not repeated
    fixed = frozenset(d.key for d in space.dimensions if d.choices is not None and len(d.choices) == 1)
    c = space.constraints
    lines = [f"# codesign explore — {space.name}", "",
             f"{len(trials)} trials ({len(failed)} failed), sampler {space.sampler}, base flow "
             f"`{space.base.source}`, boards {', '.join(space.boards)}. Constraints: fits "
             f"{c.fits}, min accuracy {c.min_accuracy}, min FPS {c.min_fps}. Study: `{STUDY_DB}` "
             f"(`optuna-dashboard sqlite:///{STUDY_DB}`).{_fixed_note(space, fixed)}", "",
             "## Best design per board", ""]
    ok = [p for p in points if feasible(space, p)]
    for board in [b for b in front if b != "all"]:
        lines.append(f"### {board}")
        mine = [p for p in ok if p.point.board == board]
        if not mine:
            lines.append("- no trial meets the constraints on this board")
        for objective, direction in space.objectives:
            if mine:
                pick = max if direction == "max" else min
                lines.append(f"- best {objective} ({direction}): "
                             f"{_fmt(pick(mine, key=lambda p: p.value(objective)), out_dir, fixed)}")
        lines.append("")
    lines += ["## Smallest board that meets min accuracy and min FPS", ""]
    meeting = sorted(ok, key=lambda p: (load_board(p.point.board).resources["LUT"], -p.accuracy))
    lines.append(f"- {meeting[0].point.board} (by LUT capacity): {_fmt(meeting[0], out_dir, fixed)}"
                 if meeting else "- none of the boards meets them with any trial")
    lines += ["", "## Pareto front across boards", ""]
    lines += [f"- {_fmt(p, out_dir, fixed)}" for p in front["all"]] or ["- (empty)"]
    if failed:
        lines += ["", "## Failed trials", ""]
        lines += [f"- trial {t.number}: {t.reason}" for t in failed]
    base = [p for p in points if p.base]
    lines += ["", "## Base flow", ""]
    lines += [f"- {_fmt(p, out_dir, fixed)}" for p in base] or [
        "- the base flow's configuration is not among the trials (outside the space, or not run)"]
    return "\n".join(lines) + "\n"


def write_results(space: SpaceConfig, trials: Sequence[FinishedTrial], out_dir: Path) -> dict[str, Path]:
    points = [p for t in trials for p in t.points()]
    front = fronts(space, points)
    doc = {
        "space": space.name, "sampler": space.sampler, "boards": list(space.boards),
        "objectives": dict(space.objectives), "constraints": asdict(space.constraints),
        "trials": [{"number": t.number, "complete": t.complete, "params": t.params,
                    "reason": t.reason, "base": t.base,
                    "cached": t.outcome.cached if t.outcome else None,
                    "seconds": t.outcome.seconds if t.outcome else None,
                    "worker": t.outcome.worker if t.outcome else None} for t in trials],
        "points": [_row(p, space, out_dir) for p in points],
        "fronts": {k: [_row(p, space, out_dir) for p in v] for k, v in front.items()},
    }
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in doc["points"]:
        writer.writerow({**row, "params": ";".join(f"{k}={v}" for k, v in row["params"].items())})
    files = {"results": write_json(out_dir / "results.json", doc),
             "points": write_text(out_dir / "points.csv", buffer.getvalue()),
             "report": write_text(out_dir / "report.md",
                                  _markdown(space, trials, points, front, out_dir))}
    if points:
        files["plot"] = _plot(space, points, front, out_dir / "pareto.png")
    return files
