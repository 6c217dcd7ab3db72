"""The mrczio adapter: :class:`RansCodec`, a :class:`mrczio.FrameCodec` over the kernel.

Kept thin on purpose: compression choices live in :mod:`mrczio_rans.kernel`, so adapting
to a new codec contract touches only this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from mrczio import CodecError, CodecParameter, FrameCodec
from mrczio.chunks import (
    CHUNK_HEADER_SIZE,
    FRAMED_VERSION,
    ChunkHeader,
    frame_payload,
    framed_payload,
)
from mrczio_rans.kernel import Method, RansError, decode_frame_into, describe_body, encode_frame

#: ``MODE // 1000`` of MRCZ files written with this codec. python-mrcz uses 0..15 and
#: mrczio's documented LZMA example 100; 120 is unused by both.
COMPRESSOR_ID = 120


class RansCodec(FrameCodec):
    """Order-0 rANS over packed pixel groups; exact for every dtype.

    One parameter, ``bits``: the field width of packed 8/16-bit counts (0 = chosen from
    a sample of each frame, else 2, 4 or 8). Frames are single entropy-coded units, so
    ``threads`` is not used; mrczio's writer and reader already work on several frames
    at once.
    """

    name = "rans"
    compressor_id = COMPRESSOR_ID
    parameters: ClassVar[Mapping[str, CodecParameter]] = MappingProxyType({
        "bits": CodecParameter(0, int, "field width of packed counts (0: auto)", choices=(0, 2, 4, 8)),
    })  # fmt: skip

    def encode(self, frame: np.ndarray, *, threads: int = 1) -> bytes:
        bits = self.config["bits"]
        method: Method = "grouped" if bits and frame.dtype.itemsize <= 2 else "auto"
        try:
            body = encode_frame(np.ascontiguousarray(frame), method=method, bits=bits)
        except ValueError as exc:
            raise CodecError(f"rans cannot encode this frame: {exc}") from exc
        return frame_payload(body, frame.nbytes, frame.dtype.itemsize)

    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray, *, threads: int = 1) -> None:
        header = _framed_header(chunk)
        if header.nbytes != out.nbytes:
            raise CodecError(f"rans chunk holds {header.nbytes} bytes, expected {out.nbytes}")
        try:
            decode_frame_into(framed_payload(chunk), out)
        except RansError as exc:
            raise CodecError(f"rans chunk is damaged: {exc}") from exc

    def describe(self, chunk: bytes | memoryview) -> dict[str, Any]:
        try:
            info = describe_body(framed_payload(chunk))
        except RansError as exc:
            return {"codec": self.name, "problem": str(exc)}
        return {"codec": self.name, **info}


def _framed_header(chunk: bytes | memoryview) -> ChunkHeader:
    """The 16-byte header of a framed chunk, checked against the chunk's length."""
    if len(chunk) < CHUNK_HEADER_SIZE:
        raise CodecError(f"rans chunk is {len(chunk)} bytes, shorter than its header")
    header = ChunkHeader.parse(chunk)
    if header.version != FRAMED_VERSION:
        raise CodecError(f"not a framed chunk (version byte {header.version})")
    if not CHUNK_HEADER_SIZE <= header.cbytes <= len(chunk):
        raise CodecError(f"rans chunk is {len(chunk)} bytes but declares {header.cbytes}")
    return header
