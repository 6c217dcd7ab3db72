"""numpy-level access to the C kernel (``_rans``): one frame in, one chunk body out.

This module knows nothing about mrczio; :mod:`mrczio_rans.codec` adapts it to mrczio's
codec contract. The body format is documented in ``docs/rans.md``.
"""

from __future__ import annotations

import struct
from typing import Any, Literal

import numpy as np

from mrczio_rans import _rans

#: Raised by the kernel for a damaged or foreign chunk body (a ``ValueError``).
RansError: type[ValueError] = _rans.RansError

Method = Literal["auto", "stored", "grouped", "planes"]
_METHODS = {"auto": -1, "stored": _rans.STORED, "grouped": _rans.GROUPED, "planes": _rans.PLANES}

#: Interleaved rANS states per stream and the frequency precision (bits) of the tables.
NSTATES: int = _rans.NSTATES
SCALE_BITS: int = _rans.SCALE_BITS


def encode_frame(frame: np.ndarray, *, method: Method = "auto", bits: int = 0) -> bytes:
    """Compress a C-contiguous frame of any dtype into one chunk body.

    ``method="auto"`` codes 8- and 16-bit counts as packed symbol groups (field width
    ``bits`` 2, 4 or 8 chosen from a sample when ``bits=0``) and other data as byte
    planes; either falls back to storing the bytes when coding would not shrink them.
    16-bit frames in non-native byte order are coded as values and flagged, so decoding
    gives back the same bytes.
    """
    if not frame.flags.c_contiguous:
        raise ValueError("frame must be C-contiguous")
    swapped = frame.dtype.itemsize == 2 and not frame.dtype.isnative
    data = frame.byteswap() if swapped else frame
    raw = data.reshape(-1).view(np.uint8)
    return bytes(_rans.encode(raw, frame.dtype.itemsize, _METHODS[method], bits, swapped))


def decode_frame_into(body: bytes | memoryview, out: np.ndarray) -> None:
    """Decompress a chunk body into ``out``: exactly the bytes that were encoded.

    ``out`` is a writeable C-contiguous array of the encoded frame's item size and
    size; its byte order is not looked at (mrczio readers swap afterwards). Raises
    :data:`RansError` when the body is damaged, truncated or does not fit ``out``.
    """
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be a writeable C-contiguous array")
    _rans.decode_into(body, out.reshape(-1).view(np.uint8), out.dtype.itemsize)


#: The fixed start of a body: magic, CRC-32C, method (bit 7: 16-bit values byte-swapped),
#: itemsize, field bits, streams, values, escaped values, raw values (docs/rans.md).
BODY_HEADER = struct.Struct("<4sIBBBBIII")
_METHOD_NAMES = {code: name for name, code in _METHODS.items() if code >= 0}


def describe_body(body: bytes | memoryview) -> dict[str, Any]:
    """What a body's fixed header says (it may be the first bytes of the body only)."""
    if len(body) < BODY_HEADER.size:
        raise RansError(f"chunk body is {len(body)} bytes, shorter than its header")
    magic, _, method, itemsize, bits, _, values, escapes, raw = BODY_HEADER.unpack_from(body)
    if magic != b"rANS":
        raise RansError("chunk body does not start with the rANS magic")
    return {
        "method": _METHOD_NAMES.get(method & 0x7F, f"unknown({method & 0x7F})"),
        "byteswapped": bool(method & 0x80),
        "itemsize": itemsize,
        "bits": bits,
        "values": values,
        "escapes": escapes,
        "raw_values": raw,
    }


def crc32c(data: bytes | memoryview, *, hardware: bool | None = None) -> int:
    """CRC-32C of ``data`` as the kernel computes it (``hardware=False``: table code)."""
    return int(_rans.crc32c(data, -1 if hardware is None else int(hardware)))
