"""The readers mrczio's files must satisfy outside mrczio, one checker per format.

Each checker takes a path and the array mrczio wrote and either returns normally
(the outside reader agrees, bit for bit or value for value as noted), raises
AssertionError (it disagrees), or raises :class:`Refused` when the reader is known not to
support that file (mrcfile and mode 101, Pillow and float16, ...): a documented
limitation of the outside reader, which a test may assert.

Row order: TIFF readers see rows top-down, mrczio arrays are bottom-up (as in MRC), so
TIFF comparisons flip rows; see docs/tiff-and-4bit.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import mrczio
from mrczio.testing.asserts import assert_bit_exact


class Refused(Exception):
    """The outside reader does not support this file, as documented."""


def _mrc_mode(path: str) -> int:
    with open(path, "rb") as handle:
        head = handle.read(16)
    return int(np.frombuffer(head[12:16], "<i4")[0]) % 1000


def check_mrcfile(path: str, data: np.ndarray) -> None:
    """mrcfile 1.5.4 reads plain MRC bit-exact (uint8 shows as int8, same bytes)."""
    import mrcfile

    mode = _mrc_mode(path)
    if mode in (7, 8, 101):
        try:
            mrcfile.open(path).close()
        except ValueError as exc:  # "Unrecognised mode", as documented
            raise Refused(f"mrcfile refuses mode {mode}: {exc}") from exc
        raise AssertionError(f"mrcfile unexpectedly read mode {mode}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mrcfile warns about NaN statistics and the like
        got = mrcfile.read(path)
    expected = data.view(np.int8) if data.dtype == np.uint8 else data
    assert_bit_exact(got, expected, "mrcfile")


def check_python_mrcz(path: str, data: np.ndarray) -> None:
    """python-mrcz 0.6.0 reads MRCZ bit-exact (uint8 as int8; no float16, no mode 101)."""
    import mrcz

    mode = _mrc_mode(path)
    if mode in (12, 101):
        raise Refused(f"python-mrcz does not read compressed mode {mode}")
    got, _ = mrcz.readMRC(path)
    got = np.asarray(got).reshape(data.shape)
    expected = data.view(np.int8) if data.dtype == np.uint8 else data
    assert_bit_exact(got, expected, "python-mrcz")


def _tiff_meta(path: str) -> dict[str, Any]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        try:
            info = json.loads(page.description or "{}").get("mrczio", {})
        except ValueError:
            info = {}
        return {"bps": page.bitspersample, "info": info}


def _top_down(path: str, data: np.ndarray) -> np.ndarray:
    stack = data[np.newaxis] if data.ndim == 2 else data
    rows = _tiff_meta(path)["info"].get("rows", "bottom-up")
    return stack[:, ::-1] if rows == "bottom-up" else stack


def _serialem_bytes(stack: np.ndarray) -> np.ndarray:
    """The bytes of 4-bit packed frames, as the registered MRC mode 101 packs them."""
    packed = mrczio.get_registry().mode(101).pack(stack)
    return np.asarray(packed).reshape(stack.shape[0], stack.shape[1], -1)


def check_tifffile(path: str, data: np.ndarray) -> None:
    """tifffile reads the pages bit-exact, rows top-down (packed 4-bit as stored bytes)."""
    import tifffile

    meta = _tiff_meta(path)
    expected = _top_down(path, data)
    if meta["info"].get("packed4bit") == "serialem":
        expected = _serialem_bytes(expected)
    got = tifffile.imread(path)
    assert_bit_exact(got.reshape(expected.shape), expected, "tifffile")


PILLOW_DTYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "float32"}


def check_pillow(path: str, data: np.ndarray) -> None:
    """Pillow reads every page by value (it widens int16 to int32, shows int8 as uint8
    and uint32 as int32, and scales 4-bit samples by 17); no float16 or complex."""
    from PIL import Image

    if data.dtype.name not in PILLOW_DTYPES:
        raise Refused(f"Pillow does not read {data.dtype} TIFF")
    meta = _tiff_meta(path)
    expected = _top_down(path, data)
    if meta["info"].get("packed4bit") == "serialem":
        expected = _serialem_bytes(expected)
    elif meta["bps"] == 4:
        expected = expected.astype(np.uint16) * 17
    with Image.open(path) as image:
        pages = getattr(image, "n_frames", 1)
        assert pages == expected.shape[0], f"Pillow sees {pages} pages"
        for k in range(expected.shape[0]):
            image.seek(k)
            page = np.asarray(image)
            want = expected[k]
            if page.dtype.itemsize == want.dtype.itemsize:  # same bits (NaN payloads too)
                same = np.ascontiguousarray(page).tobytes() == np.ascontiguousarray(want).tobytes()
            else:  # widened integers
                same = np.array_equal(page.astype(np.int64), want.astype(np.int64))
            assert same, f"Pillow: page {k} differs"


def check_tiffinfo(path: str, data: np.ndarray) -> None:
    """libtiff's ``tiffinfo -D`` decodes every page without an error and sees the size."""
    tool = shutil.which("tiffinfo")
    if tool is None:
        raise AssertionError(
            "tiffinfo is not installed (Debian: libtiff-tools); .ci/install-tools installs it"
        )
    done = subprocess.run([tool, "-D", path], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"tiffinfo failed: {done.stderr[-500:]}"
    assert "error" not in done.stderr.lower(), f"tiffinfo reported: {done.stderr[-500:]}"
    pages = done.stdout.count("=== TIFF directory")
    n = 1 if data.ndim == 2 else data.shape[0]
    assert pages == n, f"tiffinfo sees {pages} pages, expected {n}"
    assert f"Image Length: {data.shape[-2]}" in done.stdout


Checker = Callable[[str, np.ndarray], None]
#: Outside readers for each built-in format name.
OUTSIDE_READERS: dict[str, tuple[Checker, ...]] = {
    "mrc": (check_mrcfile,),
    "mrcz": (check_python_mrcz,),
    "tiff": (check_tifffile, check_pillow, check_tiffinfo),
}


def check_outside(format_name: str, path: str, data: np.ndarray) -> list[str]:
    """Run every outside reader of ``format_name``; returns the documented refusals."""
    refusals = []
    for checker in OUTSIDE_READERS.get(format_name, ()):
        try:
            checker(path, data)
        except Refused as exc:
            refusals.append(f"{checker.__name__}: {exc}")
    return refusals
