"""A generic AXI-stream testbench, generated as C++ for a Verilated top module.

The testbench knows only port names and widths (the structure, which is compiled in); what it
streams is read at run time from files in its working directory, so one build serves every
input. For each slave stream `<s>` it reads `<s>.in.hex` (one beat per line, hex); for each
master stream it writes `<s>.out.hex` lines `<cycle> <hex beat>`; for each slave stream it writes
`<s>.acc` with the cycle each beat was accepted. Command line:

    sim <max_cycles> <stall_cycles> <out stream>=<beats> ... [cyclic=<in stream>] ...
        [pace=<in stream>:<beats per frame>:<period>] [set=<control port>:<value>] ...

It stops when every master stream has produced its beats (exit 0), when no stream moved for
`stall_cycles` cycles (exit 3, a stalled pipeline) or after `max_cycles` (exit 4). A paced
stream offers frame f (of `beats per frame` beats) no earlier than cycle f * period, as a source
running at that throughput would. Control ports (plain inputs, e.g. run-time limits of a
generated top level) hold the value `set` gives them (0 if not given) from reset on. Monitor ports
(plain outputs, e.g. FIFO occupancy counters of a generated top level) are printed at the end as
`MONITOR <port> <value>`. Masters are always ready (no back-pressure): the measured cycles are
those of the design itself."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_DONE, EXIT_BAD_INPUT, EXIT_STALLED, EXIT_TIMEOUT = 0, 2, 3, 4
RESET_CYCLES = 16


@dataclass(frozen=True)
class StreamPort:
    """An AXI-stream interface of the top module: `<name>_TDATA/_TVALID/_TREADY`."""

    name: str
    width: int  # TDATA bits (byte-aligned in FINN wrappers)

    @property
    def words(self) -> int:
        return (self.width + 31) // 32


@dataclass(frozen=True)
class TestbenchSpec:
    top: str
    slaves: tuple[StreamPort, ...]  # streams the testbench drives (layer inputs)
    masters: tuple[StreamPort, ...]  # streams the testbench consumes (layer outputs)
    clock: str = "ap_clk"
    clock2x: str | None = None  # driven like `clock` (FINN ties ap_clk2x to ap_clk unless pumped)
    reset_n: str = "ap_rst_n"
    monitors: tuple[tuple[str, int], ...] = ()  # (port, width <= 64) printed at the end
    controls: tuple[tuple[str, int], ...] = ()  # (port, width <= 64) set from the command line


def _set_data(port: StreamPort, source: str) -> str:
    """C++ that puts the beat at `source` (uint32 words) on the port's TDATA."""
    sig = f"top->{port.name}_TDATA"
    if port.width > 64:
        return "".join(f"{sig}[{i}] = {source}[{i}]; " for i in range(port.words))
    if port.width > 32:
        return f"{sig} = (uint64_t){source}[0] | ((uint64_t){source}[1] << 32);"
    return f"{sig} = {source}[0];"


def _get_data(port: StreamPort, target: str) -> str:
    sig = f"top->{port.name}_TDATA"
    if port.width > 64:
        return "".join(f"{target}[{i}] = {sig}[{i}]; " for i in range(port.words))
    if port.width > 32:
        return f"{target}[0] = (uint32_t){sig}; {target}[1] = (uint32_t)((uint64_t){sig} >> 32);"
    return f"{target}[0] = (uint32_t){sig};"


