"""The layering of DESIGN.md §2, measured by the imports in the code: no module imports a module
of a higher layer, FINN is imported only under codesign/finn/, there are no import cycles, and
training does not depend on pruning. Internal imports sit at the top of a module; the few that
must wait are listed here with their reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "codesign"

# (prefix, layer): the longest matching prefix decides. L0 errors/atomic ... L6 cli.
LAYERS = (
    ("codesign", 0),  # the package itself: __version__ and the lazily resolved public API
    ("codesign.errors", 0), ("codesign.atomic", 0), ("codesign.quiet", 0),
    ("codesign.boards", 1), ("codesign.config", 1), ("codesign.space", 1),
    ("codesign.folding", 2),
    ("codesign.models", 3), ("codesign.data", 3), ("codesign.train", 3),
    ("codesign.checkpoint", 3), ("codesign.prune", 3), ("codesign.export", 3),
    ("codesign.finn", 3),
    ("codesign.sim", 4),
    ("codesign.flow", 5),
    ("codesign.cli", 6),
)
# Internal imports made inside a function, and why they cannot be at the top.
DEFERRED = {
    "codesign.cli.app": "commands load the orchestration when they run: `codesign --help` stays instant",
    "codesign.checkpoint": "only restoring a pruned model needs pruning's surgery; train writes checkpoints",
    "codesign.models": "the zoo modules import torch at the top",
    "codesign.models.user": "codesign.models.mlp imports torch at the top",
    "codesign.prune.graph": "codesign.models.mlp imports torch at the top",
    "codesign.finn.compile": "codesign.finn.passes subclasses qonnx's Transformation (loads qonnx)",
    "codesign.finn.stream_events": "codesign.finn.stream_kernel imports numba (~0.4 s), needed only "
                                   "when a pipeline whose streams can fill runs",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, list[tuple[str, bool]]]:
    """module -> [(imported module, at the top?)], TYPE_CHECKING blocks left out."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        top = {id(n) for n in tree.body}
        rows = []
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            rows += [(name, id(node) in top) for name in names]
        found[_module_name(path)] = rows
    return found


IMPORTS = _imports()
MODULES = set(IMPORTS)


def _layer(module: str) -> int:
    matches = [(len(prefix), layer) for prefix, layer in LAYERS
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer of DESIGN.md §2; add it to LAYERS"
    return max(matches)[1]


def _internal(name: str) -> str | None:
    """The codesign module an imported name refers to (a module, or a name inside one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module: str) -> None:
    own = _layer(module)
    higher = sorted({t for name, _ in IMPORTS[module] if (t := _internal(name)) and _layer(t) > own})
    assert not higher, f"{module} (layer {own}) imports {higher}"


def test_finn_is_imported_only_by_the_toolchain_boundary() -> None:
    outside = sorted(m for m, rows in IMPORTS.items() if not m.startswith("codesign.finn")
                     and any(name == "finn" or name.startswith("finn.") for name, _ in rows))
    assert not outside, f"modules outside codesign/finn/ import finn: {outside}"


@pytest.mark.parametrize("package", ["optuna", "distributed", "dask"])
def test_search_and_engine_each_sit_behind_one_module(package: str) -> None:
    """DESIGN.md §2: Optuna only in codesign.flow.study, Dask only in codesign.flow.cluster."""
    boundary = "codesign.flow.study" if package == "optuna" else "codesign.flow.cluster"
    users = sorted(m for m, rows in IMPORTS.items()
                   if any(name == package or name.startswith(package + ".") for name, _ in rows))
    assert set(users) <= {boundary}, f"{package} is imported by {users}, not only by {boundary}"


def test_training_does_not_import_pruning() -> None:
    assert not [name for name, _ in IMPORTS["codesign.train"] if name.startswith("codesign.prune")]


def test_internal_imports_are_at_the_top_unless_listed() -> None:
    deferred = sorted({m for m, rows in IMPORTS.items()
                       for name, top in rows if not top and _internal(name) and m not in DEFERRED})
    assert not deferred, f"move these modules' codesign imports to the top: {deferred}"


def test_no_import_cycles() -> None:
    graph = {m: {t for name, top in rows if top and (t := _internal(name)) and t != m}
             for m, rows in IMPORTS.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail(f"import cycle: {' -> '.join(path[path.index(nxt):] + [nxt])}")
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)

