"""The functional verification chain: the same inputs through every stage of the toolchain,
each stage compared bit-exactly with the one before it.

    brevitas -> qonnx -> finn_onnx -> streamlined -> hw_layers -> folded

Brevitas runs exactly (codesign.train.reference_outputs: float64 arithmetic on the float32
model's numbers; in float32 an activation within rounding error of a quantisation boundary can
flip; FINN's integer graphs, their thresholds computed in float64, agree with the exact
result). The ONNX stages run in Python through qonnx/FINN execution, the folded stage as a
de-specialised copy of the accelerator inside its parent graph. Outputs are compared on the
integer grid of the output quantisation step (the software tail's scale): a stage matches when
every output is the same integer multiple of the step as in the previous stage. On a mismatch
the chain re-runs the first differing sample through both stages with every intermediate tensor
and names the first node whose outputs have no counterpart in the previous stage although its
inputs do."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.errors import ModelError
from codesign.finn.compile_graphs import (
    COMPILE_STAGES,
    FoldedGraph,
    graph_nodes,
    input_range,
    load_graph,
    output_affine,
    run_graph,
)
from codesign.finn.compile_graphs import stages_dir as default_stages_dir
from codesign.finn.exact import to_float64
from codesign.sim.divergence import NodeDivergence, locate_divergence
from codesign.train import reference_outputs

if TYPE_CHECKING:
    from torch import nn

    from codesign.finn.compile import HWGraph

# An output matches when it is within this many output steps of the same integer, plus what
# float32 explains at its magnitude (as codesign.finn.verify).
GRID_ATOL, GRID_RTOL = 1e-3, 16 * float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class StageResult:
    name: str
    description: str
    samples: int
    matched: int  # samples whose outputs equal the previous stage's (all for the first stage)
    max_abs_diff: float  # vs the previous stage
    max_lsb_diff: float  # the same, in output quantisation steps
    seconds: float
    mode: str = "python"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Divergence:
    stage: str  # the first stage whose outputs differ from the previous stage
    previous: str
    sample: int  # index of the first differing input
    input_kind: str
    max_abs_diff: float  # over all inputs, final outputs
    max_lsb_diff: float
    node: NodeDivergence | None  # where inside `stage` the values part

    def describe(self) -> str:
        text = (f"stage '{self.stage}' differs from '{self.previous}' first on input "
                f"{self.sample} ({self.input_kind}); largest output difference "
                f"{self.max_abs_diff:.6g} ({self.max_lsb_diff:.3g} LSB)")
        if self.node is not None:
            text += f"; values part at {self.node.describe()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["node"] = self.node.to_dict() if self.node else None
        out["description"] = self.describe()
        return out


@dataclass(frozen=True)
class ChainResult:
    stages: tuple[StageResult, ...]
    inputs: dict[str, int]  # count per kind: test, random, min, max
    output_scale: float
    passed: bool
    divergence: Divergence | None

    def summary(self) -> str:
        n = self.stages[0].samples if self.stages else 0
        names = " -> ".join(s.name for s in self.stages)
        if self.passed:
            return f"bit-exact through {names} on {n}/{n} inputs"
        assert self.divergence is not None
        return self.divergence.describe()

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "summary": self.summary(), "inputs": dict(self.inputs),
                "output_scale": self.output_scale,
                "stages": [s.to_dict() for s in self.stages],
                "divergence": self.divergence.to_dict() if self.divergence else None}


@dataclass
class _Stage:
    name: str
    description: str
    outputs: Callable[[np.ndarray], np.ndarray]  # all inputs -> stacked outputs
    context: Callable[[np.ndarray], dict[str, np.ndarray]] | None  # one input -> all tensors
    nodes: Callable[[], list[Any]] | None
    constants: Callable[[], set[str]] | None


def chain_inputs(x: np.ndarray | None, dtype_range: tuple[str, float, float], shape: tuple[int, ...],
                 random: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Test samples, `random` uniform samples of the input type, then all-min and all-max."""
    _, low, high = dtype_range
    parts, kinds = [], []
    if x is not None and len(x):
        parts.append(np.asarray(x, dtype=np.float32).reshape(len(x), *shape))
        kinds += ["test"] * len(x)
    rng = np.random.default_rng(seed)
    parts.append(rng.integers(int(low), int(high) + 1, (random, *shape)).astype(np.float32))
    kinds += ["random"] * random
    parts += [np.full((1, *shape), low, np.float32), np.full((1, *shape), high, np.float32)]
    kinds += ["min", "max"]
    return np.concatenate(parts), kinds


def _brevitas(model: nn.Module) -> _Stage:
    return _Stage("brevitas", "Brevitas model (PyTorch, float64)",
                  lambda x: reference_outputs(model, x), None, None, None)


