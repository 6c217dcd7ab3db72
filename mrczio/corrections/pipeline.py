"""Gain + outliers as a stream over frames, in memory bounded by the frame size.

:func:`stream_correct` never holds the stack: it reads frames in chunks from a
:class:`~mrczio.reader.StackReader` (or an array) and keeps only per-pixel images.

1. Pass 1 accumulates the time sum and the frame-bin sums of the raw frames.
2. Detection runs on the gain-corrected sum ``T = (S - n*dark) * G**gamma`` with the
   count scale ``G**gamma`` (so the local residual sees counts, whichever order the
   user thinks in); bad gain pixels are forced outliers.
3. If the temporal screen finds candidates, their frames are gathered in one more read
   (only those pixels are kept).
4. Pass 2 yields corrected chunks: gain, then the blend, then the on-frames of
   transient pixels, then the output dtype.

Peak memory: a few float64/float32 images of one frame plus one chunk of float32
frames, independent of the number of frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mrczio.corrections import checks
from mrczio.corrections.gain import (
    apply_factor,
    bad_gain_pixels,
    gain_factor,
    warn_if_misoriented,
)
from mrczio.corrections.histogram import sum_dtype
from mrczio.corrections.outliers import OutlierResult, OutlierSettings, detect_outliers
from mrczio.corrections.temporal import Bins, bin_dtype, bin_edges
from mrczio.errors import ConversionError, CorrectionInputError, OptionError


class FrameSource(Protocol):
    """What the stream reads: a reader or an array (``len``, ``frame_shape``/``shape``,
    ``dtype`` and slicing by frames)."""

    @property
    def dtype(self) -> Any: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> Any: ...


@dataclass
class StreamPlan:
    """What :func:`stream_correct` will do; filled in with the detection result."""

    gain: np.ndarray | None = None
    dark: np.ndarray | float | None = None
    gamma: float = 1.0
    outliers: OutlierSettings | None = None
    dtype: str = "auto"
    chunk: int = 2
    threads: int | None = None
    check_orientation: bool = True
    result: OutlierResult | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _shape(source: FrameSource) -> tuple[int, int]:
    fs = getattr(source, "frame_shape", None)
    if fs is None:
        fs = getattr(source, "shape", (0, 0, 0))[1:]
    return int(fs[0]), int(fs[1])


def _chunks(source: FrameSource, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    n = len(source)
    for a in range(0, n, chunk):
        block = np.asarray(source[a : min(a + chunk, n)])
        yield a, block[None] if block.ndim == 2 else block


def output_dtype(plan: StreamPlan, input_dtype: np.dtype[Any]) -> np.dtype[Any]:
    """``auto``: the input's integer type when only outliers are corrected (blended
    values rounded without bias), else float32. Also ``float16``, ``float32``, ``input``."""
    name = plan.dtype
    integer = np.dtype(input_dtype).kind in "biu"
    if name == "auto":
        keep = integer and plan.gain is None and plan.dark is None
        return np.dtype(input_dtype) if keep else np.dtype(np.float32)
    if name == "input":
        return np.dtype(input_dtype)
    if name in ("float16", "float32"):
        return np.dtype(name)
    raise OptionError(f"output dtype {name!r}: expected auto, input, float16 or float32")


def _sums(source: FrameSource, binned: bool) -> tuple[np.ndarray, Bins]:
    """Pass 1: raw time sum and raw frame-bin sums (:mod:`~mrczio.corrections.temporal`),
    one frame at a time.

    Integer counts are summed exactly in integers (8-bit input with up to 257 frames:
    2 bytes per pixel for the sum and for each of the bins); other input as a float64 sum
    and float32 bins. Without ``binned`` (no detection) there is one bin of no pixels.
    """
    shape = _shape(source)
    n = len(source)
    dtype = np.dtype(source.dtype)
    edges = bin_edges(n) if binned else np.array([0, n])
    integer = dtype.kind in "biu"
    total = np.zeros(shape, dtype=sum_dtype(dtype, n) if integer else np.float64)
    bin_shape = shape if binned else (0, 0)
    bins = np.zeros((edges.size - 1, *bin_shape), dtype=bin_dtype(dtype, int(np.diff(edges).max())))
    k = 0
    for t, block in _chunks(source, 1):
        frame = block[0]
        if not integer:
            frame = frame.astype(np.float64)
            checks.require_finite(frame, "stack")
        np.add(total, frame, out=total, casting="unsafe")
        if binned:
            np.add(bins[k], frame, out=bins[k], casting="unsafe")
            k += int(t + 1 == edges[k + 1])
    return total, Bins(bins, edges)


def _detect(source: FrameSource, plan: StreamPlan, sums: list[Any]) -> OutlierResult:
    """Detection on the gain-corrected sum; ``sums`` (raw total, raw bins) is emptied so
    the raw total is freed as soon as its corrected form exists. The bins stay raw and
    are read through the same dark and gain factor by the screen."""
    assert plan.outliers is not None
    n = len(source)
    shape = _shape(source)
    factor = gain_factor(plan.gain, plan.gamma, shape)
    d = None if plan.dark is None else np.broadcast_to(np.float32(plan.dark), shape)
    integer = sums[0].dtype.kind in "iu" and factor is None and d is None
    total = sums.pop(0) if integer else sums.pop(0).astype(np.float64, copy=False)
    raw_bins: Bins = sums.pop(0)
    if d is not None:
        total -= n * d
    forced = None if plan.gain is None else bad_gain_pixels(plan.gain)
    if factor is not None:
        total *= factor
        factor[factor <= 0] = 1  # the count scale; bad gain pixels are forced outliers
    scale = factor
    bins = Bins(raw_bins.sums, raw_bins.edges, dark=d, factor=factor)

    def series(idx: np.ndarray) -> np.ndarray:
        step = max(1, plan.chunk)
        cols = [np.asarray(b).reshape(b.shape[0], -1)[:, idx] for _, b in _chunks(source, step)]
        x = np.concatenate(cols).astype(np.float64)
        if d is not None:
            x -= d[np.unravel_index(idx, shape)]
        if scale is not None:
            assert forced is not None
            x *= np.where(forced.ravel()[idx], 0.0, scale.ravel()[idx])
        return x

    return detect_outliers(
        None, plan.outliers, total=total, n_frames=n, forced=forced, scale=scale,
        bins=bins, series=series, threads=plan.threads,
    )  # fmt: skip


def _to_dtype(block: np.ndarray, dtype: np.dtype[Any], first: int) -> np.ndarray:
    if dtype.kind in "iu":
        rng = np.random.default_rng(first)  # unbiased rounding, reproducible per chunk
        info = np.iinfo(dtype)
        frac = block - np.floor(block)
        rounded = np.floor(block) + (rng.random(block.shape, dtype=np.float32) < frac)
        return np.asarray(np.clip(rounded, info.min, info.max).astype(dtype))
    if dtype == np.float16:
        top = float(np.abs(block).max(initial=0.0))
        if top > float(np.finfo(np.float16).max):
            raise ConversionError(f"corrected values reach {top:.4g}, beyond float16's 65504; use float32")
    return block.astype(dtype, copy=False)  # each chunk is a fresh array: no second copy


def stream_correct(source: FrameSource, plan: StreamPlan) -> Iterator[np.ndarray]:
    """Yield the corrected stack chunk by chunk (see the module docstring)."""
    if len(source) == 0 or 0 in _shape(source):
        raise CorrectionInputError("the stack is empty; nothing to correct")
    dtype = output_dtype(plan, np.dtype(source.dtype))
    check = plan.check_orientation and plan.gain is not None
    if plan.outliers is not None or check:
        sums: list[Any] = list(_sums(source, binned=plan.outliers is not None))
        if check:
            assert plan.gain is not None
            r = warn_if_misoriented(sums[0], plan.gain)
            plan.info["orientation_r"] = r
        if plan.outliers is not None:
            plan.result = _detect(source, plan, sums)
            plan.info.update(plan.result.info)
        del sums
    plan.info["output_dtype"] = str(dtype)
    factor = gain_factor(plan.gain, plan.gamma, _shape(source))  # once, not per chunk
    for a, block in _chunks(source, plan.chunk):
        if plan.gain is not None or plan.dark is not None:
            data = apply_factor(block, factor, dark=plan.dark, threads=plan.threads)
        else:
            data = block.astype(np.float32)
            checks.require_finite(data, "stack")
        if plan.result is not None:
            plan.result.apply(data, out=data, threads=plan.threads, first_frame=a)
        yield _to_dtype(data, dtype, a)
