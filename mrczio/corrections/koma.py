"""Knock-out moving average (KOMA) normalisation (McLeod et al. 2017, section 5.2).

For a series of per-stack mean images M_0..M_{N-1}, the reference of stack i is the
mean of the 2a other stacks in a window of 2a+1 stacks around it. Near the ends the
window shifts (start = clip(i - a, 0, N - 1 - 2a)) so it always holds 2a members; with
N <= 2a all other stacks are used. The window sum T is updated by one add and one
subtraction per step, so KO_i = (T - M_i) / 2a costs two adds and two subtractions.

:class:`KomaStream` runs this as a stream (memory: 2a+1 mean images; latency: a
stacks, with a flush at the end). :func:`apply_reference` corrects a stack with its
reference, multiplicatively (flat-field, the default) or subtractively (eq. 9).

A raw KOMA reference carries its own shot noise (variance ~1/(2an) of the frames'),
which multiplies into every frame it corrects. :func:`model_reference` replaces it by a
low-noise model (separable row, column and block terms plus a low-pass component, each
an average over many pixels), each term kept only when the fixed pattern it
measures exceeds the term's own noise; with no term kept the reference is flat (no
correction). ``correct_series(..., model=True)`` uses it for every stack.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mrczio.corrections import checks
from mrczio.errors import CorrectionInputError, OptionError

KomaMode = Literal["multiply", "subtract"]


def koma_window(i: int, n: int, radius: int) -> tuple[int, int]:
    """``(start, stop)`` of the (2a+1)-stack window used for stack ``i`` of ``n``."""
    radius = checks.whole(radius, "KOMA radius", 1)
    if n <= 2 * radius + 1:
        return 0, n
    start = min(max(i - radius, 0), n - 1 - 2 * radius)
    return start, start + 2 * radius + 1


def koma_reference_bruteforce(means: Sequence[np.ndarray], i: int, radius: int) -> np.ndarray:
    """KO_i by direct averaging of the window members other than ``i`` (for testing)."""
    start, stop = koma_window(i, len(means), radius)
    others = [np.asarray(means[j], dtype=np.float64) for j in range(start, stop) if j != i]
    if not others:
        raise CorrectionInputError("KOMA needs at least two stacks")
    return np.asarray(np.mean(others, axis=0))


class KomaStream:
    """Streaming KOMA references: :meth:`push` mean images in acquisition order, then
    :meth:`flush`. Each returns the ``(index, reference)`` pairs that became ready.

    Holds at most 2a+1 mean images plus the running window sum (float64). A mean
    image with NaN or inf is refused (:class:`~mrczio.errors.NonFiniteInputError`)
    before it touches the running sum, so one bad stack cannot poison every later one;
    mean images of another shape raise :class:`~mrczio.errors.CorrectionInputError`.
    """

    def __init__(self, radius: int) -> None:
        self.radius = checks.whole(radius, "KOMA radius", 1)
        self.size = 2 * radius + 1
        self._buf: deque[tuple[int, np.ndarray]] = deque()
        self._sum: np.ndarray | None = None
        self._pushed = 0
        self._emitted = 0

    @property
    def latency(self) -> int:
        """Stacks between pushing stack i and receiving its reference (interior)."""
        return self.radius

    def _ko(self, i: int) -> tuple[int, np.ndarray]:
        own = next(m for j, m in self._buf if j == i)
        assert self._sum is not None
        members = len(self._buf) - 1
        return i, (self._sum - own) / members

    def push(self, mean: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Add the next stack's mean image; returns references now complete."""
        m = np.asarray(mean, dtype=np.float64)
        if m.ndim != 2 or 0 in m.shape:
            raise CorrectionInputError(f"KOMA mean image {self._pushed} has shape {m.shape}")
        if self._buf and m.shape != self._buf[0][1].shape:
            raise CorrectionInputError(
                f"KOMA mean image {self._pushed} has shape {m.shape}, earlier stacks {self._buf[0][1].shape}"
            )
        checks.require_finite(m, f"KOMA mean image of stack {self._pushed}")
        j = self._pushed
        self._pushed += 1
        ready: list[tuple[int, np.ndarray]] = []
        if self._sum is None:
            self._sum = m.copy()
        elif len(self._buf) == self.size:
            _, oldest = self._buf.popleft()
            self._sum += m
            self._sum -= oldest
        else:
            self._sum = self._sum + m
        self._buf.append((j, m))
        if len(self._buf) == self.size:
            centre = j - self.radius
            for i in range(self._emitted, centre + 1):
                ready.append(self._ko(i))
            self._emitted = centre + 1
        return ready

    def flush(self) -> list[tuple[int, np.ndarray]]:
        """References for the stacks still pending at the end of the series."""
        if self._pushed - self._emitted and len(self._buf) < 2:
            raise CorrectionInputError("KOMA needs at least two stacks")
        ready = [self._ko(i) for i in range(self._emitted, self._pushed)]
        self._emitted = self._pushed
        return ready


