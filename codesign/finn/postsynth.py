"""Post-synthesis results of a FINN hardware build, and how far the estimates were from them.

Reads what FINN and Vivado leave in a build's output directory: FINN's `ooc_synth_and_timing.json`
(out-of-context place and route of the stitched IP), its per-layer `post_synth_resources*.json`,
Vivado's `report_utilization` text tables (flat and `-hierarchical`) and `report_timing_summary`
reports, and FINN's `rtlsim_performance.json`. Block RAM is counted in 18 Kb units everywhere
(`BRAM_18K` = 2 x RAMB36 + RAMB18), the unit FINN estimates in; raw counts stay as RAMB36/RAMB18."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RESOURCE_ORDER = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")
TOTAL = "total"
_LOWER_KEYS = {"lut": "LUT", "ff": "FF", "bram_18k": "BRAM_18K", "uram": "URAM", "dsp": "DSP"}
_FINN_NODE = re.compile(r"^\w+_(hls|rtl)_\d+$")  # specialised FINN layers: MVAU_rtl_0, ...
_SHELL_ENTRIES = ("(top)", "top_instrumentation_wrap_0_0", "top_axi_interconnect_0_0",
                  "top_smartconnect_0_0")  # non-layer entries of FINN's post_synth_resources


def _number(cell: Any) -> float | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return float(cell)
    try:
        return float(str(cell).strip())
    except ValueError:
        return None


def _normalise(raw: Mapping[str, float | None]) -> dict[str, float]:
    """LUT/FF/URAM/DSP as given; BRAM_18K from RAMB36/RAMB18 counts."""
    out = {k: v for k, v in raw.items() if v is not None and k in ("LUT", "FF", "URAM", "DSP",
                                                                      "RAMB36", "RAMB18")}
    if "RAMB36" in out or "RAMB18" in out:
        out["BRAM_18K"] = 2 * out.get("RAMB36", 0.0) + out.get("RAMB18", 0.0)
    return out


def _from_finn(entry: Mapping[str, Any]) -> dict[str, float]:
    """FINN's result dicts name raw RAMB36/RAMB18 counts BRAM_36K/BRAM_18K."""
    renamed = {"BRAM_36K": "RAMB36", "BRAM_18K": "RAMB18"}
    return _normalise({renamed.get(k, k): _number(v) for k, v in entry.items()})


def read_ascii_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Vivado's `+---+` / `| a | b |` tables as (stripped header, raw data cells) pairs."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        s = line.rstrip()
        if (s.startswith("|") and s.endswith("|") and len(s) > 1) or (s.startswith("+") and
                                                                     s.endswith("+")):
            block.append(s)
            continue
        rows = [b.split("|")[1:-1] for b in block if b.startswith("|")]
        if rows:
            tables.append(([c.strip() for c in rows[0]], rows[1:]))
        block = []
    return tables


def parse_utilization_report(text: str) -> dict[str, float]:
    """Design totals of a flat `report_utilization` (e.g. FINN's ooc_utilization.rpt)."""
    used: dict[str, float] = {}
    for header, rows in read_ascii_tables(text):
        if not header or header[0] != "Site Type" or "Used" not in header:
            continue
        col = header.index("Used")
        for cells in rows:
            name = cells[0].strip().rstrip("*").strip()  # 7-series marks "Slice LUTs*"
            value = _number(cells[col])
            if value is not None:
                used.setdefault(name, value)
    pick = {"LUT": ("CLB LUTs", "Slice LUTs"), "FF": ("CLB Registers", "Slice Registers"),
            "RAMB36": ("RAMB36/FIFO",), "RAMB18": ("RAMB18",), "URAM": ("URAM",), "DSP": ("DSPs",)}
    raw = {kind: next((used[n] for n in names if n in used), None) for kind, names in pick.items()}
    return _normalise(raw)


_HIER_COLUMNS = {"Total LUTs": "LUT", "FFs": "FF", "RAMB36": "RAMB36", "RAMB18": "RAMB18",
                 "URAM": "URAM", "DSP Blocks": "DSP"}


def parse_hierarchical_utilization(text: str) -> dict[str, dict[str, Any]]:
    """Instances of `report_utilization -hierarchical` by name ("(top)" for the top module),
    each with its depth in the hierarchy, module name and resources."""
    table = next((t for t in read_ascii_tables(text) if t[0][:2] == ["Instance", "Module"]), None)
    if table is None:
        return {}
    header, rows = table
    cols = {kind: header.index(name) for name, kind in _HIER_COLUMNS.items() if name in header}
    instances: dict[str, dict[str, Any]] = {}
    for cells in rows:
        raw_name, module = cells[0], cells[1].strip()
        key = "(top)" if module == "(top)" else raw_name.strip()
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        resources = _normalise({kind: _number(cells[i]) for kind, i in cols.items()})
        instances.setdefault(key, {"depth": depth, "module": module, **resources})
    return instances


