"""Streaming gain + outliers: same result as in memory, bounded memory, output dtype and
provenance metadata written by ``correct_files`` / ``mrczio correct``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.correct import correct_files
from mrczio.corrections.outliers import OutlierSettings, suppress_outliers
from mrczio.corrections.pipeline import StreamPlan, stream_correct
from mrczio.errors import ConversionError, OptionError
from mrczio.synthetic import DetectorModel, SyntheticDetector


@pytest.fixture(scope="module")
def movie():
    det = SyntheticDetector(DetectorModel(shape=(96, 96), transient_hot=0.003), seed=12)
    st = det.stack(24, dose_rate=4.0, frame_time=0.25)
    return st, det.vendor_gain(1e4)


def test_stream_equals_in_memory_outliers(movie):
    st, _ = movie
    plan = StreamPlan(outliers=OutlierSettings(), dtype="float32", chunk=5)
    streamed = np.concatenate(list(stream_correct(st.data, plan)))
    expected, res = suppress_outliers(st.data)
    np.testing.assert_allclose(streamed, expected, rtol=1e-6)
    assert plan.info["n_transient"] == res.info["n_transient"] > 0


def test_stream_gain_then_outliers_detects_in_counts(movie):
    st, gain = movie
    gain = gain.copy()
    gain[5, 6] = 0.0
    plan = StreamPlan(gain=gain, gamma=st.gamma, outliers=OutlierSettings(), chunk=7)
    out = np.concatenate(list(stream_correct(st.data, plan)))
    assert out.dtype == np.float32 and plan.info["count_scale_source"] == "given"
    assert plan.result is not None and plan.result.outlier_mask()[5, 6]
    assert (out[:, 5, 6] > 0).all()
    assert np.count_nonzero(plan.result.outlier_mask() & st.dead) == st.dead.sum()


def test_float16_overflow_is_refused():
    x = np.full((3, 8, 8), 70000.0, np.float32)
    with pytest.raises(ConversionError, match="float16"):
        list(stream_correct(x, StreamPlan(outliers=OutlierSettings(), dtype="float16")))
    with pytest.raises(OptionError):
        list(stream_correct(x, StreamPlan(dtype="int3")))


def _write(tmp_path: Path, movie) -> Path:
    st, gain = movie
    path = tmp_path / "movie.mrcz"
    meta = {"gain_reference": gain, "corrections": {"gain": {"dose_rate": 4.0}}}
    mrczio.imwrite(path, st.data, metadata=meta, metadata_format="msgpack")
    return path


def test_correct_files_records_provenance_and_keeps_integers(tmp_path, movie):
    path = _write(tmp_path, movie)
    correct_files([str(path)], str(tmp_path / "g"), ["gain", "outliers"])
    correct_files([str(path)], str(tmp_path / "o"), ["outliers"])
    correct_files([str(path)], str(tmp_path / "h"), ["gain", "outliers"], dtype="float16")
    with mrczio.open(tmp_path / "g" / "movie.mrcz") as r:
        assert r.dtype == np.float32
        applied = r.metadata["corrections_applied"]
        assert "gain_reference" not in r.metadata
    gain = movie[1]
    assert applied["references"]["gain"]["sha256"] == hashlib.sha256(gain.tobytes()).hexdigest()
    assert applied["filters"] == ["gain", "outliers"]
    assert applied["mrczio_version"] == mrczio.__version__
    assert applied["parameters"]["gain"] == {"dose_rate": 4.0}
    assert applied["parameters"]["outliers"]["mode"] == "default"
    report = applied["reports"]["outliers"]
    assert {"t_hot", "t_dark", "t_hot_source", "n_outliers", "n_transient"} <= set(report)
    with mrczio.open(tmp_path / "o" / "movie.mrcz") as r:
        kept = r.read()
        assert r.dtype == np.uint8 and r.metadata["corrections_applied"]["output_dtype"] == "uint8"
    raw = movie[0].data
    changed = kept != raw
    assert 0 < changed.mean() < 0.02
    assert abs(kept.mean(dtype=np.float64) - raw.mean(dtype=np.float64)) < 0.05
    assert mrczio.imread(tmp_path / "h" / "movie.mrcz").dtype == np.float16


def test_cli_correct_dtype_option(tmp_path, movie):
    from mrczio.cli import main

    path = _write(tmp_path, movie)
    out = tmp_path / "cli"
    assert main(["correct", str(path), "-o", str(out), "--filters", "outliers",
                 "--dtype", "float32"]) == 0  # fmt: skip
    assert mrczio.imread(out / "movie.mrcz").dtype == np.float32


PROBE = textwrap.dedent(
    """
    import os, resource, sys
    import numpy as np
    import mrczio
    from mrczio.correct import correct_files
    src, out, mult = sys.argv[1], sys.argv[2], float(sys.argv[3])
    tiny = os.path.join(out, "tiny.mrc")
    mrczio.imwrite(tiny, np.ones((4, 32, 32), np.uint8), overwrite=True)
    params = {"gain": {"gamma": 0.9, "check_orientation": False}, "outliers": {"threads": 1}}
    correct_files([tiny], os.path.join(out, "warm"), ["gain", "outliers"], suffix=".mrc", overwrite=True,
                  params={**params, "gain": {**params["gain"], "gain": np.ones((32, 32))}})
    with mrczio.open(src) as reader:
        shape = tuple(reader.frame_shape)
    gain = np.random.default_rng(0).uniform(0.9, 1.1, shape).astype(np.float32)
    params["gain"]["gain"] = gain
    vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
    limit = int(vm + mult * os.path.getsize(src))
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    correct_files([src], os.path.join(out, "big"), ["gain", "outliers"], suffix=".mrc", overwrite=True,
                  params=params)
    print("done")
    """
)


def _probe(tmp_path: Path, mult: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MALLOC_ARENA_MAX="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "in.mrc"), str(tmp_path), str(mult)],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("frames, side", [(128, 512), (50, 1024)])
def test_gain_and_outliers_stream_within_twice_the_input_size(tmp_path, frames, side):
    # Detection keeps a few integer/float32 images of one frame, among them the 8
    # frame-bin sums (about 45 bytes per pixel in all at 4096^2, whatever the frame
    # count: benchmarks/corrections_memory.py) and the stream two frames; 50 uint8
    # frames are 50 bytes per pixel, so the 50-frame case is the tight one.
    x = np.empty((frames, side, side), np.uint8)
    rng = np.random.default_rng(1)
    for t in range(frames):
        x[t] = rng.poisson(1.0, (side, side))
    mrczio.imwrite(tmp_path / "in.mrc", x)
    del x
    run = _probe(tmp_path, 2.0)
    assert run.returncode == 0 and "done" in run.stdout, run.stderr[-2000:]
    assert mrczio.imread(tmp_path / "big" / "in.mrc").shape == (frames, side, side)
    starved = _probe(tmp_path, 0.25)  # the ceiling is real: a quarter of it is not enough
    assert starved.returncode != 0 and "MemoryError" in starved.stderr