_PRELUDE = r"""
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include "verilated.h"
#include "V@TOP@.h"

struct In { const char* name; int words; std::vector<uint32_t> data; size_t beats = 0, pos = 0;
            bool cyclic = false; FILE* acc = nullptr;
            unsigned long long pace_beats = 0, pace_period = 0; };
struct Out { const char* name; int words; size_t expect = 0, got = 0; FILE* log = nullptr; };

static bool load_hex(In& s) {
  std::string path = std::string(s.name) + ".in.hex";
  FILE* f = fopen(path.c_str(), "r");
  if (!f) { fprintf(stderr, "cannot open %s\n", path.c_str()); return false; }
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    size_t n = strcspn(line, "\r\n "); line[n] = 0;
    if (!n) continue;
    std::vector<uint32_t> beat(s.words, 0);
    for (size_t i = 0; i < n; ++i) {  // hex digit i counted from the least significant end
      char c = line[n - 1 - i];
      uint32_t v = (c >= '0' && c <= '9') ? c - '0' : (c | 32) - 'a' + 10;
      if (i / 8 < (size_t)s.words) beat[i / 8] |= v << (4 * (i % 8));
    }
    s.data.insert(s.data.end(), beat.begin(), beat.end());
    ++s.beats;
  }
  fclose(f);
  return true;
}

static void write_hex(FILE* f, const uint32_t* w, int words) {
  for (int i = words - 1; i >= 0; --i) fprintf(f, "%08x", w[i]);
}

int main(int argc, char** argv) {
  Verilated::commandArgs(1, argv);
  if (argc < 3) { fprintf(stderr, "usage: sim max_cycles stall_cycles out=beats...\n"); return 2; }
  const unsigned long long max_cycles = strtoull(argv[1], nullptr, 10);
  const unsigned long long stall_cycles = strtoull(argv[2], nullptr, 10);
  V@TOP@* top = new V@TOP@;
"""

_LOOP = r"""
  for (int a = 3; a < argc; ++a) {
    std::string arg(argv[a]);
    size_t eq = arg.find('=');
    if (eq == std::string::npos) { fprintf(stderr, "bad argument %s\n", argv[a]); return 2; }
    std::string key = arg.substr(0, eq), val = arg.substr(eq + 1);
    bool known = false;
    for (auto& o : outs) if (key == o.name) { o.expect = strtoull(val.c_str(), nullptr, 10); known = true; }
    if (key == "cyclic") for (auto& s : ins) if (val == s.name) { s.cyclic = true; known = true; }
    if (key == "pace") for (auto& s : ins) {
      size_t c1 = val.find(':'), c2 = val.rfind(':');
      if (c1 == std::string::npos || c1 == c2 || val.substr(0, c1) != s.name) continue;
      s.pace_beats = strtoull(val.substr(c1 + 1, c2 - c1 - 1).c_str(), nullptr, 10);
      s.pace_period = strtoull(val.substr(c2 + 1).c_str(), nullptr, 10);
      known = s.pace_beats > 0;
    }
    @CONTROLS@
    if (!known) { fprintf(stderr, "unknown stream in argument %s\n", argv[a]); return 2; }
  }
  for (auto& s : ins) {
    if (!load_hex(s)) return 2;
    if (s.cyclic && !s.beats) { fprintf(stderr, "cyclic stream %s is empty\n", s.name); return 2; }
    s.acc = fopen((std::string(s.name) + ".acc").c_str(), "w");
  }
  for (auto& o : outs) o.log = fopen((std::string(o.name) + ".out.hex").c_str(), "w");

  @RESET_LOW@
  for (int i = 0; i < @RESET_CYCLES@; ++i) { @CLK@(0); top->eval(); @CLK@(1); top->eval(); }
  @RESET_HIGH@
  unsigned long long cycle = 0, last_move = 0;
  int status = 4;
  std::vector<uint32_t> beat(@MAXWORDS@, 0);
  while (cycle < max_cycles) {
    bool done = true;
    for (auto& o : outs) done = done && o.got >= o.expect;
    if (done) { status = 0; break; }
    if (cycle - last_move > stall_cycles) { status = 3; break; }
    @DRIVE@
    @CLK@(0); top->eval();
    bool moved = false;
    @SAMPLE@
    @CLK@(1); top->eval();
    if (moved) last_move = cycle;
    ++cycle;
  }
  for (auto& s : ins) { fclose(s.acc); }
  for (auto& o : outs) { fclose(o.log); }
  const char* names[] = {"DONE", "", "", "STALLED", "TIMEOUT"};
  printf("%s cycles=%llu last_move=%llu\n", names[status], cycle, last_move);
  for (auto& s : ins) printf("IN %s %zu/%zu\n", s.name, s.pos, s.beats);
  for (auto& o : outs) printf("OUT %s %zu/%zu\n", o.name, o.got, o.expect);
  @MONITORS@
  top->final();
  delete top;
  return status;
}
"""


