"""Keep third-party import-time notices out of codesign's output.

Brevitas warns when it is imported without fast_hadamard_transform, an optional CUDA package;
codesign trains and exports on the CPU, where Brevitas's PyTorch kernels are what runs anyway.
Only that notice is hidden, and only while codesign imports the module that raises it."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

BREVITAS_NOTICES = ("fast_hadamard_transform package not found",)


@contextmanager
def brevitas_notices_hidden() -> Iterator[None]:
    """Ignore Brevitas's import-time notices inside the block; other warnings still show."""
    with warnings.catch_warnings():
        for notice in BREVITAS_NOTICES:
            warnings.filterwarnings("ignore", message=re.escape(notice), category=UserWarning)
        yield


def import_brevitas() -> None:
    """Import the Brevitas module that warns at import time with the warning hidden.

    Python imports a module once, so the later imports of it (brevitas.export's, when a
    model is exported) stay silent too."""
    with brevitas_notices_hidden():
        import brevitas.graph.equalize  # noqa: F401
