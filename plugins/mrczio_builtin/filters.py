"""Built-in detector correction filters: ``outliers``, ``gain`` and ``koma``.

Each filter is a thin adapter from :class:`mrczio.contracts.CorrectionFilter` to the
array code in :mod:`mrczio.corrections`: it merges parameters with what the file's
metadata carries (gain/dark references, stored parameters), runs the correction and
writes what it did into ``report``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from mrczio.contracts import CorrectionFilter
from mrczio.corrections import gain as gain_mod
from mrczio.corrections import koma as koma_mod
from mrczio.corrections.outliers import OutlierResult, OutlierSettings, detect_outliers
from mrczio.errors import OptionError
from mrczio.hookspecs import hookimpl

_OUTLIER_FIELDS = {f.name for f in dataclasses.fields(OutlierSettings)}


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


class OutliersFilter(CorrectionFilter):
    """Stochastic outlier suppression (paper section 4); output float32.

    Parameters: ``mode`` ("default" or "paper") and any :class:`OutlierSettings` field
    (k, rho, lim, max_sigma, fallback, transform, false_rate, sigma_bounds, eps, psf,
    radius, min_good), plus ``threads``.
    """

    name = "outliers"
    description = "stochastic hot/dead pixel suppression (McLeod et al. 2017, section 4)"

    def settings(self, **params: Any) -> OutlierSettings:
        """Resolve ``params`` into settings (raises OptionError on unknown names)."""
        mode = params.pop("mode", "default")
        unknown = set(params) - _OUTLIER_FIELDS
        _reject_unknown(self.name, {k: params[k] for k in unknown})
        if "fallback" in params:
            params["fallback"] = tuple(params["fallback"])
        if params.get("sigma_bounds") is not None:
            params["sigma_bounds"] = tuple(params["sigma_bounds"])
        try:
            return OutlierSettings.for_mode(mode, **params)
        except ValueError as exc:
            raise OptionError(str(exc)) from exc

    def detect(
        self, stack: np.ndarray, *, threads: int | None = None, **params: Any
    ) -> OutlierResult:
        """Only detect: the sparse :class:`OutlierResult` (apply it later or store it)."""
        return detect_outliers(_frames(stack), self.settings(**params), threads=threads)

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
        result = detect_outliers(data, self.settings(**params), threads=threads)
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
    default True), ``threads``.
    """

    name = "gain"
    description = "dark subtraction and gain**gamma(dose rate) multiplication (eq. 8-11)"

    def apply(
        self,
        stack: np.ndarray,
        *,
        metadata: Mapping[str, Any] | None = None,
        report: dict[str, Any] | None = None,
        **params: Any,
    ) -> np.ndarray:
        gain = _reference(params, "gain", metadata, "gain_reference")
        dark = _reference(params, "dark", metadata, "dark_reference")
        gamma = params.pop("gamma", None)
        dose_rate = params.pop("dose_rate", None)
        gparams = params.pop("gamma_params", None)
        if gparams is None and metadata is not None:
            gparams = metadata.get("gamma_params")
        gparams = tuple(gparams) if gparams is not None else gain_mod.K2_GAMMA_PARAMS
        normalize = bool(params.pop("normalize", True))
        threads = params.pop("threads", None)
        _reject_unknown(self.name, params)
        if gain is None and dark is None:
            raise OptionError(
                "gain filter: no gain reference (parameter 'gain' or metadata 'gain_reference')"
            )
        if gamma is None:
            gamma = 1.0 if dose_rate is None else gain_mod.gamma_curve(float(dose_rate), gparams)
        out = gain_mod.apply_gain(
            stack, gain, dark=dark, gamma=float(gamma), normalize=normalize, threads=threads
        )
        if report is not None:
            report.update(
                gamma=float(gamma),
                dose_rate=None if dose_rate is None else float(dose_rate),
                gamma_params=list(gparams),
                dark_subtracted=dark is not None,
                gain_applied=gain is not None,
                gain_normalized=normalize,
            )
        return out


class KomaFilter(CorrectionFilter):
    """Knock-out moving average normalisation (paper section 5.2); output float32.

    For one stack: ``reference`` (a KOMA mean image; else metadata ``koma_reference``)
    or ``neighbors`` (the other stacks of the window, or their mean images), and
    ``mode`` ("multiply", default, or "subtract"). For a series use :meth:`stream` or
    :meth:`correct_series`.
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
        _reject_unknown(self.name, params)
        if reference is None and neighbors is not None:
            reference = self.reference_from(neighbors)
        if reference is None:
            raise OptionError(
                "koma filter: needs 'reference', 'neighbors' or metadata 'koma_reference'"
            )
        try:
            out = koma_mod.apply_reference(stack, reference, mode)
        except ValueError as exc:
            raise OptionError(str(exc)) from exc
        if report is not None:
            n = None if neighbors is None else len(neighbors)
            report.update(mode=mode, n_neighbors=n, reference_mean=float(np.mean(reference)))
        return out

    @staticmethod
    def reference_from(neighbors: Sequence[np.ndarray]) -> np.ndarray:
        """The KOMA reference from the other stacks (3-D) or their mean images (2-D)."""
        if len(neighbors) == 0:
            raise OptionError("koma filter: 'neighbors' is empty")
        return np.asarray(np.mean([koma_mod.stack_mean(np.asarray(s)) for s in neighbors], axis=0))

    def stream(self, radius: int) -> koma_mod.KomaStream:
        """A :class:`~mrczio.corrections.koma.KomaStream` over per-stack mean images."""
        return koma_mod.KomaStream(radius)

    def correct_series(
        self, stacks: Iterable[np.ndarray], radius: int, mode: koma_mod.KomaMode = "multiply"
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream-correct a series: yields ``(index, corrected stack)`` with latency a."""
        return koma_mod.correct_series(stacks, radius, mode)


@hookimpl
def mrczio_register_filters() -> list[CorrectionFilter]:
    """Register the built-in correction filters."""
    return [OutliersFilter(), GainFilter(), KomaFilter()]
