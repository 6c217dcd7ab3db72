"""Correction at the destination: run correction filters over files and series of files.

A file written at the source may carry its gain reference, dark reference and filter
parameters in its metadata (msgpack keeps arrays exact)::

    {"gain_reference": float32 (ny, nx), "dark_reference": ..., "gamma_params": [...],
     "corrections": {"gain": {"dose_rate": 12.0}, "outliers": {"mode": "default"}}}

:func:`correct_files` applies the named filters in order with those stored parameters
(overridden by ``params``) and writes each corrected stack with a record of what was
done in its metadata under ``"corrections_applied"``: filters, parameters, thresholds
and counts per filter, sha256 checksums of the references used, mrczio version.

``"gain"``, ``"outliers"`` and ``"gain,outliers"`` stream frames
(:mod:`mrczio.corrections.pipeline`): memory follows the frame size, not the frame
count. Other chains (``"koma"``, third-party filters) read each stack whole;
``"koma"`` runs as a stream over the series (2a+1 mean images plus a+1 stacks).

The output type (``dtype``): ``"auto"`` keeps the input's integer type when only
``outliers`` runs (blended values rounded without bias), else float32; ``"float16"``,
``"float32"`` or ``"input"`` force one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from mrczio import api
from mrczio.errors import CorrectionInputError, OptionError
from mrczio.registry import Registry, get_registry

Params = Mapping[str, Mapping[str, Any]]

#: Metadata keys holding reference arrays; the output records their checksums instead.
REFERENCE_KEYS = ("gain_reference", "dark_reference", "koma_reference")

#: Filter chains that run as a frame stream.
STREAMED = (("gain",), ("outliers",), ("gain", "outliers"))


def output_path(source: str, output_dir: str, suffix: str) -> str:
    """``output_dir/<source stem><suffix>``."""
    stem = os.path.splitext(os.path.basename(source))[0]
    return os.path.join(output_dir, stem + suffix)


def _split_at_koma(names: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """(filters before koma, filters after koma, whether koma is used)."""
    if "koma" not in names:
        return list(names), [], False
    at = list(names).index("koma")
    return list(names[:at]), list(names[at + 1 :]), True


def correct_files(
    sources: Sequence[str],
    output_dir: str,
    corrections: Sequence[str],
    *,
    params: Params | None = None,
    koma_radius: int = 2,
    koma_mode: str = "multiply",
    suffix: str = ".mrcz",
    overwrite: bool = False,
    dtype: str = "auto",
    registry: Registry | None = None,
    progress: Callable[[int], None] | None = None,
    **write_options: Any,
) -> list[dict[str, Any]]:
    """Correct every file in ``sources`` into ``output_dir``; returns one report each."""
    reg = registry or get_registry()
    for name in corrections:
        reg.filter(name)  # fail before reading anything if a filter is unknown
    if dtype not in ("auto", "input", "float16", "float32"):
        raise OptionError(f"--dtype {dtype!r}: expected auto, input, float16 or float32")
    targets = [output_path(s, output_dir, suffix) for s in sources]
    if len(set(targets)) != len(targets):
        raise OptionError("two inputs have the same name; their outputs would collide")
    reports: list[dict[str, Any]] = [
        {"source": s, "output": t} for s, t in zip(sources, targets, strict=True)
    ]
    options = {"overwrite": overwrite, "registry": reg, **write_options}
    os.makedirs(output_dir, exist_ok=True)
    if tuple(corrections) in STREAMED:
        for index, source in enumerate(sources):
            try:
                _stream_one(source, targets[index], list(corrections), params, dtype, reports[index], options)
            except CorrectionInputError as exc:  # name the file: one of many in a batch
                raise type(exc)(f"{source}: {exc}") from None
            if progress is not None:
                progress(1)
        return reports
    for index, (stack, metadata, voxel) in _whole_stacks(
        sources, corrections, params, reg, reports, koma_radius, koma_mode
    ):
        out_dtype = _whole_dtype(dtype, corrections, reports[index])
        meta = provenance(metadata, corrections, params, reports[index], str(out_dtype))
        api.imwrite(targets[index], stack.astype(out_dtype), voxel_size=voxel, metadata=meta, **options)
        if progress is not None:
            progress(1)
    return reports


def _merged(name: str, metadata: Mapping[str, Any], params: Params | None) -> dict[str, Any]:
    stored = metadata.get("corrections")
    base = dict(stored.get(name, {})) if isinstance(stored, Mapping) else {}
    return {**base, **dict((params or {}).get(name, {}))}


def _reference(p: dict[str, Any], key: str, metadata: Mapping[str, Any], meta_key: str) -> Any:
    value = p.pop(key, None)
    if value is None:
        value = metadata.get(meta_key)
    if isinstance(value, Mapping) and "data" in value:
        raw = value["data"]
        arr = (
            np.frombuffer(raw, dtype=value.get("dtype", "float32"))
            if isinstance(raw, bytes | bytearray)
            else np.asarray(raw)
        )
        return arr.reshape(value["shape"]) if "shape" in value else arr
    return None if value is None else np.asarray(value, dtype=np.float32)


def _stream_plan(names: list[str], metadata: Mapping[str, Any], params: Params | None) -> Any:
    from mrczio.corrections import gain as gain_mod
    from mrczio.corrections.outliers import OutlierSettings
    from mrczio.corrections.pipeline import StreamPlan

    plan = StreamPlan()
    if "gain" in names:
        g = _merged("gain", metadata, params)
        plan.gain = _reference(g, "gain", metadata, "gain_reference")
        plan.dark = _reference(g, "dark", metadata, "dark_reference")
        if plan.gain is None and plan.dark is None:
            raise OptionError("gain filter: no gain reference; pass --gain FILE (or store "
                              "'gain_reference' in the file's metadata), or drop 'gain' from --filters")  # fmt: skip
        gparams = g.pop("gamma_params", None) or metadata.get("gamma_params") or gain_mod.K2_GAMMA_PARAMS
        gamma, dose = g.pop("gamma", None), g.pop("dose_rate", None)
        plan.gamma = (
            float(gamma)
            if gamma is not None
            else (1.0 if dose is None else gain_mod.gamma_curve(dose, tuple(gparams)))
        )
        plan.check_orientation = bool(g.pop("check_orientation", True))
        plan.threads = g.pop("threads", None)
        g.pop("normalize", None)
        if g:
            raise OptionError(f"gain filter: unknown parameter(s) {sorted(g)}")
    if "outliers" in names:
        o = _merged("outliers", metadata, params)
        plan.threads = o.pop("threads", plan.threads)
        for key in ("fallback", "sigma_bounds"):
            if o.get(key) is not None:
                o[key] = tuple(o[key])
        plan.outliers = OutlierSettings.for_mode(o.pop("mode", "default"), **o)
    return plan


def _stream_one(source: str, target: str, names: list[str], params: Params | None, dtype: str,
                report: dict[str, Any], options: dict[str, Any]) -> None:  # fmt: skip
    from mrczio.corrections.pipeline import output_dtype, stream_correct

    with api.open(source, registry=options["registry"]) as reader:
        metadata = dict(reader.metadata)
        plan = _stream_plan(names, metadata, params)
        plan.dtype = dtype
        out_dtype = output_dtype(plan, reader.dtype)
        report["outliers" if plan.outliers is not None else "gain"] = plan.info
        if plan.gain is not None or plan.dark is not None:
            report.setdefault("gain", {}).update(gamma=plan.gamma)
        frames = stream_correct(reader, plan)
        first = next(frames)  # detection runs here, before the output is opened
        meta = provenance(metadata, names, params, report, str(out_dtype), plan=plan)
        with api.open_writer(target, reader.frame_shape, out_dtype, n_frames=len(reader),
                             metadata=meta, voxel_size=reader.voxel_size, **options) as writer:  # fmt: skip
            writer.write(first)
            for block in frames:
                writer.write(block)


def _whole_dtype(dtype: str, names: Sequence[str], report: dict[str, Any]) -> np.dtype[Any]:
    source_dtype = np.dtype(report.pop("_input_dtype", "float32"))
    if dtype == "auto":
        keep = set(names) <= {"outliers"} and source_dtype.kind in "biu"
        return source_dtype if keep else np.dtype(np.float32)
    return source_dtype if dtype == "input" else np.dtype(dtype)


def _whole_stacks(
    sources: Sequence[str], names: Sequence[str], params: Params | None, reg: Registry,
    reports: list[dict[str, Any]], radius: int, mode: str,
) -> Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]]:  # fmt: skip
    before, after, use_koma = _split_at_koma(names)
    stacks = _corrected_stacks(sources, before, params, reg, reports)
    if use_koma:
        koma_params = dict((params or {}).get("koma", {}))  # model, block_size
        stacks = _koma_stream(reg.filter("koma"), stacks, radius, mode, reports, koma_params)
    for index, (stack, metadata, voxel) in stacks:
        yield (
            index,
            (
                api.apply_corrections(stack, metadata, after, params, reg, reports[index]),
                metadata,
                voxel,
            ),
        )


def _corrected_stacks(
    sources: Sequence[str],
    names: Sequence[str],
    params: Params | None,
    reg: Registry,
    reports: list[dict[str, Any]],
) -> Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]]:
    for index, source in enumerate(sources):
        with api.open(source, registry=reg) as reader:
            stack, metadata, voxel = reader.read(), dict(reader.metadata), reader.voxel_size
        reports[index]["_input_dtype"] = str(stack.dtype)
        stack = stack[np.newaxis] if stack.ndim == 2 else stack
        yield (
            index,
            (
                api.apply_corrections(stack, metadata, names, params, reg, reports[index]),
                metadata,
                voxel,
            ),
        )


def _koma_stream(
    koma: Any,
    stacks: Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]],
    radius: int,
    mode: str,
    reports: list[dict[str, Any]],
    koma_params: dict[str, Any],
) -> Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]]:
    """Feed stacks through the KOMA stream, keeping each one's metadata alongside."""
    side: dict[int, tuple[dict[str, Any], Any]] = {}

    def arrays() -> Iterator[np.ndarray]:
        for index, (stack, metadata, voxel) in stacks:
            side[index] = (metadata, voxel)
            yield stack

    for index, corrected in koma.correct_series(arrays(), radius, mode, **koma_params):
        metadata, voxel = side.pop(index)
        reports[index]["koma"] = {"radius": radius, "mode": mode, **koma_params}
        yield index, (corrected, metadata, voxel)


