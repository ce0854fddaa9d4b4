"""Boards as data: one YAML file per board under `boards/`, loaded into a frozen, validated
`Board`. No part number, resource count or clock lives in Python; adding a board is adding
a file, and `load_board` accepts a path to a user's own file as well as a name or alias."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import BoardError, ConfigError

RESOURCE_KINDS = ("LUT", "BRAM_18K", "URAM", "DSP")  # the kinds FINN estimates and caps apply to
RESOURCE_FIELDS = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")  # what a board file lists
SHELLS = ("zynq", "alveo")  # FINN's shell_flow_type vivado_zynq / vitis_alveo
BOARD_KEYS = (
    "name", "aliases", "part", "finn_board", "shell", "clock_mhz", "resources", "caps",
    "host_io", "shell_resources", "source",
)
HOST_IO_KEYS = ("port_width_bits", "port_clock", "link_gbytes_per_s")
HOST_IO_OPTIONAL = ("batch_overhead_ms", "frame_overhead_us")  # may be left out (= null)
KERNEL_CLOCK = "kernel"  # host_io.port_clock: the port runs at the accelerator's clock
_ZERO_ALLOWED = frozenset({"URAM"})  # devices without UltraRAM are common; every other kind exists
_FORMAT_HINT = "see boards/pynq-z1.yaml for a complete example"


class FrozenMapping(Mapping[str, Any]):
    """A read-only dict that, unlike MappingProxyType, hashes, pickles and deep-copies."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMapping, (self._data,))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"


@dataclass(frozen=True)
class HostIO:
    """The shell's data path between host memory and the accelerator. FINN's shells move every
    input and output frame through IODMAs on one AXI memory port `port_width_bits` wide (the
    widest interface InsertIODMA may give them), clocked at `port_clock_mhz` (None: the kernel
    clock, as both FINN shells do), behind a host link of `link_gbytes_per_s` per direction
    (None: nothing past the port, e.g. a Zynq HP port straight into the PS memory).
    `batch_overhead_ms`: the fixed time one batch costs on top of streaming its frames when
    the host runs it as FINN's driver does (start the DMAs, wait for the last output), from
    published measurements (None: no figure; codesign.finn.host_io.BatchCost);
    `frame_overhead_us`: the time each frame of such a batch takes beyond the streaming
    estimate (fitted on the same measurements; None: no figure)."""

    port_width_bits: int
    port_clock_mhz: float | None
    link_gbytes_per_s: float | None
    batch_overhead_ms: float | None = None
    frame_overhead_us: float | None = None

    def port_clock(self, kernel_clock_mhz: float) -> float:
        return kernel_clock_mhz if self.port_clock_mhz is None else self.port_clock_mhz

    def to_file_dict(self) -> dict[str, Any]:
        return {"port_width_bits": self.port_width_bits,
                "port_clock": KERNEL_CLOCK if self.port_clock_mhz is None else self.port_clock_mhz,
                "link_gbytes_per_s": self.link_gbytes_per_s,
                "batch_overhead_ms": self.batch_overhead_ms,
                "frame_overhead_us": self.frame_overhead_us}


