"""The documentation site builds with ``mkdocs build --strict`` (mkdocs-material, and
mkdocstrings for the API reference), into a temporary folder, never into the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_is_strictly_clean(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    api = (site / "api" / "index.html").read_text()
    for name in ("mrczio.imread", "mrczio.convert", "mrczio.StackReader", "mrczio.errors.MrczioError"):
        assert f'id="{name}"' in api, f"API reference lacks {name}"
    assert "Read a whole file" in api  # text from imread's docstring
    for page in ("cli", "user-guide", "plugins", "benchmarks"):
        assert (site / page / "index.html").is_file()
    assert not (ROOT / "site").exists()
