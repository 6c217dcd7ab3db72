"""The golden python-mrcz 0.5.7 fixtures are present and unchanged (never regenerated)."""

from __future__ import annotations

import hashlib
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def _sums() -> dict[str, str]:
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    return {
        name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())
    }


def test_every_fixture_matches_its_checksum() -> None:
    sums = _sums()
    assert len(sums) >= 10
    for name, digest in sums.items():
        path = DATA / name
        assert path.is_file(), (
            f"golden fixture {name} is missing (see conformance/data/PROVENANCE.md)"
        )
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, (
            f"golden fixture {name} changed; fixtures are never regenerated silently "
            "(conformance/scripts/make_legacy_fixtures.py is run by hand only)"
        )


def test_provenance_lists_the_same_checksums() -> None:
    provenance = (DATA / "PROVENANCE.md").read_text()
    for name, digest in _sums().items():
        assert f"{digest}  {name}" in provenance, (
            f"PROVENANCE.md does not list {name} with its checksum"
        )


def test_no_unlisted_files() -> None:
    listed = set(_sums()) | {"SHA256SUMS", "PROVENANCE.md"}
    present = {p.name for p in DATA.iterdir() if p.is_file()}
    assert present <= listed, (
        f"files in conformance/data without a checksum: {sorted(present - listed)}"
    )
