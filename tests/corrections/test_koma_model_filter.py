"""The modelled KOMA reference through the registry ``koma`` filter and ``mrczio correct``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.cli import main
from mrczio.corrections.koma import (
    apply_reference,
    correct_series,
    koma_reference_bruteforce,
    model_reference,
    stack_mean,
)
from mrczio.corrections.metrics import mean_pair_r
from mrczio.errors import OptionError
from mrczio.registry import get_registry
from mrczio.synthetic import DetectorModel, SyntheticDetector

_BLOCKS_ONLY = {
    "etch_amplitude": 0.0, "column_gain": 0.0, "row_gain": 0.0, "seam_depth": 0.0,
    "static_hot": 0.0, "hot_birth": 0.0, "dead": 0.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def series() -> list[np.ndarray]:
    """Five vacuum stacks of 128^2 whose only fixed pattern is a 3 % block pattern."""
    det = SyntheticDetector(DetectorModel(shape=(128, 128), block_pattern=0.03, **_BLOCKS_ONLY), seed=1)
    return [
        det.stack(10, dose_rate=4.0, frame_time=0.25, contrast=0.0, outliers=False).data for _ in range(5)
    ]


def test_registry_filter_applies_the_modelled_reference(series):
    flt = get_registry().filter("koma")
    others = [s for j, s in enumerate(series) if j != 2]
    report: dict = {}
    out = flt.apply(series[2], neighbors=others, model=True, block_size=32, report=report)
    reference = np.mean([stack_mean(s) for s in others], axis=0)
    fit = model_reference(reference, block_size=32)
    assert fit.applied and report["model_applied"] and report["model"] is True
    assert report["model_pattern"] == fit.pattern and report["block_size"] == 32
    np.testing.assert_array_equal(out, apply_reference(series[2], fit.reference))
    raw = flt.apply(series[2], neighbors=others)
    assert not np.allclose(out, raw, rtol=1e-3)
    assert mean_pair_r(out) < mean_pair_r(raw)  # the raw reference's own noise is gone


def test_registry_series_uses_the_model_for_every_stack(series):
    flt = get_registry().filter("koma")
    got = dict(flt.correct_series(series, 2, model=True, block_size=32))
    plain = dict(flt.correct_series(series, 2))
    for i in range(len(series)):
        reference = koma_reference_bruteforce([stack_mean(s) for s in series], i, 2)
        modelled = model_reference(reference, block_size=32).reference
        np.testing.assert_allclose(got[i], apply_reference(series[i], modelled), rtol=1e-5)
        assert not np.allclose(got[i], plain[i], rtol=1e-3)


def test_registry_filter_refuses_bad_model_options(series):
    flt = get_registry().filter("koma")
    with pytest.raises(OptionError, match="model"):
        flt.apply(series[0], neighbors=series[1:], model="yes")
    with pytest.raises(OptionError, match="block_size"):
        flt.apply(series[0], neighbors=series[1:], model=True, block_size=0)
    with pytest.raises(OptionError, match="unknown"):
        flt.correct_series(series, 2, modle=True)


def test_cli_koma_model_writes_the_modelled_correction(tmp_path: Path, series):
    paths = []
    for i, stack in enumerate(series):
        paths.append(str(tmp_path / f"s{i}.mrcz"))
        mrczio.imwrite(paths[-1], stack)
    base = ["correct", *paths, "--filters", "koma", "--koma-radius", "2", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "model"), "--koma-model"]) == 0
    assert main([*base, "-o", str(tmp_path / "raw")]) == 0
    expected = dict(correct_series(series, 2, model=True))  # block_size 64 by default
    plain = dict(correct_series(series, 2))
    for i in range(len(series)):
        with mrczio.open(tmp_path / "model" / f"s{i}.mrcz") as reader:
            got = reader.read()
            applied = reader.metadata["corrections_applied"]
        np.testing.assert_allclose(got, expected[i], rtol=1e-6)
        assert not np.allclose(got, plain[i], rtol=1e-3)
        np.testing.assert_allclose(mrczio.imread(tmp_path / "raw" / f"s{i}.mrcz"), plain[i], rtol=1e-6)
        assert applied["parameters"]["koma"] == {"model": True}
        assert applied["reports"]["koma"]["model"] is True
