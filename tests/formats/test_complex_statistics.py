"""Complex statistics follow mrcfile: only RMS in the header, DMIN/DMAX/DMEAN undetermined.

mrcfile's ``update_header_stats`` leaves DMIN 0, DMAX -1, DMEAN -2 for complex data and
sets RMS to the standard deviation of the complex values; its validator rejects
real-part statistics when the imaginary part is not zero. Files mrczio writes must pass
both validators.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import mrcfile
import numpy as np
import pytest

import mrczio
from mrczio.stats import UNDETERMINED, RunningStats
from mrczio.validate import validate


@pytest.fixture
def waves(rng: np.random.Generator) -> np.ndarray:
    """Complex frames with a non-zero imaginary part (and a repeated real minimum)."""
    data = (rng.normal(size=(4, 9, 11)) + 1j * rng.normal(size=(4, 9, 11)) + 0.5j).astype(np.complex64)
    data[2, 0, 0] = data.real.min() - 1 + 3j
    data[3, 1, 1] = data[2, 0, 0].real - 2j  # same real part, smaller imaginary part
    return data


def header_stats(path: Path) -> tuple[float, ...]:
    with mrczio.open(path) as reader:
        return tuple(float(reader.header[k]) for k in ("dmin", "dmax", "dmean", "rms"))


def mrcfile_valid(path: Path) -> tuple[bool, str]:
    log = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)  # mrcfile's complex means
        return mrcfile.validate(str(path), print_file=log), log.getvalue()


def test_header_values_are_mrcfiles(tmp_path: Path, waves: np.ndarray) -> None:
    stats = RunningStats()
    for frame in waves:
        stats.add(frame)
    path = tmp_path / "mrcfile.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(waves)
        expected = tuple(float(mrc.header[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    values = stats.header_values()
    assert values[:3] == expected[:3] == UNDETERMINED[:3]
    assert np.float32(values[3]) == pytest.approx(expected[3], rel=1e-6)
    assert values[3] == pytest.approx(float(np.std(waves.astype(np.complex128))), rel=1e-12)


def test_complex_extremes_and_mean_are_numpys(waves: np.ndarray) -> None:
    """Frame by frame and merged from two halves (as the compression pipeline does)."""
    whole, first, second = RunningStats(), RunningStats(), RunningStats()
    for k, frame in enumerate(waves):
        whole.add(frame)
        (first if k < 2 else second).add(frame)
    first.merge(second)
    for stats in (whole, first):
        assert stats.is_complex
        assert stats.extremes() == (complex(waves.min()), complex(waves.max()))
        assert stats.full_mean() == pytest.approx(complex(waves.astype(np.complex128).mean()), rel=1e-12)


def test_real_data_keeps_its_statistics(rng: np.random.Generator) -> None:
    data = rng.normal(size=(3, 5, 6)).astype(np.float32)
    stats = RunningStats()
    for frame in data:
        stats.add(frame)
    dmin, dmax, dmean, rms = stats.header_values()
    assert (dmin, dmax) == (data.min(), data.max()) and not stats.is_complex
    assert dmean == pytest.approx(float(data.astype(np.float64).mean()), rel=1e-12)
    assert rms == pytest.approx(float(data.astype(np.float64).std()), rel=1e-12)
    assert RunningStats().header_values() == UNDETERMINED


def test_nan_propagates_to_the_extremes() -> None:
    stats = RunningStats()
    stats.add(np.ones((2, 2), dtype=np.float32))
    stats.add(np.array([[np.nan, 5.0]], dtype=np.float32))
    stats.add(np.zeros((2, 2), dtype=np.float32))
    assert np.isnan(stats.minimum) and np.isnan(stats.maximum)


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("volume", [False, True])
def test_written_complex_files_pass_both_validators(
    tmp_path: Path, waves: np.ndarray, byteorder: str, volume: bool
) -> None:
    plain = tmp_path / "a.mrc"
    mrczio.imwrite(plain, waves, byteorder=byteorder, volume=volume)
    assert header_stats(plain)[:3] == UNDETERMINED[:3]
    assert header_stats(plain)[3] == pytest.approx(float(np.std(waves)), rel=1e-6)
    valid, log = mrcfile_valid(plain)
    assert valid, log
    assert validate(plain) == []
    compressed = tmp_path / "a.mrcz"
    mrczio.imwrite(compressed, waves, byteorder=byteorder, volume=volume)
    assert header_stats(compressed) == header_stats(plain)
    assert validate(compressed) == []
    back = tmp_path / "back.mrc"
    mrczio.convert(compressed, back)
    assert mrcfile_valid(back)[0] and validate(back) == []


@pytest.mark.parametrize("name", ["a.mrc", "a.mrcz"])
def test_appended_complex_file_stays_valid_with_the_whole_stack_rms(
    tmp_path: Path, waves: np.ndarray, name: str
) -> None:
    path = tmp_path / name
    mrczio.imwrite(path, waves[:2])
    mrczio.append(path, waves[2:3])
    mrczio.append(path, waves[3:])
    values = header_stats(path)
    assert values[:3] == UNDETERMINED[:3]
    assert values[3] == pytest.approx(float(np.std(waves.astype(np.complex128))), rel=1e-6)  # float32 field
    assert validate(path) == []
    if name.endswith(".mrc"):
        assert mrcfile_valid(path)[0]


def test_old_real_part_statistics_are_flagged(tmp_path: Path, waves: np.ndarray) -> None:
    """What mrczio wrote before: real-part DMIN/DMAX/DMEAN, which mrcfile rejects."""
    path = tmp_path / "old.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(waves)
        mrc.header.dmin, mrc.header.dmax = waves.real.min(), waves.real.max()
        mrc.header.dmean = waves.real.mean()
    assert not mrcfile_valid(path)[0]
    found = validate(path)
    assert {f.code for f in found} == {"statistics"} and len(found) == 3
    assert all("complex" in f.message for f in found)
