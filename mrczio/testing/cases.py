"""Format cases, dtypes, shapes and sample data for conversion matrices.

A :class:`FormatCase` is one way of writing a registered format (a name, the format,
write options, and what it can hold). :func:`format_cases` returns mrczio's built-in
cases plus one probed case for every other installed format, so a downstream suite
parametrizes over whatever plugins are installed::

    from mrczio.testing import matrix_params

    @pytest.mark.parametrize(("case", "dtype", "shape"), matrix_params())
    def test_round_trip(tmp_path, case, dtype, shape): ...
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mrczio
from mrczio.registry import Registry

#: Every dtype some MRC mode stores; formats declare the subset they hold.
ALL_DTYPES = (
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "float16",
    "float32",
    "complex64",
)
#: Frame-stack shapes with odd and even widths, 2-D and 3-D.
SHAPES = ((7, 9), (7, 10), (3, 7, 9), (3, 8, 10))
COUNTING = "uint8"


@dataclass(frozen=True)
class FormatCase:
    """One way to write a format: ``format`` with write ``options``.

    ``dtypes`` are the dtypes the case stores exactly; ``max_value`` caps values (15 for
    4-bit packing); ``even_width`` says odd widths are refused by design.
    """

    id: str
    format: str
    suffix: str
    options: Mapping[str, Any] = field(default_factory=dict)
    dtypes: tuple[str, ...] = ALL_DTYPES
    max_value: int | None = None
    even_width: bool = False
    stores_voxel_size: bool = True
    stores_metadata: bool = True
    requires_mode: int | None = None

    def holds(self, dtype: Any, shape: Sequence[int]) -> bool:
        """True when this case stores ``dtype`` frames of ``shape`` exactly."""
        return np.dtype(dtype).name in self.dtypes and not (self.even_width and shape[-1] % 2)

    def path(self, directory: str | os.PathLike[str], stem: str = "data") -> str:
        return os.path.join(os.fspath(directory), stem + self.suffix)

    def __str__(self) -> str:
        return self.id


MRC_DTYPES = ALL_DTYPES
BUILTIN_CASES = (
    FormatCase("mrc", "mrc", ".mrc"),
    FormatCase(
        "mrc-4bit",
        "mrc",
        ".mrc",
        {"packed4bit": True},
        (COUNTING,),
        max_value=15,
        requires_mode=101,
    ),
    FormatCase("mrcz-zstd", "mrcz", ".mrcz", {"codec": "zstd"}),
    FormatCase("mrcz-lz4", "mrcz", ".mrcz", {"codec": "lz4"}),
    FormatCase("tiff-lzw", "tiff", ".tif", {"compression": "lzw"}),
    FormatCase("tiff-deflate", "tiff", ".tif", {"compression": "deflate"}),
    FormatCase("tiff-zstd", "tiff", ".tif", {"compression": "zstd"}),
    FormatCase("tiff-none", "tiff", ".tif", {"compression": "none"}),
    FormatCase("tiff-4bit-serialem", "tiff", ".tif", {"packed4bit": "serialem"}, (COUNTING,), 15, True),
    FormatCase("tiff-4bit-standard", "tiff", ".tif", {"packed4bit": "standard"}, (COUNTING,), 15),
)


def sample_stack(
    dtype: Any, shape: Sequence[int], *, seed: int = 0, max_value: int | None = None
) -> np.ndarray:
    """Deterministic data of ``dtype`` that exercises the range: the type's extremes
    (or 0 and ``max_value``), and for floats NaN, +-inf and -0.0."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    size = tuple(int(n) for n in shape)
    if max_value is not None:
        data = rng.integers(0, max_value, size=size, endpoint=True).astype(dt)
        flat = data.reshape(-1)
        flat[:2] = (0, max_value)
        return data
    if dt.kind == "c":
        return (rng.normal(size=size) + 1j * rng.normal(size=size)).astype(dt)
    if dt.kind == "f":
        data = (rng.normal(size=size) * 100).astype(dt)
        flat = data.reshape(-1)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).max, np.finfo(dt).min], dtype=dt)
        flat[: min(len(specials), flat.size)] = specials[: flat.size]
        return data
    info = np.iinfo(dt)
    data = rng.integers(info.min, info.max, size=size, endpoint=True, dtype=dt)
    flat = data.reshape(-1)
    flat[:2] = (info.min, info.max)
    return data


def _probe(format_name: str, suffix: str, registry: Registry) -> FormatCase:
    """A case for a third-party format: the dtypes it writes and reads back exactly (a
    2 x 4 frame each) and whether voxel size and metadata survive."""
    held = []
    with tempfile.TemporaryDirectory(prefix="mrczio-probe-") as directory:
        for name in ALL_DTYPES:
            data = sample_stack(name, (2, 4))
            path = os.path.join(directory, f"{name}{suffix}")
            try:
                mrczio.imwrite(path, data, format=format_name, registry=registry)
                back = mrczio.imread(path, format=format_name, registry=registry)
            except mrczio.MrczioError:
                continue
            if back.dtype == data.dtype and back.tobytes() == data.tobytes():
                held.append(name)
        voxel = metadata = False
        if held:
            path = os.path.join(directory, f"extras{suffix}")
            data = sample_stack(held[0], (2, 4))
            try:
                mrczio.imwrite(
                    path,
                    data,
                    format=format_name,
                    registry=registry,
                    voxel_size=1.5,
                    metadata={"k": 1},
                )
                with mrczio.open(path, format=format_name, registry=registry) as reader:
                    voxel, metadata = reader.voxel_size[0] == 1.5, reader.metadata.get("k") == 1
            except mrczio.MrczioError:
                pass
    return FormatCase(
        format_name,
        format_name,
        suffix,
        dtypes=tuple(held),
        stores_voxel_size=voxel,
        stores_metadata=metadata,
    )


def format_cases(
    registry: Registry | None = None, *, include: Iterable[str] | None = None
) -> list[FormatCase]:
    """Built-in cases for installed built-in formats, plus one probed case (default
    options) per other installed format. ``include`` keeps only those case ids."""
    reg = registry if registry is not None else mrczio.get_registry()
    installed = {entry.key for entry in reg.formats.entries()}
    cases = [
        case for case in BUILTIN_CASES
        if case.format in installed and (case.requires_mode is None or case.requires_mode in reg.modes)
    ]  # fmt: skip
    covered = {case.format for case in cases}
    for entry in reg.formats.entries():
        if entry.key in covered or not entry.item.extensions:
            continue
        cases.append(_probe(entry.key, entry.item.extensions[0], reg))
    if include is not None:
        wanted = set(include)
        cases = [case for case in cases if case.id in wanted]
    return cases


def case_for(case_id: str, registry: Registry | None = None) -> FormatCase:
    """The case named ``case_id`` (built-in or probed)."""
    for case in format_cases(registry):
        if case.id == case_id:
            return case
    raise LookupError(f"no format case {case_id!r}")
