"""Baseline outlier detectors used only by the corrections benchmark.

Each takes the unaligned time sum (counts or gain-normalised) and returns a boolean
outlier mask. They are re-implemented from their published descriptions.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter


def relion_hot(total: np.ndarray, k: float = 6.0) -> np.ndarray:
    """RELION-style: sum above mean + k * std of the whole image (hot pixels only)."""
    t = total.astype(np.float64)
    return t > t.mean() + k * t.std()


def global_poisson(total: np.ndarray, k: float = 5.0) -> np.ndarray:
    """Global Poisson k-sigma: |S - median| > k * sqrt(median)."""
    t = total.astype(np.float64)
    med = float(np.median(t))
    return np.abs(t - med) > k * np.sqrt(max(med, 1e-12))


def local_median_mad(total: np.ndarray, k: float = 5.0, size: int = 5) -> np.ndarray:
    """Residual from a size x size median, thresholded at k robust (MAD) sigmas."""
    t = total.astype(np.float64)
    res = t - median_filter(t, size=size, mode="reflect")
    mad = 1.4826 * float(np.median(np.abs(res - np.median(res))))
    return np.abs(res) > k * max(mad, 1e-12)


BASELINES = {
    "RELION 6-sigma": relion_hot,
    "global Poisson 5-sigma": global_poisson,
    "local median + 5 MAD": local_median_mad,
}
