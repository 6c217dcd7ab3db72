"""The rANS codec plugin (plugins/mrczio_rans): exact round trips, size against the entropy
bound, damaged chunks refused (never a crash), and use through mrczio's API and CLI.

The plugin is a separate distribution; the test command installs it with
``pip install ./plugins/mrczio_rans`` like any third-party plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Not skipped when missing: the test command installs the plugin (README, .ci/run).
from mrczio_rans import COMPRESSOR_ID, kernel
from mrczio_rans.kernel import RansError, crc32c, decode_frame_into, encode_frame

import mrczio
from mrczio.chunks import CHUNK_HEADER_SIZE
from mrczio.testing import CodecContract

FORCED = [("auto", 0), ("grouped", 2), ("grouped", 4), ("grouped", 8), ("planes", 0), ("stored", 0)]
DOSES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def round_trip(frame: np.ndarray, method: str = "auto", bits: int = 0) -> bytes:
    body = encode_frame(np.ascontiguousarray(frame), method=method, bits=bits)  # type: ignore[arg-type]
    out = np.full_like(frame, 7)
    decode_frame_into(body, out)
    assert out.dtype == frame.dtype
    assert out.tobytes() == frame.tobytes(), f"{method}/{bits} {frame.dtype} {frame.shape}"
    return body


def grouped_ok(frame: np.ndarray, method: str) -> bool:
    return method != "grouped" or frame.dtype.itemsize in (1, 2)


def entropy_bound_bytes(frame: np.ndarray) -> float:
    """Order-0 entropy of the frame's values, in bytes."""
    _, counts = np.unique(frame, return_counts=True)
    p = counts / frame.size
    return float(-(counts * np.log2(p)).sum() / 8)


# -- the kernel --------------------------------------------------------------------------


SPECIAL = {
    "zeros": np.zeros((64, 70), np.uint8),
    "single value": np.full((33, 17), 200, np.uint8),
    "one pixel": np.array([[3]], np.uint8),
    "one pixel above 255": np.array([[40000]], np.uint16),
    "random bytes": np.random.default_rng(1).integers(0, 256, (97, 101), dtype=np.uint8),
    "random uint16": np.random.default_rng(2).integers(0, 65536, (31, 29), dtype=np.uint16),
    "counts with large values": np.where(
        np.random.default_rng(3).random((50, 61)) < 0.02,
        65535,
        np.random.default_rng(4).poisson(0.3, (50, 61)),
    ).astype(np.uint16),
    "every uint16 value": np.arange(65536, dtype=np.uint16).reshape(256, 256),
    "negative int16": np.random.default_rng(5).integers(-300, 300, (21, 23), dtype=np.int16),
    "odd width poisson": np.random.default_rng(6).poisson(1.0, (13, 7)).astype(np.uint8),
    "big-endian uint16": np.random.default_rng(7).poisson(2.0, (9, 11)).astype(">u2"),
    "float32": np.random.default_rng(8).normal(size=(17, 19)).astype(np.float32),
    "complex64": (np.arange(35) * (1 + 2j)).astype(np.complex64).reshape(5, 7),
    "empty": np.zeros((0, 5), np.uint8),
}


@pytest.mark.parametrize(("method", "bits"), FORCED)
@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_frames_round_trip(name: str, method: str, bits: int) -> None:
    frame = SPECIAL[name]
    if grouped_ok(frame, method):
        round_trip(frame, method, bits)


@pytest.mark.parametrize(("method", "bits"), FORCED)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int8", "float16", "int32"])
@pytest.mark.parametrize("dose", [0.1, 1.0, 20.0, 300.0])
def test_counts_round_trip_every_method(dtype: str, dose: float, method: str, bits: int) -> None:
    frame = np.random.default_rng(int(dose * 10)).poisson(dose, (41, 45)).astype(dtype)
    if grouped_ok(frame, method):
        round_trip(frame, method, bits)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.int16, np.dtype(">u2"), np.float32]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
    ),
    choice=st.sampled_from(FORCED),
)
def test_hypothesis_round_trip(frame: np.ndarray, choice: tuple[str, int]) -> None:
    method, bits = choice
    if grouped_ok(frame, method):
        round_trip(frame, method, bits)


