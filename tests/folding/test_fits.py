import pytest

from codesign.folding.fits import check_budget

CAPACITY = {"LUT": 1000, "BRAM_18K": 100, "URAM": 0, "DSP": 10}
CAPS = {"LUT": 0.7, "BRAM_18K": 0.8, "URAM": 0.8, "DSP": 0.8}


@pytest.mark.parametrize(
    ("totals", "fits", "over"),
    [
        ({"LUT": 700, "BRAM_18K": 80, "URAM": 0, "DSP": 8}, True, []),
        ({"LUT": 701, "BRAM_18K": 10, "URAM": 0, "DSP": 0}, False, ["LUT"]),
        ({"LUT": 10, "BRAM_18K": 81, "URAM": 1, "DSP": 9}, False, ["BRAM_18K", "URAM", "DSP"]),
    ],
)
def test_check_budget_flags_each_resource_over_its_cap(totals, fits, over) -> None:
    check = check_budget(totals, CAPACITY, CAPS)
    assert check.fits is fits
    assert [r.kind for r in check.over] == over
    assert check.verdict().startswith("fits" if fits else "does not fit")
    for kind in over:
        assert kind in check.verdict()


def test_utilisation_is_relative_to_capacity() -> None:
    check = check_budget({"LUT": 350}, CAPACITY, CAPS)
    lut = check.to_dict()["resources"]["LUT"]
    assert lut["utilisation"] == pytest.approx(0.35)
    assert lut["budget"] == pytest.approx(700)


@pytest.mark.parametrize("name", ["u250", "u50", "u280"])
def test_board_verdict_uses_the_budget_the_shell_leaves(name: str) -> None:
    from codesign.boards import load_board
    from codesign.folding.fits import check_board

    board = load_board(name)
    shell = board.shell_resources
    assert shell is not None and shell["LUT"] > 0
    # a design that fits the whole device's capped LUTs but not what the shell leaves of them
    used = {"LUT": (board.resources["LUT"] - shell["LUT"] / 2) * board.caps["LUT"]}
    assert check_budget(used, board.resources, board.caps).fits
    check = check_board(used, board)
    assert not check.fits and [r.kind for r in check.over] == ["LUT"]
    lut = check.to_dict()["resources"]["LUT"]
    assert lut["shell"] == shell["LUT"]
    assert lut["budget"] == pytest.approx(board.budget()["LUT"])
    assert lut["utilisation"] == pytest.approx(used["LUT"] / board.resources["LUT"])
    just_inside = {"LUT": board.budget()["LUT"]}
    assert check_board(just_inside, board).fits


def test_board_verdict_without_a_documented_shell_is_the_whole_device() -> None:
    from codesign.boards import load_board
    from codesign.folding.fits import check_board

    board = load_board("pynq-z2")
    assert board.shell_resources is None
    used = {"LUT": board.resources["LUT"] * board.caps["LUT"]}
    assert check_board(used, board).to_dict() == check_budget(used, board.resources,
                                                              board.caps).to_dict()
