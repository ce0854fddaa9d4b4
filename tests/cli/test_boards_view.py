"""The rich renderings show every board and every number a user needs to pick one."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from codesign.boards import RESOURCE_FIELDS, RESOURCE_KINDS, list_boards, load_board
from codesign.cli.boards_view import render_board_detail, render_board_table


def _text(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=250, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_board_table_has_one_row_per_board_with_totals() -> None:
    boards = list_boards()
    table = render_board_table(boards)
    assert table.row_count == len(boards)
    headers = [column.header for column in table.columns]
    assert {"Name", "Part", "Shell", "Clock MHz", *RESOURCE_FIELDS} <= set(headers)
    text = _text(table)
    for board in boards:
        row = next(line for line in text.splitlines() if f" {board.name} " in line)
        assert board.part in row
        assert f"{board.resources['LUT']:,}" in row and f"{board.resources['DSP']:,}" in row


@pytest.mark.parametrize("name", ["pynq-z1", "zcu104", "u250"])
def test_board_detail_shows_caps_and_budget(name: str) -> None:
    board = load_board(name).with_caps(LUT=0.55)
    text = _text(render_board_detail(board))
    for value in (board.name, board.part, board.shell, *board.aliases, f"{board.clock_mhz:g} MHz"):
        assert value in text
    lines = text.splitlines()
    budget = board.budget()
    for kind in RESOURCE_KINDS:
        row = next(line for line in lines if line.strip("│ ").startswith(kind + " "))
        assert f"{board.resources[kind]:,}" in row
        assert f"{board.caps[kind]:.0%}" in row
        assert f"{budget[kind]:,.0f}" in row
    assert "55%" in text
