"""Is an output a faithful copy of its source? One answer: :func:`verify_output`.

Before a source may be deleted (``mrczio watch --delete-source``) or a batch counts a
file as done (``--verify``), the output is decoded completely and compared with the
source frame by frame: every pixel (bit for bit), the shape, the dtype, the voxel size
(to float32 precision, see :data:`VOXEL_RTOL`),
the metadata and, when both files have an MRC header, the microscope fields of the
header (voltage, Cs, gain, origin) and a raw extended header (e.g. FEI1). Then the
output's own CRC-32C checksums are checked (every MRCZ file mrczio writes carries them).

The steps are listed in :data:`STEPS`; each one adds its name to
:attr:`VerifyResult.checks` and any difference to :attr:`VerifyResult.problems`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mrczio
from mrczio.errors import MrczioError
from mrczio.reader import StackReader

HEADER_FIELDS = ("voltage", "cs", "gain", "origin")
MAX_PROBLEMS = 20
#: Voxel sizes are equal when they agree to float32 precision: headers store cell sizes
#: as float32, and MRCZ stores the z cell as n_frames x voxel (python-mrcz's convention),
#: so z can come back one float32 step away (0.83 -> 0.83000002).
VOXEL_RTOL = 1e-6


@dataclass
class VerifyResult:
    """The outcome of :func:`verify_output`; ``ok`` is true when nothing differs."""

    source: str
    output: str
    frames: int = 0
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.checks)

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def summary(self) -> str:
        if self.ok:
            return f"{self.output}: verified against {self.source} ({', '.join(self.checks)})"
        return f"{self.output}: differs from {self.source}: " + "; ".join(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "frames": self.frames,
            "checks": list(self.checks),
            "problems": list(self.problems),
        }


def verify_output(source_path: str | os.PathLike[str], output_path: str | os.PathLike[str]) -> VerifyResult:
    """Compare ``output_path`` with ``source_path`` by decoding both completely.

    Never raises for a bad output: a file that cannot be opened or decoded is reported
    in :attr:`VerifyResult.problems`. Memory stays at two frames.
    """
    result = VerifyResult(os.fspath(source_path), os.fspath(output_path))
    for step in STEPS:
        step(result)
    return result


def compare_decoded(result: VerifyResult) -> None:
    """Decode both files and compare pixels, shape, dtype, voxel size, metadata, header."""
    try:
        with mrczio.open(result.source) as source, mrczio.open(result.output) as output:
            _compare_description(source, output, result)
            if not result.problems:
                _compare_frames(source, output, result)
    except (MrczioError, OSError) as exc:
        result.add(f"cannot decode: {exc}")
    result.checks.append("decode")


def check_checksums(result: VerifyResult) -> None:
    """The output's own checksums (:mod:`mrczio.integrity`): every frame, the header and the
    metadata against the CRC-32C the writer stored. An output that should carry them but
    does not (its checksum block is damaged or missing) is a problem too."""
    from mrczio.integrity import verify

    report = verify(result.output)
    for problem in report.problems:
        result.add(f"checksum: {problem}")
    if not report.checksums and result.output.lower().endswith(".mrcz"):
        result.add("checksum: the output carries no checksums (its checksum block is missing or damaged)")
    result.checks.append("checksums")


# The verification steps in order. A step takes the result, appends its name to
# ``result.checks`` and adds what it finds to ``result.problems``.
STEPS: tuple[Callable[[VerifyResult], None], ...] = (compare_decoded, check_checksums)


def _compare_description(source: StackReader, output: StackReader, result: VerifyResult) -> None:
    if source.shape != output.shape:
        result.add(f"shape {output.shape} != source {source.shape}")
    if source.dtype != output.dtype:
        result.add(f"dtype {output.dtype} != source {source.dtype}")
    if not np.allclose(source.voxel_size, output.voxel_size, rtol=VOXEL_RTOL, atol=0.0):
        result.add(f"voxel size {tuple(output.voxel_size)} != source {tuple(source.voxel_size)}")
    if not same_value(source.metadata, output.metadata):
        result.add("metadata differs from the source's")
    if source.header is not None and output.header is not None:
        _compare_header(source, output, result)


def _compare_header(source: StackReader, output: StackReader, result: VerifyResult) -> None:
    assert source.header is not None and output.header is not None
    for name in HEADER_FIELDS:
        mine, theirs = source.header[name], output.header[name]
        if name == "gain" and float(mine) == 0.0:
            continue  # 0 means "not recorded"; MRCZ writes its default 1.0
        if not np.array_equal(mine, theirs):
            result.add(f"header field {name} {theirs} != source {mine}")
    carried = (source.exttyp, source.extended_header) == (output.exttyp, output.extended_header)
    if source.extended_header and not source.metadata and not carried:
        result.add(
            f"extended header ({source.exttyp!r}, {len(source.extended_header)} bytes) not carried over"
        )


def _compare_frames(source: StackReader, output: StackReader, result: VerifyResult) -> None:
    for index, (mine, theirs) in enumerate(zip(source.iter_frames(), output.iter_frames(), strict=True)):
        if not same_bits(mine, theirs):
            changed = int(np.count_nonzero(_as_bits(mine) != _as_bits(theirs)))
            result.add(f"frame {index}: {changed} pixels differ")
        result.frames += 1


def _as_bits(array: np.ndarray) -> np.ndarray:
    """The array viewed as unsigned integers of the same width (NaN payloads compared too)."""
    contiguous = np.ascontiguousarray(array)
    if contiguous.dtype.kind in "fc":
        return contiguous.view(f"u{min(contiguous.dtype.itemsize, 8)}")
    return contiguous


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-exact equality of two arrays of one dtype and shape."""
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(_as_bits(a), _as_bits(b)))


def same_value(a: Any, b: Any) -> bool:
    """Deep equality for metadata: dicts, lists/tuples, numpy arrays (bit-exact), scalars."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and same_bits(a, b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True  # NaN stored as NaN
    return bool(a == b)
