"""What a torch model costs on a board, per weight layer: FINN's estimates of the folded design.

The model is exported to QONNX, compiled to FINN HW layers once, and folded by codesign's
optimizer (`fold_for_board`) for an objective. Each weight unit (an MVAU, or the VVAU of a
depthwise conv) is one torch weight layer (`weight_layers`); its MH x MW must be the layer's
outputs x inputs (K*C_in for a 1-D conv, K*K*C_in for a 2-D one, K*K for a depthwise one whose
VVAU has MH = channels). Given `layer_dims`, each unit in graph order takes the first layer in
execution order not yet taken whose shape it has (FINN orders a residual block's 1x1 projection
before the block's convs, torch after them); without them the orders must agree.
`hardware_profile` (or `fold_profile` given `layer_dims`) refuses a graph where no layer has a
unit's shape. The other nodes
(thresholds, sliding-window generators, pools, label select) are charged to the MVAU before
them, and nodes before the first MVAU to the first layer: a producer's output channels are what
flows through them, so a layer's cost is everything its channels pass through; a residual
skip-branch FIFO is charged with the fork feeding it, and the layer costs add up to FINN's
estimate totals exactly. The data-width converters FINN will insert sit
outside those totals (as in FINN's reports); the profile lists their cost separately and counts
it in `fits`. The pruning policy reads PE/SIMD (alignment) and LUT/cycle shares (allocation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codesign.boards import RESOURCE_KINDS
from codesign.errors import CompileError, FoldingError, PruneError
from codesign.export import export_qonnx
from codesign.finn import compile_to_hw
from codesign.finn.plan import fold_for_board
from codesign.folding.fits import check_board

if TYPE_CHECKING:
    from torch import nn

    from codesign.boards import Board
    from codesign.finn.compile import HWGraph
    from codesign.finn.estimates import Estimates

UNITS = ("MVAU", "VVAU")  # FINN's weight units: one per torch weight layer


@dataclass(frozen=True)
class LayerHardware:
    """One weight layer on the board: its MVAU's folding and cycles, and the resources of the
    MVAU plus the nodes charged to it."""
    layer: str  # torch module path
    node: str  # FINN MVAU (or VVAU) node
    pe: int
    simd: int
    mh: int  # MVAU outputs (the layer's output channels; a VVAU's channels)
    mw: int  # MVAU inputs per output (in_features, K*K*C_in for a conv; a VVAU's K*K)
    cycles: int  # of the MVAU
    macs: int  # of the MVAU, per frame
    lut: float
    bram_18k: float
    uram: float
    dsp: float
    nodes: tuple[str, ...] = ()  # every FINN node charged to this layer, the MVAU included
    # PE/SIMD of the nodes after the MVAU (thresholds, sliding windows, pools): each works on
    # this layer's output channels and must divide their count
    channel_folds: tuple[int, ...] = ()


@dataclass(frozen=True)
class HardwareProfile:
    layers: tuple[LayerHardware, ...]
    fps: float
    max_cycles: int
    totals: dict[str, float]  # FINN's estimate totals (== the sum over layers)
    fits: bool  # totals plus converters within the board's capacity * caps
    objective: str
    target_fps: float | None
    estimates: Estimates
    converter_totals: dict[str, float] = field(default_factory=dict)

    def layer(self, name: str) -> LayerHardware:
        for entry in self.layers:
            if entry.layer == name:
                return entry
        raise PruneError(f"layer {name} is not in the hardware profile (it has "
                         f"{', '.join(x.layer for x in self.layers)}); profile the model being "
                         "pruned, after its latest surgery")

    @property
    def bottleneck(self) -> LayerHardware:
        return max(self.layers, key=lambda x: x.cycles)

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [dataclasses.asdict(x) for x in self.layers], "fps": self.fps,
                "max_cycles": self.max_cycles, "totals": dict(self.totals), "fits": self.fits,
                "converter_totals": dict(self.converter_totals), "objective": self.objective,
                "target_fps": self.target_fps}


def layer_dims(model: nn.Module, layer_names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(MH, MW) FINN's MVAU/VVAU must have for each named QuantLinear/QuantConv1d/QuantConv2d."""
    from math import prod

    from torch import nn

    modules = dict(model.named_modules())
    dims = {}
    for name in layer_names:
        module = modules.get(name)
        if isinstance(module, nn.Linear):
            dims[name] = (module.out_features, module.in_features)
        elif isinstance(module, nn.Conv1d | nn.Conv2d):
            window = prod(module.kernel_size)
            dims[name] = (module.out_channels, module.in_channels // module.groups * window)
        else:
            raise PruneError(f"{name} is not a linear or conv layer of the model; pass the "
                             "names weight_layers(model, input_shape) returns")
    return dims


def attribute(est: Estimates, layer_names: Sequence[str],
              dims: Mapping[str, tuple[int, int]] | None = None) -> tuple[LayerHardware, ...]:
    """FINN's per-node estimates charged to torch layers (see the module docstring)."""
    mvaus = [i for i, node in enumerate(est.layers) if node.op_type.startswith(UNITS)]
    if len(mvaus) != len(layer_names):
        raise CompileError(
            f"FINN made {len(mvaus)} matrix-vector units from a model with {len(layer_names)} "
            f"weight layers ({', '.join(layer_names)}); cannot charge hardware to layers. "
            "Pass the names weight_layers(model, input_shape) returns for the compiled model")
    names = _match(est, mvaus, layer_names, dims)
    spans = [(0 if k == 0 else start, mvaus[k + 1] if k + 1 < len(mvaus) else len(est.layers))
             for k, start in enumerate(mvaus)]
    # a skip-branch FIFO goes with the node feeding it (the fork of the residual stream)
    owner = {x.name: k for k, (a, b) in enumerate(spans) for x in est.layers[a:b]}
    fifos: list[list[Any]] = [[] for _ in mvaus]
    for fifo in getattr(est, "fifos", ()):
        fifos[owner.get(fifo.producer, len(mvaus) - 1)].append(fifo)
    rows = []
    for k, (start, name) in enumerate(zip(mvaus, names, strict=True)):
        share, mvau = est.layers[spans[k][0]:spans[k][1]], est.layers[start]
        costs = [*share, *fifos[k]]
        mh, mw = _unit_dims(mvau)
        rows.append(LayerHardware(
            layer=name, node=mvau.name, pe=int(mvau.pe or 1), simd=int(mvau.simd or 1),
            mh=mh, mw=mw, cycles=mvau.cycles, macs=mvau.macs,
            lut=sum(x.lut for x in costs), bram_18k=sum(x.bram_18k for x in costs),
            uram=sum(x.uram for x in costs), dsp=sum(x.dsp for x in costs),
            nodes=tuple(x.name for x in share),
            channel_folds=tuple(int(x.pe if x.pe is not None else x.simd)
                                for x in est.layers[start + 1:spans[k][1]]
                                if x.pe is not None or x.simd is not None)))
    order = {name: i for i, name in enumerate(layer_names)}
    return tuple(sorted(rows, key=lambda row: order[row.layer]))


def _unit_dims(unit: Any) -> tuple[int, int]:
    """(MH, MW) of an MVAU; (channels, kernel window) of a VVAU."""
    if unit.op_type.startswith("VVAU"):
        window = int(unit.dims.get("Kernel_h", 1)) * int(unit.dims.get("Kernel_w", 1))
        return int(unit.dims.get("Channels", 0)), window
    return int(unit.dims.get("MH", 0)), int(unit.dims.get("MW", 0))


def _match(est: Estimates, units: Sequence[int], layer_names: Sequence[str],
           dims: Mapping[str, tuple[int, int]] | None) -> list[str]:
    """The torch layer of each unit in graph order (see the module docstring)."""
    if dims is None:
        return list(layer_names)
    free = list(layer_names)
    names = []
    for index in units:
        unit = est.layers[index]
        shape = _unit_dims(unit)
        name = next((n for n in free if dims[n] == shape), None)
        if name is None:
            raise CompileError(
                f"FINN's {unit.name} is {shape[0]}x{shape[1]} (MH x MW) but no weight layer "
                f"left ({', '.join(f'{n} {dims[n][0]}x{dims[n][1]}' for n in free)}) has that "
                "shape, so hardware cannot be charged to layers")
        free.remove(name)
        names.append(name)
    return names


def export_model(model: nn.Module, input_shape: tuple[int, int, int], workdir: Path) -> Path:
    """Export `model` to QONNX in `workdir`, where `compile_exported` compiles it."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    return export_qonnx(model, input_shape, workdir / "model.qonnx.onnx")


def compile_exported(onnx: Path, board: Board, workdir: Path) -> HWGraph:
    """Compile an exported model to FINN HW layers for the board's part and clock."""
    return compile_to_hw(onnx, part=board.part, clock_mhz=board.clock_mhz,
                         workdir=Path(workdir) / "finn")


def compile_model(model: nn.Module, input_shape: tuple[int, int, int], board: Board,
                  workdir: Path) -> HWGraph:
    """Export `model` and compile it to FINN HW layers for the board's part and clock."""
    return compile_exported(export_model(model, input_shape, workdir), board, workdir)


def fold_profile(hw: HWGraph, layer_names: Sequence[str], board: Board, *,
                 objective: str = "maximize", target_fps: float | None = None,
                 dims: Mapping[str, tuple[int, int]] | None = None,
                 search_fifos: bool = True) -> HardwareProfile:
    """Fold a compiled graph for the board and charge FINN's estimates to torch layers.
    FoldingError (saying which board, objective and why) when no folding fits.
    search_fifos: as fold_for_board's (False: FIFOs at safe depths, for FPS-only callers)."""
    try:
        _, _, report = fold_for_board(hw, board, objective, target_fps,
                                      search_fifos=search_fifos)
    except FoldingError as exc:
        goal = f" at {target_fps:,.0f} FPS" if objective == "min_resources" and target_fps else ""
        raise FoldingError(f"no hardware profile (objective {objective}{goal}): {exc}") from exc
    est = report.estimates
    converters = report.converter_totals()
    totals = {k: float(est.totals.get(k, 0.0)) for k in RESOURCE_KINDS}
    with_converters = {k: totals[k] + converters.get(k, 0.0) for k in RESOURCE_KINDS}
    budget = check_board(with_converters, board)
    return HardwareProfile(attribute(est, layer_names, dims), report.fps, est.max_cycles, totals,
                           budget.fits, objective, target_fps, est, dict(converters))


def hardware_profile(model: nn.Module, input_shape: tuple[int, int, int],
                     layer_names: Sequence[str], board: Board, *, objective: str = "maximize",
                     target_fps: float | None = None, workdir: Path,
                     search_fifos: bool = True) -> HardwareProfile:
    """Export, compile and fold `model` for `board`, per weight layer. `layer_names` are
    `weight_layers(model, input_shape)`; FoldingError if nothing fits the board."""
    dims = layer_dims(model, layer_names)
    hw = compile_model(model, input_shape, board, workdir)
    return fold_profile(hw, layer_names, board, objective=objective, target_fps=target_fps,
                        dims=dims, search_fifos=search_fifos)
