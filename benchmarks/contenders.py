"""Every way of storing a uint8 counting stack that Table 1 compares.

A contender writes a (frames, ny, nx) uint8 stack to a path and reads it back. Writes
end with the file flushed to the disk (mrczio's ``fsync=True``, or an fsync after the
other library returns), so the page cache does not flatter anyone. Libraries without a
uint8 MRC mode (python-mrcz, mrcfile) get the same bytes as int8.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import mrczio
from benchmarks.timing import fsync_path

Writer = Callable[[str, np.ndarray], None]
Reader = Callable[[str, tuple[int, ...]], np.ndarray]


@dataclass(frozen=True)
class Contender:
    """One row of Table 1: a name, how to write and read, and why it may be missing."""

    name: str
    extension: str
    write: Writer
    read: Reader
    missing: str = ""  # non-empty: the reason the row is skipped
    slow: bool = False  # measured once even in multi-repetition runs


# -- mrczio -------------------------------------------------------------------------


def _mrczio_writer(**options: object) -> Writer:
    def write(path: str, stack: np.ndarray) -> None:
        mrczio.imwrite(path, stack, fsync=True, overwrite=True, **options)

    return write


def _mrczio_read(path: str, shape: tuple[int, ...]) -> np.ndarray:
    return mrczio.imread(path)


def mrczio_contenders() -> list[Contender]:
    modes = mrczio.get_registry().modes
    rows = [
        Contender("MRC uncompressed (mrczio)", ".mrc", _mrczio_writer(), _mrczio_read),
        Contender(
            "MRC 4-bit mode 101 (mrczio)", ".mrc", _mrczio_writer(mode=101, clip=True), _mrczio_read,
            missing="" if 101 in modes else "mode-101 plugin not installed",
        ),
    ]  # fmt: skip
    for codec, level in (("lz4", 1), ("lz4", 5), ("zstd", 1), ("zstd", 5)):
        name = f"MRCZ {codec} {level} (mrczio{', default' if (codec, level) == ('zstd', 1) else ''})"
        rows.append(Contender(name, ".mrcz", _mrczio_writer(codec=codec, level=level), _mrczio_read))
    return rows


# -- python-mrcz ----------------------------------------------------------------------


def _mrcz_writer(compressor: str, level: int, *, fsync: bool = True) -> Writer:
    def write(path: str, stack: np.ndarray) -> None:
        import mrcz

        mrcz.writeMRC(stack.view(np.int8), path, compressor=compressor, clevel=level)
        if fsync:
            fsync_path(path)

    return write


def _mrcz_read(path: str, shape: tuple[int, ...]) -> np.ndarray:
    import mrcz

    return mrcz.readMRC(path)[0]


def mrcz_contenders() -> list[Contender]:
    missing = "" if _importable("mrcz") else "python-mrcz not installed (pip install mrcz==0.6.0)"
    return [
        Contender("python-mrcz 0.6.0 zstd 1 (default)", ".mrcz", _mrcz_writer("zstd", 1), _mrcz_read, missing),
        Contender("python-mrcz 0.6.0 lz4 1", ".mrcz", _mrcz_writer("lz4", 1), _mrcz_read, missing),
    ]


# -- mrcfile, tifffile ------------------------------------------------------------------


def _mrcfile_writer(compression: str | None) -> Writer:
    def write(path: str, stack: np.ndarray) -> None:
        import mrcfile

        with mrcfile.new(path, overwrite=True, compression=compression) as mrc:
            mrc.set_data(stack.view(np.int8))
        fsync_path(path)

    return write


def _mrcfile_read(path: str, shape: tuple[int, ...]) -> np.ndarray:
    import mrcfile

    with mrcfile.open(path, permissive=True) as mrc:
        return np.array(mrc.data)


def _tiff_writer(compression: str) -> Writer:
    def write(path: str, stack: np.ndarray) -> None:
        import tifffile

        tifffile.imwrite(path, stack, compression=compression)
        fsync_path(path)

    return write


def _tiff_read(path: str, shape: tuple[int, ...]) -> np.ndarray:
    import tifffile

    return tifffile.imread(path)


def library_contenders() -> list[Contender]:
    mrcfile_missing = "" if _importable("mrcfile") else "mrcfile not installed"
    tiff_missing = "" if _importable("tifffile") and _importable("imagecodecs") else "tifffile/imagecodecs missing"
    return [
        Contender("mrcfile 1.5 plain", ".mrc", _mrcfile_writer(None), _mrcfile_read, mrcfile_missing),
        Contender("mrcfile 1.5 gzip", ".mrc.gz", _mrcfile_writer("gzip"), _mrcfile_read, mrcfile_missing, slow=True),
        Contender("tifffile LZW", ".tif", _tiff_writer("lzw"), _tiff_read, tiff_missing, slow=True),
        Contender("tifffile zstd", ".tif", _tiff_writer("zstd"), _tiff_read, tiff_missing),
    ]


# -- command-line compressors -------------------------------------------------------------


def _cli_writer(command: list[str]) -> Writer:
    """Pipe the raw stack through ``command`` into ``path`` (no uncompressed temp file)."""

    def write(path: str, stack: np.ndarray) -> None:
        with open(path, "wb") as sink:
            subprocess.run(command, input=memoryview(stack).cast("B"), stdout=sink, check=True)
        fsync_path(path)

    return write


def _cli_reader(command: list[str]) -> Reader:
    def read(path: str, shape: tuple[int, ...]) -> np.ndarray:
        done = subprocess.run([*command, path], stdout=subprocess.PIPE, check=True)
        return np.frombuffer(done.stdout, dtype=np.uint8).reshape(shape)

    return read


def cli_contenders(threads: int) -> list[Contender]:
    tools = [
        ("pigz -1", "pigz", ".gz", ["pigz", "-1", "-p", str(threads), "-c"], ["pigz", "-dc", "-p", str(threads)], False),
        ("lbzip2 -9", "lbzip2", ".bz2", ["lbzip2", "-9", "-n", str(threads), "-c"], ["lbzip2", "-dc", "-n", str(threads)], True),
        ("xz -6", "xz", ".xz", ["xz", "-6", f"-T{threads}", "-c"], ["xz", "-dc", f"-T{threads}"], True),
    ]  # fmt: skip
    rows = []
    for name, tool, extension, write_cmd, read_cmd, slow in tools:
        missing = "" if shutil.which(tool) else f"{tool} not on PATH (run benchmarks/setup.sh)"
        rows.append(Contender(f"{name} (raw bytes)", extension, _cli_writer(write_cmd), _cli_reader(read_cmd), missing, slow))
    return rows


def all_contenders(threads: int) -> list[Contender]:
    return mrczio_contenders() + mrcz_contenders() + library_contenders() + cli_contenders(threads)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
