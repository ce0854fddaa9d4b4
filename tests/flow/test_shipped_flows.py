"""Shipped flows of the network families meet the accuracy floor their flow file states."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.boards import load_board
from codesign.config import load_flow
from codesign.flow import run_flow

ROOT = Path(__file__).resolve().parents[2]
# flow file -> the floor stated in its header comment
FLOORS = {"flows/cnn1d_w2a2_mnist5k_rows.yaml": 0.93, "flows/dscnn_w4a4_fashion.yaml": 0.74,
          "flows/resnet8_w4a4_fashion.yaml": 0.78}


@pytest.mark.slow
@pytest.mark.parametrize("flow_file", sorted(FLOORS))
def test_shipped_family_flow_meets_its_floor(flow_file: str, tmp_path: Path) -> None:
    path = ROOT / flow_file
    assert f"{FLOORS[flow_file]:.0%}".rstrip("%") in path.read_text()  # the file states it
    flow = load_flow(path)
    result = run_flow(flow, load_board(flow.board), tmp_path / "run", progress=False).result
    assert result.accuracy.test_top1 >= FLOORS[flow_file]
    assert result.accelerator.verification.passed and result.accelerator.fit.fits
