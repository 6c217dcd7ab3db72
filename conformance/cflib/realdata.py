"""The real files (EMDB maps, an FEI-header detector frame) the suite reads.

They come from mrcfile 1.5.4's source distribution (``tests/test_data/``). The suite uses
``$MRCZIO_REAL_DATA`` or the shared folder ``../shared/data`` next to the repository when
present; otherwise it downloads the sdist once with pip (needs PyPI) into a cache folder
(``$MRCZIO_CONFORMANCE_CACHE`` or ``~/.cache/mrczio-conformance``) and unpacks it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REAL_FILES = ("EMD-3001.map", "EMD-3197.map", "fei-extended.mrc")
MRCFILE_SDIST = "mrcfile==1.5.4"
REPO = Path(__file__).resolve().parents[2]


def has_real_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REAL_FILES)


def cache_dir() -> Path:
    return Path(
        os.environ.get("MRCZIO_CONFORMANCE_CACHE", Path.home() / ".cache" / "mrczio-conformance")
    )


def fetch_real_files(target: Path) -> Path:
    """Download mrcfile's sdist with pip and unpack ``tests/test_data`` into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    if has_real_files(target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "--dest", tmp, "--quiet", MRCFILE_SDIST],
            check=True, timeout=600,
        )  # fmt: skip
        sdist = next(Path(tmp).glob("mrcfile-*.tar.gz"))
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                if name in REAL_FILES and "/tests/test_data/" in member.name:
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    (target / name).write_bytes(extracted.read())
    if not has_real_files(target):
        raise FileNotFoundError(f"{MRCFILE_SDIST} sdist did not contain {REAL_FILES}")
    return target


def real_data_dir() -> Path:
    """Where the real files are, fetching them when no local copy exists."""
    candidates = [os.environ.get("MRCZIO_REAL_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and has_real_files(Path(candidate)):
            return Path(candidate)
    return fetch_real_files(cache_dir() / "mrcfile-1.5.4")
