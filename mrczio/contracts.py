"""Descriptor contracts that plugins return from the hooks in :mod:`mrczio.hookspecs`.

Each contract is a small abstract base class. Plugins may subclass it (recommended: the
registry checks ``isinstance``) and must fill in the class attributes.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np

if TYPE_CHECKING:
    from mrczio.reader import StackReader
    from mrczio.registry import Registry
    from mrczio.stats import RunningStats
    from mrczio.writer import StackWriter

PathLike = str | os.PathLike[str]


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


@dataclass(frozen=True)
class CodecParameter:
    """One parameter a codec takes: its default, how a value is checked and converted
    (``convert`` raises ``ValueError`` or ``TypeError`` for a bad value; the command
    line passes strings through it too), and a one-line help text."""

    default: Any
    convert: Callable[[Any], Any]
    help: str = ""
    choices: tuple[Any, ...] = ()


def integer_in(low: int, high: int) -> Callable[[Any], int]:
    """A converter for :class:`CodecParameter` that accepts integers ``low..high``."""

    def convert(value: Any) -> int:
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError(f"{value!r} is not a whole number")
        if not low <= number <= high:
            raise ValueError(f"{number} is not in {low}..{high}")
        return number

    return convert


class FrameCodec(abc.ABC):
    """Compresses one frame into one chunk and back; an instance is one configuration.

    A codec declares what it takes in :attr:`parameters` and owns their checking,
    as numcodecs codecs do: ``Zstd(level=3).get_config()`` gives
    ``{"id": "zstd", "level": 3, ...}`` and :meth:`from_config` rebuilds the codec.
    The registry holds one instance with the defaults; writers build a configured one
    with :meth:`configured`.

    A chunk must begin with a 16-byte header whose bytes 12..16 hold the chunk's total
    length (uint32 little-endian), as blosc chunks do, so an MRCZ reader can walk from
    chunk to chunk without decoding. Codecs that do not produce such chunks themselves
    wrap their payload with :func:`mrczio.chunks.frame_payload`.
    """

    name: ClassVar[str]
    compressor_id: ClassVar[int]
    #: Parameter name -> :class:`CodecParameter`. The API takes them as keywords
    #: (``imwrite(..., codec="zstd", level=3)``), the command line as
    #: ``--codec-option NAME=VALUE``.
    parameters: ClassVar[Mapping[str, CodecParameter]] = {}

    def __init__(self, **config: Any) -> None:
        self.config: dict[str, Any] = self.checked_config(config)

    @classmethod
    def checked_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with defaults filled in and every value converted; unknown names
        and bad values raise :class:`mrczio.OptionError`."""
        from mrczio.errors import OptionError

        unknown = sorted(set(config) - set(cls.parameters))
        if unknown:
            takes = ", ".join(sorted(cls.parameters)) or "no parameters"
            raise OptionError(f"codec {cls.name!r} does not take {', '.join(unknown)}; it takes {takes}")
        checked: dict[str, Any] = {}
        for key, parameter in cls.parameters.items():
            value = config.get(key, parameter.default)
            try:
                value = parameter.convert(value)
            except (TypeError, ValueError) as exc:
                raise OptionError(f"codec {cls.name!r}: bad {key}={value!r}: {exc}") from None
            if parameter.choices and value not in parameter.choices:
                choices = ", ".join(map(str, parameter.choices))
                raise OptionError(f"codec {cls.name!r}: {key} must be one of {choices}, not {value!r}")
            checked[key] = value
        return checked

    def get_config(self) -> dict[str, Any]:
        """This codec's configuration, JSON-serialisable, with its name under ``"id"``."""
        return {"id": self.name, **self.config}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """The codec described by :meth:`get_config`'s output."""
        from mrczio.errors import OptionError

        values = dict(config)
        name = values.pop("id", cls.name)
        if name != cls.name:
            raise OptionError(f"a {cls.name!r} codec cannot be built from a {name!r} configuration")
        return cls(**values)

    def configured(self, **changes: Any) -> Self:
        """A copy of this codec with some parameters changed (and checked)."""
        return type(self)(**{**self.config, **changes})

    def tune(self, frame: np.ndarray) -> Self:
        """This codec with automatic choices resolved for frames like ``frame``.

        Writers call it once, on the first frame, so a whole file uses one setting.
        """
        return self

    @abc.abstractmethod
    def encode(self, frame: np.ndarray, *, threads: int = 1) -> bytes:
        """Compress a C-contiguous frame (already in file byte order) into one chunk,
        using at most ``threads`` threads (0: the codec's choice)."""

    @abc.abstractmethod
    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray, *, threads: int = 1) -> None:
        """Decompress ``chunk`` into the C-contiguous array ``out`` (exact byte count),
        using at most ``threads`` threads (always >= 1)."""

    def decode_threads(self, chunk: bytes | memoryview) -> int:
        """Threads worth using to decode ``chunk`` alone (a single-frame read; several
        frames are decoded one per thread with ``threads=1``). Default: 1."""
        return 1

    def describe(self, chunk: bytes | memoryview) -> dict[str, Any]:
        """Return what the chunk says about itself (codec, filter, block size...)."""
        return {"codec": self.name}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({settings})"


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
    #: True when the format stores an MRC2014 header; conversions into other formats
    #: keep the source's header fields in the metadata (``mrczio.header.header_record``).
    holds_mrc_header: ClassVar[bool] = False

    @abc.abstractmethod
    def claim(self, head: bytes, path: str) -> float:
        """Confidence in [0, 1] that this format reads a file starting with ``head``.

        ``head`` is the first 1024 bytes (fewer for a short file). 0 means "not mine".
        """

    @abc.abstractmethod
    def open_reader(
        self, path: str, registry: Registry, *, permissive: bool = False, verify: bool = True
    ) -> StackReader:
        """Open ``path`` for reading. With ``verify``, checksums the file carries are
        checked (a mismatch raises :class:`mrczio.ChecksumError`); formats without
        checksums ignore it."""

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

    # -- what the format knows that core does not ------------------------------------

    def options_like(self, reader: StackReader) -> dict[str, Any]:
        """Write options that make a new file of this format carry what ``reader``'s file
        holds beyond pixels, voxel size and metadata (header fields, extended header...).

        Conversion merges them under the caller's own options; ``imwrite(like=reader)``
        uses them too. Fields this format cannot hold are left out.
        """
        return {}

    def storage_limits(self, dtype: np.dtype[Any], options: Mapping[str, Any]) -> StorageLimits:
        """The pixel type a write with ``options`` stores for ``dtype`` input, and the
        largest value it can hold (conversion refuses or clips anything beyond)."""
        return StorageLimits(np.dtype(dtype), None)

    def validate(self, reader: StackReader, data: RunningStats | None) -> list[Finding]:
        """Format-specific problems of an open file. ``data`` summarises every decoded
        pixel, or is None when the frames could not all be decoded."""
        return []


@dataclass(frozen=True)
class StorageLimits:
    """What :meth:`FileFormat.storage_limits` answers."""

    dtype: np.dtype[Any]
    max_value: int | None = None
    note: str = ""


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem :func:`mrczio.validate.validate` found; ``code`` is stable."""

    code: str
    severity: Severity
    message: str


class CorrectionFilter(abc.ABC):
    """A detector correction applied to a stack of frames (array in, array out).

    ``apply`` takes the stack (frames, ny, nx) plus the file's metadata dict (which may
    carry a gain reference or parameters stored at the source) and keyword parameters,
    and returns the corrected stack. Filters that record what they did (thresholds,
    counts) put it in ``report``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: True when ``apply`` takes ``out=``: a float32 array of the stack's shape, possibly
    #: the input stack itself, into which the result is written and which is returned.
    writes_into: ClassVar[bool] = False
    #: True when ``apply`` always returns a new array that nothing else holds (not its
    #: input, a view of it, a cached array or one from the metadata). A chain of filters
    #: corrects such a result in place with the next filter that ``writes_into``.
    fresh_result: ClassVar[bool] = False

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
