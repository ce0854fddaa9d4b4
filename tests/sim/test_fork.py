"""codesign's AXI-stream broadcast (codesign/sim/hdl/codesign_fork.sv) on its own in Verilator:
every beat reaches both outputs once and in order, one beat per cycle when both consumers are
ready, and a slow consumer holds the beat without losing or repeating one on the other output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.sim.rtl_layers import run_design
from codesign.sim.testbench import StreamPort, TestbenchSpec
from codesign.sim.toplevel import FORK_SOURCE
from codesign.sim.verilator import SourceFile

pytestmark = pytest.mark.slow
WIDTH, BEATS = 16, 200
# out1's consumer takes a beat only every `slow`-th cycle (0 or 1: every cycle)
WRAPPER = f"""module fork_tb (
  input ap_clk, input ap_rst_n, input [31:0] slow,
  input [{WIDTH - 1}:0] in0_V_TDATA, input in0_V_TVALID, output in0_V_TREADY,
  output [{WIDTH - 1}:0] out0_V_TDATA, output out0_V_TVALID, input out0_V_TREADY,
  output [{WIDTH - 1}:0] out1_V_TDATA, output out1_V_TVALID, input out1_V_TREADY
);
  logic [31:0] t = 0;
  always_ff @(posedge ap_clk) t <= t + 1;
  wire gate = slow < 2 || t % slow == 0;
  wire [1:0] vld;
  codesign_fork #(.WIDTH({WIDTH}), .N(2)) dut (.ap_clk, .ap_rst_n, .in0_V_TDATA, .in0_V_TVALID,
    .in0_V_TREADY, .out_V_TDATA({{out1_V_TDATA, out0_V_TDATA}}), .out_V_TVALID(vld),
    .out_V_TREADY({{out1_V_TREADY && gate, out0_V_TREADY}}));
  assign out0_V_TVALID = vld[0];
  assign out1_V_TVALID = vld[1] && gate;
endmodule
"""


@pytest.mark.parametrize("slow", [1, 3])
def test_fork_broadcasts_every_beat_at_the_slower_consumers_rate(
        slow: int, verilator_cache: Path, tmp_path: Path) -> None:
    spec = TestbenchSpec("fork_tb", (StreamPort("in0_V", WIDTH),),
                         (StreamPort("out0_V", WIDTH), StreamPort("out1_V", WIDTH)),
                         controls=(("slow", 32),))
    beats = [int(b) for b in np.random.default_rng(0).integers(0, 1 << WIDTH, BEATS)]
    run = run_design("codesign_fork", spec, [SourceFile.from_path(FORK_SOURCE),
                                             SourceFile("fork_tb.sv", WRAPPER)],
                     tmp_path, inputs={"in0_V": (beats, WIDTH)}, cyclic={},
                     expect={"out0_V": BEATS, "out1_V": BEATS}, data_files=[], max_cycles=10_000,
                     stall_cycles=100, cache=verilator_cache, extra_args=(f"set=slow:{slow}",))
    for port in ("out0_V", "out1_V"):
        assert run.outputs[port][1] == beats
    accepted = run.accepted["in0_V"]
    # one beat per cycle with both consumers ready; otherwise the slow one sets the pace
    assert accepted[-1] - accepted[0] == pytest.approx(slow * (BEATS - 1), abs=slow)
    assert all(b - a >= 1 for a, b in zip(accepted, accepted[1:], strict=False))
