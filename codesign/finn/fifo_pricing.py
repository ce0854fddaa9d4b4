"""Stream FIFOs as built and priced: every FIFO FINN's build inserts (one on each stream of the
stitched graph, converters' included, codesign.finn.stream_actors.stitched_streams) at the depth
codesign.finn.fifo_sizing gives it, priced by FINN's own StreamingFIFO_rtl estimate (depth,
width, ram_style; codesign.finn.estimates adds them to the totals), and written as FINN 1.6.1's
fifo_config_file (what step_set_fifo_depths reads with auto_fifo_depths=False)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from codesign.finn._env import base_op_type, quiet_finn
from codesign.finn.fifo_sizing import StreamFifos, size_stream_fifos
from codesign.finn.skip_branch_fifos import node_inst
from codesign.finn.stream_actors import stitched_streams

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

    from codesign.finn.compile import HWGraph


@lru_cache(maxsize=1 << 16)
def fifo_cost(depth: int, pe: int, bits: int, datatype: str, part: str) -> tuple[tuple[str, float], ...]:
    """FINN's estimate of a StreamingFIFO_rtl of `depth` words of `pe` x `bits`-bit lanes."""
    from onnx import helper

    node = helper.make_node("StreamingFIFO_rtl", ["in"], ["out"],
                            domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
                            depth=int(depth), folded_shape=[1, 1, pe], normal_shape=[1, pe],
                            dataType=datatype, ram_style="auto", impl_style="rtl")
    with quiet_finn():
        inst = node_inst(node)
        res = inst.node_res_estimation(part)
    return tuple((k, float(res.get(k, 0.0))) for k in ("LUT", "BRAM_18K", "URAM", "DSP"))


def fifo_price(model: ModelWrapper, part: str) -> Callable[[int, int], tuple[float, ...]]:
    """price(s, depth): FINN's (LUT, BRAM_18K, URAM, DSP) of the s-th StreamingFIFO of the
    stitched `model` at `depth` (what fifo_sizing's search orders and skips by)."""
    shapes = []
    with quiet_finn():
        for node in model.graph.node:
            if base_op_type(node.op_type) == "StreamingFIFO":
                inst = node_inst(node)
                lanes = int(inst.get_folded_output_shape()[-1])
                shapes.append((lanes, int(inst.get_instream_width()) // max(lanes, 1),
                               inst.get_input_datatype().name))

    def price(s: int, depth: int) -> tuple[float, ...]:
        lanes, bits, dtype = shapes[s]
        cost = dict(fifo_cost(depth, lanes, bits, dtype, part))
        return cost["LUT"], cost["BRAM_18K"], cost["URAM"], cost["DSP"]

    return price


def sized_fifos(model: ModelWrapper, part: str, *, search: bool = True) -> StreamFifos:
    """size_stream_fifos of the stitched `model` with FINN's prices on `part` (the search's order
    and skips): the depths fifo_config_file, the estimates and the simulations all use
    (search=False: the safe depths, what the folding optimizer prices its trial plans at)."""
    return size_stream_fifos(model, fifo_price(model, part), search=search)


@dataclass(frozen=True)
class FifoEstimate:
    """A stream FIFO of the accelerator as built, with FINN's estimate of it."""

    producer: str
    output: int
    consumer: str | None
    depth: int
    width: int
    lut: float
    bram_18k: float
    uram: float
    dsp: float
    name: str = ""  # as FINN's build names it (the fifo_config_file's key)
    words: int = 0  # words codesign's stream model says it must hold

    def cost(self) -> dict[str, float]:
        return {"LUT": self.lut, "BRAM_18K": self.bram_18k, "URAM": self.uram, "DSP": self.dsp}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "producer": self.producer, "output": self.output,
                "consumer": self.consumer, "depth": self.depth, "words": self.words,
                "width": self.width, **self.cost()}


def _model_key(hw: HWGraph, search: bool) -> tuple[str, str, bool]:
    import hashlib

    return hashlib.sha1(hw.model.model.SerializeToString()).hexdigest(), hw.part, search


_SIZED: dict[tuple[str, str, bool], tuple[Any, StreamFifos]] = {}


def forget_sized() -> None:
    """Empty the per-graph cache of stream_fifos and fifo_cost's (for timing cold runs)."""
    _SIZED.clear()
    fifo_cost.cache_clear()


def stream_fifos(hw: HWGraph, *, search: bool = True) -> tuple[ModelWrapper, StreamFifos]:
    """The stitched graph of `hw` (stitched_streams) and the depth of each of its FIFOs
    (size_stream_fifos; search=False: the safe depths); cached per graph, since estimates ask
    for it often."""
    key = _model_key(hw, search)
    if key not in _SIZED:
        if len(_SIZED) > 64:
            _SIZED.clear()
        model = stitched_streams(hw)
        with quiet_finn():
            _SIZED[key] = (model, sized_fifos(model, hw.part, search=search))
    return _SIZED[key]


def priced_fifos(hw: HWGraph, *, search: bool = True) -> tuple[FifoEstimate, ...]:
    """Every stream FIFO FINN's build of `hw` inserts (one on each stream, converters' included),
    at the depth codesign's stream model gives it (search=False: its safe depth), priced by
    FINN's StreamingFIFO_rtl estimate."""
    _, sized = stream_fifos(hw, search=search)
    found = []
    for fifo in sized.fifos:
        cost = dict(fifo_cost(fifo.depth, fifo.lanes, fifo.width // max(fifo.lanes, 1),
                              fifo.dtype, hw.part))
        found.append(FifoEstimate(fifo.producer, 0, fifo.consumer, fifo.depth, fifo.width,
                                  cost["LUT"], cost["BRAM_18K"], cost["URAM"], cost["DSP"],
                                  fifo.name, fifo.words))
    return tuple(found)


def fifo_config(hw: HWGraph) -> dict[str, Any]:
    """FINN's fifo_config_file for `hw` (what its step_set_fifo_depths reads with
    auto_fifo_depths=False): every FIFO that step inserts, by the name it gives it, at the
    depth of codesign's stream model."""
    model, sized = stream_fifos(hw)
    config: dict[str, Any] = {"fifo_depths": {}, "fifo_sizes": {}, "impl_style": {},
                              "ram_style": {}}
    with quiet_finn():
        for fifo in sized.fifos:
            inst = node_inst(model.get_node_from_name(fifo.name))
            config["fifo_depths"][fifo.name] = fifo.depth
            config["fifo_sizes"][fifo.name] = fifo.width * fifo.depth
            config["impl_style"][fifo.name] = inst.get_nodeattr("impl_style")
            config["ram_style"][fifo.name] = inst.get_nodeattr("ram_style")
    config["total_fifo_size_kiB"] = sum(config["fifo_sizes"].values()) / 8 / 1024
    return config
