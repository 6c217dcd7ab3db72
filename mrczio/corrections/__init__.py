"""Detector corrections for counting electron-microscopy movies (McLeod et al. 2017).

One concept per module: :mod:`~mrczio.corrections.outliers` (stochastic outlier
suppression, built from :mod:`histogram`, :mod:`thresholds`, :mod:`kernels`,
:mod:`fill` and :mod:`blend`), :mod:`~mrczio.corrections.gain` (eq. 8-11),
:mod:`~mrczio.corrections.koma` (knock-out moving average) and
:mod:`~mrczio.corrections.metrics` (Pearson correlated-noise measures). Everything is
plain numpy/scipy on arrays; the filter plugins wrap it for the registry.
"""

from mrczio.corrections.gain import (
    K2_GAMMA_PARAMS,
    GammaFit,
    apply_gain,
    fit_gamma,
    fit_gamma_curve,
    fit_gamma_robust,
    gain_from_flat,
    gamma_curve,
    normalize_gain,
    smoothed_cv,
)
from mrczio.corrections.kernels import psf_kernel
from mrczio.corrections.koma import (
    KomaStream,
    ModelledReference,
    apply_reference,
    correct_series,
    koma_references,
    koma_window,
    model_reference,
    stack_mean,
)
from mrczio.corrections.metrics import (
    adjacent_pair_r,
    cross_r,
    mean_pair_r,
    pearson,
    separated_pair_r,
    split_reference_cross_r,
)
from mrczio.corrections.outliers import (
    OutlierResult,
    OutlierSettings,
    detect_outliers,
    suppress_outliers,
)

__all__ = [
    "K2_GAMMA_PARAMS",
    "GammaFit",
    "KomaStream",
    "ModelledReference",
    "OutlierResult",
    "OutlierSettings",
    "adjacent_pair_r",
    "apply_gain",
    "apply_reference",
    "correct_series",
    "cross_r",
    "detect_outliers",
    "fit_gamma",
    "fit_gamma_curve",
    "fit_gamma_robust",
    "gain_from_flat",
    "gamma_curve",
    "koma_references",
    "koma_window",
    "mean_pair_r",
    "model_reference",
    "normalize_gain",
    "pearson",
    "psf_kernel",
    "separated_pair_r",
    "smoothed_cv",
    "split_reference_cross_r",
    "stack_mean",
    "suppress_outliers",
]
