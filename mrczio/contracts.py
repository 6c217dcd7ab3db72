"""Descriptor contracts that plugins return from the hooks in :mod:`mrczio.hookspecs`.

Each contract is a small abstract base class. Plugins may subclass it (recommended: the
registry checks ``isinstance``) and must fill in the class attributes.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

if TYPE_CHECKING:
    from mrczio.reader import StackReader
    from mrczio.registry import Registry
    from mrczio.writer import StackWriter

PathLike = str | os.PathLike[str]
ShuffleFilter = Literal["bitshuffle", "shuffle", "none", "auto"]
ChunkFormat = Literal["blosc1", "blosc2"]


@dataclass(frozen=True)
class CompressionSettings:
    """How one frame is compressed. Codecs ignore fields that do not apply to them.

    ``blocksize`` is in bytes; 0 lets the codec choose. ``filter="auto"`` lets the codec
    pick a shuffle filter from the frame's dtype and values.
    """

    codec: str = "zstd"
    level: int = 1
    filter: ShuffleFilter = "auto"
    blocksize: int = 0
    threads: int = 0
    chunk_format: ChunkFormat = "blosc1"

    def resolved_threads(self) -> int:
        """The thread count to use: ``threads`` or, when 0, the number of CPUs."""
        return self.threads if self.threads > 0 else (os.cpu_count() or 1)


class PixelMode:
    """One MRC MODE value and how its pixels are laid out on disk.

    The default implementation covers modes stored as one numpy item per pixel. Packed
    modes (several pixels per byte) override :meth:`section_nbytes`, :meth:`unpack`
    and :meth:`pack`; ``storage_dtype`` is then the on-disk byte type (``uint8``).
    """

    code: int
    dtype: np.dtype[Any]
    description: str = ""

    def __init__(self, code: int, dtype: Any, description: str = "") -> None:
        self.code = code
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.description = description

    @property
    def packed(self) -> bool:
        """True when pixels are not stored one numpy item each."""
        return False

    def storage_dtype(self, byteorder: str) -> np.dtype[Any]:
        """The dtype of the stored items in a file of the given byte order (``<`` or ``>``)."""
        return self.dtype.newbyteorder("<" if byteorder == "<" else ">")

    def section_nbytes(self, ny: int, nx: int) -> int:
        """Bytes one (ny, nx) section occupies on disk."""
        return ny * nx * self.dtype.itemsize

    def unpack(self, raw: np.ndarray, ny: int, nx: int) -> np.ndarray:
        """Turn stored items of shape (k, bytes-per-section) into (k, ny, nx) pixels."""
        return raw.reshape(-1, ny, nx)

    def pack(self, frames: np.ndarray) -> np.ndarray:
        """Turn (k, ny, nx) pixels into stored items (the inverse of :meth:`unpack`)."""
        return frames

    def accepts(self, dtype: np.dtype[Any]) -> bool:
        """True when arrays of ``dtype`` are written in this mode by default."""
        return np.dtype(dtype).newbyteorder("=") == self.dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, dtype={self.dtype})"


class FrameCodec(abc.ABC):
    """Compresses one frame into one chunk and back.

    A chunk must begin with a 16-byte header whose bytes 12..16 hold the chunk's total
    length (uint32 little-endian), as blosc chunks do, so an MRCZ reader can walk from
    chunk to chunk without decoding. Codecs that do not produce such chunks themselves
    wrap their payload with :func:`mrczio.chunks.frame_payload`.
    """

    name: ClassVar[str]
    compressor_id: ClassVar[int]

    @abc.abstractmethod
    def encode(self, frame: np.ndarray, settings: CompressionSettings) -> bytes:
        """Compress a C-contiguous frame (already in file byte order) into one chunk."""

    @abc.abstractmethod
    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray) -> None:
        """Decompress ``chunk`` into the C-contiguous array ``out`` (exact byte count)."""

    def describe(self, chunk: bytes | memoryview) -> dict[str, Any]:
        """Return what the chunk says about itself (codec, filter, block size...)."""
        return {"codec": self.name}


class MetadataSerializer(abc.ABC):
    """Turns a metadata dict into bytes stored in a file, and back."""

    name: ClassVar[str]
    exttyp: ClassVar[bytes]

    @abc.abstractmethod
    def dumps(self, metadata: Mapping[str, Any]) -> bytes:
        """Encode ``metadata``; raise :class:`mrczio.MetadataError` if it cannot."""

    @abc.abstractmethod
    def loads(self, data: bytes) -> dict[str, Any]:
        """Decode bytes written by :meth:`dumps`; raise :class:`mrczio.MetadataError`."""


@dataclass(frozen=True)
class WriteRequest:
    """Everything a format needs to start writing a stack of frames.

    ``frame_shape`` is (ny, nx). ``n_frames`` is a hint (``None`` for a stream of unknown
    length). ``options`` carries format-specific keyword arguments, which the format
    validates.
    """

    path: str
    frame_shape: tuple[int, int]
    dtype: np.dtype[Any]
    n_frames: int | None = None
    voxel_size: tuple[float, float, float] | None = None
    metadata: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class FileFormat(abc.ABC):
    """A file format: claims files, opens readers and writers."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def claim(self, head: bytes, path: str) -> float:
        """Confidence in [0, 1] that this format reads a file starting with ``head``.

        ``head`` is the first 1024 bytes (fewer for a short file). 0 means "not mine".
        """

    @abc.abstractmethod
    def open_reader(self, path: str, registry: Registry, *, permissive: bool = False) -> StackReader:
        """Open ``path`` for reading."""

    @abc.abstractmethod
    def open_writer(self, request: WriteRequest, registry: Registry) -> StackWriter:
        """Start writing ``request.path``; the file appears only when the writer closes."""

    def write_options(self) -> Iterable[str]:
        """Names of the format-specific write options this format accepts."""
        return ()

    def open_appender(self, path: str, registry: Registry, options: Mapping[str, Any]) -> StackWriter:
        """Start adding frames to the existing file ``path``. Optional."""
        from mrczio.errors import OptionError

        raise OptionError(f"{path}: format {self.name!r} cannot append frames")


class CorrectionFilter(abc.ABC):
    """A detector correction applied to a stack of frames (array in, array out).

    ``apply`` takes the stack (frames, ny, nx) plus the file's metadata dict (which may
    carry a gain reference or parameters stored at the source) and keyword parameters,
    and returns the corrected stack. Filters that record what they did (thresholds,
    counts) put it in ``report``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def apply(
        self,
        stack: np.ndarray,
        *,
        metadata: Mapping[str, Any] | None = None,
        report: dict[str, Any] | None = None,
        **params: Any,
    ) -> np.ndarray:
        """Return the corrected stack."""
