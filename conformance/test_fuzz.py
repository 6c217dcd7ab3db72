"""Property-based fuzzing: mutate valid MRC/MRCZ files; every read is either valid or an
mrczio error, with no other exception, no hang and no allocation beyond the file size.

Derandomized with a fixed example budget, so CI runs the same cases every time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from cflib.badinputs import allocation_limit, base_files, guarded_read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_BASES: dict[str, tuple[Path, np.ndarray]] = {}
_TMP = Path(tempfile.mkdtemp(prefix="mrczio-fuzz-"))


def _base(name: str) -> bytes:
    if not _BASES:
        _BASES.update(base_files(_TMP))
    return _BASES[name][0].read_bytes()


#: Offsets worth hitting: header words, extended-header start, first chunk header.
HOT_OFFSETS = [0, 4, 8, 12, 28, 36, 88, 92, 104, 108, 144, 208, 212, 1024, 1037, 1040, 1049, 1053]

mutation = st.one_of(
    st.tuples(st.just("byte"), st.sampled_from(HOT_OFFSETS) | st.integers(0, 4000), st.integers(0, 255)),
    st.tuples(st.just("word"), st.sampled_from(HOT_OFFSETS), st.sampled_from([0, -1, 1, 2**31 - 1, -(2**31), 2**24, 7, 101, 6002])),
    st.tuples(st.just("truncate"), st.integers(0, 4000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 4000), st.integers(1, 64)),
)  # fmt: skip


def _mutate(raw: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(raw)
    for kind, offset, value in mutations:
        offset = min(offset, max(len(out) - 1, 0))
        if kind == "byte" and out:
            out[offset] = value
        elif kind == "word" and offset + 4 <= len(out):
            out[offset : offset + 4] = int(value).to_bytes(4, "little", signed=True)
        elif kind == "truncate":
            del out[offset:]
        elif kind == "insert":
            out[offset:offset] = bytes([0xA5]) * value
    return bytes(out)


@pytest.mark.parametrize("base", ["mrc-json", "mrcz-json", "mrcz-msgpack-footer", "mrc-fei-ext"])
@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_files_fail_cleanly(base: str, mutations: list[tuple[str, int, int]]) -> None:
    path = _TMP / f"fuzz-{base}.bin"
    path.write_bytes(_mutate(_base(base), mutations))
    for permissive in (False, True):
        attempt = guarded_read(path, permissive=permissive)
        assert not attempt.hung, f"hang on {mutations}"
        assert attempt.peak <= allocation_limit(path), f"allocated {attempt.peak} B on {mutations}"
        if attempt.error is not None:
            assert attempt.mrczio_error, (
                f"{type(attempt.error).__name__}: {attempt.error} (mutations {mutations}, permissive={permissive})"
            )