@dataclass(frozen=True)
class Board:
    """An FPGA board: its part, resource totals, default clock and utilisation caps."""

    name: str
    aliases: tuple[str, ...]
    part: str
    finn_board: str | None
    shell: str
    clock_mhz: float
    resources: Mapping[str, int]
    caps: Mapping[str, float]
    host_io: HostIO
    # what the shell takes of `resources` (Zynq DMA + interconnect, Alveo static region and
    # memory controllers); None: no documented figure, nothing is reserved
    shell_resources: Mapping[str, int] | None
    source: str
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Validation lives here so a Board built in code is held to the same rules as a file.
        where = str(self.path) if self.path is not None else f"board {self.name!r}"
        check = _FieldChecker(where)
        set_ = object.__setattr__
        set_(self, "name", check.text("name", self.name))
        set_(self, "aliases", check.aliases(self.aliases))
        set_(self, "part", check.text("part", self.part))
        set_(self, "finn_board", check.finn_board(self.finn_board))
        set_(self, "shell", check.shell(self.shell))
        set_(self, "clock_mhz", check.clock(self.clock_mhz))
        set_(self, "resources", FrozenMapping(check.resources(self.resources)))
        set_(self, "caps", FrozenMapping(check.caps(self.caps)))
        set_(self, "host_io", check.host_io(self.host_io))
        shell = check.shell_resources(self.shell_resources, self.resources)
        set_(self, "shell_resources", None if shell is None else FrozenMapping(shell))
        set_(self, "source", check.text("source", self.source))
        if self.path is not None:
            set_(self, "path", Path(self.path))

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    def kernel_resources(self) -> dict[str, int]:
        """What the accelerator may place into: the device less what the shell takes."""
        shell = self.shell_resources or {}
        return {kind: self.resources[kind] - shell.get(kind, 0) for kind in RESOURCE_FIELDS}

    def budget(self) -> dict[str, float]:
        """Resources a design may use: (device - shell) times cap, for each kind FINN estimates."""
        kernel = self.kernel_resources()
        return {kind: kernel[kind] * self.caps[kind] for kind in RESOURCE_KINDS}

    def with_caps(self, **caps: float) -> Board:
        """A copy with some caps replaced, e.g. `board.with_caps(LUT=0.5)`."""
        for kind, value in caps.items():
            _check_cap_option(kind, value)
        return dataclasses.replace(self, caps={**self.caps, **caps})

    def with_clock(self, clock_mhz: float) -> Board:
        if not _is_number(clock_mhz) or clock_mhz <= 0:
            raise ConfigError(f"clock {clock_mhz!r} MHz is not valid; give a positive "
                              "frequency in MHz, e.g. 150")
        return dataclasses.replace(self, clock_mhz=float(clock_mhz))

    def to_file_dict(self) -> dict[str, Any]:
        """The board as a board file holds it (`load_board` on its YAML gives this board back)."""
        return {"name": self.name, "aliases": list(self.aliases), "part": self.part,
                "finn_board": self.finn_board, "shell": self.shell, "clock_mhz": self.clock_mhz,
                "resources": dict(self.resources), "caps": dict(self.caps),
                "host_io": self.host_io.to_file_dict(),
                "shell_resources": (None if self.shell_resources is None
                                    else dict(self.shell_resources)),
                "source": self.source}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "part": self.part,
            "finn_board": self.finn_board,
            "shell": self.shell,
            "clock_mhz": self.clock_mhz,
            "clock_period_ns": self.clock_period_ns,
            "resources": dict(self.resources),
            "caps": dict(self.caps),
            "host_io": self.host_io.to_file_dict(),
            "shell_resources": None if self.shell_resources is None else dict(self.shell_resources),
            "budget": self.budget(),
            "source": self.source,
            "path": str(self.path) if self.path is not None else None,
        }


