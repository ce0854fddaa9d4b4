"""Power of the built accelerator, as Vivado reports it after FINN's power step.

finn-plus 1.6.1's `step_vivado_power_estimation` opens the routed out-of-context checkpoint and
runs Vivado's `report_power`: once per fixed (vectorless) switching-activity setting, and, when
`vivado_power_simulate_activity` is on (FINN's default), once more from the switching activity
of a netlist simulation. It writes a summary of all of them to
`report/power_estimate_summary.json`, keys `power_<setting>_{total,static,dynamic}` in watts,
where `<setting>` is `sim` or `<toggle rate %>_<static probability>`.

codesign reads that summary; it never estimates power itself. Without Vivado there is no
figure, and the report says how to get one (`power_instructions`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign.errors import CompileError

POWER_SUMMARY = Path("report") / "power_estimate_summary.json"
_KEY = re.compile(r"^power_(?P<setting>sim|[0-9.]+_[0-9.]+)_(?P<part>total|static|dynamic)$")
SIMULATED = "sim"


@dataclass(frozen=True)
class PowerReading:
    """One `report_power` run: on-chip power in watts under one switching-activity setting."""

    setting: str  # "sim" or "<toggle rate %>_<static probability>"
    total_w: float
    static_w: float
    dynamic_w: float

    @property
    def description(self) -> str:
        if self.setting == SIMULATED:
            return "switching activity simulated on the routed netlist"
        toggle, static = self.setting.split("_")
        return f"vectorless, toggle rate {float(toggle):g} %, static probability {float(static):g}"


@dataclass(frozen=True)
class PowerEstimate:
    """Vivado's power figures for the accelerator (out of context: the kernel, not the shell)."""

    readings: tuple[PowerReading, ...]
    source: str  # the summary file, relative to the FINN output directory

    @property
    def headline(self) -> PowerReading:
        """The simulated-activity reading when there is one (the design's own toggling), else
        the lowest fixed toggle rate: Vivado's vectorless default is 12.5 %."""
        simulated = [r for r in self.readings if r.setting == SIMULATED]
        if simulated:
            return simulated[0]
        return min(self.readings, key=lambda r: float(r.setting.split("_")[0]))

    def to_dict(self, fps: float | None = None) -> dict[str, Any]:
        head = self.headline
        doc: dict[str, Any] = {
            "total_w": head.total_w, "static_w": head.static_w, "dynamic_w": head.dynamic_w,
            "method": head.description, "source": self.source,
            "readings": [{"setting": r.description, "total_w": r.total_w, "static_w": r.static_w,
                          "dynamic_w": r.dynamic_w} for r in self.readings],
        }
        if fps:
            doc["fps"] = fps
            doc["energy_per_inference_uj"] = head.total_w / fps * 1e6
            doc["dynamic_energy_per_inference_uj"] = head.dynamic_w / fps * 1e6
        return doc


def parse_power_summary(data: dict[str, Any]) -> tuple[PowerReading, ...]:
    """Readings of a FINN power summary, in the order of their settings; keys that are not
    power figures are ignored, an incomplete setting is an error."""
    parts: dict[str, dict[str, float]] = {}
    for key, value in data.items():
        match = _KEY.match(key)
        if match:
            parts.setdefault(match["setting"], {})[match["part"]] = float(value)
    readings = []
    for setting, values in parts.items():
        missing = {"total", "static", "dynamic"} - set(values)
        if missing:
            raise CompileError(f"FINN's power summary lacks power_{setting}_{sorted(missing)[0]}; "
                               "re-run the power step (outputs: [power]) so Vivado writes it")
        readings.append(PowerReading(setting, values["total"], values["static"], values["dynamic"]))
    return tuple(readings)


def load_power(finn_output_dir: str | Path) -> PowerEstimate | None:
    """The power figures of a FINN output directory, or None when its power step did not run."""
    path = Path(finn_output_dir) / POWER_SUMMARY
    if not path.is_file():
        return None
    readings = parse_power_summary(json.loads(path.read_text(encoding="utf-8")))
    return PowerEstimate(readings, str(POWER_SUMMARY)) if readings else None


def power_instructions(flow_file: str | None, board: str) -> str:
    """How to get a power figure, for a report made without one."""
    flow = flow_file or "FLOW.yaml"
    return ("not estimated: power comes from Vivado's report_power on the routed design. Add "
            "`power` to the flow's `outputs` and run it with Vivado, e.g. `codesign docker run "
            f"{flow} --board {board} --xilinx /tools/Xilinx/Vivado/<version>`; the report then "
            "shows watts and energy per inference")
