"""The real-file fetch path works without the shared data folder (needs PyPI, as CI has)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cflib.realdata import REAL_FILES, fetch_real_files, has_real_files, real_data_dir


def test_fetch_into_an_empty_folder_gives_the_same_files(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    assert not has_real_files(target)
    fetched = fetch_real_files(target)
    assert has_real_files(fetched)
    local = real_data_dir()
    for name in REAL_FILES:
        assert (
            hashlib.sha256((fetched / name).read_bytes()).digest()
            == hashlib.sha256((local / name).read_bytes()).digest()
        )
