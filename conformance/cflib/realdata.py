"""The real files (EMDB maps, an FEI-header detector frame) the suite reads.

A thin view of :mod:`mrczio.sample_data`, which finds them in ``$MRCZIO_DATA`` or the
shared folder ``../shared/data`` beside the repository, and otherwise downloads mrcfile
1.5.4's source distribution once with pip (needs PyPI) into its cache folder.
"""

from __future__ import annotations

from pathlib import Path

from mrczio.sample_data import SAMPLE_FILES, fetch_samples, sample_path

REAL_FILES = SAMPLE_FILES


def has_real_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REAL_FILES)


def fetch_real_files(target: Path) -> Path:
    """Download mrcfile's sdist and unpack its test data into ``target``."""
    if not has_real_files(target):
        fetch_samples(target)
    return target


def real_data_dir() -> Path:
    """Where the real files are, fetching them when no local copy exists."""
    return sample_path(REAL_FILES[0]).parent
