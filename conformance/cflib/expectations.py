"""Expected outcome of every (mrczio writer, third-party reader, dtype) cell, with reasons.

The reasons are the documented behaviour of each reader (mrc-conformance.md section 3,
mrcz-format.md), so a refusal here is a property of that reader, not an mrczio bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cflib.cells import Outcome, garbage, ok, refuse


@dataclass(frozen=True)
class Writer:
    """One way mrczio writes a file: format, extension and write options."""

    name: str
    format: str
    extension: str
    options: tuple[tuple[str, Any], ...] = ()
    volume: bool = False

    @property
    def compressed(self) -> bool:
        return self.format == "mrcz"

    @property
    def big_endian(self) -> bool:
        return dict(self.options).get("byteorder") == "big"


def mrczio_writers(codecs: list[str]) -> list[Writer]:
    """Plain MRC (little, big endian, volume) and MRCZ with every registered codec."""
    writers = [
        Writer("mrc", "mrc", ".mrcs"),
        Writer("mrc-be", "mrc", ".mrcs", (("byteorder", "big"),)),
        Writer("mrc-volume", "mrc", ".mrc", (("volume", True),), volume=True),
    ]
    writers += [Writer(f"mrcz-{c}", "mrcz", ".mrcz", (("codec", c),)) for c in codecs]
    writers += [
        Writer(
            "mrcz-zstd-blosc2", "mrcz", ".mrcz", (("codec", "zstd"), ("chunk_format", "blosc2"))
        ),
        Writer("mrcz-zstd-be", "mrcz", ".mrcz", (("codec", "zstd"), ("byteorder", "big"))),
    ]
    return writers


def _mode(dtype: np.dtype[Any] | str) -> int:
    if dtype == "uint4":
        return 101
    return {"int8": 0, "uint8": 0, "int16": 1, "float32": 2, "complex64": 4, "uint16": 6,
            "int32": 7, "uint32": 8, "float16": 12}[np.dtype(dtype).name]  # fmt: skip


def _relion_uint16(got: np.ndarray, expected: np.ndarray) -> bool:
    """RELION 3.1.3 reads mode 6 as signed int16: values >= 32768 come back negative."""
    return got.dtype == np.float32 and np.array_equal(
        got, expected.astype(np.int16).astype(np.float32)
    )


def _gemmi_big_endian(got: np.ndarray, expected: np.ndarray) -> bool:
    """gemmi 0.7.5 on big-endian files of modes other than 2: items are read in little-endian
    order, converted to float32, and the float32 words are then byte-swapped."""
    model = expected.byteswap().astype(np.float32).byteswap()
    return got.dtype == np.float32 and np.array_equal(got.view(np.uint32), model.view(np.uint32))


def _relion_int32(got: np.ndarray, expected: np.ndarray) -> bool:
    """RELION 3.1.3 reads mode 7 (int32) words as float32 bit patterns (NaNs come back quieted)."""
    model = expected.view(np.float32)
    nan = np.isnan(model)
    same = np.array_equal(got.view(np.uint32)[~nan], model.view(np.uint32)[~nan])
    return got.dtype == np.float32 and same and bool(np.isnan(got[nan]).all())


def _not_the_data(got: np.ndarray, expected: np.ndarray) -> bool:
    """The reader returned something, and it is not the written data."""
    if got.shape != expected.shape:
        return True
    return not np.array_equal(
        got, expected.astype(got.dtype, copy=False) if got.dtype != expected.dtype else expected
    )


def expect(reader: str, writer: Writer, dtype_name: str, data: np.ndarray) -> Outcome:
    """The expected outcome of ``reader`` on ``data`` written by ``writer``
    (``dtype_name`` is a numpy dtype name, or "uint4" for mode 101)."""
    mode = _mode(dtype_name)
    if mode == 101 and reader != "mrczio":
        return _MODE101_RULES[reader](writer, data)
    return _RULES[reader](writer, np.dtype(data.dtype), mode, data)


def _mrczio(writer: Writer, dtype: np.dtype[Any], mode: int, data: np.ndarray) -> Outcome:
    return ok("B2", "round trip through mrczio's own reader")


def _mrcfile(writer: Writer, dtype: np.dtype[Any], mode: int, data: np.ndarray) -> Outcome:
    if writer.compressed:
        return refuse(
            "mrcfile does not read compressed MRCZ (MODE = 1000*codec + mode)",
            r"Unrecognised mode '\d{4}'",
        )
    if mode in (7, 8):
        return refuse(
            "modes 7/8 (int32/uint32) are python-mrcz extensions, not MRC2014",
            rf"Unrecognised mode '{mode}'",
        )
    if dtype == np.uint8:
        return ok(
            "B1", "uint8 is mode 0 + IMOD unsigned stamp; mrcfile returns the same bytes as int8"
        )
    return ok("B2")


def _mrcz(writer: Writer, dtype: np.dtype[Any], mode: int, data: np.ndarray) -> Outcome:
    if mode == 12:
        return refuse("python-mrcz 0.6.0 has no float16 mode (12)", r"12")
    if mode == 0 and writer.big_endian and not writer.compressed:
        return refuse(
            "python-mrcz guesses byte order from MODE > 16e6; plain MODE 0 reads the same both "
            "ways, so big-endian mode-0 dimensions are read little-endian",
            r"cannot reshape",
        )
    if dtype == np.uint8:
        return ok("B1", "python-mrcz reads mode 0 as int8 (same bytes)")
    if 1 in data.shape:
        return ok("B2s", "python-mrcz squeezes one-pixel axes (values and bytes exact)")
    return ok("B2", "a list of frames (MZ > 0) is joined into one stack")


def _gemmi(writer: Writer, dtype: np.dtype[Any], mode: int, data: np.ndarray) -> Outcome:
    if writer.compressed:
        return refuse("gemmi does not read compressed MRCZ", r"[Mm]ode")
    if mode in (4, 7, 8):
        return refuse(f"gemmi reads modes 0, 1, 2, 6 and 12 only (not {mode})", rf"Mode {mode}")
    if writer.big_endian and mode != 2:
        return garbage(
            "gemmi 0.7.5 byte-swaps big-endian data after converting it to float32 "
            "(only mode 2 survives)",
            _gemmi_big_endian,
        )
    if dtype == np.uint8:
        return ok("V", "gemmi gives float32; mode 0 read as signed int8 (IMOD stamp ignored)")
    return ok("V", "gemmi gives float32 (lossless for these modes)")


def _libccp4(writer: Writer, dtype: np.dtype[Any], mode: int, data: np.ndarray) -> Outcome:
    if writer.compressed:
        return refuse("libccp4 does not read compressed MRCZ", r"exit [23]")
    if mode == 6:
        return refuse(
            "libccp4 reads mode 6 as int32 (CCP4_INT32), so sections run past the data", r"exit 4"
        )
    if mode in (7, 8, 12):
        return refuse(f"libccp4 has no data type for mode {mode} (its reads fail with 'Bad mode')", r"exit [23]")
    return ok("B1", "libccp4 returns the section bytes in native order")


def _relion(writer: Writer, dtype: np.dtype[Any], mode: int, data: np.ndarray) -> Outcome:
    if writer.compressed and mode in (4, 8):
        return refuse(
            "RELION 3.1.3 takes MRCZ MODE 1000*codec+4/8 for a complex mode", r"only real-space"
        )
    if writer.compressed:
        return garbage("RELION 3.1.3 reads MRCZ chunks as raw pixels and exits 0", _not_the_data)
    if mode == 12:
        return refuse("RELION 3.1 does not support half precision (mode 12)", r"exit|half")
    if mode == 7:
        return garbage(
            "RELION 3.1.3 reads mode 7 (int32) words as float32 bit patterns", _relion_int32
        )
    if mode in (4, 8):
        return refuse(f"RELION 3.1.3 refuses mode {mode}", r"exit")
    if mode == 6 and int(data.max()) >= 32768:
        return garbage(
            "RELION 3.1.3 reads mode 6 as signed int16 (values >= 32768 wrap negative)",
            _relion_uint16,
        )
    if dtype == np.uint8:
        return ok("V", "RELION gives float32; mode 0 read as signed bytes (IMOD stamp ignored)")
    return ok("V", "RELION gives float32")


_RULES = {
    "mrczio": _mrczio,
    "mrcfile": _mrcfile,
    "mrcz": _mrcz,
    "gemmi": _gemmi,
    "libccp4": _libccp4,
    "relion": _relion,
}
READERS = tuple(_RULES)


# -- mode 101 (4-bit) ---------------------------------------------------------------------------


def _m101_mrcfile(writer: Writer, data: np.ndarray) -> Outcome:
    return refuse("mrcfile 1.5.4 does not read mode 101", r"Unrecognised mode '\d*101'")


def _m101_mrcz(writer: Writer, data: np.ndarray) -> Outcome:
    if writer.compressed and (data.shape[-2:] != (1, 1) or writer.big_endian):
        return refuse(
            "python-mrcz 0.6.0 cannot read compressed mode 101: it decodes the packed "
            "bytes as pixels (it never writes it); a big-endian MODE 6101 also defeats "
            "its byte-order guess",
            r"reshape|broadcast|compressor id",
        )
    if data.shape[-1] == 1:
        return ok("B2s", "one-pixel rows: python-mrcz's nibble stream equals IMOD's layout")
    return refuse("python-mrcz decodes 101 only with MZ = 0 and even nx (its own layout)", r".")


def _m101_gemmi(writer: Writer, data: np.ndarray) -> Outcome:
    return refuse("gemmi does not read mode 101", r"[Mm]ode")


def _m101_libccp4(writer: Writer, data: np.ndarray) -> Outcome:
    return refuse("libccp4 has no data type for mode 101 (its reads fail with 'Bad mode')", r"exit [23]")


def _relion_nibble_stream(got: np.ndarray, expected: np.ndarray) -> bool:
    """RELION 3.1.3 decodes mode 101 as one continuous nibble stream, ignoring IMOD's
    per-row padding: rebuild the padded bytes and decode them that way."""
    frames, ny, nx = expected.shape
    padded = np.zeros((frames, ny, nx + nx % 2), dtype=np.uint8)
    padded[..., :nx] = expected
    stream = padded.reshape(-1)[: expected.size]
    return got.dtype == np.float32 and np.array_equal(got.reshape(-1), stream.astype(np.float32))


def _m101_relion(writer: Writer, data: np.ndarray) -> Outcome:
    ny, nx = data.shape[-2:]
    if writer.compressed:
        return garbage("RELION 3.1.3 reads MRCZ chunks as raw pixels and exits 0", _not_the_data)
    if (nx * ny) % 2:
        return refuse(
            "RELION 3.1.3 reads mode 101 only when nx * ny is even", r"nx \* ny is an even number"
        )
    if writer.big_endian:
        return refuse("RELION 3.1.3 refuses big-endian mode 101", r"UHalf")
    if nx % 2:
        return garbage(
            "RELION 3.1.3 ignores IMOD's row padding for odd nx (one nibble stream)",
            _relion_nibble_stream,
        )
    return ok("V", "RELION 3.1.3 unpacks mode 101 (even nx)")


_MODE101_RULES = {
    "mrcfile": _m101_mrcfile,
    "mrcz": _m101_mrcz,
    "gemmi": _m101_gemmi,
    "libccp4": _m101_libccp4,
    "relion": _m101_relion,
}
