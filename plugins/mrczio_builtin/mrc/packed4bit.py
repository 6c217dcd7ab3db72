"""MRC mode 101: two 4-bit pixels per byte, as SerialEM and IMOD write counting movies.

Layout (IMOD's rule, which SerialEM follows): the pixel with the lower x is in the **low
nibble**, the next one in the high nibble; every row starts on a whole byte, so a row of
odd width ``nx`` takes ``(nx + 1) // 2`` bytes and ends with 4 bits of zero padding. The
byte order of the file does not matter (bytes have none). Values are unsigned 0..15 and
decode to ``uint8``.

python-mrcz packs one continuous nibble stream and adds without masking, so it agrees with
this layout only for even ``nx`` and values <= 15; here odd widths follow IMOD and values
above 15 are refused (or clipped on request, see :meth:`Packed4BitMode.clip`).

Older IMOD files store the same packing as **mode 0 with half the true nx**, marked by bit
16 of ``imod_flags`` (or, in the oldest files, only by a "4 bits packed" label on a K2/K3
super-resolution frame size). :func:`imod_mode0_packed` recognises them; the MRC layout
reader then decodes them as mode 101 with ``nx`` doubled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import PixelMode
from mrczio.errors import ConversionError
from mrczio.hookspecs import hookimpl

MODE_4BIT = 101
MAX_4BIT = 15
IMOD_FLAG_4BIT = 16
PACKED_LABEL = "4 bits packed"
#: Stored (half-width) frame sizes IMOD accepts as packed K2/K3 super-resolution frames
#: when only the label marks them; either orientation, within 2 pixels.
IMOD_PACKED_SIZES = (
    (3838, 7420),
    (3710, 7676),
    (3840, 7424),
    (3712, 7680),
    (11520, 4092),
    (5760, 8184),
)


def row_bytes(nx: int) -> int:
    """Bytes one packed row of ``nx`` pixels occupies (rows are padded to whole bytes)."""
    return (nx + 1) // 2


def count_above(frames: np.ndarray, limit: int = MAX_4BIT) -> tuple[int, int]:
    """(how many values exceed ``limit``, the largest value) of an integer array."""
    if frames.size == 0:
        return 0, 0
    top = int(frames.max())
    if top <= limit:
        return 0, top
    return int(np.count_nonzero(frames > limit)), top


def unpack_nibbles(raw: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """Decode packed bytes of shape (k, ny * row_bytes(nx)) into uint8 pixels (k, ny, nx)."""
    packed = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1, ny, row_bytes(nx))
    out = np.empty((packed.shape[0], ny, 2 * packed.shape[2]), dtype=np.uint8)
    np.bitwise_and(packed, 0x0F, out=out[..., 0::2])
    np.right_shift(packed, 4, out=out[..., 1::2])
    return out[..., :nx] if nx % 2 else out


def pack_nibbles(frames: np.ndarray) -> np.ndarray:
    """Encode pixels (k, ny, nx) with values 0..15 into bytes (k, ny * row_bytes(nx)).

    Raises :class:`mrczio.ConversionError` naming how many pixels exceed 15 and the
    largest value, instead of letting them spill into the neighbouring nibble.
    """
    if frames.dtype.kind not in "ui":
        raise ConversionError(f"4-bit packing needs integer pixels, not {frames.dtype}")
    if frames.dtype.kind == "i" and frames.size and int(frames.min()) < 0:
        raise ConversionError(
            f"4-bit packing stores 0..15; {int(np.count_nonzero(frames < 0))} pixels are negative"
        )
    over, top = count_above(frames)
    if over:
        raise ConversionError(
            f"{over} pixels exceed 15 (maximum {top}); 4-bit mode 101 stores 0..15. "
            "Pass clip=True to clip them to 15"
        )
    k, ny, nx = frames.shape
    pixels = frames.astype(np.uint8, copy=False)
    if nx % 2:
        pixels = np.concatenate([pixels, np.zeros((k, ny, 1), dtype=np.uint8)], axis=2)
    packed = pixels[..., 0::2] | (pixels[..., 1::2] << 4)
    return packed.reshape(k, ny * row_bytes(nx))


class Packed4BitMode(PixelMode):
    """Mode 101: uint8 pixels 0..15, two per byte, low nibble first, rows byte-aligned.

    Never chosen by default for uint8 data (``accepts`` is False): ask for it with the
    MRC/MRCZ write option ``packed4bit=True`` (or ``mode=101``).
    """

    max_value = MAX_4BIT

    def __init__(self) -> None:
        super().__init__(MODE_4BIT, np.uint8, "4-bit unsigned, two pixels per byte (SerialEM/IMOD)")

    @property
    def packed(self) -> bool:
        return True

    def storage_dtype(self, byteorder: str) -> np.dtype[Any]:
        return np.dtype(np.uint8)

    def section_nbytes(self, ny: int, nx: int) -> int:
        return ny * row_bytes(nx)

    def unpack(self, raw: np.ndarray, ny: int, nx: int) -> np.ndarray:
        return unpack_nibbles(raw, ny, nx)

    def pack(self, frames: np.ndarray) -> np.ndarray:
        return pack_nibbles(frames)

    def accepts(self, dtype: np.dtype[Any]) -> bool:
        return False

    @staticmethod
    def clip(frames: np.ndarray) -> tuple[np.ndarray, int]:
        """(frames with values above 15 set to 15, how many were changed)."""
        over, _ = count_above(frames)
        return (np.minimum(frames, MAX_4BIT).astype(frames.dtype, copy=False), over) if over else (frames, 0)


def imod_mode0_packed(header: np.ndarray) -> bool:
    """True when a mode-0 header describes IMOD's older 4-bit files (half the true nx).

    Either ``imod_flags`` bit 16 is set under the IMOD stamp, or the file's only label
    says "4 bits packed" and the stored frame size is a K2/K3 super-resolution size.
    """
    if int(header["mode"]) % mrc.COMPRESSOR_FACTOR != 0:
        return False
    if int(header["imod_stamp"]) == mrc.IMOD_STAMP and int(header["imod_flags"]) & IMOD_FLAG_4BIT:
        return True
    texts = mrc.labels(header)
    if len(texts) != 1 or PACKED_LABEL not in texts[0]:
        return False
    nx, ny = int(header["nx"]), int(header["ny"])
    return any(
        (abs(nx - a) <= 2 and abs(ny - b) <= 2) or (abs(nx - b) <= 2 and abs(ny - a) <= 2)
        for a, b in IMOD_PACKED_SIZES
    )


def widen_imod_header(header: np.ndarray) -> np.ndarray:
    """A copy of an IMOD mode-0 4-bit header with the true nx (and mx, if it equalled nx)."""
    widened = header.copy()
    if int(widened["mx"]) == int(widened["nx"]):
        widened["mx"] = 2 * int(widened["mx"])
    widened["nx"] = 2 * int(widened["nx"])
    return widened


@hookimpl
def mrczio_register_pixel_modes() -> list[PixelMode]:
    return [Packed4BitMode()]
