"""`codesign fold MODEL --board B [--target-fps N | --maximize] [--caps LUT=0.7,...]`: compile a
QONNX model for a board, choose its folding with the resource-aware optimizer and write

- folding_config.json: FINN's folding format, every folding attribute of every layer (a FINN
  build or `codesign build --folding` reproduces the predicted estimates exactly);
- fifo_config.json: FINN's fifo_config_file with the depth of every stream FIFO, as the
  estimates price them (codesign.finn.fifos);
- fold_report.json: the plan, FINN's estimates of it, the budget and what is not modelled;
- pareto.json / pareto.png: FPS vs LUT and vs BRAM_18K fronts with SetFolding's designs.

Every file is written atomically."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codesign.atomic import write_json
from codesign.boards import RESOURCE_KINDS, Board, load_board, parse_caps
from codesign.errors import ConfigError
from codesign.export import prepare_qonnx
from codesign.finn import compile_to_hw, write_fifo_config, write_folding_config
from codesign.finn.baseline import SetFoldingSweep
from codesign.finn.costs import CostCache
from codesign.finn.plan import fold_for_board
from codesign.flow.pareto import pareto_data, plot_pareto
from codesign.folding import fits


def _resolve_board(board: Board | str, caps: Mapping[str, float] | str | None) -> Board:
    the_board = load_board(board) if isinstance(board, str) else board
    if caps:
        the_board = the_board.with_caps(**(parse_caps(caps) if isinstance(caps, str) else caps))
    return the_board


def fold_model(model_path: Path | str, board: Board | str, *, target_fps: float | None = None,
               maximize: bool = False, caps: Mapping[str, float] | str | None = None,
               out_dir: Path | str, setfolding_points: bool = True,
               cache_dir: Path | str | None = None, mvau_rtl: bool = False) -> dict[str, Any]:
    """Fold a QONNX model for `board`: the highest FPS within the budget (`maximize`, the
    default) or the least resources reaching `target_fps`. `caps` overrides the board's
    utilisation caps ("LUT=0.7,BRAM_18K=0.5" or a mapping). `cache_dir` keeps FINN's
    per-candidate estimates on disk for later runs. `mvau_rtl` folds FINN's RTL (DSP-based)
    MVAUs instead of the HLS ones. Returns a summary dict and writes the files
    listed in the module doc into `out_dir`."""
    if target_fps is not None and maximize:
        raise ConfigError("give either --target-fps or --maximize, not both")
    if target_fps is not None and not target_fps > 0:
        raise ConfigError(f"--target-fps must be positive, got {target_fps!r}")
    the_board = _resolve_board(board, caps)
    objective = "min_resources" if target_fps is not None else "maximize"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # a file straight from brevitas.export.export_qonnx is cleaned up here, as build does
    cleaned = prepare_qonnx(Path(model_path), out / "finn" / "00_prepared.onnx")
    hw = compile_to_hw(cleaned, part=the_board.part, clock_mhz=the_board.clock_mhz,
                       workdir=out / "finn", mvau_rtl=mvau_rtl)
    compiled = time.perf_counter()
    cache = CostCache(Path(cache_dir)) if cache_dir is not None else None
    folded, plan, report = fold_for_board(hw, the_board, objective, target_fps, cache=cache)
    folding_seconds = time.perf_counter() - compiled
    sweep = SetFoldingSweep(hw) if setfolding_points else None
    points = sweep.grid(count=6) if sweep else []
    pareto = pareto_data(report.space.space, the_board, hw.clock_mhz, plan, points,
                         io_fps=report.estimates.io_fps)
    files = {
        "folding_config": write_folding_config(folded, out / "folding_config.json"),
        "pareto_json": write_json(out / "pareto.json", pareto),
        "pareto_png": plot_pareto(pareto, out / "pareto.png"),
    }
    files["fifo_config"] = write_fifo_config(folded, out / "fifo_config.json")
    budget = report.budget
    used = plan.grand_totals()
    summary: dict[str, Any] = {
        "model": str(model_path), "board": the_board.name, "caps": dict(the_board.caps),
        "objective": objective, "target_fps": target_fps, "mvau_rtl": mvau_rtl, "fps": report.fps,
        "compute_fps": report.estimates.compute_fps, "io_fps": report.estimates.io_fps,
        "bound": report.estimates.bound,
        "max_cycles": plan.max_cycles, "clock_mhz": hw.clock_mhz,
        "totals": dict(plan.totals), "converter_totals": dict(plan.link_totals),
        "budget": budget,
        "utilisation": {k: used[k] / budget[k] if budget[k] else 0.0 for k in RESOURCE_KINDS},
        "fits": fits(used, budget),
        "message": plan.message, "plan": plan.to_dict(), "report": report.to_dict(),
        "estimates": report.estimates.to_dict(),
        "seconds": {"compile": compiled - start, "fold": folding_seconds,
                    "space": report.space.seconds, "solve": plan.solve_seconds,
                    "total": time.perf_counter() - start},
    }
    files["report"] = write_json(out / "fold_report.json", summary)
    summary["files"] = {k: str(v) for k, v in files.items()}
    return summary