def _onnx_stage(name: str, description: str, path: Path, float64: bool) -> _Stage:
    graph = load_graph(path)
    if float64:
        graph = to_float64(graph)
        description += " (float64)"
    return _Stage(
        name, description,
        lambda x: np.stack([run_graph(graph, s, float64=float64)[0] for s in x]),
        lambda s: run_graph(graph, s, full=True, float64=float64),
        lambda: graph_nodes(graph),
        lambda: {i.name for i in graph.graph.initializer},
    )


def _folded_stage(hw: HWGraph) -> tuple[_Stage, Any]:
    folded = FoldedGraph(hw)
    stage = _Stage("folded", "specialised and folded accelerator (de-specialised copy)",
                   lambda x: np.stack([folded.run(s)[0] for s in x]),
                   lambda s: folded.run(s, full=True), folded.nodes, folded.constants)
    return stage, folded


def _compare(a: np.ndarray, b: np.ndarray, scale: np.ndarray, bias: np.ndarray
             ) -> tuple[np.ndarray, float, float]:
    """(per-sample match, max abs diff, max diff in output steps) of two output batches."""
    if a.shape != b.shape:
        raise ModelError(f"two stages disagree on the output shape: {a.shape} vs {b.shape}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    ia, ib = (a - bias) / scale, (b - bias) / scale
    lsb = np.abs(ia - ib)
    tolerance = GRID_ATOL + GRID_RTOL * np.maximum(np.abs(ia), np.abs(ib))
    per_sample = np.all((lsb <= tolerance).reshape(len(a), -1), axis=1)
    return per_sample, float(np.max(np.abs(a - b), initial=0.0)), float(np.max(lsb, initial=0.0))


def simulate_chain(model: nn.Module | None, onnx_path: Path, x: np.ndarray | None, *, hw: HWGraph,
                   stages_dir: Path | None = None, random_inputs: int = 8, seed: int = 0,
                   stop_at_divergence: bool = True) -> ChainResult:
    """Run the chain on test samples `x` (N, C, H, W), random and boundary inputs.

    `hw` is the folded graph; `stages_dir` holds compile_to_hw's stage graphs (by default
    the directory the compile wrote to). `model` may be None (a user QONNX file)."""
    qonnx = load_graph(Path(onnx_path))
    shape = tuple(qonnx.get_tensor_shape(qonnx.graph.input[0].name))[1:]
    inputs, kinds = chain_inputs(x, input_range(qonnx), shape, random_inputs, seed)
    directory = Path(stages_dir) if stages_dir is not None else default_stages_dir(hw)
    stages = [_brevitas(model)] if model is not None else []
    stages.append(_onnx_stage("qonnx", "QONNX export", Path(onnx_path), float64=True))
    stages += [_onnx_stage(name, text, directory / file, exact)
               for name, file, text, exact in COMPILE_STAGES]
    folded_stage, folded = _folded_stage(hw)
    stages.append(folded_stage)
    scale, bias = output_affine(hw.parent)
    try:
        return _run(stages, inputs, kinds, scale, bias, stop_at_divergence)
    finally:
        folded.close()


def _run(stages: list[_Stage], inputs: np.ndarray, kinds: list[str], scale: np.ndarray,
         bias: np.ndarray, stop_at_divergence: bool) -> ChainResult:
    results: list[StageResult] = []
    divergence: Divergence | None = None
    previous: np.ndarray | None = None
    for i, stage in enumerate(stages):
        start = time.perf_counter()
        out = np.asarray(stage.outputs(inputs))
        seconds = time.perf_counter() - start
        if previous is None:
            results.append(StageResult(stage.name, stage.description, len(inputs), len(inputs),
                                       0.0, 0.0, seconds))
        else:
            match, abs_diff, lsb_diff = _compare(previous, out, scale, bias)
            results.append(StageResult(stage.name, stage.description, len(inputs),
                                       int(match.sum()), abs_diff, lsb_diff, seconds))
            if not match.all() and divergence is None:
                sample = int(np.argmin(match))
                node = _locate(stages[i - 1], stage, inputs[sample])
                divergence = Divergence(stage.name, stages[i - 1].name, sample, kinds[sample],
                                        abs_diff, lsb_diff, node)
                if stop_at_divergence:
                    break
        previous = out
    counts = {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
    return ChainResult(tuple(results), counts, float(np.min(np.abs(scale))),
                       divergence is None, divergence)


def _locate(before: _Stage, after: _Stage, sample: np.ndarray) -> NodeDivergence | None:
    if before.context is None or after.context is None or after.nodes is None:
        return None  # no tensor-level view of a PyTorch model
    assert before.constants is not None and after.constants is not None
    reference = {k: v for k, v in before.context(sample).items() if k not in before.constants()}
    return locate_divergence(after.nodes(), after.context(sample), reference)
