"""Point-spread fill kernels for singleton outliers (McLeod et al. 2017, Table 1).

A kernel is an odd-sized square array of neighbour weights whose centre is ignored.
:func:`psf_kernel` returns it normalised to sum 1 over the non-centre taps; at image
borders the fill renormalises over the taps that fall inside the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrczio.errors import OptionError

#: Paper Table 1 (Gatan K2), indexed by (|dy|, |dx|); the centre weight is 0.
PAPER_TABLE: dict[tuple[int, int], float] = {
    (0, 0): 0.0,
    (0, 1): 0.173,
    (0, 2): 0.03,
    (1, 1): 0.084,
    (1, 2): 0.02,
    (2, 2): 0.007,
}

#: zorro's 3x3 kernel edge weight; its corners carry the square of it.
ZORRO_EDGE = 0.173236

KERNEL_NAMES = ("paper", "zorro3x3", "uniform")


def _paper_kernel() -> np.ndarray:
    k = np.zeros((5, 5))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            a, b = sorted((abs(dy), abs(dx)))
            k[dy + 2, dx + 2] = PAPER_TABLE[(a, b)]
    return k


def _zorro_kernel() -> np.ndarray:
    e = ZORRO_EDGE
    return np.array([[e * e, e, e * e], [e, 0.0, e], [e * e, e, e * e]])


def _uniform_kernel() -> np.ndarray:
    return np.ones((5, 5))


def psf_kernel(psf: str | Any = "paper") -> np.ndarray:
    """Return the normalised fill kernel (float64, odd square, centre 0, sum 1).

    ``psf`` is ``"paper"`` (5x5 Table 1), ``"zorro3x3"``, ``"uniform"`` (5x5, equal
    weights) or a user array (odd square, non-negative) for another detector.
    """
    if isinstance(psf, str):
        builders = {
            "paper": _paper_kernel,
            "zorro3x3": _zorro_kernel,
            "uniform": _uniform_kernel,
        }
        if psf not in builders:
            raise OptionError(f"unknown psf {psf!r}; expected one of {KERNEL_NAMES} or an array")
        kernel = builders[psf]()
    else:
        try:
            kernel = np.array(psf, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise OptionError(f"psf {psf!r} is neither a kernel name nor an array") from exc
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 != 1:
        raise OptionError(f"a psf kernel must be an odd square array, got shape {kernel.shape}")
    if np.any(kernel < 0) or not np.all(np.isfinite(kernel)):
        raise OptionError("psf kernel weights must be finite and non-negative")
    c = kernel.shape[0] // 2
    kernel[c, c] = 0.0
    total = kernel.sum()
    if total <= 0:
        raise OptionError("psf kernel has no positive off-centre weight")
    return np.asarray(kernel / total)


def kernel_taps(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero off-centre taps of ``kernel`` as ``(dy, dx, weight)`` arrays."""
    c = kernel.shape[0] // 2
    dy, dx = np.nonzero(kernel)
    return dy - c, dx - c, kernel[dy, dx]
