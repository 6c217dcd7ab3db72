"""``mrczio verify``: is every byte of a file still what was written?

For files that carry checksums (every MRCZ file mrczio writes, and plain MRC written
with ``checksums=True``) the header, the metadata and each frame are checked against
them; every frame is also decoded. For files without checksums (python-mrcz's, other
programs') it says so and reports whether every frame decodes, which is all that can be
known. A damaged frame does not stop the check: every frame is tried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mrczio import api
from mrczio.errors import ChecksumError, MrczioError
from mrczio.reader import StackReader
from mrczio.registry import Registry


@dataclass
class IntegrityReport:
    """The outcome of :func:`verify` for one file."""

    path: str
    checksums: bool = False
    frames: int = 0
    frames_ok: int = 0
    damaged_frames: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is damaged (checksummed or not)."""
        return not self.problems

    def summary(self) -> str:
        if not self.ok:
            return f"{self.path}: DAMAGED: " + "; ".join(self.problems)
        checked = "checksums match" if self.checksums else "no checksums stored; every frame decodes"
        return f"{self.path}: ok ({self.frames} frames, {checked})"


def verify(path: str | os.PathLike[str], *, registry: Registry | None = None) -> IntegrityReport:
    """Check ``path`` completely; never raises for damage, only reports it."""
    name = os.fspath(path)
    report = IntegrityReport(name)
    try:
        reader = api.open(name, registry=registry)
    except MrczioError as exc:
        report.problems.append(str(exc))
        return report
    with reader:
        report.checksums, report.frames = reader.has_checksums, reader.n_frames
        _check_frames(reader, report)
    return report


def _check_frames(reader: StackReader, report: IntegrityReport) -> None:
    for k in range(reader.n_frames):
        try:
            reader[k]
        except ChecksumError as exc:
            report.damaged_frames.append(k)
            report.problems.append(str(exc))
        except MrczioError as exc:
            report.damaged_frames.append(k)
            report.problems.append(f"frame {k}: {exc}")
        else:
            report.frames_ok += 1
