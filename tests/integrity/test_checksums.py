"""Checksums (CRC-32C) and the chunk index of files mrczio writes: every single-bit flip
is detected, appends keep them, a killed or concurrent append loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.errors import ChecksumError, MrczioError
from mrczio.fileio import PositionalFile
from mrczio.integrity import verify

ROOT = Path(__file__).resolve().parents[2]


def small_movie(frames: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(1.0, (frames, 8, 12)).astype(np.uint8)


def flipped(data: bytes, bit: int) -> bytes:
    damaged = bytearray(data)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


def detected(path: Path) -> bool:
    try:
        mrczio.imread(path)
    except MrczioError:
        return True
    return False


def regions(path: Path) -> dict[str, tuple[int, int]]:
    """Byte ranges of the header, the frames and what follows them."""
    with mrczio.open(path) as reader:
        spans = reader.chunk_spans()  # type: ignore[attr-defined]
        block = reader.layout.checksums  # type: ignore[attr-defined]
    data_start, data_end = spans[0][0], spans[-1][0] + spans[-1][1]
    return {
        "header": (0, 1024),
        "extended header (metadata)": (1024, data_start),
        "frames": (data_start, data_end),
        "checksum block": (block.start, os.path.getsize(path)),
    }


@pytest.mark.parametrize("region", ["header", "extended header (metadata)", "frames", "checksum block"])
def test_every_single_bit_flip_is_detected(tmp_path: Path, region: str) -> None:
    source = tmp_path / "m.mrcz"
    mrczio.imwrite(source, small_movie(), metadata={"dose": 1.25, "note": "x" * 20}, voxel_size=1.1)
    original = source.read_bytes()
    start, stop = regions(source)[region]
    assert stop > start
    target = tmp_path / "flip.mrcz"
    missed = []
    for bit in range(start * 8, stop * 8):
        target.write_bytes(flipped(original, bit))
        if not detected(target):
            missed.append(bit)
    assert missed == [], f"{len(missed)} of {(stop - start) * 8} flips in the {region} were not detected"


def test_flipped_frame_names_file_and_frame(tmp_path: Path) -> None:
    path = tmp_path / "m.mrcz"
    mrczio.imwrite(path, small_movie(3))
    start, _ = regions(path)["frames"]
    with mrczio.open(path) as reader:
        offset = reader.chunk_spans()[1][0]  # type: ignore[attr-defined]
    path.write_bytes(flipped(path.read_bytes(), (offset + 20) * 8))
    with pytest.raises(ChecksumError, match="frame 1") as caught:
        mrczio.imread(path)
    assert caught.value.frame == 1 and str(path) in str(caught.value)
    assert mrczio.imread(path, index=0).shape == (8, 12)  # other frames still read
    report = verify(path)
    assert not report.ok and report.damaged_frames == [1] and report.frames_ok == 2


def test_verify_false_skips_the_checksums(tmp_path: Path) -> None:
    path = tmp_path / "m.mrc"
    movie = small_movie(2).astype(np.int16)
    mrczio.imwrite(path, movie, checksums=True)
    with mrczio.open(path) as reader:
        assert reader.has_checksums
    path.write_bytes(flipped(path.read_bytes(), (1024 + 3) * 8))
    with pytest.raises(ChecksumError):
        mrczio.imread(path)
    damaged = mrczio.imread(path, verify=False)
    assert np.count_nonzero(damaged != movie) == 1


def test_plain_mrc_has_no_checksums_by_default_and_stays_mrcfile_valid(tmp_path: Path) -> None:
    import mrcfile

    path = tmp_path / "m.mrc"
    mrczio.imwrite(path, small_movie(2))
    with mrczio.open(path) as reader:
        assert not reader.has_checksums
    assert mrcfile.validate(str(path), print_file=open(os.devnull, "w"))  # noqa: SIM115
    report = verify(path)
    assert report.ok and not report.checksums and report.frames == 2


def test_python_mrcz_reads_checksummed_files(tmp_path: Path) -> None:
    import mrcz

    path = tmp_path / "m.mrcz"
    movie = small_movie(3)
    mrczio.imwrite(path, movie, metadata={"dose": 1.5})
    data, _ = mrcz.readMRC(str(path))
    np.testing.assert_array_equal(data, movie)


def test_opening_reads_a_constant_number_of_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    original = PositionalFile.read_at

    def counting(self: PositionalFile, offset: int, count: int, **kwargs: object) -> bytes:
        reads.append(count)
        return original(self, offset, count, **kwargs)  # type: ignore[arg-type]

    counts = {}
    for frames in (20, 2000):
        path = tmp_path / f"m{frames}.mrcz"
        mrczio.imwrite(path, np.zeros((frames, 4, 4), np.uint8))
        monkeypatch.setattr(PositionalFile, "read_at", counting)
        reads.clear()
        with mrczio.open(path) as reader:
            assert len(reader) == frames
        counts[frames] = len(reads)
        monkeypatch.setattr(PositionalFile, "read_at", original)
    assert counts[2000] == counts[20] <= 8


def test_append_keeps_checksums_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "m.mrcz"
    first, more = small_movie(2, 1), small_movie(3, 2)
    mrczio.imwrite(path, first, metadata={"dose": 2.0})
    assert mrczio.append(path, more) == 5
    with mrczio.open(path) as reader:
        assert reader.has_checksums and reader.metadata == {"dose": 2.0}
        np.testing.assert_array_equal(reader.read(), np.concatenate([first, more]))
    assert verify(path).ok


APPENDER = textwrap.dedent(
    """
    import sys, numpy as np, mrczio
    path, value, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for _ in range(rounds):
        mrczio.append(path, np.full((2, 8, 12), value, np.uint8), lock_timeout=120)
    """
)


def test_two_processes_appending_lose_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "m.mrcz"
    mrczio.imwrite(path, np.zeros((1, 8, 12), np.uint8))
    rounds = 15
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(value), str(rounds)])
        for value in (1, 2)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    data = mrczio.imread(path)
    assert len(data) == 1 + 2 * 2 * rounds
    values = [int(frame[0, 0]) for frame in data]
    assert values.count(1) == values.count(2) == 2 * rounds
    assert all(len(np.unique(frame)) == 1 for frame in data)  # no frame mixes two writers
    assert verify(path).ok


SLOW_APPENDER = textwrap.dedent(
    """
    import sys, time, numpy as np, mrczio
    def frames():
        for k in range(10_000):
            time.sleep(0.002)
            yield np.full((64, 64), k % 200, np.uint8)
    print("started", flush=True)
    mrczio.append(sys.argv[1], frames())
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8])
def test_killed_append_is_undone_by_the_next_append(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "m.mrcz"
    first = np.random.default_rng(3).poisson(2.0, (3, 64, 64)).astype(np.uint8)
    mrczio.imwrite(path, first, metadata={"dose": 1.0})
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_APPENDER, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"started")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    with mrczio.open(path, permissive=True) as reader:  # readable even before recovery
        np.testing.assert_array_equal(reader[:3], first)
    assert mrczio.append(path, first[:1]) == 4  # recovers the tail, then appends
    with mrczio.open(path) as reader:
        assert reader.metadata == {"dose": 1.0}
        np.testing.assert_array_equal(reader.read(), np.concatenate([first, first[:1]]))
    assert verify(path).ok
    assert not list(tmp_path.glob(".*mrczio-append"))
    assert len(before) < path.stat().st_size
