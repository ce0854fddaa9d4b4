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
