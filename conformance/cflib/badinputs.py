"""Damaged and hostile inputs, and the guard every one of them is read under.

:func:`guarded_read` opens and reads a file with mrczio in a worker thread, under a
20-second hang guard (a guard, not a speed assertion) and tracemalloc, and reports what
happened: the array, an mrczio error, or anything else (which is a bug).
"""

from __future__ import annotations

import struct
import threading
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import mrczio

# mrczio imports its codec libraries and tifffile on first use; import them now so the
# traced peak of a bad-input read measures allocations, not module code being loaded.
import blosc  # noqa: E402, F401
import blosc2  # noqa: E402, F401
import tifffile  # noqa: E402, F401

HANG_GUARD_S = 20.0
ALLOCATION_SLACK = 1 << 20  # bytes allowed beyond the file size (headers, small objects)


@dataclass
class Attempt:
    """The outcome of one guarded read."""

    array: np.ndarray | None = None
    error: BaseException | None = None
    warnings: list[warnings.WarningMessage] = field(default_factory=list)
    peak: int = 0
    hung: bool = False

    @property
    def mrczio_error(self) -> bool:
        return isinstance(self.error, mrczio.MrczioError)


def guarded_read(path: Path, *, permissive: bool = False) -> Attempt:
    """Open and fully read ``path`` in a thread, tracing allocations."""
    attempt = Attempt()

    def work() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with mrczio.open(path, permissive=permissive) as reader:
                    attempt.array = reader.read()
                    _ = reader.metadata
            except BaseException as exc:  # noqa: BLE001 - classified by the caller
                attempt.error = exc
        attempt.warnings = list(caught)

    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(HANG_GUARD_S)
        attempt.hung = worker.is_alive()
        attempt.peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return attempt


def allocation_limit(path: Path) -> int:
    return path.stat().st_size + ALLOCATION_SLACK


# -- building damaged files -----------------------------------------------------------------


def set_i32(raw: bytearray, offset: int, value: int, order: str = "<") -> bytearray:
    out = bytearray(raw)
    out[offset : offset + 4] = struct.pack(f"{order}i", value)
    return out


def set_bytes(raw: bytearray, offset: int, value: bytes) -> bytearray:
    out = bytearray(raw)
    out[offset : offset + len(value)] = value
    return out


def chunk_offsets(raw: bytes, data_offset: int, count: int) -> list[int]:
    """Offsets of the 16-byte chunk headers of a valid MRCZ file."""
    offsets, position = [], data_offset
    for _ in range(count):
        offsets.append(position)
        position += struct.unpack_from("<I", raw, position + 12)[0]
    return offsets


def base_files(folder: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """Valid files the damage is applied to: plain MRC and MRCZ, each with metadata."""
    data = (np.arange(4 * 6 * 5, dtype=np.float32).reshape(4, 6, 5) % 7) - 3
    made: dict[str, tuple[Path, np.ndarray]] = {}
    specs: dict[str, dict[str, Any]] = {
        "mrc-json": {"format": "mrc", "metadata": {"note": "x" * 13}},
        "mrcz-json": {"format": "mrcz", "metadata": {"note": "x" * 13}},
        "mrcz-msgpack-footer": {"format": "mrcz", "metadata": {"gain": np.ones((2, 3), np.float32)},
                                "metadata_format": "msgpack", "metadata_placement": "footer"},
        "mrc-fei-ext": {"format": "mrc", "extended_header": bytes(range(200)), "exttyp": "FEI1"},
    }  # fmt: skip
    for name, options in specs.items():
        path = folder / f"{name}.{'mrcz' if options['format'] == 'mrcz' else 'mrc'}"
        mrczio.imwrite(path, data, voxel_size=1.5, overwrite=True, **options)
        made[name] = (path, data)
    return made