def parse_timing_summary(text: str, clock_period_ns: float | None = None) -> dict[str, Any]:
    """WNS/TNS/WHS and Fmax from `report_timing_summary`. Fmax refers to `clock_period_ns`,
    or else to the first clock of the report's Clock Summary."""
    lines = text.splitlines()
    values: dict[str, float] = {}
    for i, line in enumerate(lines):
        if "WNS(ns)" in line and "TNS(ns)" in line:
            names = re.split(r"\s{2,}", line.strip())
            data = next((x for x in lines[i + 1:] if x.strip() and not set(x.strip()) <= {"-", " "}),
                        "")
            values = {n: v for n, v in zip(names, (_number(x) for x in data.split()), strict=False)
                      if v is not None}
            break
    if clock_period_ns is None:
        for line in lines:
            m = re.match(r"^(\S+)\s+\{[^}]*\}\s+([\d.]+)\s+([\d.]+)\s*$", line)
            if m:
                clock_period_ns = float(m.group(2))
                break
    wns = values.get("WNS(ns)")
    fmax = (1000.0 / (clock_period_ns - wns) if wns is not None and clock_period_ns
            and clock_period_ns - wns > 0 else None)
    return {"wns_ns": wns, "tns_ns": values.get("TNS(ns)"), "whs_ns": values.get("WHS(ns)"),
            "clock_period_ns": clock_period_ns, "fmax_mhz": fmax,
            "met": None if wns is None else wns >= 0 and values.get("WHS(ns)", 0.0) >= 0}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_postsynth(finn_output_dir: str | Path) -> dict[str, Any] | None:
    """Whatever post-synthesis results a FINN output directory holds, or None if there are none.

    Totals prefer the out-of-context run (accelerator only, placed and routed); per-layer numbers
    come from the bitfile build's or the stitched IP's synthesis; timing prefers the routed full
    design of a bitfile build."""
    root = Path(finn_output_dir)
    report = root / "report"
    found: dict[str, Any] = {"totals": {}, "totals_scope": None, "layers": {}, "top": None,
                             "timing": {}, "throughput_fps": None, "files": []}

    def use(path: Path) -> None:
        found["files"].append(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))

    ooc = report / "ooc_synth_and_timing.json"
    if ooc.is_file():
        data = _read_json(ooc)
        use(ooc)
        found["totals"] = _from_finn(data)
        found["totals_scope"] = f"accelerator, out-of-context place and route ({ooc.name})"
        found["timing"] = {"wns_ns": _number(data.get("WNS")), "clock_period_ns":
                           _number(data.get("clk_period_ns")), "fmax_mhz": _number(data.get("fmax_mhz")),
                           "scope": "accelerator, out of context"}
        timing_rpt = Path(str(data.get("vivado_proj_folder", ""))) / "ooc_timing.rpt"
        if data.get("vivado_proj_folder") and timing_rpt.is_file():
            use(timing_rpt)
            found["timing"] = {**parse_timing_summary(timing_rpt.read_text(encoding="utf-8"),
                                                      found["timing"]["clock_period_ns"]),
                               "scope": "accelerator, out of context"}
    per_layer = [report / "post_synth_resources.json", report / "post_synth_resources_dcp.json",
                 *sorted(report.glob("post_synth_resources_*.json"))]
    hierarchical = sorted((root / "stitched_ip").glob("*_partition_util.rpt"))
    source = next((p for p in per_layer if p.is_file()), None)
    if source is not None:
        use(source)
        entries = _read_json(source)
        found["layers"] = {n: _from_finn(v) for n, v in entries.items() if n not in _SHELL_ENTRIES}
        found["top"] = _from_finn(entries["(top)"]) if "(top)" in entries else None
    elif hierarchical:
        use(hierarchical[0])
        instances = parse_hierarchical_utilization(hierarchical[0].read_text(encoding="utf-8"))
        strip = ("depth", "module")
        found["layers"] = {n: {k: v for k, v in d.items() if k not in strip}
                           for n, d in instances.items() if _FINN_NODE.match(n)}
        if "(top)" in instances:
            found["top"] = {k: v for k, v in instances["(top)"].items() if k not in strip}
            if not found["totals"]:  # the stitched IP's top is the accelerator
                found["totals"] = found["top"]
                found["totals_scope"] = f"accelerator, synthesised stitched IP ({hierarchical[0].name})"
    if not found["totals"] and found["layers"]:
        found["totals"] = {k: sum(layer.get(k, 0.0) for layer in found["layers"].values())
                           for k in {k for layer in found["layers"].values() for k in layer}}
        found["totals_scope"] = "accelerator, sum of the synthesised dataflow layers"
    routed = report / "post_route_timing.rpt"
    if routed.is_file():
        use(routed)
        found["timing"] = {**parse_timing_summary(routed.read_text(encoding="utf-8")),
                           "scope": "whole design, routed (bitfile build)"}
    perf = report / "rtlsim_performance.json"
    if perf.is_file():
        use(perf)
        fps = [_number(e.get("throughput_fps")) for e in _read_json(perf)]
        found["throughput_fps"] = min((f for f in fps if f), default=None)  # slowest node rules
    return found if found["files"] else None


