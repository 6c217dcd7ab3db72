"""Adapters around every third-party reader the suite compares against.

Each ``read_*`` function returns a :class:`Read` (pixels as the reader returned them,
normalised to a (frames, ny, nx) stack in native byte order, plus what the reader said
about the header) or raises :class:`Refused` when the reader rejected the file (an
exception, a non-zero exit status or a crash). Legacy tools that "succeed" with
garbage return a :class:`Read` like any other, so the caller must compare arrays.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TOOLS_DIR = Path(__file__).resolve().parent.parent / "tools"
SUBPROCESS_GUARD_S = 60  # a hang guard, not a speed limit

#: How to get each reader; a missing reader fails the suite with this message.
INSTALL_HINTS = {
    "mrcfile": "pip install 'mrcfile==1.5.4' (or pip install -e '.[test]')",
    "mrcz": "pip install 'mrcz[compression]==0.6.0' (or pip install -e '.[test]')",
    "gemmi": "pip install gemmi (or pip install -e '.[test]')",
    "libccp4": "apt-get install libccp4-dev libccp4c0 pkg-config gcc (or run .ci/install-tools)",
    "relion": "apt-get install --no-install-recommends relion (or run .ci/install-tools)",
    "tifffile": "pip install tifffile imagecodecs",
    "pillow": "pip install pillow (or pip install -e '.[test]')",
    "libtiff": "apt-get install libtiff-tools (or run .ci/install-tools)",
    "imageio": "pip install imageio",
}


class Refused(Exception):
    """The reader rejected the file (raised, exited non-zero or crashed)."""


class Missing(Exception):
    """The reader is not installed here."""


@dataclass
class Read:
    """What one reader made of one file."""

    array: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def missing_message(reader: str) -> str:
    return f"reader {reader!r} is not installed; install it with: {INSTALL_HINTS[reader]}"


def _stack(array: np.ndarray, frame_shape: tuple[int, int] | None = None) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    if array.ndim == 2:
        return array[np.newaxis]
    if array.ndim == 4:
        return array.reshape(-1, *array.shape[-2:])
    return array


# -- Python readers ---------------------------------------------------------------------


def read_mrcfile(path: str | os.PathLike[str]) -> Read:
    """mrcfile.open in strict mode; data copied; header fields and voxel size kept."""
    import mrcfile

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with mrcfile.open(path, mode="r", permissive=False) as mrc:
                data = np.array(mrc.data)
                voxel = mrc.voxel_size
                info = {
                    "voxel_size": (float(voxel.x), float(voxel.y), float(voxel.z)),
                    "extended_header": bytes(mrc.extended_header.tobytes()),
                    "exttyp": bytes(mrc.header.exttyp),
                    "mode": int(mrc.header.mode),
                    "ispg": int(mrc.header.ispg),
                    "shape": data.shape,
                }
        except Exception as exc:
            raise Refused(f"{type(exc).__name__}: {exc}") from exc
    return Read(_stack(data), info, [str(w.message) for w in caught])


def mrcfile_validate(path: str | os.PathLike[str]) -> tuple[bool, str]:
    """(mrcfile.validate result, its printed messages)."""
    import io

    import mrcfile

    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = mrcfile.validate(str(path), print_file=out)
    return bool(ok), out.getvalue()


def read_mrcz(path: str | os.PathLike[str], **kwargs: Any) -> Read:
    """python-mrcz readMRC; a list of frames (MZ > 0) is joined into one stack."""
    import mrcz

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image, header = mrcz.readMRC(str(path), **kwargs)
        except Exception as exc:
            raise Refused(f"{type(exc).__name__}: {exc}") from exc
    if isinstance(image, list):
        frames = [
            f[np.newaxis] if f.ndim == 2 else np.atleast_1d(f) for f in map(np.asarray, image)
        ]
        image = np.concatenate(frames) if frames else np.empty((0, 0, 0))
        layout = "list"
    else:
        layout = "array"
    info = {
        "layout": layout,
        "pixelsize": [float(p) for p in header.get("pixelsize", [0, 0, 0])],
        "header": header,
    }
    return Read(_stack(image), info, [str(w.message) for w in caught])


def read_gemmi(path: str | os.PathLike[str]) -> Read:
    """gemmi.read_ccp4_map(setup=False): float32 grid indexed [x, y, z], transposed back."""
    import gemmi

    try:
        ccp4 = gemmi.read_ccp4_map(str(path), setup=False)
        grid = np.array(ccp4.grid, copy=True)
    except Exception as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc
    return Read(np.ascontiguousarray(grid.transpose(2, 1, 0)), {"mode": int(ccp4.header_i32(4))})


# -- the CCP4 C library -----------------------------------------------------------------


def ccp4dump_available() -> bool:
    return (
        shutil.which("pkg-config") is not None
        and subprocess.run(["pkg-config", "--exists", "ccp4c"], check=False).returncode == 0
        and shutil.which("cc") is not None
    )


def build_ccp4dump(outdir: Path) -> Path:
    """Compile tools/ccp4dump.c against libccp4c; return the executable."""
    if not ccp4dump_available():
        raise Missing(missing_message("libccp4"))
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "ccp4c"], check=True, capture_output=True, text=True
    ).stdout.split()
    exe = outdir / "ccp4dump"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(TOOLS_DIR / "ccp4dump.c"), *flags],
                   check=True, capture_output=True)  # fmt: skip
    return exe


#: libccp4's item type per mode (6 is a 32-bit integer there, not uint16).
CCP4_DTYPES = {0: np.int8, 1: np.int16, 2: np.float32, 4: np.complex64, 6: np.int32}


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command, capture_output=True, timeout=SUBPROCESS_GUARD_S, check=False, **kwargs
    )


def _exit_text(proc: subprocess.CompletedProcess[bytes]) -> str:
    if proc.returncode < 0:
        return f"crashed with {signal.Signals(-proc.returncode).name}"
    lines = [ln for ln in proc.stderr.decode("latin-1").splitlines() if ln.strip()]
    return f"exit {proc.returncode}: " + " | ".join(lines[-3:])


def read_libccp4(path: str | os.PathLike[str], exe: Path) -> Read:
    """Read every section with ccp4_cmap_read_section (bytes in native order)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sections.bin"
        proc = _run([str(exe), str(path), str(out)])
        if proc.returncode != 0:
            raise Refused(_exit_text(proc))
        nx, ny, nz, mode, _ = (int(v) for v in proc.stdout.split()[:5])
        raw = out.read_bytes()
    data = np.frombuffer(raw, dtype=CCP4_DTYPES[mode]).reshape(nz, ny, nx)
    return Read(data.copy(), {"mode": mode, "stderr": proc.stderr.decode("latin-1")})


