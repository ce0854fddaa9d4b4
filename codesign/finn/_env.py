"""What finn-plus 1.6.1 needs to run here without Vivado (DESIGN.md §4), kept in one place.

- FINN's settings object: the transformations we drive do not read it, but the builder and
  anything that makes code-gen directories do. We point `FINN_BUILD_DIR` at a per-user temp
  directory (unless the user set one), which is all `finn.util.settings.get_settings()` needs.
- `finn.builder.build_dataflow` imports `finn.xsi.SimEngine`, which demands Vivado at import
  time although the builder only uses it as a type hint; binding it first lets the import pass.
- FINN and qonnx warn a lot about things that are expected here (4D inputs assumed NCHW,
  nodes left outside the dataflow partition); `quiet_finn` hides that noise."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

HW_DOMAIN = "finn.custom_op.fpgadataflow"
BACKEND_SUFFIXES = ("_hls", "_rtl")


def ensure_finn_settings() -> Path:
    """Make sure FINN can build its settings from the environment; return its build dir."""
    build_dir = os.environ.get("FINN_BUILD_DIR")
    if not build_dir:
        build_dir = str(Path(tempfile.gettempdir()) / f"codesign-finn-build-{os.getuid()}")
        os.environ["FINN_BUILD_DIR"] = build_dir
    path = Path(build_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_builder() -> ModuleType:
    """Import `finn.builder.build_dataflow` on a machine without Vivado."""
    ensure_finn_settings()
    import finn.xsi

    if "SimEngine" not in vars(finn.xsi):  # hasattr would trigger the Vivado check
        # Only a type hint in build_dataflow_steps; the real class needs Vivado's xsi library.
        finn.xsi.SimEngine = object  # type: ignore[attr-defined]
    import finn.builder.build_dataflow as build_dataflow

    return build_dataflow


@contextmanager
def quiet_finn() -> Iterator[None]:
    """Silence expected warnings and FINN's informational logging inside the block."""
    finn_log = logging.getLogger("finn_logger")
    level = finn_log.level
    finn_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        finn_log.setLevel(level)


def is_hw_node(node: object) -> bool:
    """A FINN hardware layer, abstract (`MVAU`) or specialised (`MVAU_hls`, `MVAU_rtl`)."""
    return str(getattr(node, "domain", "")).startswith(HW_DOMAIN)


def is_specialised(node: object) -> bool:
    return str(getattr(node, "domain", "")) in (HW_DOMAIN + ".hls", HW_DOMAIN + ".rtl")


def base_op_type(op_type: str) -> str:
    """`MVAU_hls` -> `MVAU`: the abstract layer a specialised node implements."""
    for suffix in BACKEND_SUFFIXES:
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type
