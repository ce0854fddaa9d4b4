"""The pruning report section: side-by-side numbers, ratios, Markdown and the schedule plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.prune.report import plot_schedule, prune_section, render_prune_markdown


def _step(step: int, macs: int, acc: float, fps: float, lut: float | None,
          counts: dict[str, int]) -> dict:
    res = None if lut is None else {"LUT": lut, "BRAM_18K": 4.0, "URAM": 0.0, "DSP": 0.0}
    return {"step": step, "counts": counts, "granularity": {k: 8 for k in counts},
            "params": macs, "macs": macs, "bops": 4 * macs, "accuracy": acc, "seconds": 1.0,
            "hardware": {"fps": fps, "bottleneck": "features.0", "resources_at_reference": res,
                         "fps_at_reference": None, "reference_note": "n"}}


def _result(last_lut: float | None) -> dict:
    steps = [_step(0, 1000, 0.95, 1000, 4000, {"a": 64, "b": 64}),
             _step(1, 600, 0.945, 1500, 3000, {"a": 40, "b": 48}),
             _step(2, 400, 0.948, 2200, last_lut, {"a": 24, "b": 40})]
    return {"steps": steps, "budget": "sparsity", "budget_met": True, "budget_note": "removed 60 %",
            "seconds": 12.0, "sensitivity": None}


CONTROL = {"accuracy": 0.93, "params": 1000, "macs": 1000, "bops": 4000,
           "counts": {"a": 64, "b": 64}, "weight_sparsity": 0.6, "target_sparsity": 0.6,
           "resources_at_reference": {"LUT": 4000.0, "BRAM_18K": 4.0, "URAM": 0.0, "DSP": 0.0},
           "fps_within_caps": 1000.0, "bottleneck": "features.0", "reference_note": "n"}


def test_ratios_compare_the_last_step_with_the_unpruned_model() -> None:
    section = prune_section(_result(2000), {"criterion": "l1"}, 3000.0, CONTROL)
    r = section["ratios"]
    assert r["macs_reduction"] == pytest.approx(0.6)
    assert r["lut_reduction"] == pytest.approx(0.5)
    assert r["fps_gain"] == pytest.approx(2.2)
    assert r["accuracy_delta_points"] == pytest.approx(-0.2)
    assert section["pruned"]["counts"] == {"a": 24, "b": 40}
    assert section["unpruned"]["counts"] == {"a": 64, "b": 64}


@pytest.mark.parametrize("control", [CONTROL, None])
def test_markdown_shows_side_by_side_and_schedule(control: dict | None) -> None:
    md = "\n".join(render_prune_markdown(prune_section(_result(2000), {}, 3000.0, control)))
    assert "| top-1 accuracy | 95.00 % | 94.80 % |" in md
    assert "LUT at 3,000 FPS | 4,000 | 2,000" in md
    assert "channels a | 64 | 24" in md
    assert "MACs −60.0%" in md and "×2.20" in md
    assert ("unstructured: 60% of weights zeroed" in md) is (control is not None)
    assert md.count("\n| 2 |") == 1  # schedule row of step 2


def test_a_design_that_does_not_fit_is_said_so() -> None:
    section = prune_section(_result(None), {}, 3000.0, None)
    assert section["ratios"]["lut_reduction"] is None
    assert "does not fit" in "\n".join(render_prune_markdown(section))


def test_plot_is_a_png(tmp_path: Path) -> None:
    section = prune_section(_result(2000), {}, 3000.0, CONTROL)
    path = plot_schedule(section, tmp_path / "pruning.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
