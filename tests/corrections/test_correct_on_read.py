"""Correction at the destination: references stored in the file, applied on read or by `correct`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import main
from mrczio.corrections.koma import correct_series


@pytest.fixture
def gain(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(1.0, 0.05, size=(32, 40)).astype(np.float32)


def raw_stack(seed: int, hot: tuple[int, int] | None = None) -> np.ndarray:
    stack = np.random.default_rng(seed).poisson(2.0, size=(8, 32, 40)).astype(np.uint8)
    if hot is not None:
        stack[:, hot[0], hot[1]] = 60
    return stack


def test_gain_reference_travels_with_the_raw_counts(tmp_path: Path, gain: np.ndarray) -> None:
    counts = raw_stack(1)
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, counts, metadata={"gain_reference": gain}, metadata_format="msgpack")
    assert np.array_equal(mrczio.imread(path), counts)  # raw stays raw on disk
    corrected = mrczio.imread(
        path, corrections=["gain"], correction_params={"gain": {"normalize": False}}
    )
    assert corrected.dtype == np.float32
    np.testing.assert_allclose(corrected, counts * gain[np.newaxis], rtol=1e-6)


def test_stored_parameters_are_used_and_can_be_overridden(tmp_path: Path, gain: np.ndarray) -> None:
    counts = raw_stack(2)
    path = tmp_path / "movie.mrcz"
    meta = {"gain_reference": gain, "corrections": {"gain": {"gamma": 2.0, "normalize": False}}}
    mrczio.imwrite(path, counts, metadata=meta, metadata_format="msgpack")
    stored = mrczio.imread(path, corrections=["gain"])
    np.testing.assert_allclose(stored, counts * gain**2.0, rtol=1e-5)
    overridden = mrczio.imread(
        path, corrections=["gain"], correction_params={"gain": {"gamma": 1.0}}
    )
    np.testing.assert_allclose(overridden, counts * gain, rtol=1e-5)


def test_hot_pixel_is_suppressed_on_read(tmp_path: Path) -> None:
    counts = raw_stack(3, hot=(10, 12))
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, counts)
    report: dict = {}
    out = mrczio.apply_corrections(mrczio.imread(path), {}, ["outliers"], report=report)
    assert out[:, 10, 12].max() < 10  # was 60 in every frame
    assert report["outliers"]  # thresholds and counts were recorded
    assert np.array_equal(mrczio.imread(path, corrections=["outliers"]), out)


def test_unknown_filter_fails_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, raw_stack(4))
    with pytest.raises(mrczio.UnknownFilterError):
        mrczio.imread(path, corrections=["flatten"])
    code = main(["correct", str(path), "-o", str(tmp_path / "out"), "--filters", "flatten"])
    assert code == 2  # an unknown --filters name is a usage error
    assert not any((tmp_path / "out").iterdir())


def test_correct_command_runs_koma_over_a_series(tmp_path: Path, gain: np.ndarray) -> None:
    stacks = [raw_stack(10 + i) for i in range(5)]
    paths = []
    for i, stack in enumerate(stacks):
        path = tmp_path / f"s{i}.mrcz"
        mrczio.imwrite(
            path,
            stack,
            metadata={"gain_reference": gain},
            metadata_format="msgpack",
            voxel_size=1.2,
        )
        paths.append(str(path))
    out = tmp_path / "out"
    code = main(
        [
            "correct",
            *paths,
            "-o",
            str(out),
            "--filters",
            "gain,koma",
            "--koma-radius",
            "1",
            "--no-progress",
        ]
    )
    assert code == 0
    gained = [mrczio.apply_corrections(s, {"gain_reference": gain}, ["gain"]) for s in stacks]
    expected = dict(correct_series(iter(gained), 1, "multiply"))
    for i in range(5):
        with mrczio.open(out / f"s{i}.mrcz") as reader:
            assert reader.voxel_size == pytest.approx((1.2, 1.2, 1.2))
            np.testing.assert_allclose(reader.read(), expected[i], rtol=1e-6)
