"""The module graph stays as docs/architecture says: no import cycles (module-level or
inside functions), core never imports the built-in plugins, the MRC package stays split
into modules of at most 300 lines, and plugins can live on :mod:`mrczio.plugin` alone.

Imports under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"mrczio": ROOT / "mrczio", "mrczio_builtin": ROOT / "plugins" / "mrczio_builtin"}


def modules() -> dict[str, Path]:
    found = {}
    for root in PACKAGES.values():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root.parent).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported_names(path: Path) -> list[str]:
    """Every module named by an import in ``path`` (function bodies included)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def graph() -> dict[str, set[str]]:
    known = modules()

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target in imported_names(path):
            module = owner(target)
            # a package importing its own submodules, or a submodule naming its own package
            # (for a sibling), is the package's structure, not a dependency between concepts
            if module and module != name and not module.startswith(name + ".") and not name.startswith(module + "."):
                edges[name].add(module)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    edges = graph()
    # the package __init__ re-exports everything; edges into it from submodules that use
    # `import mrczio` for __version__ are not dependencies of the API on them
    for name in list(edges):
        edges[name].discard("mrczio")
    assert cycles(edges) == []


def test_core_never_imports_the_builtin_plugins() -> None:
    edges = graph()
    offenders = sorted(
        (name, target)
        for name, targets in edges.items()
        if not name.startswith("mrczio_builtin")
        for target in targets
        if target.startswith("mrczio_builtin")
    )
    assert offenders == []


def test_mrc_package_modules_stay_small() -> None:
    sizes = {
        path.name: len(path.read_text().splitlines())
        for path in (PACKAGES["mrczio_builtin"] / "mrc").glob("*.py")
    }
    assert sizes and max(sizes.values()) <= 300, sizes


def test_builtin_plugins_need_only_the_plugin_surface_and_core_services() -> None:
    """Every name the plugin surface promises exists and is what core uses."""
    from mrczio import plugin

    missing = [name for name in plugin.__all__ if not hasattr(plugin, name)]
    assert missing == []
    assert plugin.FrameCodec.__module__ == "mrczio.contracts"
