"""Any-to-any conversion: one file or many, lossless unless a change is asked for.

A conversion copies frames one at a time from any registered reader to any registered
writer. Data the target cannot represent exactly (a dtype it does not store, values out
of range of a requested ``dtype``, values above 15 for 4-bit packing) raise
:class:`mrczio.ConversionError` naming the file, the frame and how many pixels would
change; ``clip=True`` converts anyway (rounding and clipping into range) and the
returned :class:`ConversionReport` says how many pixels changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mrczio import api
from mrczio import header as mrc
from mrczio.contracts import FileFormat, PathLike
from mrczio.errors import ConversionError, DataTypeError, OutputExistsError
from mrczio.reader import StackReader
from mrczio.registry import Registry, get_registry

Progress = Callable[[int], Any]


@dataclass
class ConversionReport:
    """What one conversion did. ``changed_pixels`` is 0 for a lossless conversion."""

    source: str
    target: str
    format: str
    frames: int = 0
    source_dtype: str = ""
    target_dtype: str = ""
    changed_pixels: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return self.changed_pixels == 0


class FrameFitter:
    """Casts frames to the target dtype (and 0..``max_value``), refusing any change unless
    ``clip`` is set, in which case values are rounded and clipped and counted."""

    def __init__(
        self,
        source: np.dtype[Any],
        target: np.dtype[Any],
        *,
        max_value: int | None,
        clip: bool,
        path: str,
        what: str = "",
    ) -> None:
        self.what = what
        self.source, self.target = np.dtype(source), np.dtype(target)
        self.max_value, self.clip, self.path = max_value, clip, path
        self.changed = 0
        self._exact = np.can_cast(self.source, self.target, "safe") and max_value is None

    def __call__(self, frame: np.ndarray, index: int) -> np.ndarray:
        if self._exact:
            return frame.astype(self.target, copy=False)
        fitted = self._fit(frame)
        with np.errstate(invalid="ignore"):
            changed = int(np.count_nonzero(~_same(fitted, frame)))
        if changed and not self.clip:
            raise ConversionError(self._refusal(frame, index, changed))
        self.changed += changed
        return fitted

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        values = frame.real if frame.dtype.kind == "c" and self.target.kind != "c" else frame
        if self.target.kind in "ui":
            info = np.iinfo(self.target)
            top = info.max if self.max_value is None else min(info.max, self.max_value)
            if values.dtype.kind in "fc":
                values = np.nan_to_num(np.rint(values), nan=0.0, posinf=top, neginf=info.min)
            return np.asarray(np.clip(values, info.min, top).astype(self.target))
        with np.errstate(over="ignore", invalid="ignore"):
            return values.astype(self.target)

    def _refusal(self, frame: np.ndarray, index: int, changed: int) -> str:
        low, high = (frame.real.min(), frame.real.max()) if frame.size else (0, 0)
        target = self.what or str(self.target)
        if self.max_value is not None:
            target += f" (values 0..{self.max_value})"
        return (
            f"{self.path}: frame {index}: {changed} pixels cannot be stored as {target} exactly "
            f"(data {low}..{high} in {self.source}); pass clip=True to round and clip them"
        )


def _same(fitted: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Element-wise 'fitted still equals frame' (NaN equal to NaN)."""
    equal = fitted == frame
    if frame.dtype.kind in "fc" and fitted.dtype.kind in "fc":
        equal |= np.isnan(fitted) & np.isnan(frame)
    return np.asarray(equal)


def carried_metadata(reader: StackReader, target: FileFormat) -> dict[str, Any]:
    """The source's metadata, plus a record of its MRC header when the target cannot hold
    one (restored when the file is converted back to MRC)."""
    metadata = dict(reader.metadata)
    if reader.header is not None and not target.holds_mrc_header:
        record = mrc.header_record(reader.header)
        if reader.extended_header and not _extended_is_metadata(reader):
            record.update(
                extended_header=reader.extended_header.hex(), exttyp=reader.exttyp.decode("latin-1")
            )
        metadata[mrc.HEADER_RECORD_KEY] = record
    return metadata


def _extended_is_metadata(reader: StackReader) -> bool:
    """True when the reader's extended header is its metadata, serialised (EXTTYP names a
    serializer and metadata was read)."""
    return bool(reader.metadata) and get_registry().serializer_for_exttyp(reader.exttyp) is not None


