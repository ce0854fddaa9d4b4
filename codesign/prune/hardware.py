"""What a torch model costs on a board, per weight layer: FINN's estimates of the folded design.

The model is exported to QONNX, compiled to FINN HW layers once, and folded by codesign's
optimizer (`fold_for_board`) for an objective. Each MVAU maps onto a torch weight layer in
execution order; the nodes between one MVAU and the next (thresholds, sliding windows, pools,
label select) are charged to the earlier layer, so a layer's cost is everything its channels
flow through. The pruning policy reads PE/SIMD (alignment) and LUT/cycle shares (allocation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.errors import PruneError

if TYPE_CHECKING:
    from torch import nn

    from codesign.boards import Board
    from codesign.finn.compile import HWGraph
    from codesign.finn.estimates import Estimates


@dataclass(frozen=True)
class LayerHardware:
    layer: str  # torch module path
    node: str  # FINN MVAU node
    pe: int
    simd: int
    mh: int
    mw: int
    cycles: int  # of the MVAU
    macs: int  # of the MVAU, per frame
    lut: float  # MVAU plus the non-MVAU nodes up to the next MVAU
    bram_18k: float
    uram: float
    dsp: float


@dataclass(frozen=True)
class HardwareProfile:
    layers: tuple[LayerHardware, ...]
    fps: float
    max_cycles: int
    totals: dict[str, float]
    fits: bool
    objective: str
    target_fps: float | None
    estimates: Estimates

    def layer(self, name: str) -> LayerHardware:
        for entry in self.layers:
            if entry.layer == name:
                return entry
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [dataclasses.asdict(x) for x in self.layers], "fps": self.fps,
                "max_cycles": self.max_cycles, "totals": self.totals, "fits": self.fits,
                "objective": self.objective, "target_fps": self.target_fps}


def compile_model(model: nn.Module, input_shape: tuple[int, int, int], board: Board,
                  workdir: Path) -> HWGraph:
    """Export `model` and compile it to FINN HW layers for the board's part and clock."""
    from codesign.export import export_qonnx
    from codesign.finn import compile_to_hw

    workdir.mkdir(parents=True, exist_ok=True)
    onnx = export_qonnx(model, input_shape, workdir / "model.qonnx.onnx")
    return compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz,
                         workdir=workdir / "finn")


def _attribute(est: Estimates, layer_names: Sequence[str]) -> tuple[LayerHardware, ...]:
    mvaus = [i for i, layer in enumerate(est.layers) if layer.op_type.startswith("MVAU")]
    if len(mvaus) != len(layer_names):
        raise PruneError(
            f"FINN made {len(mvaus)} matrix-vector units from a model with {len(layer_names)} "
            f"weight layers ({', '.join(layer_names)}); cannot attribute hardware to layers")
    rows = []
    for k, (start, name) in enumerate(zip(mvaus, layer_names, strict=True)):
        first = 0 if k == 0 else start
        stop = mvaus[k + 1] if k + 1 < len(mvaus) else len(est.layers)
        share = est.layers[first:stop]
        mvau = est.layers[start]
        rows.append(LayerHardware(
            layer=name, node=mvau.name, pe=int(mvau.pe or 1), simd=int(mvau.simd or 1),
            mh=int(mvau.dims.get("MH", 0)), mw=int(mvau.dims.get("MW", 0)),
            cycles=mvau.cycles, macs=mvau.macs,
            lut=sum(x.lut for x in share), bram_18k=sum(x.bram_18k for x in share),
            uram=sum(x.uram for x in share), dsp=sum(x.dsp for x in share)))
    return tuple(rows)


def fold_profile(hw: HWGraph, layer_names: Sequence[str], board: Board, *,
                 objective: str = "maximize", target_fps: float | None = None
                 ) -> HardwareProfile:
    """Fold a compiled graph for the board and attribute FINN's estimates to torch layers."""
    from codesign.analysis.budget import check_budget
    from codesign.finn.plan import fold_for_board

    _, _, report = fold_for_board(hw, board, objective, target_fps)
    est = report.estimates
    budget = check_budget(est.totals, board.resources, board.caps)
    return HardwareProfile(_attribute(est, layer_names), report.fps, est.max_cycles,
                           dict(est.totals), budget.fits, objective, target_fps, est)


def hardware_profile(model: nn.Module, input_shape: tuple[int, int, int],
                     layer_names: Sequence[str], board: Board, *, objective: str = "maximize",
                     target_fps: float | None = None, workdir: Path) -> HardwareProfile:
    """Export, compile and fold `model` for `board`; FoldingError if nothing fits."""
    hw = compile_model(model, input_shape, board, workdir)
    return fold_profile(hw, layer_names, board, objective=objective, target_fps=target_fps)
