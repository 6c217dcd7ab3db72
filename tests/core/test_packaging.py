"""The distribution ships every package of the core and of the built-in plugins, and the
optional C kernel is declared so that a failed compile never fails the install."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"mrczio": ROOT / "mrczio", "mrczio_builtin": ROOT / "plugins" / "mrczio_builtin"}


def _setuptools_table() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    table: dict[str, object] = config["tool"]["setuptools"]
    return table


def _packages_on_disk() -> set[str]:
    found = set()
    for name, root in SOURCES.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    return found


def test_every_package_on_disk_is_listed() -> None:
    listed = set(_setuptools_table()["packages"])  # type: ignore[call-overload]
    assert listed == _packages_on_disk()


def test_package_dirs_point_at_the_sources() -> None:
    package_dir = _setuptools_table()["package-dir"]
    assert {name: ROOT / path for name, path in package_dir.items()} == SOURCES  # type: ignore[attr-defined]


def test_the_c_kernel_is_optional() -> None:
    """setup.py builds mrczio._moments with optional=True: no compiler, numpy path instead."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Extension"
    ]
    assert len(calls) == 1
    keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in calls[0].keywords if keyword.arg}
    assert ast.literal_eval(calls[0].args[0]) == "mrczio._moments"
    assert keywords["optional"] is True
    assert all((ROOT / source).is_file() for source in keywords["sources"])
