"""Everything a plugin author needs, in one import: ``from mrczio import plugin``.

A plugin implements hooks (:mod:`mrczio.hookspecs`, marked with :data:`hookimpl`) that
return descriptors built on these contracts. Nothing else of mrczio's internals is part
of the plugin API; modules whose names start with ``_`` are private, and the other
core modules are documented where they are meant for users (``mrczio.api``,
``mrczio.testing``) — a plugin should need only this one.

Example (a codec with one parameter; see docs/plugins.md for the whole walk-through)::

    from mrczio import plugin

    class Lzma(plugin.FrameCodec):
        name, compressor_id = "lzma", 100
        parameters = {"preset": plugin.CodecParameter(6, plugin.integer_in(0, 9), "lzma preset")}
        ...

    @plugin.hookimpl
    def mrczio_register_codecs():
        return [Lzma()]
"""

from __future__ import annotations

from mrczio.byte_source import ByteSource
from mrczio.chunks import CHUNK_HEADER_SIZE, ChunkHeader, frame_payload, framed_payload
from mrczio.contracts import (
    CodecParameter,
    CorrectionFilter,
    FileFormat,
    Finding,
    FrameCodec,
    MetadataSerializer,
    PixelMode,
    StorageLimits,
    WriteRequest,
    integer_in,
)
from mrczio.errors import (
    ChecksumError,
    CodecError,
    ConversionError,
    CorruptFrameError,
    DataTypeError,
    FormatError,
    MetadataError,
    OptionError,
    TruncatedFileError,
)
from mrczio.geometry import MapGeometry
from mrczio.hookspecs import hookimpl
from mrczio.reader import ReaderInfo, StackReader, VoxelSize
from mrczio.registry import Registry
from mrczio.writer import StackWriter

__all__ = [
    "CHUNK_HEADER_SIZE",
    "ByteSource",
    "ChecksumError",
    "ChunkHeader",
    "CodecError",
    "CodecParameter",
    "ConversionError",
    "CorrectionFilter",
    "CorruptFrameError",
    "DataTypeError",
    "FileFormat",
    "Finding",
    "FormatError",
    "FrameCodec",
    "MapGeometry",
    "MetadataError",
    "MetadataSerializer",
    "OptionError",
    "PixelMode",
    "ReaderInfo",
    "Registry",
    "StackReader",
    "StackWriter",
    "StorageLimits",
    "TruncatedFileError",
    "VoxelSize",
    "WriteRequest",
    "frame_payload",
    "framed_payload",
    "hookimpl",
    "integer_in",
]
