"""The run summary's resource cells: a resource the board lacks reads as a dash, not 0 / 0."""

from __future__ import annotations

import pytest

from codesign.cli.render import MISSING, resource_cell


@pytest.mark.parametrize(("used", "budget", "capacity", "share", "expected"), [
    (0.0, 0.0, 0, 0.0, MISSING),  # URAM on a Zynq-7000
    (36_969.0, 37_240.0, 53_200, 0.695, "36,969 / 37,240 budget (69.5% of 53,200)"),
    (0.0, 176.0, 220, 0.0, "0 / 176 budget (0.0% of 220)"),  # has DSPs, uses none
])
def test_resource_cell(used: float, budget: float, capacity: int, share: float,
                       expected: str) -> None:
    assert resource_cell(used, budget, capacity, share) == expected


def test_a_resource_used_on_a_board_without_it_is_not_hidden() -> None:
    assert resource_cell(4.0, 0.0, 0, float("inf")) != MISSING
