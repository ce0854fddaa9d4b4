"""report.md and resources.png rendered from a synthetic report document (no FINN needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codesign.flow.plots import plot_resources, resource_shares
from codesign.flow.report import render_markdown

# Pynq-Z2: no UltraRAM
CAPACITY = {"LUT": 53200, "BRAM_18K": 280, "URAM": 0, "DSP": 220}
CAPS = {"LUT": 0.7, "BRAM_18K": 0.8, "URAM": 0.8, "DSP": 0.8}


def _layer(name: str, lut: float, bram: float, dsp: float, cycles: int) -> dict[str, Any]:
    return {"name": name, "op_type": "MVAU_hls", "dims": {"MH": 16, "MW": 64}, "pe": 1, "simd": 2,
            "cycles": cycles, "lut": lut, "bram_18k": bram, "uram": 0.0, "dsp": dsp}


def _resources(totals: dict[str, float]) -> dict[str, dict[str, Any]]:
    out = {}
    for kind, capacity in CAPACITY.items():
        used, budget = totals[kind], capacity * CAPS[kind]
        util = used / capacity if capacity else (0.0 if used == 0 else float("inf"))
        out[kind] = {"kind": kind, "used": used, "capacity": capacity, "cap": CAPS[kind],
                     "budget": budget, "utilisation": util, "fits": used <= budget}
    return out


def _report(layers: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A `codesign build` report document: no accuracy, no pruning."""
    layers = layers or [_layer("MVAU_hls_0", 5320.0, 28.0, 22.0, 512),
                        _layer("MVAU_hls_1", 2660.0, 14.0, 0.0, 256)]
    totals = {kind: sum(layer[key] for layer in layers)
              for key, kind in (("lut", "LUT"), ("bram_18k", "BRAM_18K"), ("uram", "URAM"),
                                ("dsp", "DSP"))}
    fits = all(r["fits"] for r in _resources(totals).values())
    doc = {"name": "tfc", "description": "codesign build of tfc.onnx", "seed": 0,
           "board": {"name": "Pynq-Z2", "part": "xc7z020clg400-1"}, "model_summary": "tfc",
           "accuracy": None,
           "estimates": {"layers": layers, "totals": totals, "max_cycles": 512,
                         "bottleneck": "MVAU_hls_0", "clock_mhz": 100.0, "fps": 195312.5,
                         "latency_cycles": 928, "latency_us": 9.28, "macs": 1440,
                         "bops": 18048, "params": 1472},
           "budget": {"fits": fits, "verdict": "fits" if fits else "does not fit",
                      "resources": _resources(totals)},
           "verification": {"passed": True, "details": "5/5 samples bit-exact"},
           "folding": {"mode": "setfolding", "description": "FINN SetFolding", "target_fps": None,
                       "optimizer": None, "setfolding_baseline": None},
           "timings_s": {"compile": 1.0}, "artifacts": {"QONNX model": "model.qonnx.onnx"}}
    doc.update(extra)
    return doc


