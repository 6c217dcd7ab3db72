"""Real MRC files from mrcfile's test data, found locally or fetched from PyPI.

The files (two EMDB maps and a K2-sized detector frame with an FEI1 extended header)
ship in mrcfile's source distribution under ``tests/test_data/``. They are looked for in
``$MRCZIO_DATA``, then in ``shared/data`` beside the repository, then in a cache folder;
if absent everywhere, the sdist is downloaded once with pip into the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from mrczio.errors import FormatError, OptionError, RemoteError

SAMPLE_FILES = ("EMD-3001.map", "EMD-3197.map", "fei-extended.mrc")
MRCFILE_SDIST = "mrcfile==1.5.4"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("MRCZIO_DATA"):
        dirs.append(Path(os.environ["MRCZIO_DATA"]))
    dirs.append(_REPO_ROOT.parent / "shared" / "data")
    dirs.append(cache_dir())
    return dirs


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "mrczio" / "mrcfile-test-data"


def sample_path(name: str) -> Path:
    """Path of one sample file, fetching mrcfile's sdist if no local copy exists."""
    if name not in SAMPLE_FILES:
        raise OptionError(f"unknown sample file {name!r}; known: {', '.join(SAMPLE_FILES)}")
    for directory in candidate_dirs():
        if (directory / name).is_file():
            return directory / name
    fetch_samples(cache_dir())
    return cache_dir() / name


def fetch_samples(target: Path) -> None:
    """Download mrcfile's sdist with pip and unpack its test data into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--dest", work, MRCFILE_SDIST,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        archives = list(Path(work).glob("mrcfile-*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise RemoteError(f"could not download {MRCFILE_SDIST}: {result.stderr.strip()[-500:]}")
        _extract_test_data(archives[0], target)


def _extract_test_data(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = os.path.basename(member.name)
            if "/tests/test_data/" in member.name and name in SAMPLE_FILES and member.isfile():
                source = tar.extractfile(member)
                assert source is not None
                (target / name).write_bytes(source.read())
    missing = [n for n in SAMPLE_FILES if not (target / n).is_file()]
    if missing:
        raise FormatError(archive, f"does not contain {', '.join(missing)}")
