"""Correlated-noise measures built on the Pearson R of eq. 7 (McLeod et al. 2017).

The mean R over all frame pairs costs O(n*P) instead of O(n^2*P): with z_i the centred,
unit-norm frames, sum_{i != j} R_ij = |sum_i z_i|^2 - n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mrczio.corrections.koma import KomaMode, apply_reference, koma_window
from mrczio.errors import CorrectionInputError, OptionError


def _select(frames: np.ndarray, mask: np.ndarray | None, crop: int) -> np.ndarray:
    data = frames[None] if frames.ndim == 2 else frames
    if crop:
        data = data[:, crop:-crop, crop:-crop]
    data = data.reshape(data.shape[0], -1)
    if mask is not None:
        m = mask[crop:-crop, crop:-crop] if crop else mask
        data = data[:, m.ravel()]
    return data


def unit_frames(stack: np.ndarray, mask: np.ndarray | None = None, crop: int = 0) -> np.ndarray:
    """(n, P) float64 frames, each centred and scaled to unit norm (zero frames stay 0)."""
    z = _select(stack, mask, crop).astype(np.float64)
    z -= z.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return np.asarray(np.divide(z, norm, out=np.zeros_like(z), where=norm > 0))


def _unit_sum(stack: np.ndarray, mask: np.ndarray | None, crop: int) -> tuple[np.ndarray, float, int]:
    """Sum of the unit frames, the sum of their squared norms and n, one frame at a time."""
    data = stack[None] if stack.ndim == 2 else stack
    total: np.ndarray | None = None
    sq = 0.0
    for frame in data:
        z = unit_frames(frame, mask, crop)[0]
        total = z if total is None else total + z
        sq += float(z @ z)
    assert total is not None
    return total, sq, data.shape[0]


def pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, crop: int = 0) -> float:
    """Eq. 7: Pearson R between two images (optionally masked or border-cropped)."""
    z = unit_frames(np.stack([a, b]), mask, crop)
    return float(z[0] @ z[1])


def mean_pair_r(stack: np.ndarray, mask: np.ndarray | None = None, crop: int = 0) -> float:
    """Mean Pearson R over all pairs i != j of frames, in O(n*P)."""
    s, sq, n = _unit_sum(stack, mask, crop)
    if n < 2:
        raise CorrectionInputError("need at least two frames")
    return float((s @ s - sq) / (n * (n - 1)))


def mean_pair_r_bruteforce(stack: np.ndarray, mask: np.ndarray | None = None, crop: int = 0) -> float:
    """Mean R over all pairs by explicit correlation (O(n^2*P); for testing)."""
    z = unit_frames(stack, mask, crop)
    n = z.shape[0]
    r = z @ z.T
    return float((r.sum() - np.trace(r)) / (n * (n - 1)))


def separated_pair_r(
    stack: np.ndarray, min_separation: int = 1, mask: np.ndarray | None = None, crop: int = 0
) -> float:
    """Mean R over pairs with |i - j| >= ``min_separation`` (zorro used 6 on specimens).

    The all-pairs total is formed in O(n*P) and the near pairs (fewer than
    ``min_separation`` apart) are subtracted one dot product at a time.
    """
    z = unit_frames(stack, mask, crop)
    n = z.shape[0]
    s = z.sum(axis=0)
    total = s @ s - float((z * z).sum())
    pairs = n * (n - 1)
    for d in range(1, min(min_separation, n)):
        near = float(np.einsum("ij,ij->", z[:-d], z[d:]))
        total -= 2 * near
        pairs -= 2 * (n - d)
    if pairs <= 0:
        raise OptionError(f"no frame pairs at least min_separation={min_separation} apart")
    return float(total / pairs)


def adjacent_pair_r(stack: np.ndarray, mask: np.ndarray | None = None, crop: int = 0) -> float:
    """Mean R over the n-1 adjacent frame pairs."""
    z = unit_frames(stack, mask, crop)
    if z.shape[0] < 2:
        raise CorrectionInputError("need at least two frames")
    return float(np.einsum("ij,ij->", z[:-1], z[1:]) / (z.shape[0] - 1))


def cross_r(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, crop: int = 0) -> float:
    """Mean R over all pairs (i in ``a``, j in ``b``) of two frame sets, in O(n*P)."""
    za, _, na = _unit_sum(a, mask, crop)
    zb, _, nb = _unit_sum(b, mask, crop)
    return float(za @ zb / (na * nb))


def split_reference_cross_r(
    stacks: Sequence[np.ndarray],
    i: int,
    radius: int,
    mode: KomaMode = "multiply",
    mask: np.ndarray | None = None,
    crop: int = 0,
) -> float:
    """KOMA-corrected even x odd cross-R of stack ``i`` with split references.

    Reference A is the KOMA average of the first halves of the neighbour stacks and
    corrects the even frames of stack ``i``; reference B (second halves) corrects its
    odd frames. Only even x odd pairs are correlated, so the reference's own shot noise
    (common to all frames under one reference) does not enter as correlated noise.
    """
    start, stop = koma_window(i, len(stacks), radius)
    others = [j for j in range(start, stop) if j != i]
    if not others:
        raise CorrectionInputError("need at least two stacks")
    half = [stacks[j].shape[0] // 2 for j in others]
    ref_a = np.mean(
        [stacks[j][:h].mean(axis=0, dtype=np.float64) for j, h in zip(others, half, strict=False)], axis=0
    )
    ref_b = np.mean(
        [stacks[j][h:].mean(axis=0, dtype=np.float64) for j, h in zip(others, half, strict=False)], axis=0
    )
    even = apply_reference(stacks[i][0::2], ref_a, mode)
    odd = apply_reference(stacks[i][1::2], ref_b, mode)
    return cross_r(even, odd, mask, crop)


def _sum_sigma(expected_sum: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(np.maximum(np.asarray(expected_sum, dtype=np.float64), 1.0)))


def moved_per_mpix(
    before: np.ndarray,
    after: np.ndarray,
    normal: np.ndarray,
    expected_sum: np.ndarray | None = None,
    k: float = 2.0,
) -> float:
    """Normal pixels whose time sum a correction moved by more than ``k`` Poisson sigma,
    per million pixels (a filter that smooths everything cannot hide here).

    ``normal`` is the boolean image of pixels that are not defects; sigma is
    ``sqrt(expected_sum)`` (default: the uncorrected sum, at least 1).
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    b = b.sum(axis=0) if b.ndim == 3 else b
    a = a.sum(axis=0) if a.ndim == 3 else a
    if a.shape != b.shape or np.shape(normal) != b.shape:
        raise CorrectionInputError(f"shapes differ: {b.shape}, {a.shape}, {np.shape(normal)}")
    sigma = _sum_sigma(b if expected_sum is None else expected_sum)
    moved = (np.abs(a - b) > k * sigma) & np.asarray(normal, dtype=bool)
    return float(np.count_nonzero(moved) / (b.size / 1e6))