def _row(md: str, first_cell: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {first_cell} |"))


def test_a_build_report_renders_without_accuracy_or_pruning() -> None:
    md = render_markdown(_report())
    assert md.startswith("# codesign report — tfc")
    assert "accuracy" not in md and "## Pruning" not in md
    assert "## Folding: codesign vs FINN SetFolding" not in md
    assert "195,312 FPS" in md


def test_a_resource_the_board_lacks_is_a_dash() -> None:
    md = render_markdown(_report())
    assert _row(md, "URAM") == "| URAM | — | — | 80% | — | — | — |"
    assert "0 / 0" not in md and "of 0)" not in md
    assert _row(md, "LUT") == "| LUT | 7,980 | 53,200 | 70% | 37,240 | 15.0% | yes |"


def test_a_resource_used_on_a_board_without_it_does_not_fit() -> None:
    layer = {**_layer("MVAU_hls_0", 100.0, 1.0, 0.0, 64), "uram": 4.0}
    row = _row(render_markdown(_report([layer])), "URAM")
    assert row.startswith("| URAM | 4 | 0 |") and row.endswith("| **no** |")


def _optimized(baseline: dict[str, Any]) -> dict[str, Any]:
    report = _report()
    report["folding"] = {**report["folding"], "mode": "optimize", "setfolding_baseline": baseline}
    return report


def test_folding_is_compared_with_finn_setfolding() -> None:
    baseline = {"fits": True, "target_fps": 90000.0, "mvau_wwidth_max": 64, "max_cycles": 1024,
                "fps": 97656.25, "totals": {"LUT": 4000.0, "BRAM_18K": 20.0, "URAM": 0.0,
                                            "DSP": 0.0},
                "converter_totals": {"LUT": 50.0, "BRAM_18K": 0.0, "URAM": 0.0, "DSP": 0.0},
                "fps_ratio": 2.0, "note": "FINN SetFolding, the fastest fitting target"}
    md = render_markdown(_optimized(baseline))
    section = md.split("## Folding: codesign vs FINN SetFolding")[1].split("\n## ")[0]
    assert "| folding | FPS as built | cycles/frame | LUT | BRAM_18K | URAM | DSP |" in section
    assert (_row(section, "codesign optimizer")
            == "| codesign optimizer | 195,312 | 512 | 7,980 | 42 | — | 22 |")
    assert (_row(section, "FINN SetFolding (best fitting)")
            == "| FINN SetFolding (best fitting) | 97,656 | 1,024 | 4,000 | 20 | — | 0 |")
    assert "codesign folding: ×2.00 the FPS of FINN's best fitting SetFolding" in section
    assert md.index("## Folding: codesign") < md.index("## Per-layer estimates")


def test_no_fitting_setfolding_is_said_so() -> None:
    md = render_markdown(_optimized({"fits": False,
                                     "note": "no SetFolding design fits the board's caps"}))
    section = md.split("## Folding: codesign vs FINN SetFolding")[1].split("\n## ")[0]
    assert "| codesign optimizer |" in section and "FINN SetFolding (best fitting) |" not in section
    assert "no SetFolding design fits the board's caps" in section


def test_resource_shares_skip_what_the_board_lacks_and_are_fractions_of_capacity() -> None:
    shares = resource_shares(_report())
    assert [s.kind for s in shares] == ["LUT", "BRAM_18K", "DSP"]
    lut, bram, dsp = shares
    assert lut.share == pytest.approx(7980 / 53200) and lut.cap == 0.7
    assert dict(lut.layers) == pytest.approx({"MVAU_hls_0": 0.1, "MVAU_hls_1": 0.05})
    assert bram.share == pytest.approx(0.15) and sum(dict(bram.layers).values()) == pytest.approx(0.15)
    assert dict(dsp.layers) == pytest.approx({"MVAU_hls_0": 0.1})  # layers using none: no segment


def test_resources_png_is_written(tmp_path: Path) -> None:
    layers = [_layer(f"MVAU_hls_{i}", 400.0 * (i + 1), float(i % 3), 2.0 * (i % 4), 64)
              for i in range(14)]  # more layers than the legend names
    path = plot_resources(_report(layers), tmp_path / "resources.png")
    assert path == tmp_path / "resources.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["resources.png"]  # written atomically


@pytest.mark.parametrize("power, expected", [
    ({"status": "not estimated", "how": "not estimated: add `power` to the flow's `outputs`"},
     "- power: not estimated: add `power` to the flow's `outputs`"),
    ({"status": "estimated", "total_w": 0.241, "static_w": 0.105, "dynamic_w": 0.136,
      "method": "switching activity simulated on the routed netlist", "fps": 195312.5,
      "energy_per_inference_uj": 0.241 / 195312.5 * 1e6},
     "- power: **0.241 W** on chip (0.136 W dynamic; switching activity simulated on the routed "
     "netlist, Vivado); **1.234 µJ per inference** at 195,312 FPS"),
])
def test_power_line(power: dict[str, Any], expected: str) -> None:
    md = render_markdown(_report(power=power))
    assert expected in md.splitlines()


def test_throughput_line_gives_the_as_built_fps_both_figures_and_the_binding_one() -> None:
    report = _report()
    io = {"fps": 1020408.16, "fps_in": 1020408.16, "fps_out": 2e7, "bytes_in_per_frame": 784.0,
          "bytes_out_per_frame": 10.0, "port_clock_mhz": 100.0, "link_gbytes_per_s": None,
          "transfers": []}
    report["estimates"].update(fps=1020408.16, compute_fps=3125000.0, io=io,
                               io_fps=1020408.16, bound="io", max_cycles=32)
    report["board"]["shell_resources"] = None
    md = render_markdown(report)
    line = next(ln for ln in md.splitlines() if ln.startswith("- throughput"))
    assert "**1,020,408 FPS**" in line and "io-bound" in line
    assert "compute pipeline 3,125,000 FPS" in line and "I/O 1,020,408 FPS" in line
    assert "784 B in / 10 B out" in line
    assert "no documented figure" in md  # the shell's resources, said rather than invented
    report["board"]["shell_resources"] = {"LUT": 361024, "FF": 635556, "BRAM_18K": 1564,
                                          "URAM": 0, "DSP": 780}
    assert "LUT 361,024, BRAM_18K 1,564, DSP 780" in render_markdown(report)


def test_a_report_without_a_shell_renders_the_compute_figure_alone() -> None:
    md = render_markdown(_report())
    line = next(ln for ln in md.splitlines() if ln.startswith("- throughput"))
    assert "**195,312 FPS**" in line and "bound" not in line and "I/O" not in line
