"""benchmarks/koma_series.py (raw against modelled KOMA reference on an evolving vacuum
series) on a tiny series: the model is applied where the fixed pattern stands out of the
reference's noise and not where there is none, the numbers agree with the metrics
module, and the doc block lands after section 3 and is replaced in place. No timing
thresholds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mrczio.corrections.metrics import split_reference_cross_r
from mrczio.synthetic import SyntheticDetector

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
RADII = (1, 2)


@pytest.fixture(scope="module")
def bench() -> Any:
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(BENCH))
    import koma_series

    setup = koma_series.Setup(shape=(96, 96), n_frames=10, n_stacks=9, n_central=2, radii=RADII)
    yield koma_series, koma_series.run(setup)
    mp.undo()


def test_model_applied_only_where_there_is_a_pattern(bench: Any) -> None:
    mod, result = bench
    for a in RADII:
        drifting = mod.row_of(result, "drifting", "outliers + KOMA modelled ref", a)
        flat = mod.row_of(result, "pattern-free", "outliers + KOMA modelled ref", a)
        assert drifting["model applied"] == "2/2", a
        assert flat["model applied"] == "0/2", a
        # A flat reference leaves the outlier-filtered stack exactly as it was.
        assert flat["R"] == mod.row_of(result, "pattern-free", "outliers only", "-")["R"]


def test_model_removes_the_reference_noise(bench: Any) -> None:
    mod, result = bench
    key = "normal moved >2 sigma per Mpix"
    for series in ("drifting", "pattern-free"):
        raw = mod.row_of(result, series, "no correction", "-")["R"]
        for a in RADII:
            ko = mod.row_of(result, series, "outliers + KOMA raw ref (multiply)", a)
            modelled = mod.row_of(result, series, "outliers + KOMA modelled ref", a)
            # With 2a x 10 frames the raw reference's own noise (~1/(2an)) dominates its
            # R and moves many normal pixels; the split reference removes that term.
            assert ko["R"] > 0.5 * ko["1/(2an)"], (series, a)
            assert abs(ko["split-reference cross-R"]) < 0.2 * ko["R"], (series, a)
            # The low-noise model does neither and still beats the uncorrected stack.
            assert modelled["R"] < min(raw, ko["R"]), (series, a)
            assert modelled[key] < ko[key], (series, a)


def test_split_r_matches_the_metrics_module(bench: Any) -> None:
    mod, result = bench
    setup = result["setup"]
    det = SyntheticDetector(setup.models()["drifting"], seed=setup.seed)
    stacks = [
        st.data for st in det.series(setup.n_stacks, n_frames=setup.n_frames, dose_rate=4.0, contrast=0.0)
    ]
    for a in RADII:
        expected = np.mean([split_reference_cross_r(stacks, i, a) for i in setup.central()])
        got = mod.row_of(result, "drifting", "KOMA raw ref (multiply)", a)["split-reference cross-R"]
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_every_column_present(bench: Any) -> None:
    mod, result = bench
    for series in result["series"]:
        assert len(series["rows"]) == 2 + 6 * len(RADII)
        for row in series["rows"]:
            assert set(mod.COLUMNS) <= set(row)
            assert all(math.isfinite(row[k]) for k in ("R", "split-reference cross-R"))
    block = mod.markdown(result)
    assert block.startswith(mod.START) and block.endswith(mod.END)
    for column in mod.COLUMNS:
        assert f" {column} |" in block


def test_block_goes_after_section_3_and_is_replaced_in_place(bench: Any, tmp_path: Path) -> None:
    mod, result = bench
    block = mod.markdown(result)
    doc = tmp_path / "bench.md"
    doc.write_text("# Title\n\n## 3. KOMA R(a)\n\nold\n\n## 4. Gamma\n\ntext\n")
    mod.write_doc(block, doc)
    mod.write_doc(block.replace("drifting series", "drifting series (again)"), doc)
    text = doc.read_text()
    assert text.count(mod.START) == 1 and text.count(mod.END) == 1
    assert text.index("## 3. KOMA") < text.index(mod.START) < text.index(mod.END) < text.index("## 4. Gamma")
    assert "(again)" in text and "old" in text and text.endswith("text\n")
