"""Simulation without hardware: the bit-exact functional chain through every toolchain stage,
stream packing checks, per-layer and whole-pipeline RTL simulation of FINN's RTL layers with
Verilator, and the simulation report. Importing this package is cheap: torch, FINN and
Verilator are only touched when a simulation runs."""

from codesign.sim.chain import ChainResult, Divergence, StageResult, simulate_chain
from codesign.sim.pipeline import FifoDepth, PipelineSim, simulate_pipeline
from codesign.sim.report import render_simulation_markdown, write_simulation
from codesign.sim.rtl_layers import LayerSim, simulate_layers
from codesign.sim.run import check_simulation, simulate_hardware
from codesign.sim.streams import StreamCheck, check_streams
from codesign.sim.verilator import SimulationStalled, cache_dir, find_verilator

__all__ = [
    "ChainResult",
    "Divergence",
    "FifoDepth",
    "LayerSim",
    "PipelineSim",
    "SimulationStalled",
    "StageResult",
    "StreamCheck",
    "cache_dir",
    "check_simulation",
    "check_streams",
    "find_verilator",
    "render_simulation_markdown",
    "simulate_chain",
    "simulate_hardware",
    "simulate_layers",
    "simulate_pipeline",
    "write_simulation",
]