@settings(max_examples=100, deadline=None)
@given(
    dose=st.floats(0.01, 40.0),
    shape=st.tuples(st.integers(1, 64), st.integers(1, 64)),
    spikes=st.lists(st.integers(0, 65535), max_size=8),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(["uint8", "uint16"]),
)
def test_hypothesis_sparse_counts_with_spikes(
    dose: float, shape: tuple[int, int], spikes: list[int], seed: int, dtype: str
) -> None:
    rng = np.random.default_rng(seed)
    frame = rng.poisson(dose, shape).astype(np.int64)
    for value in spikes:
        frame.flat[rng.integers(frame.size)] = value
    frame = np.clip(frame, 0, np.iinfo(dtype).max).astype(dtype)
    for method, bits in FORCED:
        round_trip(frame, method, bits)


@pytest.mark.parametrize("dose", DOSES)
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_size_within_half_a_percent_of_the_entropy_bound(dose: float, dtype: str) -> None:
    frame = np.random.default_rng(42).poisson(dose, (2048, 2048)).astype(dtype)
    body = round_trip(frame)
    ratio = len(body) / entropy_bound_bytes(frame)
    assert ratio <= 1.005, f"dose {dose}: {ratio:.5f} x the order-0 bound"


def test_incompressible_frames_are_stored_not_expanded() -> None:
    frame = SPECIAL["random bytes"]
    body = encode_frame(frame)
    assert kernel.describe_body(body)["method"] == "stored"
    assert len(body) <= frame.nbytes + 64


def test_auto_picks_packed_groups_for_sparse_counts() -> None:
    low = np.random.default_rng(0).poisson(0.1, (256, 256)).astype(np.uint8)
    high = np.random.default_rng(0).poisson(2.0, (256, 256)).astype(np.uint16)
    assert kernel.describe_body(encode_frame(low))["bits"] == 2
    assert kernel.describe_body(encode_frame(high))["bits"] == 4


def test_crc32c_matches_the_standard_check_value() -> None:
    assert crc32c(b"123456789", hardware=False) == 0xE3069283
    data = np.random.default_rng(0).integers(0, 256, 100_003, dtype=np.uint8).tobytes()
    assert crc32c(data) == crc32c(data, hardware=False)


def test_wrong_output_size_or_itemsize_is_refused() -> None:
    frame = np.random.default_rng(0).poisson(1.0, (10, 10)).astype(np.uint16)
    body = encode_frame(frame)
    with pytest.raises(RansError, match="different number of pixels"):
        decode_frame_into(body, np.empty((10, 11), np.uint16))
    with pytest.raises(RansError, match="another pixel size"):
        decode_frame_into(body, np.empty((10, 20), np.uint8))


