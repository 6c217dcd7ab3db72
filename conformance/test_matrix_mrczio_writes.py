"""mrczio writes, every other reader reads: formats x dtypes x shapes x readers.

Each cell asserts its expected outcome from cflib/expectations.py: bit-identical pixels
(B2), identical bytes (B1) or exact values (V), or the reader's documented refusal or
documented garbage. Voxel size and mrcfile.validate are checked in extra cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cflib import readers
from cflib.cells import SHAPES, VOLUME_SHAPES, as_stack, observe, record, sample
from cflib.expectations import READERS, Writer, expect, mrczio_writers
from conftest import require

import mrczio

REGISTRY = mrczio.get_registry()
#: Codecs of mrczio's own distribution: third-party codec plugins (e.g. mrczio-rans) write
#: files only mrczio with that plugin reads, so other readers are not asked about them.
BUILTIN_CODECS = sorted(
    e.key for e in REGISTRY.codecs.entries() if REGISTRY.distribution_of(e.plugin).split()[0] == "mrczio"
)
WRITERS = mrczio_writers(BUILTIN_CODECS)
DTYPES = sorted(
    {np.dtype(e.item.dtype).name for e in REGISTRY.modes.entries() if e.key < 100} | {"uint8"}
)
if 101 in REGISTRY.modes:  # the 4-bit plugin: uint8 values 0..15 written as mode 101
    DTYPES.append("uint4")
VOXEL = (1.25, 1.5, 2.0)
_written: dict[tuple[str, str, str], Path] = {}


def _cases() -> list[Any]:
    cases = []
    for writer in WRITERS:
        for dtype in DTYPES:
            for shape in SHAPES:
                if writer.volume and shape not in VOLUME_SHAPES:
                    continue
                cases.append(
                    pytest.param(writer, dtype, shape, id=f"{writer.name}-{dtype}-{shape}")
                )
    return cases


def write_case(folder: Path, writer: Writer, dtype: str, shape: str) -> tuple[Path, np.ndarray]:
    """Write (once per session) the sample array of ``dtype``/``shape`` with ``writer``."""
    data = sample_for(dtype, shape)
    key = (writer.name, dtype, shape)
    if key not in _written:
        path = folder / f"{writer.name}-{dtype}-{shape}{writer.extension}"
        options = dict(writer.options) | ({"mode": 101} if dtype == "uint4" else {})
        mrczio.imwrite(path, data, format=writer.format, voxel_size=VOXEL, **options)
        _written[key] = path
    return _written[key], data


def sample_for(dtype: str, shape: str) -> np.ndarray:
    """Sample data; "uint4" is uint8 with values 0..15 (mode 101)."""
    if dtype == "uint4":
        return sample("uint8", SHAPES[shape]) % 16
    return sample(dtype, SHAPES[shape])


def _reference(reader: str, data: np.ndarray) -> np.ndarray:
    """What the reader must return: readers without the IMOD stamp see uint8 as int8."""
    stack = as_stack(data)
    if stack.dtype == np.uint8 and reader in ("gemmi", "relion"):
        return stack.view(np.int8)
    return stack


def _read(reader: str, path: Path, writer: Writer, ccp4: Path | None) -> readers.Read:
    if reader == "mrczio":
        with mrczio.open(path) as handle:
            return readers.Read(as_stack(handle.read()), {"voxel_size": tuple(handle.voxel_size)})
    if reader == "mrcfile":
        return readers.read_mrcfile(path)
    if reader == "mrcz":
        return readers.read_mrcz(path)
    if reader == "gemmi":
        return readers.read_gemmi(path)
    if reader == "libccp4":
        assert ccp4 is not None
        return readers.read_libccp4(path, ccp4)
    if reader == "relion":
        return readers.read_relion(path, volume=writer.volume)
    raise AssertionError(reader)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("writer", "dtype", "shape"), _cases())
def test_cell(
    request: pytest.FixtureRequest, files: Path, writer: Writer, dtype: str, shape: str, reader: str
) -> None:
    if reader != "mrczio":
        require(reader)
    ccp4 = request.getfixturevalue("ccp4dump") if reader == "libccp4" else None
    path, data = write_case(files, writer, dtype, shape)
    outcome = expect(reader, writer, dtype, data)
    observed = observe(lambda: _read(reader, path, writer, ccp4), _reference(reader, data), outcome)
    record(request, table="mrczio writes", writer=writer.name, reader=reader, dtype=dtype, shape=shape,
           expected=outcome.label(), observed=observed, reason=outcome.reason)  # fmt: skip