def generate_testbench(spec: TestbenchSpec) -> str:
    """C++ source of the testbench for `spec` (deterministic: part of the build's cache key)."""
    clocks = [spec.clock] + ([spec.clock2x] if spec.clock2x else [])
    clk = "".join(f"top->{c} = v; " for c in clocks)
    ins = ", ".join(f'In{{"{p.name}", {p.words}}}' for p in spec.slaves)
    outs = ", ".join(f'Out{{"{p.name}", {p.words}}}' for p in spec.masters)
    drive, sample = [], []
    for i, port in enumerate(spec.slaves):
        drive.append(
            f"{{ In& s = ins[{i}]; bool v = (s.pos < s.beats || (s.cyclic && s.beats)) && "
            f"(!s.pace_beats || (s.pos / s.pace_beats) * s.pace_period <= cycle); "
            f"top->{port.name}_TVALID = v; "
            f"if (v) {{ const uint32_t* d = &s.data[(s.pos % s.beats) * s.words]; "
            f"{_set_data(port, 'd')} }} }}")
        sample.append(
            f"if (top->{port.name}_TVALID && top->{port.name}_TREADY) {{ In& s = ins[{i}]; "
            f"if (!s.cyclic) fprintf(s.acc, \"%llu\\n\", cycle); ++s.pos; moved = true; }}")
    for i, port in enumerate(spec.masters):
        drive.append(f"top->{port.name}_TREADY = 1;")
        sample.append(
            f"if (top->{port.name}_TVALID) {{ Out& o = outs[{i}]; {_get_data(port, 'beat')} "
            f"fprintf(o.log, \"%llu \", cycle); write_hex(o.log, beat.data(), o.words); "
            f"fputc('\\n', o.log); ++o.got; moved = true; }}")
    controls = "".join(
        f'if (key == "set" && val.rfind("{name}:", 0) == 0) {{ top->{name} = '
        f'strtoull(val.substr({len(name) + 1}).c_str(), nullptr, 10); known = true; }} '
        for name, _ in spec.controls)
    monitors = "".join(
        f'printf("MONITOR {name} %llu\\n", (unsigned long long)top->{name}); '
        for name, _ in spec.monitors)
    max_words = max([p.words for p in spec.slaves + spec.masters] + [1])
    body = (_PRELUDE.replace("@TOP@", spec.top)
            + f"  auto CLKSET = [&](int v) {{ {clk}}};\n"
            + f"  std::vector<In> ins = {{{ins}}};\n  std::vector<Out> outs = {{{outs}}};\n"
            + _LOOP)
    return (body.replace("@CLK@", "CLKSET")
            .replace("@RESET_LOW@", f"top->{spec.reset_n} = 0;")
            .replace("@RESET_HIGH@", f"top->{spec.reset_n} = 1;")
            .replace("@RESET_CYCLES@", str(RESET_CYCLES))
            .replace("@MAXWORDS@", str(max_words))
            .replace("@DRIVE@", "\n    ".join(drive))
            .replace("@SAMPLE@", "\n    ".join(sample))
            .replace("@MONITORS@", monitors)
            .replace("@CONTROLS@", controls))


def format_beats(beats: list[int], width: int) -> str:
    """Beats (non-negative ints, as FINN's packing returns them) as the testbench's hex lines."""
    digits = (width + 3) // 4
    limit = 1 << width
    lines = []
    for beat in beats:
        if not 0 <= beat < limit:
            raise ValueError(f"beat {beat:#x} does not fit a {width}-bit stream")
        lines.append(f"{beat:0{digits}x}")
    return "\n".join(lines) + ("\n" if lines else "")


def parse_output(text: str) -> tuple[list[int], list[int]]:
    """(cycles, beats) from a `<stream>.out.hex` file written by the testbench."""
    cycles, beats = [], []
    for line in text.splitlines():
        if line.strip():
            cycle, beat = line.split()
            cycles.append(int(cycle))
            beats.append(int(beat, 16))
    return cycles, beats
