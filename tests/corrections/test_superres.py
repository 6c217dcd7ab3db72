"""Pooled outlier detection for super-resolution movies (``OutlierSettings.superres``):
detection on the 2x2-binned sums finds the hot and dead physical pixels the per-sub-pixel
test misses, flags whole physical pixels, is bit-identical to the plain detector at
``superres=1``, streams like it runs in memory, and refuses frames of odd size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mrczio
from mrczio.correct import correct_files
from mrczio.corrections import superres as sr
from mrczio.corrections.outliers import OutlierSettings, detect_outliers, suppress_outliers
from mrczio.corrections.pipeline import StreamPlan, stream_correct
from mrczio.errors import CorrectionInputError, OptionError

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def case() -> Any:
    """The closing table's super-res case (benchmarks/corrections_table.py) at 256^2
    sub-pixels (128^2 physical), 40 frames at 1 e-/physical pixel/frame."""
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(BENCH))
    import corrections_table as ct

    cd = ct.prepare(ct.Setup(shape=(256, 256)), ct.CASES[2])
    mp.undo()
    return cd


def _scores(cd: Any, superres: int) -> dict[str, float]:
    res = detect_outliers(cd.data, superres=superres)
    mask = res.outlier_mask()
    truth = cd.hot | cd.dead | cd.transient
    return {
        "precision": float((mask & truth).sum() / mask.sum()),
        "hot": float((mask & cd.hot).sum() / cd.hot.sum()),
        "dead": float((mask & cd.dead).sum() / cd.dead.sum()),
        "transient": float((res.transient_mask() & cd.transient).sum() / cd.transient.sum()),
    }


def test_pooling_finds_hot_and_dead_subpixels(case: Any) -> None:
    # measured: superres=1 precision 0.986, hot 0.22, dead 0.006, transient 0.36;
    # superres=2 precision 0.996, hot 0.55, dead 1.0, transient 0.64
    assert case.hot.sum() > 400 and case.dead.sum() > 400
    single, pooled = _scores(case, 1), _scores(case, 2)
    assert single["hot"] < 0.3 and single["dead"] < 0.05
    assert pooled["precision"] >= 0.98
    assert pooled["hot"] > 0.45 and pooled["hot"] > 2 * single["hot"]
    assert pooled["dead"] > 0.95
    assert pooled["transient"] > single["transient"]


def _whole_blocks(mask: np.ndarray) -> bool:
    blocks = mask.reshape(mask.shape[0] // 2, 2, mask.shape[1] // 2, 2)
    return bool((blocks.all(axis=(1, 3)) == blocks.any(axis=(1, 3))).all())


def test_flags_whole_physical_pixels(case: Any) -> None:
    res = detect_outliers(case.data, superres=2)
    assert res.info["superres"] == 2
    assert res.static_mask().any() and res.transient_mask().any()
    assert _whole_blocks(res.static_mask()) and _whole_blocks(res.transient_mask())
    assert _whole_blocks(res.weight_image() < 1.0)
    t = res.transients
    assert t is not None and np.all(np.diff(t.index) > 0)
    for frames in (t.start, t.stop):  # one on-frame segment per physical pixel
        image = np.full(res.shape, -1, np.intp)
        image.ravel()[t.index] = frames
        blocks = image.reshape(image.shape[0] // 2, 2, image.shape[1] // 2, 2)
        assert (blocks.max(axis=(1, 3)) == blocks.min(axis=(1, 3))).all()
    out = res.apply(case.data)
    assert np.isfinite(out).all()
    dead = case.dead & res.static_mask()
    assert (out[:, dead] > 0).all()  # filled from the neighbours' sub-pixel level


def test_superres_one_is_bit_identical(case: Any) -> None:
    plain = detect_outliers(case.data)
    one = detect_outliers(case.data, superres=1)
    assert plain.info == one.info
    for name in ("candidates", "weights", "fill", "neighbourly", "transient_fill"):
        assert np.array_equal(getattr(plain, name), getattr(one, name))
    assert plain.transients is not None and one.transients is not None
    assert np.array_equal(plain.transients.index, one.transients.index)
    assert np.array_equal(plain.apply(case.data), one.apply(case.data))


def test_stream_equals_in_memory(tmp_path: Path, case: Any) -> None:
    data = case.data[:, :128, :128]
    expected, res = suppress_outliers(data, superres=2)
    plan = StreamPlan(outliers=OutlierSettings(superres=2), dtype="float32", chunk=3)
    streamed = np.concatenate(list(stream_correct(data, plan)))
    assert np.array_equal(streamed, expected)
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, data)
    params = {"outliers": {"superres": 2}}
    correct_files([str(path)], str(tmp_path / "o"), ["outliers"], params=params, dtype="float32")
    written = mrczio.imread(tmp_path / "o" / "movie.mrcz")
    assert np.array_equal(written, expected)
    assert res.info["n_transient"] > 0 and res.info["n_outliers"] > 0


def test_cli_superres_option(tmp_path: Path, case: Any) -> None:
    from mrczio.cli import main

    data = case.data[:, :64, :64]
    path = tmp_path / "movie.mrcz"
    mrczio.imwrite(path, data)
    out = tmp_path / "cli"
    args = ["correct", str(path), "-o", str(out), "--filters", "outliers", "--dtype", "float32"]
    assert main([*args, "--superres", "2", "--no-progress"]) == 0
    assert np.array_equal(mrczio.imread(out / "movie.mrcz"), suppress_outliers(data, superres=2)[0])
    with mrczio.open(out / "movie.mrcz") as r:
        assert r.metadata["corrections_applied"]["parameters"]["outliers"]["superres"] == 2
    assert main([*args, "--superres", "0", "--overwrite", "--no-progress"]) != 0


def test_bad_gain_subpixel_forces_its_physical_pixel(case: Any) -> None:
    data = case.data[:, :64, :64]
    gain = np.ones(data.shape[1:], np.float32)
    gain[10, 11] = 0.0
    plan = StreamPlan(gain=gain, outliers=OutlierSettings(superres=2), check_orientation=False)
    out = np.concatenate(list(stream_correct(data, plan)))
    assert plan.result is not None
    mask = plan.result.static_mask()
    assert mask[10:12, 10:12].all() and _whole_blocks(mask)
    assert (out[:, 10, 11] > 0).all()


def test_frames_not_divisible_are_refused() -> None:
    data = np.ones((4, 63, 64), np.uint8)
    with pytest.raises(CorrectionInputError, match="63 x 64"):
        detect_outliers(data, superres=2)
    with pytest.raises(CorrectionInputError, match="64 x 66"):
        detect_outliers(np.ones((4, 64, 66), np.uint8), superres=4)
    for bad in (0, 1.5, True):
        with pytest.raises(OptionError, match="superres"):
            OutlierSettings(superres=bad)  # type: ignore[arg-type]


def test_registry_filter_takes_superres(case: Any) -> None:
    from mrczio_builtin.filters import OutliersFilter

    data = case.data[:, :64, :64]
    assert np.array_equal(OutliersFilter().apply(data, superres=2), suppress_outliers(data, superres=2)[0])


def test_binning_helpers_keep_counts() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (6, 8), dtype=np.uint8)
    binned = sr.bin_sum(img, 2)
    assert binned.shape == (3, 4) and binned.dtype == np.uint64
    assert binned.sum() == img.astype(np.int64).sum() and binned[1, 2] == img[2:4, 4:6].sum()
    sub = sr.sub_indices(np.array([6]), (3, 4), 2)  # physical (1, 2)
    assert sorted(np.unravel_index(sub.ravel(), img.shape)[0]) == [2, 2, 3, 3]
    assert sorted(np.unravel_index(sub.ravel(), img.shape)[1]) == [4, 4, 5, 5]
    idx, origin = sr.expand(np.array([6, 0]), (3, 4), 2)
    assert np.all(np.diff(idx) > 0) and sorted(origin.tolist()) == [0] * 4 + [1] * 4


def test_cli_refuses_superres_without_the_outliers_filter_and_names_the_bad_file(tmp_path) -> None:
    import subprocess
    import sys

    good, odd = tmp_path / "good.mrc", tmp_path / "odd.mrc"
    mrczio.imwrite(good, np.ones((3, 64, 64), np.uint8))
    mrczio.imwrite(odd, np.ones((3, 63, 64), np.uint8))
    base = [sys.executable, "-m", "mrczio", "correct", "-o", str(tmp_path / "out")]
    usage = subprocess.run(
        [*base, str(good), "--filters", "gain", "--superres", "2"], capture_output=True, text=True
    )
    assert usage.returncode == 2 and "--superres applies to the outliers filter" in usage.stderr
    shape = subprocess.run(
        [*base, str(good), str(odd), "--filters", "outliers", "--superres", "2"],
        capture_output=True,
        text=True,
    )
    assert shape.returncode != 0 and str(odd) in shape.stderr and "not divisible by 2" in shape.stderr


def test_a_string_superres_is_an_option_error() -> None:
    from mrczio.corrections.outliers import OutlierSettings
    from mrczio.errors import OptionError

    with pytest.raises(OptionError, match="not a real number"):
        OutlierSettings(superres="2")


def test_cli_filter_names_in_any_case_and_superres_zero_is_refused(tmp_path) -> None:
    import subprocess
    import sys

    good = tmp_path / "good.mrc"
    mrczio.imwrite(good, np.ones((3, 64, 64), np.uint8))
    base = [sys.executable, "-m", "mrczio", "correct", str(good), "-o", str(tmp_path / "out"), "--overwrite"]
    upper = subprocess.run(
        [*base, "--filters", "OUTLIERS", "--superres", "2"], capture_output=True, text=True
    )
    assert upper.returncode == 0, upper.stderr
    zero = subprocess.run([*base, "--filters", "gain", "--superres", "0"], capture_output=True, text=True)
    assert zero.returncode == 2 and "--superres applies to the outliers filter" in zero.stderr