def restored_fraction(
    after: np.ndarray, expected_sum: np.ndarray, defects: np.ndarray, k: float = 4.0
) -> float:
    """Fraction of ``defects`` whose corrected time sum lies within ``k`` Poisson sigma
    of the defect-free expectation ``expected_sum`` (NaN when there is no defect)."""
    a = np.asarray(after, dtype=np.float64)
    a = a.sum(axis=0) if a.ndim == 3 else a
    d = np.asarray(defects, dtype=bool)
    if not d.any():
        return float("nan")
    e = np.asarray(expected_sum, dtype=np.float64)
    ok = np.abs(a - e) <= k * _sum_sigma(e)
    return float(np.count_nonzero(ok & d) / np.count_nonzero(d))


def specimen_subtracted_r(stack: np.ndarray, rate: np.ndarray, crop: int = 0) -> float:
    """Mean pair R of the frames minus the known per-frame ``rate`` image: the shared
    specimen signal is removed, so what is left is correlated detector noise."""
    data = np.asarray(stack, dtype=np.float64)
    if data.ndim != 3 or data.shape[1:] != np.shape(rate):
        raise CorrectionInputError(f"stack {data.shape} and rate {np.shape(rate)} do not match")
    return mean_pair_r(data - np.asarray(rate, dtype=np.float64), crop=crop)