def convert_file(
    src: str,
    dst: str,
    *,
    format: str | None,
    src_format: str | None,
    overwrite: bool,
    permissive: bool,
    registry: Registry,
    progress: Progress | None,
    dtype: Any,
    clip: bool,
    options: dict[str, Any],
) -> ConversionReport:
    """Convert one file; see :func:`mrczio.convert`."""
    if os.path.exists(dst) and os.path.samefile(src, dst) and not overwrite:
        raise OutputExistsError(f"{dst}: output is the input file; pass overwrite=True")
    target = api.writer_format(dst, format, registry)
    report = ConversionReport(source=src, target=dst, format=target.name)
    with api.open(src, format=src_format, permissive=permissive, registry=registry) as reader:
        carried = target.options_like(reader)
        merged = {**carried, **options}
        limits = target.storage_limits(reader.dtype, merged)
        if limits != target.storage_limits(reader.dtype, options) and limits.note:
            report.notes.append(f"kept {limits.note}")
        out_dtype = np.dtype(dtype) if dtype is not None else limits.dtype
        fitter = FrameFitter(
            reader.dtype, out_dtype, max_value=limits.max_value, clip=clip, path=src, what=limits.note
        )
        report.source_dtype, report.target_dtype = str(reader.dtype), str(out_dtype)
        try:
            writer = api.open_writer(
                dst, reader.frame_shape, out_dtype, format=target.name, n_frames=len(reader),
                metadata=carried_metadata(reader, target) or None, voxel_size=reader.voxel_size,
                registry=registry, overwrite=overwrite, **merged,
            )  # fmt: skip
        except DataTypeError as exc:
            raise ConversionError(
                f"{src}: {target.name} cannot store {out_dtype} data ({exc}); pass dtype=... to cast "
                "(checked for exactness)"
            ) from exc
        with writer:
            for index, frame in enumerate(reader):
                writer.write(fitter(frame, index))
                report.frames += 1
                if progress is not None:
                    progress(1)
    report.changed_pixels = fitter.changed
    return report


def convert(
    src: PathLike,
    dst: PathLike,
    *,
    format: str | None = None,
    src_format: str | None = None,
    overwrite: bool = False,
    permissive: bool = False,
    registry: Registry | None = None,
    progress: Progress | None = None,
    dtype: Any = None,
    clip: bool = False,
    **options: Any,
) -> ConversionReport:
    """Copy ``src`` into ``dst`` frame by frame, in the format of ``dst``'s extension
    (or ``format``), between any two registered formats.

    Voxel size, metadata and whatever else the target format can carry of the source
    (:meth:`mrczio.FileFormat.options_like`: header fields, extended header) are carried
    over. Memory stays at a few frames. The input is never modified; replacing it
    requires ``overwrite=True`` and happens atomically at the end.

    The copy is lossless or refused: when the target cannot hold the data exactly (a
    dtype it does not store, ``dtype=`` narrower than the values, values above 15 with
    ``packed4bit=True``) a :class:`mrczio.ConversionError` names the file, the frame and
    the pixel count. ``clip=True`` rounds and clips instead. Returns a
    :class:`ConversionReport` (``changed_pixels``, ``frames``, ...). Other keywords are
    write options of the target format. ``progress`` is called with 1 after every frame.
    """
    options = {k: v for k, v in options.items() if v is not None}
    return convert_file(
        os.fspath(src), os.fspath(dst), format=format, src_format=src_format, overwrite=overwrite,
        permissive=permissive, registry=registry if registry is not None else get_registry(),
        progress=progress, dtype=dtype, clip=clip, options=options,
    )  # fmt: skip


def batch_targets(sources: Sequence[str], output_dir: str, target: FileFormat) -> list[str]:
    """Output paths in ``output_dir`` for ``sources``: same stem, the target's extension
    (the source's own extension when the target format claims it)."""
    outputs = []
    for source in sources:
        stem, ext = os.path.splitext(os.path.basename(source))
        claimed = ext.lower() in (e.lower() for e in target.extensions)
        outputs.append(os.path.join(output_dir, stem + (ext if claimed else target.extensions[0])))
    seen: dict[str, str] = {}
    for source, output in zip(sources, outputs, strict=True):
        if output in seen:
            raise OutputExistsError(f"{source} and {seen[output]} would both be written to {output}")
        seen[output] = source
    return outputs


def convert_many(
    sources: Sequence[str],
    output_dir: str,
    *,
    format: str,
    registry: Registry | None = None,
    progress: Progress | None = None,
    **kwargs: Any,
) -> list[ConversionReport]:
    """Convert every file in ``sources`` into ``output_dir`` (created if missing) as
    ``format``; the inputs are never modified. Stops at the first failure, leaving the
    files finished so far and no partial file."""
    registry = registry if registry is not None else get_registry()
    target = registry.format(format)
    outputs = batch_targets(sources, output_dir, target)
    os.makedirs(output_dir, exist_ok=True)
    return [
        convert(src, dst, format=target.name, registry=registry, progress=progress, **kwargs)
        for src, dst in zip(sources, outputs, strict=True)
    ]