# -- RELION -------------------------------------------------------------------------------


def relion_available() -> bool:
    return shutil.which("relion_image_handler") is not None


def read_relion(path: str | os.PathLike[str], *, volume: bool = False) -> Read:
    """``relion_image_handler --i IN --o OUT.mrcs``; OUT (float32) read back with mrcfile.

    RELION decides stack vs volume from the extension, so the input is linked as
    ``.mrcs`` (stack of images) or ``.mrc`` (one volume); TIFF keeps ``.tif``. A zero exit status with no
    output is reported as a refusal ("no output"), and garbage is returned as read.
    """
    import mrcfile

    if not relion_available():
        raise Missing(missing_message("relion"))
    tiff = str(path).lower().endswith((".tif", ".tiff"))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / ("in.tif" if tiff else "in.mrc" if volume else "in.mrcs")
        os.symlink(os.path.abspath(path), source)
        target = Path(tmp) / ("out.mrc" if volume else "out.mrcs")
        try:
            proc = _run(["relion_image_handler", "--i", str(source), "--o", str(target)], cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise Refused(f"no answer within the {SUBPROCESS_GUARD_S} s hang guard") from exc
        if proc.returncode != 0:
            raise Refused(_exit_text(proc))
        if not target.exists():
            raise Refused("exit 0 but no output file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mrcfile.open(target, permissive=True) as out:
                data = None if out.data is None else np.array(out.data)
    if data is None:
        raise Refused("exit 0 but the output has no readable data")
    return Read(_stack(data), {"stdout": proc.stdout[-200:].decode("latin-1")})


# -- versions -------------------------------------------------------------------------------


@functools.cache
def versions() -> dict[str, str]:
    """Version of every reader and writer the suite talks to ('missing' if absent)."""
    found: dict[str, str] = {}
    for dist in ("mrczio", "mrcfile", "mrcz", "gemmi", "numpy", "blosc", "blosc2", "tifffile",
                 "imagecodecs", "pillow", "imageio", "hypothesis"):  # fmt: skip
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "missing"
    for label, package in (("libccp4c (Debian)", "libccp4c0"), ("relion (Debian)", "relion"),
                           ("libtiff-tools (Debian)", "libtiff-tools")):  # fmt: skip
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                              capture_output=True, text=True, check=False)  # fmt: skip
        found[label] = (
            proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "missing"
        )
    return found
