// codesign's AXI-stream broadcast: one input stream to N output streams, each receiving every
// beat. Used by codesign's whole-pipeline simulation in place of FINN's DuplicateStreams
// (HLS-only in finn-plus 1.6.1).
//
// Handshake: per-output registered acceptance. The input beat is offered to every output that
// has not taken it yet (Done[i] = 0); each output takes it independently when it is ready; the
// input beat is consumed in the cycle in which every output has taken it (earlier or in that
// cycle). One slow consumer therefore holds the beat for all outputs (a broadcast cannot run
// ahead of its slowest consumer without storage), but an output that is ready never waits for
// the other beyond that: with every output ready, one beat passes per cycle, with no register
// in the data path (no latency, no throughput limit). TVALID of an output never falls before
// its handshake: it depends only on the input's TVALID (held until the input handshake) and on
// Done[i], which rises only at that output's handshake.
module codesign_fork #(
  parameter int unsigned WIDTH = 8,
  parameter int unsigned N = 2
)(
  input  logic ap_clk,
  input  logic ap_rst_n,

  input  logic [WIDTH-1:0] in0_V_TDATA,
  input  logic in0_V_TVALID,
  output logic in0_V_TREADY,

  output logic [N*WIDTH-1:0] out_V_TDATA,  // output i in bits [i*WIDTH +: WIDTH]
  output logic [N-1:0] out_V_TVALID,
  input  logic [N-1:0] out_V_TREADY
);
  logic [N-1:0] Done = '0;  // output i has taken the current input beat
  uwire [N-1:0] taken = Done | (out_V_TVALID & out_V_TREADY);

  assign in0_V_TREADY = &taken;
  assign out_V_TVALID = {N{in0_V_TVALID}} & ~Done;
  assign out_V_TDATA = {N{in0_V_TDATA}};

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) Done <= '0;
    else if (in0_V_TVALID && in0_V_TREADY) Done <= '0;  // the beat has left: next one
    else Done <= taken;
  end
endmodule : codesign_fork
