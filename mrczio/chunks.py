"""Chunk headers: how an MRCZ reader finds frame k without decoding frames 0..k-1.

Every chunk in an MRCZ data section starts with 16 bytes laid out like a blosc1 header::

    version u8 | versionlz u8 | flags u8 | typesize u8 | nbytes u32 | blocksize u32 | cbytes u32

``cbytes`` (little-endian, bytes 12..16) is the chunk's total length, so the chunks can be
walked with one 16-byte read each. blosc1 (version 2) and blosc2 (version 5) chunks share
these 16 bytes. Codecs that are not blosc wrap their payload in the same 16-byte header
with version byte :data:`FRAMED_VERSION`, so the walk works for them too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CHUNK_HEADER_SIZE = 16
FRAMED_VERSION = 0xC7  # not a blosc version byte (blosc uses 1..5)
BLOSC_VERSIONS = frozenset({1, 2, 3, 4, 5})
_HEADER = struct.Struct("<BBBBIII")

#: blosc flags bits 5..7 name the codec format inside the chunk.
BLOSC_CODEC_FORMATS = {0: "blosclz", 1: "lz4/lz4hc", 2: "snappy", 3: "zlib", 4: "zstd"}


@dataclass(frozen=True)
class ChunkHeader:
    """The first 16 bytes of a chunk."""

    version: int
    versionlz: int
    flags: int
    typesize: int
    nbytes: int
    blocksize: int
    cbytes: int

    @classmethod
    def parse(cls, raw: bytes | memoryview) -> ChunkHeader:
        return cls(*_HEADER.unpack_from(raw, 0))

    @property
    def is_blosc(self) -> bool:
        return self.version in BLOSC_VERSIONS

    @property
    def blosc_format(self) -> int:
        """1 for blosc1 chunks, 2 for blosc2 chunks, 0 when not blosc."""
        if not self.is_blosc:
            return 0
        return 2 if self.version >= 3 else 1

    @property
    def codec_format(self) -> str:
        """The codec family recorded in a blosc chunk's flags (lz4 and lz4hc share one)."""
        return BLOSC_CODEC_FORMATS.get(self.flags >> 5, f"unknown({self.flags >> 5})")

    @property
    def shuffle(self) -> str:
        """Shuffle filter recorded in a blosc1 chunk's flags."""
        if self.flags & 0x04:
            return "bitshuffle"
        if self.flags & 0x01:
            return "shuffle"
        return "none"

    def problem(self, expected_nbytes: int, max_cbytes: int) -> str | None:
        """Why this header cannot belong to a frame of ``expected_nbytes``, or None."""
        if self.version != FRAMED_VERSION and not self.is_blosc:
            return f"unknown chunk version byte {self.version}"
        if self.nbytes != expected_nbytes:
            return f"chunk holds {self.nbytes} bytes but a frame has {expected_nbytes}"
        if self.cbytes < CHUNK_HEADER_SIZE:
            return f"chunk length {self.cbytes} is shorter than its own header"
        if self.cbytes > max_cbytes:
            return f"chunk length {self.cbytes} runs past the end of the file"
        return None


def frame_payload(payload: bytes, nbytes: int, typesize: int, flags: int = 0) -> bytes:
    """Wrap a non-blosc codec's output in a 16-byte walkable chunk header."""
    cbytes = CHUNK_HEADER_SIZE + len(payload)
    header = _HEADER.pack(FRAMED_VERSION, 0, flags & 0xFF, typesize & 0xFF, nbytes, 0, cbytes)
    return header + payload


def framed_payload(chunk: bytes | memoryview) -> memoryview:
    """The payload of a chunk made by :func:`frame_payload`."""
    view = memoryview(chunk)
    return view[CHUNK_HEADER_SIZE : ChunkHeader.parse(view).cbytes]