class _FieldChecker:
    """Checks one field at a time; every message names the file, the field and the fix."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field_name: str, problem: str, fix: str) -> BoardError:
        return BoardError(f"{self.where}: field '{field_name}' {problem}; {fix}")

    def text(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, f"must be a non-empty string, got {value!r}", f"set {name}: <text>")
        return value.strip()

    def finn_board(self, value: Any) -> str | None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail("finn_board", f"must be FINN's board name or null, got {value!r}",
                            "use a key of finn.util.basic.part_map (e.g. Pynq-Z1) or null")
        return value.strip() if value is not None else None

    def aliases(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise self.fail("aliases", f"must be a list of names, got {value!r}",
                            "write e.g. aliases: [pynq-z1, pynqz1] (or aliases: [])")
        return tuple(self.text(f"aliases[{i}]", alias) for i, alias in enumerate(value))

    def shell(self, value: Any) -> str:
        if not isinstance(value, str) or value not in SHELLS:
            raise self.fail("shell", f"is {value!r}", f"use one of {', '.join(SHELLS)} "
                            "(zynq = FINN's Vivado Zynq flow, alveo = its Vitis Alveo flow)")
        return value

    def clock(self, value: Any) -> float:
        if not _is_number(value) or value <= 0:
            raise self.fail("clock_mhz", f"must be a positive number of MHz, got {value!r}",
                            "write e.g. clock_mhz: 100.0")
        return float(value)

    def _table(self, name: str, value: Any, keys: tuple[str, ...], example: str,
               what: str = "a known resource kind") -> Mapping:
        if not isinstance(value, Mapping):
            raise self.fail(name, f"must be a mapping, got {value!r}", f"write e.g. {example}")
        unknown = [str(k) for k in value if k not in keys]
        if unknown:
            raise self.fail(f"{name}.{unknown[0]}", f"is not {what}",
                            f"use exactly {', '.join(keys)}")
        missing = [k for k in keys if k not in value]
        if missing:
            raise self.fail(f"{name}.{missing[0]}", "is missing", f"add it, e.g. {example}")
        return value

    def resources(self, value: Any) -> dict[str, int]:
        example = "resources: {LUT: <n>, FF: <n>, BRAM_18K: <n>, URAM: <n or 0>, DSP: <n>}"
        table = self._table("resources", value, RESOURCE_FIELDS, example)
        for kind in RESOURCE_FIELDS:
            count, lowest = table[kind], 0 if kind in _ZERO_ALLOWED else 1
            if isinstance(count, bool) or not isinstance(count, int) or count < lowest:
                bound = "a whole number >= 0" if lowest == 0 else "a positive whole number"
                raise self.fail(f"resources.{kind}", f"must be {bound}, got {count!r}",
                                "copy the device total from the vendor data sheet")
        return {kind: table[kind] for kind in RESOURCE_FIELDS}

    def host_io(self, value: Any) -> HostIO:
        if isinstance(value, HostIO):
            value = value.to_file_dict()
        example = "host_io: {port_width_bits: 64, port_clock: kernel, link_gbytes_per_s: null}"
        optional: dict[str, Any] = {}
        if isinstance(value, Mapping):
            unknown = [str(k) for k in value if k not in HOST_IO_KEYS + HOST_IO_OPTIONAL]
            if unknown:
                raise self.fail(f"host_io.{unknown[0]}", "is not a host_io field",
                                f"use {', '.join(HOST_IO_KEYS)} and optionally "
                                f"{', '.join(HOST_IO_OPTIONAL)}")
            optional = {k: value[k] for k in HOST_IO_OPTIONAL if k in value}
            value = {k: v for k, v in value.items() if k not in HOST_IO_OPTIONAL}
        value = self._table("host_io", value, HOST_IO_KEYS, example, what="a host_io field")
        width = value["port_width_bits"]
        if (isinstance(width, bool) or not isinstance(width, int) or width < 8
                or width & (width - 1)):
            raise self.fail("host_io.port_width_bits", f"must be a power of two >= 8, got "
                            f"{width!r}", "give the DMA port's AXI data width, e.g. 64")
        clock = value["port_clock"]
        if clock != KERNEL_CLOCK and (not _is_number(clock) or clock <= 0):
            raise self.fail("host_io.port_clock", f"must be '{KERNEL_CLOCK}' or a positive "
                            f"number of MHz, got {clock!r}", "write port_clock: kernel")
        link = value["link_gbytes_per_s"]
        if link is not None and (not _is_number(link) or link <= 0):
            raise self.fail("host_io.link_gbytes_per_s", f"must be a positive number of GB/s "
                            f"or null, got {link!r}", "write e.g. 15.75 (PCIe Gen3 x16) or null")
        overheads = {key: optional.get(key) for key in HOST_IO_OPTIONAL}
        for key, unit, example in (("batch_overhead_ms", "milliseconds", "0.5"),
                                   ("frame_overhead_us", "microseconds", "0.06")):
            given = overheads[key]
            if given is not None and (not _is_number(given) or given < 0):
                raise self.fail(f"host_io.{key}", f"must be a number of {unit} >= 0 or null, "
                                f"got {given!r}", f"write e.g. {example} (from measured "
                                "batches, cite them in source) or null")
        return HostIO(width, None if clock == KERNEL_CLOCK else float(clock),
                      None if link is None else float(link),
                      **{key: None if v is None else float(v) for key, v in overheads.items()})

    def shell_resources(self, value: Any, resources: Mapping[str, int]) -> dict[str, int] | None:
        if value is None:
            return None
        example = "shell_resources: {LUT: <n>, FF: <n>, BRAM_18K: <n>, URAM: <n>, DSP: <n>} or null"
        table = self._table("shell_resources", value, RESOURCE_FIELDS, example)
        for kind in RESOURCE_FIELDS:
            count = table[kind]
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise self.fail(f"shell_resources.{kind}", f"must be a whole number >= 0, got "
                                f"{count!r}", "copy the shell's figure from its documented source")
            if count >= resources[kind] > 0:
                raise self.fail(f"shell_resources.{kind}", f"is {count:,}, not less than the "
                                f"device's {resources[kind]:,}", "give what the shell takes, "
                                "not what is left to the accelerator")
        return {kind: table[kind] for kind in RESOURCE_FIELDS}

    def caps(self, value: Any) -> dict[str, float]:
        example = "caps: {LUT: 0.7, BRAM_18K: 0.8, URAM: 0.8, DSP: 0.8}"
        table = self._table("caps", value, RESOURCE_KINDS, example)
        for kind in RESOURCE_KINDS:
            if not _is_fraction(table[kind]):
                raise self.fail(f"caps.{kind}", f"must be a fraction in (0, 1], got {table[kind]!r}",
                                "write e.g. 0.8 to allow 80 % of the device")
        return {kind: float(table[kind]) for kind in RESOURCE_KINDS}


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _is_fraction(value: Any) -> bool:
    return _is_number(value) and 0 < value <= 1


def _check_cap_option(kind: str, value: Any) -> None:
    if kind not in RESOURCE_KINDS:
        raise ConfigError(
            f"unknown resource kind {kind!r} in caps; use {', '.join(RESOURCE_KINDS)}"
        )
    if not _is_fraction(value):
        raise ConfigError(f"cap {kind}={value!r} must be a fraction in (0, 1], e.g. {kind}=0.7")


def parse_caps(text: str) -> dict[str, float]:
    """Parse a command-line cap list such as "LUT=0.7,BRAM_18K=0.5" (kinds case-insensitive)."""
    caps: dict[str, float] = {}
    by_upper = {kind.upper(): kind for kind in RESOURCE_KINDS}
    items = [item.strip() for item in text.split(",") if item.strip()]  # allow "LUT=0.7,"
    if not items:
        raise ConfigError("no caps given; write e.g. LUT=0.7,BRAM_18K=0.5")
    for item in items:
        key, sep, raw = item.partition("=")
        kind = by_upper.get(key.strip().upper())
        if not sep or kind is None:
            raise ConfigError(
                f"cannot read cap {item!r}; write KIND=FRACTION with KIND one of "
                f"{', '.join(RESOURCE_KINDS)}, e.g. LUT=0.7"
            )
        if kind in caps:
            raise ConfigError(f"cap {kind} is given twice in {text!r}; give each kind once")
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(
                f"cap {kind}={raw.strip()!r} is not a number; write e.g. {kind}=0.7"
            ) from None
        _check_cap_option(kind, value)
        caps[kind] = value
    return caps


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_board_file(path: Path) -> Board:
    try:
        # Parsing the open file (not its text) makes YAML error marks name the file.
        with path.open(encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_StrictLoader)
    except OSError as exc:
        raise BoardError(f"cannot read board file {path}: {exc.strerror}; check the path") from None
    except yaml.YAMLError as exc:
        raise BoardError(f"{path}: invalid YAML: {exc}; fix the syntax ({_FORMAT_HINT})") from None
    if not isinstance(data, dict):
        raise BoardError(
            f"{path}: a board file must be a mapping of fields, got "
            f"{type(data).__name__}; {_FORMAT_HINT}"
        )
    unknown = sorted(str(k) for k in data if k not in BOARD_KEYS)
    if unknown:
        raise BoardError(
            f"{path}: field '{unknown[0]}' is not a board field; remove it "
            f"(allowed: {', '.join(BOARD_KEYS)})"
        )
    missing = [k for k in BOARD_KEYS if k not in data]
    if missing:
        raise BoardError(f"{path}: field '{missing[0]}' is missing; add it ({_FORMAT_HINT})")
    return Board(**data, path=path)


def _lookup_key(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch not in "-_ \t")


def boards_dir() -> Path:
    override = os.environ.get("CODESIGN_BOARDS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "boards"


# Parsed catalogues by directory, reused while no board file changes (boards are immutable).
_CATALOG_CACHE: dict[Path, tuple[tuple[Any, ...], dict[str, Board]]] = {}


def _catalog() -> dict[str, Board]:
    """Every board in boards_dir(), keyed by normalised name and alias; rejects clashes."""
    directory = boards_dir()
    if not directory.is_dir():
        raise BoardError(
            f"board directory {directory} does not exist; set CODESIGN_BOARDS_DIR "
            "to a directory of board YAML files"
        )
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    cached = _CATALOG_CACHE.get(directory)
    if cached is not None and cached[0] == signature:
        return cached[1]
    by_key: dict[str, Board] = {}
    for path in files:
        board = _read_board_file(path)
        for label in (board.name, *board.aliases):
            key = _lookup_key(label)
            other = by_key.get(key)
            if other is not None and other is not board:
                raise BoardError(
                    f"{path}: name or alias {label!r} is already used by {other.name} in "
                    f"{other.path}; rename or remove one of them so each name is unique"
                )
            by_key[key] = board
    _CATALOG_CACHE[directory] = (signature, by_key)
    return by_key


def list_boards() -> list[Board]:
    """Every board in boards_dir(), in natural name order (Alveo U50 before Alveo U200)."""
    unique = {id(board): board for board in _catalog().values()}
    return sorted(unique.values(), key=lambda board: _natural_key(board.name))


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(t)) if t.isdigit() else (1, t.casefold())
                 for t in re.split(r"(\d+)", name) if t)


def _looks_like_path(spec: str) -> bool:
    return spec.endswith((".yaml", ".yml")) or "/" in spec or os.sep in spec


def load_board(spec: str | os.PathLike[str]) -> Board:
    """A board by name or alias (case, '-', '_' ignored) or from a path to a YAML file."""
    if isinstance(spec, os.PathLike) or _looks_like_path(spec):
        path = Path(spec)
        if not path.is_file():
            raise BoardError(
                f"board file {path} does not exist; give an existing YAML file or "
                "a board name (list them with `codesign boards list`)"
            )
        return _read_board_file(path)
    catalog = _catalog()
    board = catalog.get(_lookup_key(spec))
    if board is None:
        names = sorted({b.name for b in catalog.values()}, key=_natural_key)
        close = difflib.get_close_matches(_lookup_key(spec), list(catalog), n=1)
        hint = f" Did you mean {catalog[close[0]].name}?" if close else ""
        raise BoardError(
            f"unknown board {spec!r}.{hint} Known boards: {', '.join(names)}. "
            "A path to a board YAML file is accepted too (e.g. ./my-board.yaml)."
        )
    return board
