"""Post-synthesis parsers on the format fixtures in tests/fixtures/finn_reports (see its README:
invented numbers in FINN's/Vivado's layouts), and the estimate-vs-actual table built from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codesign.finn.postsynth import (
    compare_estimates,
    error_pct,
    load_postsynth,
    parse_hierarchical_utilization,
    parse_timing_summary,
    parse_utilization_report,
    read_ascii_tables,
    render_comparison_markdown,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "finn_reports"
ZYNQ = FIXTURES / "zynq_build"
OOC_PROJ = ZYNQ / "finn_tmp" / "vivado_stitch_proj_q3x9d1ke"
STITCHED = FIXTURES / "stitched_ip_build"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_ascii_tables_ignore_report_banners_and_keep_indentation() -> None:
    tables = read_ascii_tables(_text(OOC_PROJ / "ooc_utilization.rpt"))
    assert [t[0] for t in tables] == [["Site Type", "Used", "Fixed", "Available", "Util%"]] * 3
    first_rows = tables[0][1]
    assert first_rows[0][0].strip() == "Slice LUTs*"
    assert first_rows[1][0].startswith("   LUT as Logic")  # hierarchy lives in the indentation


@pytest.mark.parametrize("report, expected", [
    (OOC_PROJ / "ooc_utilization.rpt",  # 7-series: Slice LUTs*, no Prohibited column, no URAM
     {"LUT": 6480, "FF": 7410, "RAMB36": 2, "RAMB18": 3, "BRAM_18K": 7, "DSP": 0}),
    (FIXTURES / "vivado" / "ooc_utilization_ultrascale.rpt",  # CLB names, Prohibited, URAM row
     {"LUT": 8123, "FF": 9410, "RAMB36": 3, "RAMB18": 2, "BRAM_18K": 8, "URAM": 1, "DSP": 9}),
])
def test_flat_utilization_report(report: Path, expected: dict) -> None:
    assert parse_utilization_report(_text(report)) == expected


def test_ooc_json_and_its_vivado_report_agree() -> None:
    """FINN's ooc_synth_and_timing.json is its own parse of ooc_utilization.rpt: loading the
    output dir (JSON path) and parsing the report (text path) must give the same totals."""
    from_json = load_postsynth(ZYNQ)["totals"]
    from_text = parse_utilization_report(_text(OOC_PROJ / "ooc_utilization.rpt"))
    assert from_json == from_text


def test_hierarchical_utilization() -> None:
    instances = parse_hierarchical_utilization(
        _text(STITCHED / "stitched_ip" / "finn_design_partition_util.rpt"))
    assert instances["(top)"] == {"depth": 0, "module": "(top)", "LUT": 8123, "FF": 9410,
                                  "RAMB36": 3, "RAMB18": 2, "BRAM_18K": 8, "URAM": 1, "DSP": 9}
    assert instances["finn_design_i"]["depth"] == 1
    mvau = instances["MVAU_rtl_0"]
    assert (mvau["depth"], mvau["LUT"], mvau["BRAM_18K"], mvau["URAM"], mvau["DSP"]) == (2, 3120, 4, 1, 9)
    assert instances["core"]["depth"] == 4
    # "inst" occurs under several layers; the first (shallowest, earliest) one is kept
    assert instances["inst"]["module"] == "ConvolutionInputGenerator_rtl_0_impl"


def test_hierarchical_parser_returns_nothing_for_a_flat_report() -> None:
    assert parse_hierarchical_utilization(_text(OOC_PROJ / "ooc_utilization.rpt")) == {}


@pytest.mark.parametrize("report, wns, whs, period, met", [
    (ZYNQ / "report" / "post_route_timing.rpt", 0.842, 0.024, 10.0, True),
    (OOC_PROJ / "ooc_timing.rpt", 1.214, 0.031, 10.0, True),
    (FIXTURES / "vivado" / "timing_violated.rpt", -0.412, 0.012, 3.333, False),
])
def test_timing_summary(report: Path, wns: float, whs: float, period: float, met: bool) -> None:
    timing = parse_timing_summary(_text(report))
    assert timing["wns_ns"] == wns and timing["whs_ns"] == whs and timing["met"] is met
    assert timing["clock_period_ns"] == period
    assert timing["fmax_mhz"] == pytest.approx(1000.0 / (period - wns))


def test_timing_summary_with_a_given_clock() -> None:
    timing = parse_timing_summary(_text(FIXTURES / "vivado" / "timing_violated.rpt"),
                                  clock_period_ns=4.0)
    assert timing["tns_ns"] == -3.871
    assert timing["fmax_mhz"] == pytest.approx(1000.0 / 4.412)


def test_load_bitfile_build() -> None:
    actual = load_postsynth(ZYNQ)
    assert actual["totals"]["LUT"] == 6480 and "out-of-context" in actual["totals_scope"]
    # every FINN layer of post_synth_resources.json, none of its top/shell entries
    assert len(actual["layers"]) == 10
    assert not {"(top)", "top_axi_interconnect_0_0"} & set(actual["layers"])
    assert actual["layers"]["MVAU_hls_0"] == {"LUT": 2612, "FF": 2950, "RAMB36": 2, "RAMB18": 1,
                                              "BRAM_18K": 5, "DSP": 0}
    assert actual["top"]["LUT"] == 9870
    # the routed full design's timing wins over the OOC one
    assert actual["timing"]["wns_ns"] == 0.842 and "routed" in actual["timing"]["scope"]
    assert actual["throughput_fps"] == pytest.approx(1e8 / 1006)  # the slower of two nodes
    assert set(actual["files"]) == {"report/ooc_synth_and_timing.json",
                                    "report/post_synth_resources.json",
                                    "report/post_route_timing.rpt",
                                    "report/rtlsim_performance.json"}


def test_load_ooc_only_build_reads_the_vivado_timing_report(tmp_path: Path) -> None:
    """Without a bitfile build, timing comes from the OOC project FINN names in its JSON."""
    build = tmp_path / "build"
    shutil.copytree(ZYNQ, build)
    for name in ("post_route_timing.rpt", "post_synth_resources.json", "rtlsim_performance.json"):
        (build / "report" / name).unlink()
    ooc_json = build / "report" / "ooc_synth_and_timing.json"
    data = _json(ooc_json)
    data["vivado_proj_folder"] = str(build / "finn_tmp" / "vivado_stitch_proj_q3x9d1ke")
    ooc_json.write_text(json.dumps(data))
    actual = load_postsynth(build)
    assert actual["timing"]["wns_ns"] == 1.214 and actual["timing"]["whs_ns"] == 0.031
    assert actual["timing"]["fmax_mhz"] == pytest.approx(data["fmax_mhz"])
    assert actual["layers"] == {} and actual["throughput_fps"] is None
    assert any(f.endswith("ooc_timing.rpt") for f in actual["files"])


def test_load_stitched_ip_build_keeps_only_finn_layers() -> None:
    actual = load_postsynth(STITCHED)
    assert set(actual["layers"]) == {"ConvolutionInputGenerator_rtl_0", "MVAU_rtl_0",
                                     "Thresholding_rtl_0", "StreamingFIFO_rtl_0", "LabelSelect_hls_0"}
    assert actual["totals"] == actual["top"] and actual["totals"]["LUT"] == 8123
    assert "stitched IP" in actual["totals_scope"]


def test_load_nothing(tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "estimate_layer_resources.json").write_text("{}")
    assert load_postsynth(tmp_path) is None


@pytest.mark.parametrize("estimated, actual, expected", [
    (110.0, 100.0, 10.0), (90.0, 100.0, -10.0), (0.0, 0.0, 0.0), (5.0, 0.0, None),
    (None, 3.0, None), (3.0, None, None),
])
def test_error_pct(estimated: float | None, actual: float | None, expected: float | None) -> None:
    result = error_pct(estimated, actual)
    assert result == (pytest.approx(expected) if expected is not None else None)


def _rows_by_key(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["layer"], r["resource"]): r for r in rows}


def test_estimate_vs_actual_table() -> None:
    estimates = _json(FIXTURES / "codesign_estimates.json")
    rows = _rows_by_key(compare_estimates(estimates, load_postsynth(ZYNQ)))
    lut = rows[("total", "LUT")]
    assert (lut["estimated"], lut["actual"]) == (5976, 6480)  # estimate total = sum of layers
    assert lut["error_pct"] == pytest.approx((5976 - 6480) / 6480 * 100)
    assert (rows[("total", "BRAM_18K")]["estimated"], rows[("total", "BRAM_18K")]["actual"]) == (6, 7)
    assert rows[("total", "FF")]["estimated"] is None  # FINN does not estimate flip-flops
    assert ("total", "URAM") not in rows  # a 7-series part reports no URAM
    mvau = rows[("MVAU_hls_0", "BRAM_18K")]
    assert (mvau["estimated"], mvau["actual"], mvau["error_pct"]) == (4, 5, pytest.approx(-20.0))
    fifo = rows[("StreamingFIFO_rtl_0", "LUT")]  # inserted by the build, never estimated
    assert fifo["estimated"] is None and fifo["actual"] == 35
    fmax = rows[("total", "fmax_mhz")]
    assert fmax["estimated"] == 100.0 and fmax["actual"] == pytest.approx(1000 / 9.158)
    assert rows[("total", "fps")]["actual"] == pytest.approx(1e8 / 1006)
    layers_in_order = list(dict.fromkeys(r["layer"] for r in compare_estimates(
        estimates, load_postsynth(ZYNQ)) if r["layer"] != "total"))
    assert layers_in_order[:6] == [layer["name"] for layer in estimates["layers"]]


def test_finn_estimate_file_gives_the_same_table() -> None:
    """FINN's estimate_layer_resources.json and codesign's report section describe the same
    fixture design, so they must produce identical resource rows."""
    actual = load_postsynth(ZYNQ)
    from_report = compare_estimates(_json(FIXTURES / "codesign_estimates.json"), actual)
    from_finn = compare_estimates(_json(ZYNQ / "report" / "estimate_layer_resources.json"), actual)
    resource_rows = [r for r in from_report if r["resource"] not in ("fmax_mhz", "fps")]
    assert from_finn == resource_rows


def test_ultrascale_table_has_uram_per_layer() -> None:
    estimates = {"layers": [{"name": "MVAU_rtl_0", "lut": 3000, "bram_18k": 4, "uram": 1, "dsp": 9}]}
    rows = _rows_by_key(compare_estimates(estimates, load_postsynth(STITCHED)))
    assert rows[("MVAU_rtl_0", "URAM")]["error_pct"] == 0.0
    assert rows[("total", "URAM")]["estimated"] == 1 and rows[("total", "URAM")]["actual"] == 1


def test_markdown_rendering() -> None:
    actual = load_postsynth(ZYNQ)
    rows = compare_estimates(_json(FIXTURES / "codesign_estimates.json"), actual)
    text = render_comparison_markdown(rows, actual)
    assert "| LUT | 5,976 | 6,480 | -7.8 % |" in text
    assert "| Fmax MHz (target clock / achieved) | 100 | 109 | -8.4 % |" in text
    assert "| MVAU_hls_0 | 2,380 / 2,612 (-8.9 %) | – / 2,950 | 4 / 5 (-20.0 %) | 0 / 0 (+0.0 %) |" in text
    assert "Whole design including the shell: LUT 9,870" in text
    assert "URAM" not in text.split("### Per layer")[1]


def test_rtlsim_throughput_is_compared_with_the_compute_figure() -> None:
    """FINN's rtlsim runs the stitched IP without the shell's DMA, so an I/O-bound report is
    held to its compute FPS, not to its (lower) as-built headline."""
    estimates = {**_json(FIXTURES / "codesign_estimates.json"), "fps": 50_000.0,
                 "compute_fps": 1e8 / 1000, "io_fps": 50_000.0, "bound": "io"}
    rows = _rows_by_key(compare_estimates(estimates, load_postsynth(ZYNQ)))
    fps = rows[("total", "fps")]
    assert fps["estimated"] == pytest.approx(1e5) and fps["actual"] == pytest.approx(1e8 / 1006)
    assert fps["error_pct"] == pytest.approx((1e5 - 1e8 / 1006) / (1e8 / 1006) * 100)
