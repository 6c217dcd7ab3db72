"""Built-in detector correction filters: ``outliers``, ``gain`` and ``koma``.

Each filter is a thin adapter from :class:`mrczio.contracts.CorrectionFilter` to the
array code in :mod:`mrczio.corrections`: it merges parameters with what the file's
metadata carries (gain/dark references, stored parameters), runs the correction and
writes what it did into ``report``. Registering the filters is cheap: scipy and
:mod:`mrczio.corrections` are imported only when a filter is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mrczio.contracts import CorrectionFilter
from mrczio.errors import OptionError
from mrczio.hookspecs import hookimpl

if TYPE_CHECKING:
    from mrczio.corrections.koma import KomaMode, KomaStream
    from mrczio.corrections.outliers import OutlierResult, OutlierSettings


def _as_array(value: Any, what: str) -> np.ndarray:
    """An ndarray from an array, nested list, or ``{"data", "shape", "dtype"}`` dict."""
    if isinstance(value, Mapping) and "data" in value:
        raw = value["data"]
        arr = (
            np.frombuffer(raw, dtype=value.get("dtype", "float32"))
            if isinstance(raw, bytes | bytearray)
            else np.asarray(raw)
        )
        return arr.reshape(value["shape"]) if "shape" in value else arr
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{what} is not an array: {exc}") from exc


def _reference(
    params: dict[str, Any], key: str, metadata: Mapping[str, Any] | None, meta_key: str
) -> np.ndarray | None:
    value = params.pop(key, None)
    if value is None and metadata is not None:
        value = metadata.get(meta_key)
    return None if value is None else _as_array(value, key)


def _reject_unknown(name: str, params: Mapping[str, Any]) -> None:
    if params:
        raise OptionError(f"{name} filter: unknown parameter(s) {sorted(params)}")


def _frames(stack: np.ndarray) -> np.ndarray:
    if stack.ndim == 2:
        return stack[None]
    if stack.ndim != 3:
        raise OptionError(f"expected a (frames, ny, nx) stack, got shape {stack.shape}")
    return stack


def _forced(params: dict[str, Any], metadata: Mapping[str, Any] | None) -> np.ndarray | None:
    """Pixels always treated as outliers: ``forced`` plus the bad pixels of a gain
    reference (parameter ``gain``, else metadata ``gain_reference``)."""
    from mrczio.corrections.gain import bad_gain_pixels

    forced = params.pop("forced", None)
    mask = None if forced is None else np.asarray(forced, dtype=bool)
    gain = _reference(params, "gain", metadata, "gain_reference")
    if gain is not None:
        bad = bad_gain_pixels(gain)
        mask = bad if mask is None else mask | bad
    return mask


class OutliersFilter(CorrectionFilter):
    """Stochastic outlier suppression (paper section 4); output float32.

    Parameters: ``mode`` ("default" or "paper") and any :class:`OutlierSettings` field
    (k, rho, lim, max_sigma, fallback, transform, false_rate, sigma_bounds, eps, psf,
    radius, min_good, residual, count_scale), plus ``forced`` (boolean image of pixels
    that are always outliers), ``gain`` (its NaN/inf/<=0 pixels are forced; else the
    metadata ``gain_reference`` is used), ``scale`` (count-scale image) and ``threads``.
    """

    name = "outliers"
    description = "stochastic hot/dead pixel suppression (McLeod et al. 2017, section 4)"
    writes_into = True
    fresh_result = True  # a new float32 stack, or the chain's own ``out``

    def settings(self, **params: Any) -> OutlierSettings:
        """Resolve ``params`` into settings (raises OptionError on unknown names)."""
        from mrczio.corrections.outliers import OutlierSettings

        mode = params.pop("mode", "default")
        if "fallback" in params:
            params["fallback"] = tuple(params["fallback"])
        if params.get("sigma_bounds") is not None:
            params["sigma_bounds"] = tuple(params["sigma_bounds"])
        return OutlierSettings.for_mode(mode, **params)

    def detect(
        self,
        stack: np.ndarray,
        *,
        metadata: Mapping[str, Any] | None = None,
        threads: int | None = None,
        **params: Any,
    ) -> OutlierResult:
        """Only detect: the sparse :class:`OutlierResult` (apply it later or store it)."""
        from mrczio.corrections.outliers import detect_outliers

        forced = _forced(params, metadata)
        scale = params.pop("scale", None)
        settings = self.settings(**params)
        return detect_outliers(_frames(stack), settings, forced=forced, scale=scale, threads=threads)

    def apply(
        self,
        stack: np.ndarray,
        *,
        metadata: Mapping[str, Any] | None = None,
        report: dict[str, Any] | None = None,
        **params: Any,
    ) -> np.ndarray:
        threads = params.pop("threads", None)
        out = params.pop("out", None)
        data = _frames(stack)
        result = self.detect(data, metadata=metadata, threads=threads, **params)
        if report is not None:
            report.update({k: v for k, v in result.info.items()})
        corrected = result.apply(data, out=out, threads=threads)
        return corrected[0] if stack.ndim == 2 else corrected


class GainFilter(CorrectionFilter):
    """Dark subtraction and gain multiplication with dose-rate gamma (eq. 8, 9, 11).

    Parameters: ``gain`` (else metadata ``gain_reference``), ``dark`` (else metadata
    ``dark_reference``; optional), ``gamma`` (explicit exponent) or ``dose_rate``
    (e-/pix/s, gamma from eq. 11 with ``gamma_params``, K2 by default; metadata
    ``gamma_params`` is used when present), ``normalize`` (scale gain to mean 1,
    default True), ``check_orientation`` (default True: warn with
    :class:`~mrczio.errors.CorrectionWarning` when a flipped or transposed gain fits
    the stack better), ``threads``. Gain pixels that are NaN, inf or <= 0 become 0;
    the report counts them (``n_bad_gain``) and the ``outliers`` filter fills them.
    """

    name = "gain"
    description = "dark subtraction and gain**gamma(dose rate) multiplication (eq. 8-11)"
    fresh_result = True  # always a new float32 stack

    def apply(
        self,
        stack: np.ndarray,
        *,
        metadata: Mapping[str, Any] | None = None,
        report: dict[str, Any] | None = None,
        **params: Any,
    ) -> np.ndarray:
        from mrczio.corrections import gain as gain_mod
        from mrczio.corrections.histogram import time_sum

        gain = _reference(params, "gain", metadata, "gain_reference")
        dark = _reference(params, "dark", metadata, "dark_reference")
        gamma = params.pop("gamma", None)
        dose_rate = params.pop("dose_rate", None)
        gparams = params.pop("gamma_params", None)
        if gparams is None and metadata is not None:
            gparams = metadata.get("gamma_params")
        gparams = tuple(gparams) if gparams is not None else gain_mod.K2_GAMMA_PARAMS
        normalize = bool(params.pop("normalize", True))
        check = bool(params.pop("check_orientation", True))
        threads = params.pop("threads", None)
        _reject_unknown(self.name, params)
        if gain is None and dark is None:
            raise OptionError(
                "gain filter: no gain reference (parameter 'gain' or metadata 'gain_reference')"
            )
        if gamma is None:
            gamma = 1.0 if dose_rate is None else gain_mod.gamma_curve(dose_rate, gparams)
        orientation = None
        if check and gain is not None and np.shape(gain) == np.shape(stack)[-2:]:
            orientation = gain_mod.warn_if_misoriented(time_sum(stack, threads=threads), gain)
        out = gain_mod.apply_gain(
            stack, gain, dark=dark, gamma=float(gamma), normalize=normalize, threads=threads
        )
        if report is not None:
            bad = 0 if gain is None else int(np.count_nonzero(gain_mod.bad_gain_pixels(gain)))
            report.update(n_bad_gain=bad, orientation_r=orientation)
            report.update(
                gamma=float(gamma),
                dose_rate=dose_rate,
                gamma_params=list(gparams),
                dark_subtracted=dark is not None,
                gain_applied=gain is not None,
                gain_normalized=normalize,
            )
        return out


def _model_options(params: dict[str, Any]) -> tuple[bool, int]:
    """Pop the KOMA ``model`` switch and its ``block_size`` (default 64) from ``params``."""
    model = params.pop("model", False)
    if not isinstance(model, bool | np.bool_):
        raise OptionError(f"koma filter: model={model!r} must be true or false")
    block_size = params.pop("block_size", 64)
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer) or block_size < 1:
        raise OptionError(f"koma filter: block_size={block_size!r} must be a whole number >= 1")
    return bool(model), int(block_size)


class KomaFilter(CorrectionFilter):
    """Knock-out moving average normalisation (paper section 5.2); output float32.

    For one stack: ``reference`` (a KOMA mean image; else metadata ``koma_reference``)
    or ``neighbors`` (the other stacks of the window, or their mean images), and
    ``mode`` ("multiply", default, or "subtract"). ``model=True`` replaces the reference
    by :func:`~mrczio.corrections.koma.model_reference` (blocks of ``block_size``,
    default 64) before it is applied. For a series use :meth:`stream` or
    :meth:`correct_series` (same ``model`` and ``block_size``).
    """

    name = "koma"
    description = "knock-out moving average (a-posteriori) normalisation (section 5.2)"

    def apply(
        self,
        stack: np.ndarray,
        *,
        metadata: Mapping[str, Any] | None = None,
        report: dict[str, Any] | None = None,
        **params: Any,
    ) -> np.ndarray:
        mode = params.pop("mode", "multiply")
        neighbors = params.pop("neighbors", None)
        reference = _reference(params, "reference", metadata, "koma_reference")
        model, block_size = _model_options(params)
        _reject_unknown(self.name, params)
        if reference is None and neighbors is not None:
            reference = self.reference_from(neighbors)
        if reference is None:
            raise OptionError("koma filter: needs 'reference', 'neighbors' or metadata 'koma_reference'")
        from mrczio.corrections import koma as koma_mod

        fitted = koma_mod.model_reference(reference, block_size=block_size) if model else None
        out = koma_mod.apply_reference(stack, reference if fitted is None else fitted.reference, mode)
        if report is not None:
            n = None if neighbors is None else len(neighbors)
            report.update(mode=mode, n_neighbors=n, reference_mean=float(np.mean(reference)), model=model)
            if fitted is not None:
                report.update(
                    model_applied=fitted.applied,
                    model_pattern=fitted.pattern,
                    model_noise=fitted.noise,
                    block_size=block_size,
                )
        return out

    @staticmethod
    def reference_from(neighbors: Sequence[np.ndarray]) -> np.ndarray:
        """The KOMA reference from the other stacks (3-D) or their mean images (2-D)."""
        from mrczio.corrections import koma as koma_mod

        if len(neighbors) == 0:
            raise OptionError("koma filter: 'neighbors' is empty")
        return np.asarray(np.mean([koma_mod.stack_mean(np.asarray(s)) for s in neighbors], axis=0))

    def stream(self, radius: int) -> KomaStream:
        """A :class:`~mrczio.corrections.koma.KomaStream` over per-stack mean images."""
        from mrczio.corrections.koma import KomaStream

        return KomaStream(radius)

    def correct_series(
        self,
        stacks: Iterable[np.ndarray],
        radius: int,
        mode: KomaMode = "multiply",
        **params: Any,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream-correct a series: yields ``(index, corrected stack)`` with latency a.

        ``params``: ``model`` (bool) and ``block_size``, as for :meth:`apply`.
        """
        from mrczio.corrections.koma import correct_series

        model, block_size = _model_options(params)
        _reject_unknown(self.name, params)
        return correct_series(stacks, radius, mode, model=model, block_size=block_size)


@hookimpl
def mrczio_register_filters() -> list[CorrectionFilter]:
    """Register the built-in correction filters."""
    return [OutliersFilter(), GainFilter(), KomaFilter()]
