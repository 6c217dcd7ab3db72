"""The entropy-coding comparison of issue 15: the rANS plugin beside blosc zstd-1,
zstd-9, xz and JPEG-XL lossless, as Table 1 rows and as Figure 2a's size-to-bound table.

rANS comes from the separately installed ``mrczio-rans`` plugin (``pip install
./plugins/mrczio_rans``); its rows say so when it is missing. JPEG-XL is imagecodecs'
``jpegxl_encode(lossless=True)`` (effort 1, the fastest; one codestream per frame).
"""

from __future__ import annotations

import lzma
import struct

import numpy as np

import mrczio
from benchmarks.contenders import Contender, _mrczio_read, _mrczio_writer
from benchmarks.data import entropy_bytes
from benchmarks.report import Table
from benchmarks.timing import fsync_path

_LENGTH = struct.Struct("<Q")


def rans_missing() -> str:
    """Why the rANS codec cannot be measured, or ``""``."""
    if "rans" in mrczio.get_registry().codecs:
        return ""
    return "mrczio-rans plugin not installed (pip install ./plugins/mrczio_rans)"


def jpegxl_missing() -> str:
    """Why JPEG-XL cannot be measured, or ``""``."""
    try:
        import imagecodecs
    except ImportError:
        return "imagecodecs not installed"
    return "" if imagecodecs.JPEGXL.available else "this imagecodecs build has no JPEG-XL"


def jpegxl_frame(frame: np.ndarray) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.jpegxl_encode(frame, lossless=True, effort=1))


def _jpegxl_write(path: str, stack: np.ndarray) -> None:
    """Length-prefixed JPEG-XL codestreams, one per frame."""
    with open(path, "wb") as sink:
        for frame in stack:
            stream = jpegxl_frame(frame)
            sink.write(_LENGTH.pack(len(stream)) + stream)
    fsync_path(path)


def _jpegxl_read(path: str, shape: tuple[int, ...]) -> np.ndarray:
    import imagecodecs

    out = np.empty(shape, dtype=np.uint8)
    with open(path, "rb") as source:
        for k in range(shape[0]):
            (length,) = _LENGTH.unpack(source.read(_LENGTH.size))
            out[k] = imagecodecs.jpegxl_decode(source.read(length))
    return out


def entropy_contenders() -> list[Contender]:
    """Table 1 rows: rANS (plugin), zstd-9 (blosc, mrczio) and JPEG-XL lossless."""
    return [
        Contender("MRCZ rANS (mrczio-rans plugin)", ".mrcz", _mrczio_writer(codec="rans"), _mrczio_read, rans_missing()),
        Contender("MRCZ zstd 9 (mrczio)", ".mrcz", _mrczio_writer(codec="zstd", level=9), _mrczio_read, slow=True),
        Contender("JPEG-XL lossless effort 1 (imagecodecs)", ".jxls", _jpegxl_write, _jpegxl_read, jpegxl_missing(), slow=True),
    ]  # fmt: skip


def _blosc_zstd(frame: np.ndarray, level: int) -> int:
    return len(mrczio.get_registry().codec("zstd").configured(level=level).encode(frame))


def size_to_bound_vs_dose(frames: dict[float, np.ndarray]) -> Table:
    """Figure 2a (entropy coders): size / order-0 entropy bound of one frame per dose."""
    columns = [
        "dose",
        "entropy bound (MB)",
        "rANS",
        "blosc zstd 1",
        "blosc zstd 9",
        "xz -6",
        "JPEG-XL lossless",
    ]
    table = Table(
        "entropy_coders_vs_dose",
        "Figure 2a (entropy coders): size / order-0 entropy bound against dose",
        columns,
    )
    rans = None if rans_missing() else mrczio.get_registry().codec("rans")
    jxl = not jpegxl_missing()
    for dose, frame in frames.items():
        bound = entropy_bytes(frame)
        cells = [
            len(rans.encode(frame)) / bound if rans is not None else None,
            _blosc_zstd(frame, 1) / bound,
            _blosc_zstd(frame, 9) / bound,
            len(lzma.compress(frame.tobytes(), preset=6)) / bound,
            len(jpegxl_frame(frame)) / bound if jxl else None,
        ]
        table.add(dose, bound / 1e6, *cells)
    for reason in (rans_missing(), jpegxl_missing()):
        if reason:
            table.notes.append(f"skipped: {reason}")
    table.notes.append(
        "One frame per dose; xz is Python's lzma preset 6 on the raw bytes; JPEG-XL effort 1."
    )
    return table