# -- provenance --------------------------------------------------------------------


def checksum(array: Any) -> dict[str, Any]:
    """sha256 of a reference array's C-order bytes, with its dtype and shape."""
    a = np.ascontiguousarray(np.asarray(array))
    return {
        "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
        "dtype": str(a.dtype),
        "shape": list(a.shape),
    }


def plain(value: Any) -> Any:
    """``value`` as JSON/msgpack-safe Python (numpy scalars unwrapped, arrays summarised)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else {"array": checksum(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value if value is None or isinstance(value, bool | int | float | str) else repr(value)


def provenance(
    metadata: Mapping[str, Any], names: Sequence[str], params: Params | None, report: Mapping[str, Any],
    output_dtype: str, *, plan: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """The output metadata: the input's (reference arrays replaced by checksums) plus
    ``corrections_applied``."""
    from mrczio import __version__

    out = {k: plain(v) for k, v in metadata.items() if k not in REFERENCE_KEYS}
    refs: dict[str, Any] = {}
    for key in REFERENCE_KEYS:
        if metadata.get(key) is not None:
            refs[key.removesuffix("_reference")] = {
                "from": "file metadata",
                **checksum(metadata[key]),
            }
    for name in ("gain", "dark"):
        given = (params or {}).get("gain", {}).get(name)
        if given is not None:
            refs[name] = {"from": "parameter", **checksum(given)}
    references = ("gain", "dark", "reference")
    parameters = {
        n: {k: plain(v) for k, v in _merged(n, metadata, params).items() if k not in references}
        for n in names
    }
    if plan is not None and getattr(plan, "outliers", None) is not None:
        from mrczio.corrections.outliers import settings_dict

        parameters["outliers"] = plain(settings_dict(plan.outliers))
    out["corrections_applied"] = {
        "mrczio_version": __version__,
        "filters": list(names),
        "parameters": parameters,
        "references": refs,
        "reports": {k: plain(v) for k, v in report.items() if k not in ("source", "output") and k[0] != "_"},
        "output_dtype": output_dtype,
    }
    return out