def _resources(entry: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in entry.items():
        kind = _LOWER_KEYS.get(key, key)
        if kind in RESOURCE_ORDER and _number(value) is not None:
            out[kind] = _number(value)
    return out


def _estimate_tables(estimates: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, dict]]:
    """(totals, per-layer) from a codesign report's `estimates` or FINN's
    estimate_layer_resources.json ({layer: {LUT: ..}, "total": {..}})."""
    if isinstance(estimates.get("layers"), list):
        layers = {layer["name"]: _resources(layer) for layer in estimates["layers"]}
        given = estimates.get("totals") or estimates.get("total") or {}
    else:
        layers = {n: _resources(v) for n, v in estimates.items()
                  if n != "total" and isinstance(v, Mapping)}
        given = estimates.get("total") or {}
    totals = _resources(given) or {k: sum(lay.get(k, 0.0) for lay in layers.values())
                                   for k in RESOURCE_ORDER if any(k in lay for lay in layers.values())}
    return totals, layers


def error_pct(estimated: float | None, actual: float | None) -> float | None:
    """(estimated - actual) / actual in %; None when undefined (missing, or actual 0 alone)."""
    if estimated is None or actual is None:
        return None
    if actual == 0:
        return 0.0 if estimated == 0 else None
    return (estimated - actual) / actual * 100.0


def _row(resource: str, layer: str, estimated: float | None, actual: float | None) -> dict:
    return {"resource": resource, "layer": layer, "estimated": estimated, "actual": actual,
            "error_pct": error_pct(estimated, actual)}


def compare_estimates(estimates: Mapping[str, Any], actual: Mapping[str, Any]) -> list[dict]:
    """Rows {resource, layer ("total" or a layer name), estimated, actual, error_pct}: totals
    first, then every layer either side knows, then fmax_mhz (target clock vs achieved) and fps
    (estimate vs rtlsim) when both are known."""
    est_totals, est_layers = _estimate_tables(estimates)
    act_totals, act_layers = actual.get("totals") or {}, actual.get("layers") or {}
    rows = [_row(k, TOTAL, est_totals.get(k), act_totals[k])
            for k in RESOURCE_ORDER if act_totals.get(k) is not None]
    # per layer only for kinds the device reports (a 7-series part has no URAM column)
    kinds = [k for k in RESOURCE_ORDER if any(k in layer for layer in act_layers.values())]
    for name in [*est_layers, *(n for n in act_layers if n not in est_layers)]:
        est, act = est_layers.get(name, {}), act_layers.get(name, {})
        rows += [_row(k, name, est.get(k), act.get(k)) for k in kinds]
    fmax = (actual.get("timing") or {}).get("fmax_mhz")
    if fmax is not None and estimates.get("clock_mhz") is not None:
        rows.append(_row("fmax_mhz", TOTAL, float(estimates["clock_mhz"]), fmax))
    if actual.get("throughput_fps") is not None and estimates.get("fps") is not None:
        # FINN's rtlsim runs the stitched dataflow IP without the shell's DMA: compute alone
        compute = estimates.get("compute_fps", estimates["fps"])
        rows.append(_row("fps", TOTAL, float(compute), actual["throughput_fps"]))
    return rows


_LABELS = {"fmax_mhz": "Fmax MHz (target clock / achieved)",
           "fps": "compute FPS (estimate / rtlsim)"}


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def _fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def render_comparison_markdown(rows: list[dict], actual: Mapping[str, Any] | None = None) -> str:
    """The estimate-vs-post-synthesis section of report.md."""
    lines = ["## Estimates vs post-synthesis", ""]
    if actual and actual.get("totals_scope"):
        lines += [f"Totals: {actual['totals_scope']}. BRAM_18K counts 18 Kb blocks (RAMB36 = 2). "
                  "Error = (estimated − actual) / actual.", ""]
    totals = [r for r in rows if r["layer"] == TOTAL]
    lines += ["| quantity | estimated | actual | error |", "|---|---|---|---|"]
    lines += [f"| {_LABELS.get(r['resource'], r['resource'])} | {_fmt(r['estimated'])} | "
              f"{_fmt(r['actual'])} | {_fmt_pct(r['error_pct'])} |" for r in totals]
    top = (actual or {}).get("top")
    if top and top != (actual or {}).get("totals"):
        lines += ["", "Whole design including the shell: " + ", ".join(
            f"{k} {_fmt(top[k])}" for k in RESOURCE_ORDER if k in top) + "."]
    layers = list(dict.fromkeys(r["layer"] for r in rows if r["layer"] != TOTAL))
    if layers:
        kinds = [k for k in RESOURCE_ORDER if any(r["resource"] == k for r in rows)]
        cell = {(r["layer"], r["resource"]): r for r in rows}
        lines += ["", "### Per layer (estimated / actual, error)", "",
                  "| layer | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for name in layers:
            parts = []
            for kind in kinds:
                r = cell.get((name, kind))
                parts.append("" if r is None else f"{_fmt(r['estimated'])} / {_fmt(r['actual'])}"
                             + ("" if r["error_pct"] is None else f" ({_fmt_pct(r['error_pct'])})"))
            lines.append(f"| {name} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"