def test_a_flipped_bit_is_caught_by_the_chunk_checksum() -> None:
    frame = np.random.default_rng(0).poisson(0.5, (64, 64)).astype(np.uint8)
    body = bytearray(encode_frame(frame))
    body[len(body) // 2] ^= 0x10
    with pytest.raises(RansError, match="checksum"):
        decode_frame_into(bytes(body), np.empty_like(frame))


FUZZ_SCRIPT = """
import sys, random, struct
import numpy as np
from mrczio_rans.kernel import RansError, crc32c, decode_frame_into, encode_frame

rng = np.random.default_rng(0)
frames = [
    rng.poisson(0.3, (40, 50)).astype(np.uint8),
    np.where(rng.random((30, 30)) < 0.05, 9000, rng.poisson(1.5, (30, 30))).astype(np.uint16),
    rng.poisson(3.0, (25, 26)).astype(np.uint8),
    rng.normal(size=(12, 13)).astype(np.float32),
    rng.integers(0, 256, (20, 20), dtype=np.uint8),
]
choices = [("auto", 0), ("grouped", 2), ("grouped", 4), ("grouped", 8), ("planes", 0)]
random.seed(1)
raised = decoded = 0
for frame in frames:
    for method, bits in choices:
        if method == "grouped" and frame.dtype.itemsize > 2:
            continue
        good = encode_frame(frame, method=method, bits=bits)
        out = np.empty_like(frame)
        for trial in range(300):
            body = bytearray(good)
            kind = trial % 4
            if kind == 0:
                body = body[: random.randrange(len(body))]
            elif kind in (1, 2):
                for _ in range(random.randint(1, 4)):
                    body[random.randrange(len(body))] ^= 1 << random.randrange(8)
            else:
                body[random.randrange(len(body))] = random.randrange(256)
            if kind != 1 and len(body) >= 8:
                # re-seal so the damage reaches the decoder instead of the checksum
                body[4:8] = struct.pack("<I", crc32c(bytes(body[8:])))
            try:
                decode_frame_into(bytes(body), out)
                decoded += 1
            except RansError:
                raised += 1
print(raised, decoded)
"""


def test_fuzzed_chunks_raise_and_never_crash() -> None:
    """Truncations, bit flips and byte changes (re-sealed past the checksum, so the
    decoder's own validation is exercised): every one raises RansError or decodes; the
    process must not crash (run apart so a crash fails this test instead of pytest)."""
    result = subprocess.run(
        [sys.executable, "-c", FUZZ_SCRIPT],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"decoder crashed ({result.returncode}): {result.stderr[-2000:]}"
    raised, _ = map(int, result.stdout.split())
    assert raised > 5000


# -- through mrczio ------------------------------------------------------------------------


class TestRansCodecContract(CodecContract):
    codec_name = "rans"


@pytest.fixture
def movie() -> np.ndarray:
    return np.random.default_rng(9).poisson(0.7, (4, 37, 53)).astype(np.uint8)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_imwrite_imread_bit_exact(tmp_path: Path, dtype: str, byteorder: str) -> None:
    data = np.random.default_rng(1).poisson(1.2, (3, 29, 31)).astype(dtype)
    data[0, 0, 0] = 300 if dtype != "uint8" else 255
    path = tmp_path / "x.mrcz"
    mrczio.imwrite(path, data, codec="rans", byteorder=byteorder)
    back = mrczio.imread(path)
    assert back.dtype == data.dtype and np.array_equal(back, data)
    with mrczio.open(path) as reader:
        assert int(reader.header["mode"]) // 1000 == COMPRESSOR_ID
        assert reader.chunk_info(1)["codec"] == "rans"
        assert np.array_equal(reader[1], data[1])


def test_cli_compress_with_rans(tmp_path: Path, movie: np.ndarray) -> None:
    source = tmp_path / "movie.mrc"
    mrczio.imwrite(source, movie)
    result = subprocess.run(
        [sys.executable, "-m", "mrczio", "compress", str(source), "--codec", "rans", "-q"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(mrczio.imread(tmp_path / "movie.mrcz"), movie)


def test_without_the_plugin_the_file_is_refused(tmp_path: Path, movie: np.ndarray) -> None:
    path = tmp_path / "x.mrcz"
    mrczio.imwrite(path, movie, codec="rans")
    script = textwrap.dedent(f"""
        import mrczio
        assert "rans" not in mrczio.get_registry().codecs
        try:
            mrczio.imread({str(path)!r})
        except mrczio.UnknownCodecError as exc:
            print(exc)
    """)
    env = {**os.environ, "MRCZIO_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout and f"compressor id {COMPRESSOR_ID}" in result.stdout


def test_damaged_chunk_in_a_file_names_the_file(tmp_path: Path, movie: np.ndarray) -> None:
    path = tmp_path / "x.mrcz"
    mrczio.imwrite(path, movie, codec="rans")
    with mrczio.open(path) as reader:
        offset, length = reader.chunk_spans()[2]
    raw = bytearray(path.read_bytes())
    raw[offset + CHUNK_HEADER_SIZE + length // 2] ^= 0x04
    path.write_bytes(bytes(raw))
    with pytest.raises(mrczio.ChecksumError, match="frame 2") as caught:  # the file's CRC
        mrczio.imread(path)
    assert str(path) in str(caught.value)
    with pytest.raises(mrczio.CodecError, match="checksum") as caught:  # the chunk's own CRC
        mrczio.imread(path, verify=False)
    assert str(path) in str(caught.value)


def test_codec_reports_damage_as_codec_error(movie: np.ndarray) -> None:
    codec = mrczio.get_registry().codec("rans")
    chunk = codec.encode(movie[0])
    with pytest.raises(mrczio.CodecError):
        codec.decode_into(chunk[:-3], np.empty_like(movie[0]))
    with pytest.raises(mrczio.CodecError):
        codec.decode_into(chunk[:10], np.empty_like(movie[0]))


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_bits_parameter_through_imwrite(tmp_path: Path, movie: np.ndarray, bits: int) -> None:
    path = tmp_path / "x.mrcz"
    mrczio.imwrite(path, movie, codec="rans", bits=bits)
    assert np.array_equal(mrczio.imread(path), movie)
    with mrczio.open(path) as reader:
        assert reader.chunk_info(0)["bits"] == bits
    codec = mrczio.get_registry().codec("rans")
    assert type(codec).from_config(codec.configured(bits=bits).get_config()).config == {
        "bits": bits
    }
    with pytest.raises(mrczio.OptionError):
        codec.configured(bits=3)