def koma_references(means: Iterable[np.ndarray], radius: int) -> Iterator[tuple[int, np.ndarray]]:
    """All ``(index, KO_index)`` pairs of a series of mean images, in index order."""
    stream = KomaStream(radius)
    for m in means:
        yield from stream.push(m)
    yield from stream.flush()


def apply_reference(stack: np.ndarray, reference: np.ndarray, mode: KomaMode = "multiply") -> np.ndarray:
    """Correct every frame of ``stack`` with KOMA ``reference``; returns float32.

    ``multiply``: frame * <KO> / KO (pixels with KO <= 0 are left as they are).
    ``subtract``: frame - (KO - <KO>) * s, with s = <stack frame mean> / <KO> so the
    pattern is scaled to this stack's dose and the mean count is kept.
    """
    if mode not in ("multiply", "subtract"):
        raise OptionError(f"unknown KOMA mode {mode!r}; expected 'multiply' or 'subtract'")
    data = checks.as_frames(stack).astype(np.float32, copy=False)
    data = data[0] if np.ndim(stack) == 2 else data
    ref = np.asarray(reference, dtype=np.float64)
    checks.require_shape(ref, data.shape[-2:], "KOMA reference")
    checks.require_finite(ref, "KOMA reference")
    checks.require_finite(data, "stack")
    ref_mean = float(ref.mean())
    if ref_mean <= 0:
        raise CorrectionInputError(f"KOMA reference has non-positive mean {ref_mean}")
    if mode == "multiply":
        with np.errstate(divide="ignore"):
            factor = np.where(ref > 0, ref_mean / ref, 1.0).astype(np.float32)
        return data * factor
    scale = float(data.mean(dtype=np.float64)) / ref_mean
    return data - ((ref - ref_mean) * scale).astype(np.float32)


@dataclass(frozen=True)
class ModelledReference:
    """Result of :func:`model_reference`.

    ``reference`` is the model (same mean as the raw reference) when ``applied``, else
    a flat image of that mean. ``pattern`` is the std of the modelled relative pattern,
    ``noise`` the std of the model's own noise and ``pixel_noise`` the per-pixel noise of
    the raw reference (all relative to its mean).
    """

    reference: np.ndarray
    applied: bool
    pattern: float
    noise: float
    pixel_noise: float


def block_means(d: np.ndarray, size: int) -> np.ndarray:
    """Image of the means of ``size`` x ``size`` blocks (edge blocks may be smaller)."""
    ys = np.arange(0, d.shape[0], size)
    xs = np.arange(0, d.shape[1], size)
    sums = np.add.reduceat(np.add.reduceat(d, ys, axis=0), xs, axis=1)
    counts = np.outer(np.diff(np.append(ys, d.shape[0])), np.diff(np.append(xs, d.shape[1])))
    means = sums / counts
    return np.asarray(np.repeat(np.repeat(means, size, 0), size, 1)[: d.shape[0], : d.shape[1]])


def _term_noise(sigma: float, shape: tuple[int, int], block: int, lowpass: float) -> tuple[float, ...]:
    """Std of each model term's own noise for white pixel noise ``sigma``: rows average
    nx pixels, columns ny, blocks block^2, and a Gaussian of width s keeps 1/(4 pi s^2)
    of the variance."""
    ny, nx = shape
    shares = (1 / nx, 1 / ny, 1 / min(block * block, ny * nx), 1 / (4 * np.pi * lowpass**2))
    return tuple(float(sigma * np.sqrt(v)) for v in shares)


