"""Finding AMD's Xilinx tools (Vivado, Vitis HLS, Vitis): from the environment or PATH where a
flow runs (`detect_xilinx_tools`), and from an install directory a user names for docker
(`inspect_xilinx_install`). One finder, one notion of "a tool install": <dir>/bin/<tool>."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codesign.errors import ConfigError

VIVADO, VITIS_HLS, VITIS = "Vivado", "Vitis HLS", "Vitis"
# tool -> (environment variable naming its install dir, executables under <dir>/bin)
TOOL_SPECS: dict[str, tuple[str, tuple[str, ...]]] = {
    VIVADO: ("XILINX_VIVADO", ("vivado",)),
    VITIS_HLS: ("XILINX_HLS", ("vitis_hls", "vitis-run")),  # vitis-run replaces it after 2024.2
    VITIS: ("XILINX_VITIS", ("v++",)),
}
VERSION_IN_PATH = re.compile(r"\b(20\d{2})\.(1|2)\b")  # how FINN reads the Vivado version


def _has_binary(root: Path, binaries: tuple[str, ...]) -> bool:
    return any((root / "bin" / b).is_file() for b in binaries)


@dataclass(frozen=True)
class XilinxTools:
    """Install directories of the tools that were found, and why the others were not."""

    found: Mapping[str, Path]
    problems: Mapping[str, str]


def _locate(env: Mapping[str, str], var: str, binaries: tuple[str, ...]) -> tuple[Path | None, str]:
    value = env.get(var)
    if value:
        root = Path(value)
        if _has_binary(root, binaries):
            return root, ""
        return None, f"{var}={value} has no bin/{binaries[0]}"
    search = env.get("PATH")
    for binary in binaries:
        hit = shutil.which(binary, path=search) if search else None
        if hit:  # <install>/bin/<tool>
            return Path(hit).resolve().parent.parent, ""
    return None, f"{var} is not set and {binaries[0]} is not on PATH"


def detect_xilinx_tools(env: Mapping[str, str] | None = None) -> XilinxTools:
    """Find Vivado, Vitis HLS and Vitis from XILINX_VIVADO/XILINX_HLS/XILINX_VITIS or PATH."""
    env = os.environ if env is None else env
    found: dict[str, Path] = {}
    problems: dict[str, str] = {}
    for tool, (var, binaries) in TOOL_SPECS.items():
        where, problem = _locate(env, var, binaries)
        if where is not None and tool == VIVADO and not VERSION_IN_PATH.search(str(where)):
            where, problem = None, (f"{where} does not name a Vivado version such as 2022.2; FINN "
                                    "reads it from the path, so use the versioned install directory")
        if where is not None and tool == VITIS:
            lacking = [v for v in ("XILINX_XRT", "PLATFORM_REPO_PATHS") if not env.get(v)]
            if lacking:
                where, problem = None, f"{' and '.join(lacking)} not set (Alveo builds need XRT)"
        if where is None:
            problems[tool] = problem
        else:
            found[tool] = where
    return XilinxTools(found, problems)


@dataclass(frozen=True)
class XilinxInstall:
    vivado: Path  # XILINX_VIVADO
    hls: Path | None  # XILINX_HLS
    vitis: Path | None  # XILINX_VITIS
    mounts: tuple[Path, ...]  # directories mounted read-only
    version: str


def _tool_dir(candidates: list[Path], binaries: tuple[str, ...]) -> Path | None:
    return next((c for c in candidates if _has_binary(c, binaries)), None)


def inspect_xilinx_install(path: str | os.PathLike[str]) -> XilinxInstall:
    """Validate `--xilinx` (a Vivado version directory) and find Vitis HLS/Vitis beside it, for
    AMD's layouts <root>/Vivado/<ver> (up to 2024.2) and <root>/<ver>/Vivado (2025.1 on)."""
    vivado = Path(path).expanduser().absolute()
    example = "/tools/Xilinx/Vivado/2022.2"
    if not vivado.is_dir():
        raise ConfigError(f"--xilinx {vivado} does not exist; pass your Vivado install "
                          f"directory, e.g. {example}")
    if not _has_binary(vivado, TOOL_SPECS[VIVADO][1]):
        inside = sorted([*vivado.glob("Vivado/*/bin/vivado"), *vivado.glob("*/Vivado/bin/vivado")])
        hint = f" such as {inside[0].parent.parent}" if inside else f", e.g. {example}"
        raise ConfigError(f"--xilinx {vivado} is not a Vivado install (it has no bin/vivado); "
                          f"pass the versioned directory that holds bin/vivado and "
                          f"settings64.sh{hint}")
    match = VERSION_IN_PATH.search(str(vivado))
    if match is None:
        raise ConfigError(f"--xilinx {vivado} does not name a Vivado version (e.g. 2022.2); FINN "
                          f"reads the version from this path, so pass the install's own "
                          f"versioned directory, e.g. {example}")
    version = match.group(0)
    if vivado.name == version and vivado.parent.name == "Vivado":
        root = vivado.parent.parent
        hls_dirs = [root / "Vitis_HLS" / version, root / "Vitis" / version]
        vitis_dirs = [root / "Vitis" / version]
    elif vivado.name == "Vivado" and vivado.parent.name == version:
        root = vivado.parent
        hls_dirs, vitis_dirs = [root / "Vitis", root / "Vitis_HLS"], [root / "Vitis"]
    else:
        root, hls_dirs, vitis_dirs = vivado, [], []
    hls = _tool_dir(hls_dirs, TOOL_SPECS[VITIS_HLS][1])
    vitis = _tool_dir(vitis_dirs, TOOL_SPECS[VITIS][1])
    mounts = (root,) if root != Path(root.anchor) else tuple(p for p in (vivado, hls, vitis) if p)
    return XilinxInstall(vivado, hls, vitis, mounts, version)
