"""Rich renderings of boards for the CLI (`codesign boards list` / `codesign boards show`).
Pure functions: they build renderables and never print."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group
from rich.table import Table

from codesign.boards import RESOURCE_FIELDS, RESOURCE_KINDS, Board


def _count(value: float) -> str:
    return f"{value:,.0f}"


def render_board_table(boards: Iterable[Board]) -> Table:
    """One row per board: identity, default clock and resource totals."""
    table = Table(title="Boards", title_justify="left")
    table.add_column("Name", style="bold")
    table.add_column("Aliases")
    table.add_column("Part")
    table.add_column("Shell")
    table.add_column("Clock MHz", justify="right")
    for kind in RESOURCE_FIELDS:
        table.add_column(kind, justify="right")
    for board in boards:
        table.add_row(
            board.name, ", ".join(board.aliases), board.part, board.shell,
            f"{board.clock_mhz:g}", *(_count(board.resources[kind]) for kind in RESOURCE_FIELDS),
        )
    return table


def render_board_detail(board: Board) -> Group:
    """A property sheet for one board, then its resources with caps and the resulting budget."""
    sheet = Table.grid(padding=(0, 2))
    sheet.add_column(style="bold")
    sheet.add_column()
    sheet.add_row("Name", board.name)
    sheet.add_row("Aliases", ", ".join(board.aliases) or "-")
    sheet.add_row("Part", board.part)
    sheet.add_row("FINN board", board.finn_board or "- (unknown to FINN)")
    sheet.add_row("Shell", board.shell)
    sheet.add_row("Clock", f"{board.clock_mhz:g} MHz ({board.clock_period_ns:g} ns)")
    io = board.host_io
    clock = "kernel clock" if io.port_clock_mhz is None else f"{io.port_clock_mhz:g} MHz"
    link = "" if io.link_gbytes_per_s is None else f", host link {io.link_gbytes_per_s:g} GB/s"
    sheet.add_row("Host I/O", f"{io.port_width_bits}-bit DMA port at the {clock}{link}")
    sheet.add_row("Source", board.source)
    sheet.add_row("File", str(board.path) if board.path is not None else "-")

    budget = board.budget()
    resources = Table(title=f"{board.name} resources", title_justify="left")
    resources.add_column("Resource", style="bold")
    resources.add_column("Total", justify="right")
    resources.add_column("Shell", justify="right")
    resources.add_column("Cap", justify="right")
    resources.add_column("Budget", justify="right")
    for kind in RESOURCE_FIELDS:
        # FF has no cap: FINN's estimates do not report flip-flops, so nothing is checked against it.
        capped = kind in RESOURCE_KINDS
        resources.add_row(
            kind, _count(board.resources[kind]),
            "-" if board.shell_resources is None else _count(board.shell_resources[kind]),
            f"{board.caps[kind]:.0%}" if capped else "-",
            _count(budget[kind]) if capped else "-",
        )
    return Group(sheet, resources)
