"""Correction at the destination: run correction filters over files and series of files.

A file written at the source may carry its gain reference, dark reference and filter
parameters in its metadata (msgpack keeps arrays exact)::

    {"gain_reference": float32 (ny, nx), "dark_reference": ..., "gamma_params": [...],
     "corrections": {"gain": {"dose_rate": 12.0}, "outliers": {"mode": "default"}}}

:func:`correct_files` reads each stack, applies the named filters in order with those
stored parameters (overridden by ``params``) and writes the corrected float32 stack.
``"koma"`` needs neighbouring stacks, so it runs as a stream over the whole series:
memory 2a+1 mean images plus a+1 stacks, latency a stacks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from mrczio import api
from mrczio.errors import OptionError
from mrczio.registry import Registry, get_registry

Params = Mapping[str, Mapping[str, Any]]


def output_path(source: str, output_dir: str, suffix: str) -> str:
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
    registry: Registry | None = None,
    progress: Callable[[int], None] | None = None,
    **write_options: Any,
) -> list[dict[str, Any]]:
    """Correct every file in ``sources`` into ``output_dir``; returns one report each."""
    reg = registry or get_registry()
    for name in corrections:
        reg.filter(name)  # fail before reading anything if a filter is unknown
    before, after, use_koma = _split_at_koma(corrections)
    targets = [output_path(s, output_dir, suffix) for s in sources]
    if len(set(targets)) != len(targets):
        raise OptionError("two inputs have the same name; their outputs would collide")
    reports: list[dict[str, Any]] = [{"source": s, "output": t} for s, t in zip(sources, targets, strict=True)]
    stacks = _corrected_stacks(sources, before, params, reg, reports)
    if use_koma:
        koma = reg.filter("koma")
        stacks = _koma_stream(koma, stacks, koma_radius, koma_mode, reports)
    for index, (stack, metadata, voxel) in stacks:
        stack = api.apply_corrections(stack, metadata, after, params, reg, reports[index])
        api.imwrite(targets[index], np.ascontiguousarray(stack, dtype=np.float32), voxel_size=voxel,
                    overwrite=overwrite, registry=reg, **write_options)  # fmt: skip
        if progress is not None:
            progress(1)
    return reports


def _corrected_stacks(
    sources: Sequence[str], names: Sequence[str], params: Params | None, reg: Registry, reports: list[dict[str, Any]]
) -> Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]]:
    for index, source in enumerate(sources):
        with api.open(source, registry=reg) as reader:
            stack, metadata, voxel = reader.read(), dict(reader.metadata), reader.voxel_size
        stack = stack[np.newaxis] if stack.ndim == 2 else stack
        yield index, (api.apply_corrections(stack, metadata, names, params, reg, reports[index]), metadata, voxel)


def _koma_stream(
    koma: Any,
    stacks: Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]],
    radius: int,
    mode: str,
    reports: list[dict[str, Any]],
) -> Iterator[tuple[int, tuple[np.ndarray, dict[str, Any], Any]]]:
    """Feed stacks through the KOMA stream, keeping each one's metadata alongside."""
    side: dict[int, tuple[dict[str, Any], Any]] = {}

    def arrays() -> Iterator[np.ndarray]:
        for index, (stack, metadata, voxel) in stacks:
            side[index] = (metadata, voxel)
            yield stack

    for index, corrected in koma.correct_series(arrays(), radius, mode):
        metadata, voxel = side.pop(index)
        reports[index]["koma"] = {"radius": radius, "mode": mode}
        yield index, (corrected, metadata, voxel)
