"""The metadata footer: metadata stored after the frames instead of in the extended header.

Laid out as::

    payload | exttyp (4 bytes) | payload length (uint64 LE) | b"MRCZMETA"

It is used when asked for (``metadata_placement="footer"``), or when the extended header
already holds something else (an FEI1 or SERI block being preserved). python-mrcz
ignores it (it reads up to the last chunk), so files with a footer stay readable there.
"""

from __future__ import annotations

import struct

from mrczio.byte_source import ByteSource
from mrczio.contracts import MetadataSerializer
from mrczio.registry import Registry
from mrczio_builtin.mrc.problems import complain

FOOTER_MAGIC = b"MRCZMETA"
FOOTER_TRAILER = struct.Struct("<4sQ8s")


def read_footer(
    source: ByteSource, registry: Registry, data_offset: int, permissive: bool, end: int | None = None
) -> tuple[MetadataSerializer, bytes, int] | None:
    """(serializer, payload, where the footer starts) of a footer ending at ``end``
    (the file's end, or where the checksum block starts), or None without one."""
    end = source.size if end is None else end
    if end < data_offset + FOOTER_TRAILER.size:
        return None
    trailer = source.read_at(end - FOOTER_TRAILER.size, FOOTER_TRAILER.size, what="footer")
    exttyp, length, magic = FOOTER_TRAILER.unpack(trailer)
    if magic != FOOTER_MAGIC:
        return None
    start = end - FOOTER_TRAILER.size - length
    if length > end or start < data_offset:
        complain(source.path, f"metadata footer claims {length} bytes, more than the file holds", permissive)
        return None
    serializer = registry.serializer_for_exttyp(exttyp)
    if serializer is None:
        complain(source.path, f"metadata footer has unknown type {exttyp!r}", permissive)
        return None
    return serializer, source.read_at(start, length, what="metadata footer"), start


def footer_exttyp(source: ByteSource, end: int | None = None) -> bytes | None:
    """The EXTTYP recorded in a footer trailer ending at ``end``, or None without one."""
    end = source.size if end is None else end
    if end < FOOTER_TRAILER.size:
        return None
    exttyp, _, magic = FOOTER_TRAILER.unpack(source.read_at(end - FOOTER_TRAILER.size, FOOTER_TRAILER.size))
    return bytes(exttyp) if magic == FOOTER_MAGIC else None


def footer_bytes(serializer: MetadataSerializer, payload: bytes) -> bytes:
    return payload + FOOTER_TRAILER.pack(serializer.exttyp, len(payload), FOOTER_MAGIC)
