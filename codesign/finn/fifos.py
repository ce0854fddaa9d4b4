"""Stream FIFOs: the skip-branch buffers of residual forks, and the depth of every stream FIFO.

One import for the rest of codesign; the work is in small modules:
- codesign.finn.skip_branch_fifos: the token count each branch of a residual fork must hold to
  stay out of deadlock (skip_buffers), stored in the fork's outFIFODepths (size_skip_fifos);
- codesign.finn.stream_actors: FINN's build graph with a FIFO on every stream
  (stitched_streams) and each layer as an actor of the stream model (layer_actor);
- codesign.finn.stream_timing (with stream_schedule and stream_events): the cycle model of the
  stitched pipeline;
- codesign.finn.fifo_sizing: every FIFO's depth from that model (size_stream_fifos: the rate,
  a safe depth, the least depth searched with a margin calibrated on Verilator, FINN's minimum
  where the depth does not matter), never below the token count;
- codesign.finn.fifo_pricing: those FIFOs priced by FINN's StreamingFIFO_rtl estimate
  (priced_fifos, fifo_cost) and written as FINN's fifo_config_file (fifo_config)."""

from __future__ import annotations

from codesign.finn.fifo_pricing import (
    FifoEstimate,
    fifo_config,
    fifo_cost,
    fifo_price,
    priced_fifos,
    sized_fifos,
    stream_fifos,
)
from codesign.finn.fifo_sizing import (
    MARGIN_FRACTION,
    MARGIN_WORDS,
    SEARCH_WORDS,
    LeastWords,
    StreamFifo,
    StreamFifos,
    allowed_least,
    finn_depth,
    least_words,
    margin_words,
    size_stream_fifos,
)
from codesign.finn.skip_branch_fifos import (
    ELEMENTWISE,
    FORK,
    JOIN,
    PER_PIXEL,
    SLACK_WORDS,
    SkipBuffer,
    fork_depths,
    input_needs,
    size_skip_fifos,
    skip_buffers,
)
from codesign.finn.stream_actors import MODEL_FRAMES, Pipeline, layer_actor, stitched_streams

__all__ = [
    "ELEMENTWISE", "FORK", "JOIN", "MARGIN_FRACTION", "MARGIN_WORDS", "MODEL_FRAMES", "PER_PIXEL",
    "SEARCH_WORDS", "SLACK_WORDS", "FifoEstimate", "LeastWords", "Pipeline", "SkipBuffer",
    "StreamFifo", "StreamFifos", "allowed_least", "fifo_config", "fifo_cost", "fifo_price",
    "finn_depth", "fork_depths", "input_needs", "layer_actor", "least_words", "margin_words",
    "priced_fifos", "size_skip_fifos", "size_stream_fifos", "sized_fifos", "skip_buffers",
    "stitched_streams", "stream_fifos",
]
