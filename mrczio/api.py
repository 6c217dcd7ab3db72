"""The public reading and writing functions: open, imread, imiter, imwrite, open_writer,
append. (Conversion lives in :mod:`mrczio.conversion`.)"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import FileFormat, WriteRequest
from mrczio.errors import DataTypeError, OptionError
from mrczio.fileio import read_prefix
from mrczio.positional import is_url, read_head
from mrczio.reader import Index, StackReader, VoxelSize
from mrczio.registry import Registry, get_registry
from mrczio.writer import StackWriter

PathLike = str | os.PathLike[str]
VoxelLike = float | Sequence[float] | VoxelSize | None
CLAIM_BYTES = mrc.HEADER_SIZE


def _registry(registry: Registry | None) -> Registry:
    return registry if registry is not None else get_registry()


def _read_head(path: str) -> bytes:
    if is_url(path):  # remote: fetched by mrczio.remote, reused by the reader (no extra request)
        return read_head(path, CLAIM_BYTES)
    return read_prefix(path, CLAIM_BYTES)  # refuses FIFOs and devices instead of blocking


def reader_format(path: PathLike, format: str | None = None, registry: Registry | None = None) -> FileFormat:
    """The format that will read ``path``: ``format`` if given, else by content."""
    reg = _registry(registry)
    if format is not None:
        return reg.format(format)
    name = os.fspath(path)
    return reg.format_for_content(_read_head(name), name)


def writer_format(path: PathLike, format: str | None = None, registry: Registry | None = None) -> FileFormat:
    """The format that will write ``path``: ``format`` if given, else by extension."""
    reg = _registry(registry)
    return reg.format(format) if format is not None else reg.format_for_extension(path)


def open(
    path: PathLike,
    *,
    format: str | None = None,
    permissive: bool = False,
    verify: bool = True,
    registry: Registry | None = None,
) -> StackReader:
    """Open a file for lazy, random-access reading (a context manager).

    ``verify=False`` skips checking the checksums a file carries (header, metadata and
    each frame as it is decoded; a mismatch is a :class:`mrczio.ChecksumError`).
    ``permissive=True`` turns recoverable problems (truncated data, damaged metadata)
    into :class:`mrczio.PermissiveReadWarning` and gives back what can be rescued.
    """
    name = os.fspath(path)
    reg = _registry(registry)
    reader = reader_format(name, format, reg).open_reader(name, reg, permissive=permissive, verify=verify)
    reader.permissive = permissive  # pickling reopens with the same flag
    return reader


def imread(
    path: PathLike,
    index: Index = None,
    *,
    format: str | None = None,
    permissive: bool = False,
    verify: bool = True,
    corrections: Sequence[str] | None = None,
    correction_params: Mapping[str, Mapping[str, Any]] | None = None,
    registry: Registry | None = None,
) -> np.ndarray:
    """Read a whole file (``index=None``), one frame (int) or several (slice, list).

    Checksums the file carries are verified (``verify=False`` skips them; see
    :func:`open`).

    ``corrections`` names correction filters (``"gain"``, ``"outliers"``, ...) applied in
    order to the frames read, using parameters and references stored in the file's
    metadata (under ``"corrections"``) overridden by ``correction_params``.
    """
    reg = _registry(registry)
    with open(path, format=format, permissive=permissive, verify=verify, registry=reg) as reader:
        data = reader.read(index)
        if corrections:
            data = apply_corrections(data, reader.metadata, corrections, correction_params, reg)
    return data


def apply_corrections(
    data: np.ndarray,
    metadata: Mapping[str, Any],
    names: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    registry: Registry | None = None,
    report: dict[str, Any] | None = None,
) -> np.ndarray:
    """Run correction filters ``names`` in order on a (frames, ny, nx) stack.

    ``data`` is never changed. A float32 stack made by a filter that returns new arrays
    (``CorrectionFilter.fresh_result``) is corrected in place by the next filter that can
    (``writes_into``), so ``gain,outliers`` holds the input and one float32 stack, not two.
    Parameters stored in the file's metadata never include ``out``.
    """
    reg = _registry(registry)
    stored = metadata.get("corrections", {}) if isinstance(metadata.get("corrections"), Mapping) else {}
    stack = data[np.newaxis] if data.ndim == 2 else data
    owned = False  # whether ``stack`` is a new array the chain alone holds
    for name in names:
        kept = stored.get(name, {}) if isinstance(stored.get(name, {}), Mapping) else {}
        given = (params or {}).get(name, {})
        if not isinstance(given, Mapping):
            raise OptionError(
                f"parameters of the {name!r} filter must be a mapping, not {type(given).__name__}"
            )
        merged = {**{k: v for k, v in kept.items() if k != "out"}, **given}
        step_report: dict[str, Any] = {}
        step = reg.filter(name)
        users_out = "out" in merged  # the result then lands in an array the caller holds
        if step.writes_into and owned and not users_out and _reusable(stack, data):
            merged["out"] = stack
        stack = step.apply(stack, metadata=metadata, report=step_report, **merged)
        owned = step.fresh_result and not users_out
        if report is not None:
            report[name] = step_report
    return stack[0] if data.ndim == 2 else stack


def _reusable(stack: np.ndarray, data: np.ndarray) -> bool:
    """A float32, writeable, C-contiguous stack that shares no memory with ``data``."""
    layout = stack.dtype == np.float32 and stack.flags.writeable and stack.flags.c_contiguous
    return bool(layout and not np.shares_memory(stack, data))


def imiter(
    path: PathLike,
    *,
    format: str | None = None,
    permissive: bool = False,
    verify: bool = True,
    registry: Registry | None = None,
) -> Iterator[np.ndarray]:
    """Yield frames one by one, decoding each only when it is reached."""
    with open(path, format=format, permissive=permissive, verify=verify, registry=registry) as reader:
        yield from reader


def _voxel(voxel_size: VoxelLike) -> tuple[float, float, float] | None:
    if voxel_size is None:
        return None
    if isinstance(voxel_size, int | float | np.floating | np.integer):
        v = float(voxel_size)
        return (v, v, v)
    values = tuple(float(v) for v in voxel_size)
    if len(values) != 3:
        raise DataTypeError(f"voxel_size needs 1 or 3 values (x, y, z), got {len(values)}")
    return (values[0], values[1], values[2])


def open_writer(
    path: PathLike,
    frame_shape: tuple[int, int],
    dtype: Any,
    *,
    format: str | None = None,
    n_frames: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    voxel_size: VoxelLike = None,
    registry: Registry | None = None,
    like: StackReader | None = None,
    **options: Any,
) -> StackWriter:
    """Start a streaming write: call ``writer.write(frames)`` any number of times, then
    ``close()`` (or use ``with``). The file appears only when it is complete.

    ``like=reader`` writes a file "like" an open one: everything of its header the target
    format can hold (for MRC and MRCZ: space group, sampling, cell, axis order, start,
    origin, labels, extended header...) and its voxel size, unless given explicitly.
    """
    reg = _registry(registry)
    name = os.fspath(path)
    fmt = writer_format(name, format, reg)
    if like is not None:
        options = {**fmt.options_like(like), **{k: v for k, v in options.items() if v is not None}}
        voxel_size = like.voxel_size if voxel_size is None else voxel_size
    request = WriteRequest(
        path=name,
        frame_shape=(int(frame_shape[0]), int(frame_shape[1])),
        dtype=np.dtype(dtype),
        n_frames=n_frames,
        voxel_size=_voxel(voxel_size),
        metadata=metadata,
        options={k: v for k, v in options.items() if v is not None},
    )
    return fmt.open_writer(request, reg)


def imwrite(
    path: PathLike,
    data: np.ndarray | Iterable[np.ndarray],
    *,
    format: str | None = None,
    codec: str | None = None,
    level: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    voxel_size: VoxelLike = None,
    dtype: Any = None,
    overwrite: bool = False,
    registry: Registry | None = None,
    like: StackReader | None = None,
    **options: Any,
) -> None:
    """Write a 2-D image, a 3-D stack, or an iterable of 2-D frames.

    The format follows the extension (``.mrc``/``.mrcs`` plain, ``.mrcz`` compressed with
    zstd level 1 and automatic shuffle) unless ``format`` is given. ``dtype`` casts first
    (e.g. float64 to float32). Other keywords are format options (``filter``,
    ``blocksize``, ``threads``, ``volume``, ``metadata_format``, ...). A 4-D array is a
    stack of volumes, written section by section (pass ``like=`` a volume stack's reader
    to keep its ISPG and MZ). ``like=reader``: see :func:`open_writer`.
    """
    frames, first = _frames_and_first(data, dtype)
    count = sum(len(block) for block in frames) if isinstance(frames, list) else None
    writer = open_writer(
        path, first.shape, first.dtype, format=format, metadata=metadata, n_frames=count,
        voxel_size=voxel_size, registry=registry, codec=codec, level=level,
        overwrite=overwrite, like=like, **options,
    )  # fmt: skip
    with writer:
        writer.write(frames)


def _frames_and_first(
    data: np.ndarray | Iterable[np.ndarray], dtype: Any
) -> tuple[Iterable[np.ndarray], np.ndarray]:
    """Normalise ``data`` to an iterable of frames plus one sample frame for the shape."""
    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not hasattr(data, "__next__")):
        array = np.asarray(data)
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        if array.ndim not in (2, 3, 4) or 0 in array.shape[-2:]:
            raise DataTypeError(
                f"expected a 2-D image, a 3-D stack or a 4-D stack of volumes with non-empty frames, "
                f"got shape {array.shape}"
            )
        stack = array[np.newaxis] if array.ndim == 2 else array.reshape(-1, *array.shape[-2:])
        return [stack], stack[0] if len(stack) else np.empty(stack.shape[1:], stack.dtype)
    iterator = iter(data)
    try:
        first = np.asarray(next(iterator))
    except StopIteration:
        raise DataTypeError("no frames to write: the iterable is empty") from None
    if dtype is not None:
        first = first.astype(dtype, copy=False)
    if first.ndim != 2:
        raise DataTypeError(f"an iterable must yield 2-D frames, got shape {first.shape}")

    def chained() -> Iterator[np.ndarray]:
        yield first
        for frame in iterator:
            frame = np.asarray(frame)
            yield frame.astype(dtype, copy=False) if dtype is not None else frame

    return chained(), first


def append(
    path: PathLike,
    data: np.ndarray | Iterable[np.ndarray],
    *,
    format: str | None = None,
    registry: Registry | None = None,
    **options: Any,
) -> int:
    """Add frames to an existing file (MRC or MRCZ); returns the new frame count.

    The header is rewritten only after the new frames are safely on disk, so an
    interrupted append leaves the original frames readable. MRCZ appends use the file's
    codec; ``level``, ``filter``, ``blocksize`` and ``threads`` may be given.
    """
    reg = _registry(registry)
    name = os.fspath(path)
    fmt = reader_format(name, format, reg)
    frames, _ = _frames_and_first(data, None)
    writer = fmt.open_appender(name, reg, {k: v for k, v in options.items() if v is not None})
    with writer:
        writer.write(frames)
    with open(name, registry=reg) as reader:
        return len(reader)
