"""A content digest of a whole file, for reports and journals (today: SHA-256 of the bytes)."""

from __future__ import annotations

import hashlib
import os
from typing import NamedTuple

BLOCK = 1 << 20


class Digest(NamedTuple):
    """``algorithm`` names the hash; ``value`` is its hex digest."""

    algorithm: str
    value: str

    def as_dict(self) -> dict[str, str]:
        return {"algorithm": self.algorithm, "value": self.value}


def file_digest(path: str | os.PathLike[str]) -> Digest:
    """SHA-256 of every byte of ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return Digest("sha256", digest.hexdigest())
