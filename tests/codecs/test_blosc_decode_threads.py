"""How many threads a single blosc chunk decodes on when the reader leaves it to the codec."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from mrczio_builtin.blosc_codecs import decode_threads

import mrczio
from mrczio.chunks import ChunkHeader


def _header(nbytes: int, blocksize: int) -> ChunkHeader:
    return ChunkHeader(
        version=2, versionlz=1, flags=0x84, typesize=1, nbytes=nbytes, blocksize=blocksize, cbytes=0
    )


@pytest.mark.parametrize(
    ("nbytes", "blocksize", "expected"),
    [
        (1 << 20, 1 << 20, 1),  # one block: thread start-up cannot pay off
        (100, 1 << 20, 1),  # a chunk smaller than its block size
        (0, 1 << 20, 1),  # empty frame
        (3 << 20, 1 << 20, min(3, os.cpu_count() or 1)),
        (14_238_980, 1 << 20, min(14, os.cpu_count() or 1)),  # a K2 frame: every CPU
    ],
)
def test_one_thread_per_block_at_most_one_per_cpu(nbytes: int, blocksize: int, expected: int) -> None:
    assert decode_threads(_header(nbytes, blocksize)) == expected


def test_multi_block_frames_read_one_at_a_time_are_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    stack = rng.poisson(1.0, (3, 1100, 1500)).astype(np.uint8)  # 1.57 MiB: two 1 MiB blocks
    path = tmp_path / "two-blocks.mrcz"
    mrczio.imwrite(path, stack)
    with mrczio.open(path) as reader:
        assert reader.chunk_info(1)["blocksize"] < stack[1].nbytes
        for k in (2, 0, 1):
            np.testing.assert_array_equal(reader[k], stack[k])


def test_codecs_are_never_asked_for_zero_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mrczio_builtin.blosc_codecs import BloscCodec

    from mrczio.contracts import FrameCodec

    assert FrameCodec.decode_threads(BloscCodec.__new__(BloscCodec), b"") == 1  # the contract's default
    seen: list[int] = []
    original = BloscCodec.decode_into

    def recording(self: BloscCodec, chunk: bytes | memoryview, out: np.ndarray, *, threads: int = 1) -> None:
        seen.append(threads)
        original(self, chunk, out, threads=threads)

    monkeypatch.setattr(BloscCodec, "decode_into", recording)
    stack = np.random.default_rng(3).poisson(1.0, (4, 1100, 1500)).astype(np.uint8)
    path = tmp_path / "threads.mrcz"
    mrczio.imwrite(path, stack)
    with mrczio.open(path) as reader:
        np.testing.assert_array_equal(reader[1], stack[1])
    np.testing.assert_array_equal(mrczio.imread(path), stack)
    assert seen and min(seen) >= 1
    assert seen[0] == min(2, os.cpu_count() or 1)  # the single frame: one thread per block


@pytest.mark.parametrize(("advice", "expected"), [(0, 1), (-3, 1), (10**6, os.cpu_count() or 1), (True, 1)])
def test_a_codecs_advice_is_kept_between_one_and_the_cpu_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, advice: int, expected: int
) -> None:
    from mrczio_builtin.blosc_codecs import BloscCodec

    seen: list[int] = []
    original = BloscCodec.decode_into
    monkeypatch.setattr(BloscCodec, "decode_threads", lambda self, chunk: advice)

    def recording(self: BloscCodec, chunk: bytes | memoryview, out: np.ndarray, *, threads: int = 1) -> None:
        seen.append(threads)
        original(self, chunk, out, threads=threads)

    monkeypatch.setattr(BloscCodec, "decode_into", recording)
    path = tmp_path / "advice.mrcz"
    mrczio.imwrite(path, np.ones((2, 64, 64), np.uint8))
    with mrczio.open(path) as reader:
        reader[0]
    assert seen == [expected]


def test_a_failing_decode_threads_is_a_plugin_error_not_a_damaged_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mrczio_builtin.blosc_codecs import BloscCodec

    from mrczio.errors import CorruptFrameError, PluginError

    def broken(self: BloscCodec, chunk: bytes | memoryview) -> int:
        raise RuntimeError("oops")

    monkeypatch.setattr(BloscCodec, "decode_threads", broken)
    path = tmp_path / "broken.mrcz"
    mrczio.imwrite(path, np.ones((2, 64, 64), np.uint8))
    with mrczio.open(path) as reader, pytest.raises(PluginError, match="decode_threads failed") as caught:
        reader[0]
    assert not isinstance(caught.value, CorruptFrameError) and str(path) in str(caught.value)
