"""The reader every format returns: frames by index, lazily, like a read-only array.

A *frame* is one z-section of shape (ny, nx). ``reader[k]`` decodes only frame k,
``reader[a:b]`` only those frames, and iterating yields one frame at a time. Formats
subclass :class:`StackReader`, describe the file with a :class:`ReaderInfo` and implement
:meth:`StackReader._read_frames`.
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import EllipsisType, TracebackType
from typing import Any, ClassVar, NamedTuple, Self, TypeAlias

import numpy as np

from mrczio.errors import FrameIndexError
from mrczio.geometry import MapGeometry
from mrczio.limits import check_pixel_budget

Index: TypeAlias = int | slice | Sequence[int] | np.ndarray | EllipsisType | None


class VoxelSize(NamedTuple):
    """Voxel size in Angstrom along x, y and z (0.0 when unknown)."""

    x: float
    y: float
    z: float


#: The voxel size of a file that does not record one.
UNKNOWN_VOXEL_SIZE = VoxelSize(0.0, 0.0, 0.0)


@dataclass
class ReaderExtensions:
    """Functions higher layers lend to every reader, so this module imports none of them:
    :mod:`mrczio.dask` sets ``to_dask`` and the reopening used by pickling."""

    to_dask: Callable[[StackReader, int], Any] | None = None
    reopen: Callable[..., StackReader] | None = None
    reopen_args: Callable[[StackReader], tuple[Any, ...]] = lambda reader: (reader.path,)


_extensions = ReaderExtensions()


def extensions() -> ReaderExtensions:
    """The functions lent to readers (see :class:`ReaderExtensions`)."""
    return _extensions


@dataclass(frozen=True)
class ReaderInfo:
    """What a format knows about an open file before decoding pixels.

    A format builds one and passes it to :class:`StackReader`'s constructor; the reader
    exposes each field as a read-only attribute. ``shape`` defaults to (ny, nx) for a
    single frame and (n_frames, ny, nx) otherwise; formats with 4-D volume stacks pass
    it explicitly. ``header`` is the raw MRC header (a structured numpy scalar) for
    MRC-family files and ``None`` otherwise.
    """

    path: str
    format_name: str
    frame_shape: tuple[int, int]
    n_frames: int
    dtype: np.dtype[Any]
    shape: tuple[int, ...] = ()
    voxel_size: VoxelSize = UNKNOWN_VOXEL_SIZE
    header: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extended_header: bytes = b""
    exttyp: bytes = b""
    geometry: MapGeometry | None = None
    #: True when the file carries checksums of its frames (verified while decoding).
    checksums: bool = False

    def __post_init__(self) -> None:
        ny, nx = (int(n) for n in self.frame_shape)
        object.__setattr__(self, "frame_shape", (ny, nx))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "voxel_size", VoxelSize(*(float(v) for v in self.voxel_size)))
        if not self.shape:
            default = (ny, nx) if self.n_frames == 1 else (self.n_frames, ny, nx)
            object.__setattr__(self, "shape", default)


class StackReader(abc.ABC):
    """A read-only, lazily decoded stack of frames.

    Formats subclass it, call ``super().__init__(ReaderInfo(...))`` once they know the
    file, and implement :meth:`_read_frames` and :meth:`close`. ``shape`` is the shape
    :meth:`read` returns: (ny, nx) for a single image, else (n_frames, ny, nx) or a 4-D
    volume stack.
    """

    #: Whether the reader was opened with ``permissive=True`` (set by :func:`mrczio.open`).
    permissive: bool = False
    #: True when several threads may read frames at once; formats whose readers are
    #: safe to share (they lock internally or read positionally) set it.
    thread_safe: ClassVar[bool] = False

    def __init__(self, info: ReaderInfo) -> None:
        self.info = info

    @property
    def path(self) -> str:
        return self.info.path

    @property
    def format_name(self) -> str:
        return self.info.format_name

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.info.frame_shape

    @property
    def n_frames(self) -> int:
        return self.info.n_frames

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.info.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    @property
    def voxel_size(self) -> VoxelSize:
        return self.info.voxel_size

    @property
    def header(self) -> np.ndarray | None:
        return self.info.header

    @property
    def metadata(self) -> dict[str, Any]:
        return self.info.metadata

    @property
    def extended_header(self) -> bytes:
        return self.info.extended_header

    @property
    def exttyp(self) -> bytes:
        return self.info.exttyp

    @property
    def has_checksums(self) -> bool:
        """True when the file carries checksums of its frames, header and metadata."""
        return self.info.checksums

    @property
    def geometry(self) -> MapGeometry | None:
        """Space group, axis order, start, cell and origin of a map (MRC-family files);
        ``None`` for formats without an MRC header."""
        return self.info.geometry

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for ``mrczio info``; formats add their own details."""
        return {
            "path": self.path, "format": self.format_name, "shape": list(self.shape),
            "frames": self.n_frames, "dtype": str(self.dtype), "voxel_size": list(self.voxel_size),
            "metadata_keys": sorted(self.metadata),
            "extended_header": {"exttyp": self.exttyp.decode("latin-1"), "bytes": len(self.extended_header)},
        }  # fmt: skip

    @abc.abstractmethod
    def _read_frames(self, start: int, stop: int, out: np.ndarray) -> None:
        """Decode frames ``start..stop-1`` into ``out`` of shape (stop-start, ny, nx)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    # -- array-like access ----------------------------------------------------------

    def __len__(self) -> int:
        return self.n_frames

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def read(self, index: Index = None, *, out: np.ndarray | None = None) -> np.ndarray:
        """Decode ``index`` (None or ``...``: everything, shaped like :attr:`shape`)."""
        if index is None or index is Ellipsis:
            data = self._read_range(0, self.n_frames, out)
            return data.reshape(self.shape)
        return self[index]

    def __getitem__(self, index: Index) -> np.ndarray:
        if index is None or index is Ellipsis:
            return self.read()
        if isinstance(index, slice):
            start, stop, step = index.indices(self.n_frames)
            if step == 1:
                return self._read_range(start, max(start, stop), None)
            return self._read_list(list(range(start, stop, step)))
        if isinstance(index, tuple):
            return self._getitem_tuple(index)
        if isinstance(index, Sequence | np.ndarray):
            return self._read_list([self._check_index(i) for i in np.asarray(index).ravel()])
        k = self._check_index(index)
        frame: np.ndarray = self._read_range(k, k + 1, None)[0]
        return frame

    def _getitem_tuple(self, index: tuple[Any, ...]) -> np.ndarray:
        if not index:
            return self.read()
        frames = self[index[0]]
        rest = index[1:]
        if isinstance(index[0], slice | Sequence | np.ndarray) or index[0] is Ellipsis:
            return np.asarray(frames[(slice(None), *rest)])
        return np.asarray(frames[rest])

    def _check_index(self, index: Any) -> int:
        try:
            k = operator.index(index)
        except TypeError:
            raise FrameIndexError(f"{self.path}: frame index must be an integer, got {index!r}") from None
        if not -self.n_frames <= k < self.n_frames:
            raise FrameIndexError(f"{self.path}: frame index {k} is out of range for {self.n_frames} frames")
        return k % self.n_frames

    def _empty(self, count: int) -> np.ndarray:
        shape = (count, *self.frame_shape)
        check_pixel_budget(self.path, shape)  # before allocating: a header may lie
        return np.empty(shape, dtype=self.dtype)

    def _read_range(self, start: int, stop: int, out: np.ndarray | None) -> np.ndarray:
        count = stop - start
        out = self._empty(count) if out is None else self._checked_out(out, count)
        if count:
            self._read_frames(start, stop, out)
        return out

    def _checked_out(self, out: np.ndarray, count: int) -> np.ndarray:
        expected = (count, *self.frame_shape)
        if out.dtype != self.dtype or out.size != int(np.prod(expected)) or not out.flags.c_contiguous:
            raise FrameIndexError(
                f"{self.path}: out must be a C-contiguous {self.dtype} array of {expected} elements"
            )
        return out.reshape(expected)

    def _read_list(self, indices: list[int]) -> np.ndarray:
        out = self._empty(len(indices))
        for position, k in enumerate(indices):
            self._read_frames(k, k + 1, out[position : position + 1])
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        for k in range(self.n_frames):
            yield self._read_range(k, k + 1, None)[0]

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield frames ``start..stop-1`` one at a time, decoding each on demand."""
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for k in range(start, stop):
            yield self._read_range(k, k + 1, None)[0]

    # -- lazy and distributed use (see mrczio/dask.py) ---------------------------------

    def to_dask(self, frames_per_chunk: int = 1) -> Any:
        """A lazy ``dask.array`` of :attr:`shape`, one chunk per ``frames_per_chunk`` frames.

        Its tasks reopen the file by path or URL (in any process), so it works on
        ``dask.distributed`` workers. Needs ``pip install mrczio[dask]``.
        """
        if _extensions.to_dask is None:
            raise RuntimeError("mrczio.dask is not loaded (import mrczio loads it)")
        return _extensions.to_dask(self, frames_per_chunk)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as "reopen this path (or URL) with this format": open files do not travel.

        The copy is opened with the process-wide registry, not a private one.
        """
        if _extensions.reopen is None:
            raise TypeError(f"{self.path}: readers pickle only once mrczio.dask is loaded")
        return (_extensions.reopen, _extensions.reopen_args(self))

    # -- context manager --------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.path!r} format={self.format_name} "
            f"shape={self.shape} dtype={self.dtype}>"
        )
