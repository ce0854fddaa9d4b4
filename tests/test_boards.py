"""Board files and their loader: every shipped file is valid, names resolve, every malformed
file is rejected with a message naming the file and the field, and the numbers agree with
what finn-plus knows about the same boards."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from codesign.boards import (
    BOARD_KEYS,
    RESOURCE_FIELDS,
    RESOURCE_KINDS,
    Board,
    boards_dir,
    list_boards,
    load_board,
    parse_caps,
)
from codesign.errors import BoardError, CodesignError, ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIPPED_DIR = REPO / "boards"
SHIPPED_FILES = sorted(SHIPPED_DIR.glob("*.yaml"))
REQUIRED_BOARDS = {
    "Pynq-Z1", "Pynq-Z2", "Ultra96-V2", "AUP-ZU3", "KV260", "ZCU102", "ZCU104", "ZCU111",
    "Alveo U50", "Alveo U200", "Alveo U250", "Alveo U280", "Alveo U55C",
}


@pytest.fixture(autouse=True)
def _shipped_boards(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests see the repository's boards unless they point CODESIGN_BOARDS_DIR elsewhere.
    monkeypatch.delenv("CODESIGN_BOARDS_DIR", raising=False)


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- shipped files -------------------------------------------------------------------------


def test_boards_dir_defaults_to_repository_boards() -> None:
    assert boards_dir().resolve() == SHIPPED_DIR


def test_required_boards_are_shipped() -> None:
    names = {board.name for board in list_boards()}
    assert REQUIRED_BOARDS <= names, f"missing: {sorted(REQUIRED_BOARDS - names)}"


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_shipped_file_loads_and_is_consistent(path: Path) -> None:
    assert set(_raw(path)) == set(BOARD_KEYS), "a board file has exactly the documented keys"
    board = load_board(path)
    assert board.path == path
    assert path.name == path.name.lower()
    assert load_board(board.name) == board
    # 7-series and UltraScale+ CLBs carry two flip-flops per LUT.
    assert board.resources["FF"] == 2 * board.resources["LUT"]
    # Block RAM is sold in 36 Kb tiles, each two 18 Kb halves.
    assert board.resources["BRAM_18K"] % 2 == 0
    assert board.shell == ("alveo" if board.part.startswith("xcu") else "zynq")
    assert board.clock_period_ns == pytest.approx(1000.0 / board.clock_mhz)
    assert "MHz" in board.source, "source says where the default clock comes from"


def test_list_boards_is_sorted_and_unique() -> None:
    boards = list_boards()
    names = [board.name for board in boards]
    assert names.index("Alveo U50") < names.index("Alveo U55C") < names.index("Alveo U200")
    assert names.index("Alveo U280") < names.index("AUP-ZU3") < names.index("Pynq-Z1")
    assert names.index("ZCU102") < names.index("ZCU104") < names.index("ZCU111")
    assert len(set(names)) == len(names) == len(SHIPPED_FILES)


# --- names, aliases, paths -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("Pynq-Z1", "Pynq-Z1"), ("pynq_z1", "Pynq-Z1"), ("PYNQZ1", "Pynq-Z1"),
        ("pynq-z2", "Pynq-Z2"), ("u250", "Alveo U250"), ("Alveo U55C", "Alveo U55C"),
        ("alveo_u50", "Alveo U50"), ("KV260_SOM", "KV260"), ("AUP-ZU3_8GB", "AUP-ZU3"),
        ("zcu-104", "ZCU104"), ("ultra96v2", "Ultra96-V2"),
    ],
)
def test_name_and_alias_lookup(spec: str, name: str) -> None:
    assert load_board(spec).name == name


def test_every_alias_resolves_to_its_board() -> None:
    for board in list_boards():
        for alias in board.aliases:
            assert load_board(alias) == board, alias


def test_unknown_board_lists_known_names_and_mentions_paths() -> None:
    with pytest.raises(BoardError) as info:
        load_board("pynq-z9")
    message = str(info.value)
    assert all(name in message for name in REQUIRED_BOARDS)
    assert "path" in message and ".yaml" in message
    assert "Did you mean" in message


def test_load_from_path_str_and_pathlike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _raw(SHIPPED_DIR / "pynq-z1.yaml") | {"name": "My Board", "aliases": ["mine"]}
    path = _write(tmp_path / "my-board.yaml", data)
    by_path = load_board(path)
    assert by_path.name == "My Board" and by_path.path == path
    assert load_board(str(path)) == by_path
    monkeypatch.chdir(tmp_path)
    assert load_board("my-board.yaml") == by_path  # relative path, recognised by its suffix
    with pytest.raises(BoardError, match="mine"):  # a user file does not join the catalogue
        load_board("mine")


def test_missing_path_is_a_board_error(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match=re.escape(str(tmp_path / "nope.yaml"))):
        load_board(tmp_path / "nope.yaml")


def test_boards_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "only.yaml", _raw(SHIPPED_DIR / "zcu104.yaml"))
    monkeypatch.setenv("CODESIGN_BOARDS_DIR", str(tmp_path))
    assert boards_dir() == tmp_path
    assert [board.name for board in list_boards()] == ["ZCU104"]
    with pytest.raises(BoardError, match="ZCU104"):
        load_board("pynq-z1")


# --- validation ----------------------------------------------------------------------------


def _set(field: str, value: Any):
    def mutate(data: dict[str, Any]) -> None:
        *parents, leaf = field.split(".")
        target = data
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return mutate


def _delete(field: str):
    def mutate(data: dict[str, Any]) -> None:
        *parents, leaf = field.split(".")
        target = data
        for parent in parents:
            target = target[parent]
        del target[leaf]
    return mutate


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        pytest.param(_set("colour", "red"), "colour", id="unknown-key"),
        pytest.param(_delete("part"), "part", id="missing-field"),
        pytest.param(_delete("finn_board"), "finn_board", id="missing-nullable-field"),
        pytest.param(_set("resources.LUT", -5), "resources.LUT", id="negative-count"),
        pytest.param(_set("resources.DSP", 0), "resources.DSP", id="zero-count"),
        pytest.param(_set("resources.URAM", -1), "resources.URAM", id="negative-uram"),
        pytest.param(_set("resources.FF", 1.5), "resources.FF", id="fractional-count"),
        pytest.param(_set("resources.BRAM_18K", "280"), "resources.BRAM_18K", id="string-count"),
        pytest.param(_set("resources.CARRY8", 10), "resources.CARRY8", id="unknown-resource"),
        pytest.param(_delete("resources.FF"), "resources.FF", id="missing-resource"),
        pytest.param(_set("resources", [1, 2]), "resources", id="resources-not-mapping"),
        pytest.param(_set("caps.LUT", 1.5), "caps.LUT", id="cap-above-one"),
        pytest.param(_set("caps.DSP", 0), "caps.DSP", id="cap-zero"),
        pytest.param(_set("caps.BRAM_18K", True), "caps.BRAM_18K", id="cap-bool"),
        pytest.param(_delete("caps.URAM"), "caps.URAM", id="missing-cap"),
        pytest.param(_set("caps.FF", 0.5), "caps.FF", id="cap-for-uncapped-kind"),
        pytest.param(_set("shell", "versal"), "shell", id="bad-shell"),
        pytest.param(_set("clock_mhz", 0), "clock_mhz", id="zero-clock"),
        pytest.param(_set("clock_mhz", "fast"), "clock_mhz", id="string-clock"),
        pytest.param(_set("aliases", "pynq"), "aliases", id="aliases-not-list"),
        pytest.param(_set("name", ""), "name", id="empty-name"),
        pytest.param(_set("finn_board", 5), "finn_board", id="finn-board-not-string"),
        pytest.param(_set("host_io.port_width_bits", 48), "host_io.port_width_bits",
                     id="port-width-not-power-of-two"),
        pytest.param(_set("host_io.port_width_bits", 4), "host_io.port_width_bits",
                     id="port-width-below-a-byte"),
        pytest.param(_set("host_io.port_clock", "fast"), "host_io.port_clock", id="port-clock-word"),
        pytest.param(_set("host_io.port_clock", -100), "host_io.port_clock",
                     id="port-clock-negative"),
        pytest.param(_set("host_io.link_gbytes_per_s", 0), "host_io.link_gbytes_per_s",
                     id="zero-link"),
        pytest.param(_set("host_io.pcie_lanes", 16), "host_io.pcie_lanes", id="unknown-io-key"),
        pytest.param(_set("host_io.batch_overhead_ms", -0.5), "host_io.batch_overhead_ms",
                     id="negative-batch-overhead"),
        pytest.param(_set("host_io.batch_overhead_ms", "0.5ms"), "host_io.batch_overhead_ms",
                     id="batch-overhead-string"),
        pytest.param(_set("host_io.batch_overhead_ms", True), "host_io.batch_overhead_ms",
                     id="batch-overhead-bool"),
        pytest.param(_set("host_io.frame_overhead_us", -0.1), "host_io.frame_overhead_us",
                     id="negative-frame-overhead"),
        pytest.param(_set("host_io.frame_overhead_us", "60ns"), "host_io.frame_overhead_us",
                     id="frame-overhead-string"),
        pytest.param(_delete("host_io.port_clock"), "host_io.port_clock", id="missing-io-key"),
        pytest.param(_set("host_io", 64), "host_io", id="io-not-mapping"),
        pytest.param(_delete("host_io"), "host_io", id="missing-host-io"),
        pytest.param(_delete("shell_resources"), "shell_resources", id="missing-shell-resources"),
        pytest.param(_set("shell_resources", {"LUT": 10, "FF": 20, "BRAM_18K": 2, "URAM": 0}),
                     "shell_resources.DSP", id="shell-missing-kind"),
        pytest.param(_set("shell_resources", {"LUT": -1, "FF": 20, "BRAM_18K": 2, "URAM": 0,
                                              "DSP": 0}), "shell_resources.LUT",
                     id="shell-negative"),
        pytest.param(_set("shell_resources", {"LUT": 53200, "FF": 20, "BRAM_18K": 2, "URAM": 0,
                                              "DSP": 0}), "shell_resources.LUT",
                     id="shell-takes-whole-device"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, mutate, field: str) -> None:
    data = copy.deepcopy(_raw(SHIPPED_DIR / "pynq-z1.yaml"))
    mutate(data)
    path = _write(tmp_path / "broken.yaml", data)
    with pytest.raises(BoardError) as info:
        load_board(path)
    message = str(info.value)
    assert str(path) in message
    assert f"'{field}'" in message
    assert ";" in message, "the message goes on to say how to fix it"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("name: [unclosed\npart: x\n", "line", id="yaml-syntax"),
        pytest.param("name: A\nname: B\n", "appears twice", id="duplicate-key"),
        pytest.param("- just\n- a list\n", "mapping", id="not-a-mapping"),
        pytest.param("", "mapping", id="empty-file"),
    ],
)
def test_unreadable_yaml_names_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(BoardError) as info:
        load_board(path)
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_uram_may_be_zero_and_integer_clock_is_accepted(tmp_path: Path) -> None:
    data = _raw(SHIPPED_DIR / "zcu104.yaml")
    data["resources"]["URAM"] = 0
    data["clock_mhz"] = 150
    board = load_board(_write(tmp_path / "b.yaml", data))
    assert board.resources["URAM"] == 0 and board.clock_mhz == 150.0
    assert isinstance(board.clock_mhz, float)


def test_bad_file_in_catalogue_is_reported_on_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "good.yaml", _raw(SHIPPED_DIR / "pynq-z1.yaml"))
    (tmp_path / "bad.yaml").write_text("name: [\n")
    monkeypatch.setenv("CODESIGN_BOARDS_DIR", str(tmp_path))
    with pytest.raises(BoardError, match=re.escape(str(tmp_path / "bad.yaml"))):
        load_board("pynq-z1")


@pytest.mark.parametrize(
    "clash",
    [{"name": "PYNQ_Z1"}, {"name": "Other", "aliases": ["pynqz1"]}],
    ids=["same-name", "alias-equals-other-name"],
)
def test_duplicate_names_across_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clash: dict[str, Any]
) -> None:
    original = _raw(SHIPPED_DIR / "pynq-z1.yaml")
    _write(tmp_path / "a.yaml", original)
    _write(tmp_path / "b.yaml", original | {"aliases": []} | clash)
    monkeypatch.setenv("CODESIGN_BOARDS_DIR", str(tmp_path))
    with pytest.raises(BoardError) as info:
        list_boards()
    message = str(info.value)
    assert str(tmp_path / "a.yaml") in message and str(tmp_path / "b.yaml") in message


def test_catalogue_sees_edited_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESIGN_BOARDS_DIR", str(tmp_path))
    path = _write(tmp_path / "b.yaml", _raw(SHIPPED_DIR / "pynq-z2.yaml"))
    assert load_board("pynq-z2").clock_mhz == 100.0
    _write(path, _raw(path) | {"clock_mhz": 142.5})
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert load_board("pynq-z2").clock_mhz == 142.5
    _write(tmp_path / "c.yaml", _raw(SHIPPED_DIR / "kv260.yaml"))
    assert [b.name for b in list_boards()] == ["KV260", "Pynq-Z2"]


def test_missing_boards_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESIGN_BOARDS_DIR", str(tmp_path / "absent"))
    with pytest.raises(BoardError, match="CODESIGN_BOARDS_DIR"):
        list_boards()


def test_board_built_in_code_is_validated() -> None:
    good = load_board("pynq-z1")
    with pytest.raises(BoardError, match="caps.LUT"):
        dataclasses.replace(good, caps={**good.caps, "LUT": 2.0})
    with pytest.raises(BoardError, match="shell"):
        dataclasses.replace(good, shell="ZYNQ")


# --- the Board object ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["zcu104", "pynq-z2", "u250", "u55c"])
def test_budget_is_what_the_shell_leaves_times_cap(name: str) -> None:
    board = load_board(name)
    budget = board.budget()
    assert list(budget) == list(RESOURCE_KINDS)
    shell = board.shell_resources or dict.fromkeys(RESOURCE_FIELDS, 0)
    for kind in RESOURCE_KINDS:
        assert budget[kind] == pytest.approx((board.resources[kind] - shell[kind])
                                             * board.caps[kind])
    if board.shell == "alveo":  # the static region and memory controllers are not the kernel's
        assert budget["LUT"] < board.resources["LUT"] * board.caps["LUT"]


def test_a_board_file_with_a_shell_figure_reduces_the_budget(tmp_path: Path) -> None:
    data = _raw(SHIPPED_DIR / "pynq-z2.yaml")
    plain = load_board(_write(tmp_path / "plain.yaml", data))
    data["shell_resources"] = {"LUT": 5000, "FF": 6000, "BRAM_18K": 4, "URAM": 0, "DSP": 0}
    shelled = load_board(_write(tmp_path / "shelled.yaml", data))
    assert plain.budget()["LUT"] - shelled.budget()["LUT"] == pytest.approx(5000 * 0.7)
    assert plain.budget()["BRAM_18K"] - shelled.budget()["BRAM_18K"] == pytest.approx(4 * 0.8)
    assert shelled.budget()["DSP"] == plain.budget()["DSP"]
    assert load_board(_write(tmp_path / "again.yaml", shelled.to_file_dict())) == shelled


def test_with_caps_replaces_only_named_caps() -> None:
    board = load_board("pynq-z1")
    tighter = board.with_caps(LUT=0.5, DSP=1.0)
    assert tighter.caps == {**board.caps, "LUT": 0.5, "DSP": 1.0}
    assert tighter.budget()["LUT"] == pytest.approx(0.5 * board.kernel_resources()["LUT"])
    assert tighter.budget()["BRAM_18K"] == board.budget()["BRAM_18K"]
    assert board.caps["LUT"] != 0.5, "the original board is unchanged"
    assert tighter.path == board.path and tighter.resources == board.resources


@pytest.mark.parametrize(
    "caps",
    [{"FF": 0.5}, {"lut": 0.5}, {"LUT": 0.0}, {"LUT": 1.01}, {"DSP": -0.2}, {"URAM": True}],
)
def test_with_caps_rejects_bad_caps(caps: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        load_board("pynq-z1").with_caps(**caps)


def test_with_clock() -> None:
    board = load_board("pynq-z1").with_clock(125)
    assert board.clock_mhz == 125.0 and board.clock_period_ns == pytest.approx(8.0)
    for bad in (0, -100, float("inf"), float("nan"), "100"):
        with pytest.raises(ConfigError):
            board.with_clock(bad)  # type: ignore[arg-type]


def test_board_is_immutable_hashable_and_picklable() -> None:
    board = load_board("kv260")
    with pytest.raises(dataclasses.FrozenInstanceError):
        board.clock_mhz = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        board.resources["LUT"] = 1  # type: ignore[index]
    assert pickle.loads(pickle.dumps(board)) == board
    assert copy.deepcopy(board) == board
    assert len({board, load_board("k26"), load_board("pynq-z1")}) == 2


def test_to_dict_is_json_and_complete() -> None:
    board = load_board("u280").with_caps(LUT=0.6)
    data = json.loads(json.dumps(board.to_dict()))
    assert data["name"] == "Alveo U280" and data["part"] == board.part
    assert data["resources"] == dict(board.resources)
    assert data["caps"]["LUT"] == 0.6
    assert data["budget"]["LUT"] == pytest.approx(
        0.6 * (board.resources["LUT"] - data["shell_resources"]["LUT"]))
    assert data["host_io"] == {"port_width_bits": 512, "port_clock": "kernel",
                               "link_gbytes_per_s": 15.75, "batch_overhead_ms": None,
                               "frame_overhead_us": None}
    assert data["clock_period_ns"] == pytest.approx(board.clock_period_ns)
    assert data["path"] == str(board.path)


# --- parse_caps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LUT=0.7", {"LUT": 0.7}),
        ("LUT=0.7,BRAM_18K=0.5", {"LUT": 0.7, "BRAM_18K": 0.5}),
        (" lut = 0.6 , dsp=1 ", {"LUT": 0.6, "DSP": 1.0}),
        ("URAM=0.25,", {"URAM": 0.25}),
    ],
)
def test_parse_caps(text: str, expected: dict[str, float]) -> None:
    assert parse_caps(text) == expected
    assert load_board("zcu104").with_caps(**parse_caps(text)).caps.items() >= expected.items()


@pytest.mark.parametrize(
    "text", ["", "LUT", "LUT=", "LUT=high", "FF=0.5", "LUT=1.5", "LUT=0", "LUT=0.5,LUT=0.6",
             "LUT:0.5"],
)
def test_parse_caps_rejects(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_caps(text)
    assert isinstance(info.value, CodesignError)
    assert "e.g." in str(info.value) or "once" in str(info.value)


# --- boards are data -----------------------------------------------------------------------


def test_no_part_or_resource_count_in_python_code() -> None:
    sources = {p: p.read_text() for p in (REPO / "codesign").rglob("*.py")}
    for board in list_boards():
        needles = {board.part, *(str(board.resources[k]) for k in ("LUT", "FF"))}
        needles |= {f"{board.resources[k]:_}" for k in ("LUT", "FF")}
        for path, text in sources.items():
            for needle in needles:
                assert not re.search(rf"(?<![\w.]){re.escape(needle)}(?![\w.])", text), (
                    f"{path} hard-codes {needle!r} from {board.path}; read it from the board"
                )


# --- cross-check against finn-plus ---------------------------------------------------------
# Our numbers come from AMD data sheets; finn-plus carries its own copies. Where they differ,
# the difference is listed here with its reason and the range of FINN/ours it may take, so a
# new discrepancy (or a typo in a board file) still fails.

_DYNAMIC_REGION = (
    0.80, 1.0,
    "FINN lists the dynamic region left to kernels (device minus the Vitis static shell, "
    "observed in Vivado / UG1120); our files list the whole device",
)
FINN_DIFFERENCES: dict[str, dict[str, tuple[float, float, str]]] = {
    **{
        cls: dict.fromkeys(RESOURCE_FIELDS, _DYNAMIC_REGION)
        for cls in ("Alveo_NxU50_Platform", "Alveo_NxU200_Platform", "Alveo_NxU250_Platform",
                    "Alveo_NxU280_Platform", "Alveo_NxU55C_Platform")
    },
    "ZU3EG_Platform": {
        "LUT": (1.0, 1.01, "FINN rounds to 71,000; DS891 lists 70,560"),
        "FF": (1.0, 1.01, "FINN uses 2 x its rounded LUT count"),
        "BRAM_18K": (0.95, 1.0, "FINN has 412; DS891 lists 216 x 36Kb = 432"),
    },
    "ZU7EV_Platform": {
        "LUT": (0.99, 1.0, "FINN rounds to 230,000; DS891 lists 230,400"),
        "FF": (0.99, 1.0, "FINN uses 2 x its rounded LUT count"),
        "BRAM_18K": (0.97, 1.0, "FINN has 610; DS891 lists 312 x 36Kb = 624"),
        "URAM": (0.95, 1.0, "FINN has 92; DS891 lists 96"),
    },
    "ZU9EG_Platform": {
        "LUT": (0.999, 1.0, "FINN rounds to 274,000; DS891 lists 274,080"),
        "FF": (0.999, 1.0, "FINN uses 2 x its rounded LUT count"),
    },
    "ZU28DR_Platform": {
        "LUT": (0.999, 1.0, "FINN rounds to 425,000; DS889 lists 425,280"),
        "FF": (0.999, 1.0, "FINN uses 2 x its rounded LUT count"),
    },
}
# FINN platform keys that name a board we ship under another name (same die).
FINN_PLATFORM_TO_BOARD = {"Ultra96": "Ultra96-V2"}  # FINN's Ultra96 is the V1 (-1-e part)


@pytest.fixture(scope="module")
def finn_util() -> tuple[Any, Any]:
    basic = pytest.importorskip("finn.util.basic")
    platforms = pytest.importorskip("finn.util.platforms")
    return basic, platforms


FINN_BOARDS = [b for b in list_boards() if b.finn_board is not None] if SHIPPED_FILES else []


@pytest.mark.parametrize("board", FINN_BOARDS, ids=lambda b: b.name)
def test_part_and_shell_agree_with_finn(finn_util: tuple[Any, Any], board: Board) -> None:
    basic, _ = finn_util
    assert board.finn_board in basic.part_map, f"FINN does not know {board.finn_board!r}"
    assert basic.part_map[board.finn_board] == board.part
    expected_shell = "alveo" if board.finn_board in basic.alveo_part_map else "zynq"
    assert board.shell == expected_shell
    if board.shell == "alveo":
        assert board.finn_board in basic.alveo_default_platform


def test_resource_totals_agree_with_finn_platforms(finn_util: tuple[Any, Any]) -> None:
    basic, platforms = finn_util
    ours = {b.finn_board: b for b in list_boards() if b.finn_board is not None}
    ours |= {key: load_board(name) for key, name in FINN_PLATFORM_TO_BOARD.items()}
    mismatches = []
    for key, platform_cls in platforms.platforms.items():
        assert key in ours, f"FINN models platform {key!r} but no board file covers it"
        board = ours[key]
        assert basic.part_map[key].split("-")[0] == board.part.split("-")[0], "same die"
        per_slr = platform_cls().compute_resources
        allowed = FINN_DIFFERENCES.get(platform_cls.__name__, {})
        for index, kind in enumerate(RESOURCE_FIELDS):
            finn_total = sum(int(slr[index]) for slr in per_slr)
            our_total = board.resources[kind]
            if kind in allowed and our_total > 0:
                low, high, _why = allowed[kind]
                ok = low <= finn_total / our_total <= high
            else:
                ok = finn_total == our_total
            if not ok:
                mismatches.append(f"{key} {kind}: FINN {finn_total}, {board.path.name} {our_total}")
    assert not mismatches, "\n".join(mismatches)


def test_caps_are_finns_default_limits(finn_util: tuple[Any, Any]) -> None:
    # The board files say their caps are FINN's floorplanning defaults; hold them to it.
    _, platforms = finn_util
    limits = dict(zip(RESOURCE_FIELDS, platforms.DEFAULT_RES_LIMITS, strict=True))
    for board in list_boards():
        assert board.caps == {kind: pytest.approx(limits[kind]) for kind in RESOURCE_KINDS}


@pytest.mark.parametrize("board", [b for b in FINN_BOARDS if b.shell == "zynq"], ids=lambda b: b.name)
def test_zynq_dma_port_is_finns_native_port_width(finn_util: tuple[Any, Any], board: Board) -> None:
    # ZynqBuild inserts IODMAs with InsertIODMA(pynq_native_port_width[board]); its shell clocks
    # the HP port from the kernel clock and has no link past it.
    basic, _ = finn_util
    assert board.host_io.port_width_bits == basic.pynq_native_port_width[board.finn_board]
    assert board.host_io.port_clock_mhz is None and board.host_io.link_gbytes_per_s is None
    assert "pynq_native_port_width" in board.source and "Shell resources" in board.source


@pytest.mark.parametrize("key", ["batch_overhead_ms", "frame_overhead_us"])
def test_batch_overheads_are_optional(key: str, tmp_path: Path) -> None:
    data = copy.deepcopy(_raw(SHIPPED_DIR / "pynq-z1.yaml"))
    data["host_io"].pop(key, None)
    assert getattr(load_board(_write(tmp_path / "no_batch.yaml", data)).host_io, key) is None
    data["host_io"][key] = 0
    assert getattr(load_board(_write(tmp_path / "zero.yaml", data)).host_io, key) == 0.0


@pytest.mark.skipif(not (REPO / "benchmarks/results/published.json").is_file(),
                    reason="benchmarks/published.py has not been run")
@pytest.mark.parametrize("board", list_boards() if SHIPPED_FILES else [], ids=lambda b: b.name)
def test_batch_overhead_is_the_published_fit(board: Board) -> None:
    # Zynq boards carry the per-batch and per-frame costs fitted in benchmarks/published.py
    # (FINN's PYNQ driver); no published measurement covers FINN's Alveo driver, so Alveo
    # boards have none.
    fit = json.loads((REPO / "benchmarks/results/published.json").read_text())["batch_overhead"]
    if board.shell == "zynq":
        assert board.host_io.batch_overhead_ms == pytest.approx(
            round(fit["fit_all_overhead_ms"], 3), abs=5e-4)
        assert board.host_io.frame_overhead_us == pytest.approx(
            round(fit["fit_all_frame_overhead_us"], 4), abs=5e-5)
    else:
        assert board.host_io.batch_overhead_ms is None and board.host_io.frame_overhead_us is None


@pytest.mark.parametrize("board", [b for b in FINN_BOARDS if b.shell == "alveo"], ids=lambda b: b.name)
def test_alveo_shell_is_the_device_less_finns_kernel_region(finn_util: tuple[Any, Any],
                                                            board: Board) -> None:
    basic, platforms = finn_util
    from finn.builder.build_dataflow_config import DataflowBuildConfig

    guide = platforms.platforms[board.finn_board]().guide_resources
    for i, kind in enumerate(RESOURCE_FIELDS):
        kernel = sum(int(slr[i]) for slr in guide)
        assert board.kernel_resources()[kind] == kernel, kind
    default_width = DataflowBuildConfig.__dataclass_fields__["vitis_iodma_intf_max_width"].default
    assert board.host_io.port_width_bits == default_width
    assert "gen3x16" in basic.alveo_default_platform[board.finn_board]
    # PCIe Gen3: 8 GT/s per lane, 128b/130b encoding, 16 lanes, per direction
    assert board.host_io.link_gbytes_per_s == pytest.approx(8 * 16 * 128 / 130 / 8, rel=1e-3)
    assert "guide_resources" in board.source and "PCIe Gen3 x16" in board.source
