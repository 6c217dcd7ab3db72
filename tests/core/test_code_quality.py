"""The library and its built-in plugins stay strictly typed and lint-clean.

mypy (strict, see pyproject.toml) and ruff are pinned in the ``test`` extra, so these
checks give the same answer on every machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["mrczio", "plugins/mrczio_builtin"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False)


def test_mypy_strict_is_clean() -> None:
    result = run("mypy", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    """The code is laid out by ``ruff format`` (the pre-commit hook runs it too)."""
    result = run("ruff", "format", "--check", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_runs_the_same_checks() -> None:
    """.pre-commit-config.yaml runs what these tests run, with the same tools."""
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    for command in ("ruff check", "ruff format --check", "mypy mrczio plugins/mrczio_builtin"):
        assert command in config, command
