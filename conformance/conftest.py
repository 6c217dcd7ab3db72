"""Fixtures of the conformance suite: third-party readers, real files, matrix recording.

A reader that is not installed makes its tests *fail* with the command that installs it
(CI installs everything through ``.ci/install-tools`` and the ``test`` extras), so the
suite never passes by skipping.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cflib import readers
from cflib.realdata import real_data_dir as _real_data_dir


def require(reader: str) -> None:
    """Fail (never skip) when ``reader`` is missing, saying how to install it."""
    checks = {
        "mrcfile": lambda: __import__("mrcfile"),
        "mrcz": lambda: __import__("mrcz") and __import__("blosc"),
        "gemmi": lambda: __import__("gemmi"),
        "tifffile": lambda: __import__("tifffile") and __import__("imagecodecs"),
        "pillow": lambda: __import__("PIL.Image"),
        "imageio": lambda: __import__("imageio.v3"),
    }
    try:
        if reader in checks:
            checks[reader]()
        elif (
            reader == "relion"
            and not readers.relion_available()
            or reader == "libccp4"
            and not readers.ccp4dump_available()
        ):
            raise readers.Missing(reader)
        elif reader == "libtiff":
            import shutil

            if not shutil.which("tiffinfo") or not shutil.which("tiffcp"):
                raise readers.Missing(reader)
    except (ImportError, readers.Missing):
        pytest.fail(readers.missing_message(reader), pytrace=False)


@pytest.fixture(scope="session")
def ccp4dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tools/ccp4dump.c compiled against the installed CCP4 C library."""
    require("libccp4")
    return readers.build_ccp4dump(tmp_path_factory.mktemp("ccp4"))


@pytest.fixture(scope="session")
def real_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding EMD-3001.map, EMD-3197.map and fei-extended.mrc."""
    return _real_data_dir()


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide scratch folder for files written once and read by many cells."""
    return tmp_path_factory.mktemp("matrix")