def model_reference(
    reference: np.ndarray, *, block_size: int = 64, lowpass: float = 8.0, threshold: float = 1.5
) -> ModelledReference:
    """A low-noise model of a KOMA ``reference`` (a mean image), each term kept only when
    the fixed pattern it measures exceeds ``threshold`` times its own noise.

    On the relative deviation ``d = reference / mean - 1`` the terms are fitted in turn,
    each on what the kept terms before it left: row means, column means, means of
    ``block_size`` blocks, then a Gaussian low-pass (sigma ``lowpass`` pixels). The
    per-pixel noise is the robust (MAD) std of ``d`` minus its low-pass; a term of std
    ``t`` and own noise ``n`` holds a pattern of std ``sqrt(t^2 - n^2)`` and is kept when
    that exceeds ``threshold * n`` (correcting removes the pattern's variance and adds
    the term's noise variance). With no term kept the reference is flat (no correction).
    Pixel-level structure (single-pixel gain differences) is not modelled: that is the
    gain reference's job.
    """
    from scipy.ndimage import gaussian_filter

    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2 or 0 in ref.shape:
        raise CorrectionInputError(f"KOMA reference has shape {ref.shape}")
    checks.require_finite(ref, "KOMA reference")
    block = checks.whole(block_size, "block_size", 1)
    checks.positive(lowpass, "lowpass")
    checks.positive(threshold, "threshold")
    mean = float(ref.mean())
    if mean <= 0:
        raise CorrectionInputError(f"KOMA reference has non-positive mean {mean}")
    d = ref / mean - 1.0
    resid = d - gaussian_filter(d, lowpass, mode="reflect")
    sigma = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
    noises = _term_noise(sigma, ref.shape, block, lowpass)
    fits: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
        lambda r: r.mean(axis=1, keepdims=True),
        lambda r: r.mean(axis=0, keepdims=True),
        lambda r: block_means(r, block),
        lambda r: np.asarray(gaussian_filter(r, lowpass, mode="reflect")),
    )
    rest = d
    model = np.zeros_like(d)
    noise_var = 0.0
    for fit, n in zip(fits, noises, strict=True):
        term = fit(rest)
        if float(term.var()) > (1.0 + threshold**2) * n * n:
            model = model + term
            rest = rest - term
            noise_var += n * n
    applied = bool(noise_var > 0)
    pattern = float(np.sqrt(max(float(model.var()) - noise_var, 0.0)))
    out = mean * (1.0 + model) if applied else np.full(ref.shape, mean)
    return ModelledReference(np.asarray(out), applied, pattern, float(np.sqrt(noise_var)), sigma)


def stack_mean(stack: np.ndarray) -> np.ndarray:
    """The per-frame mean image of a stack (float64), the unit KOMA averages."""
    data = checks.as_frames(stack)
    mean = np.asarray(data.mean(axis=0, dtype=np.float64))
    checks.require_finite(mean, "stack")
    return mean


def correct_series(
    stacks: Iterable[np.ndarray],
    radius: int,
    mode: KomaMode = "multiply",
    *,
    model: bool = False,
    block_size: int = 64,
) -> Iterator[tuple[int, np.ndarray]]:
    """Stream-correct a series of stacks: yields ``(index, corrected float32 stack)``.

    With ``model`` each reference is replaced by :func:`model_reference` (blocks of
    ``block_size``), so stacks are corrected only for a fixed pattern that stands out
    of the reference's noise. Keeps the stacks that still wait for their reference (2a+1 until the first window
    is complete, a+1 afterwards) plus the 2a+1 mean images of :class:`KomaStream`.
    """
    stream = KomaStream(radius)
    pending: dict[int, np.ndarray] = {}

    def done(i: int, ref: np.ndarray) -> tuple[int, np.ndarray]:
        if model:
            ref = model_reference(ref, block_size=block_size).reference
        return i, apply_reference(pending.pop(i), ref, mode)

    for j, s in enumerate(stacks):
        pending[j] = s
        for i, ref in stream.push(stack_mean(s)):
            yield done(i, ref)
    for i, ref in stream.flush():
        yield done(i, ref)
