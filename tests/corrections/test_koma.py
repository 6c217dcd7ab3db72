"""KOMA: window rule, running update vs brute force, streaming, both apply modes."""

from __future__ import annotations

import numpy as np
import pytest

from mrczio.corrections.koma import (
    KomaStream,
    apply_reference,
    correct_series,
    koma_reference_bruteforce,
    koma_references,
    koma_window,
    model_reference,
    stack_mean,
)
from mrczio.corrections.metrics import mean_pair_r
from mrczio.errors import CorrectionInputError, NonFiniteInputError, OptionError
from mrczio.synthetic import DetectorModel, SyntheticDetector, counting_movie


def test_window_is_centred_inside_and_shifted_at_the_ends():
    assert koma_window(5, 20, 2) == (3, 8)
    assert koma_window(0, 20, 2) == (0, 5)
    assert koma_window(1, 20, 2) == (0, 5)
    assert koma_window(19, 20, 2) == (15, 20)
    assert koma_window(17, 20, 2) == (15, 20)
    assert koma_window(2, 4, 2) == (0, 4)
    with pytest.raises(ValueError):
        koma_window(0, 5, 0)


@pytest.mark.parametrize(("n", "radius"), [(11, 2), (9, 1), (7, 3), (4, 2), (2, 5)])
def test_running_update_equals_brute_force(n, radius):
    rng = np.random.default_rng(n * 10 + radius)
    means = [rng.random((6, 5)) for _ in range(n)]
    refs = list(koma_references(means, radius))
    assert [i for i, _ in refs] == list(range(n))
    for i, ref in refs:
        np.testing.assert_allclose(ref, koma_reference_bruteforce(means, i, radius), rtol=1e-12)
        start, stop = koma_window(i, n, radius)
        assert stop - start - 1 == min(2 * radius, n - 1)


def test_stream_latency_and_memory():
    radius = 3
    stream = KomaStream(radius)
    rng = np.random.default_rng(1)
    emitted: list[int] = []
    for j in range(12):
        ready = stream.push(rng.random((3, 3)))
        emitted += [i for i, _ in ready]
        assert len(stream._buf) <= 2 * radius + 1
        if j >= 2 * radius:
            assert emitted[-1] == j - radius
        else:
            assert ready == []
    emitted += [i for i, _ in stream.flush()]
    assert emitted == list(range(12))
    assert stream.latency == radius


def test_flush_with_single_stack_raises():
    stream = KomaStream(1)
    stream.push(np.ones((2, 2)))
    with pytest.raises(ValueError):
        stream.flush()


def test_multiplicative_mode_removes_a_gain_pattern():
    rng = np.random.default_rng(2)
    pattern = 1 + 0.1 * rng.random((16, 16))
    stack = np.stack([pattern * 7.0] * 3)
    out = apply_reference(stack, pattern * 3.0, "multiply")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 7.0 * pattern.mean(), rtol=1e-5)


def test_subtractive_mode_removes_an_additive_pattern_and_keeps_the_mean():
    rng = np.random.default_rng(3)
    pattern = rng.random((16, 16))
    stack = np.stack([pattern + 5.0] * 2)
    out = apply_reference(stack, pattern + 5.0, "subtract")
    np.testing.assert_allclose(out, stack.mean(), rtol=1e-5)
    assert out.mean() == pytest.approx(stack.mean(), rel=1e-5)
    with pytest.raises(ValueError):
        apply_reference(stack, pattern, "divide")


@pytest.mark.parametrize("mode", ["multiply", "subtract"])
def test_correct_series_matches_per_stack_brute_force(mode):
    rng = np.random.default_rng(4)
    pattern = 1 + 0.2 * rng.random((8, 8))
    stacks = [rng.poisson(3 * pattern, (4, 8, 8)).astype(np.uint8) for _ in range(7)]
    means = [stack_mean(s) for s in stacks]
    got = dict(correct_series(iter(stacks), 2, mode))
    assert sorted(got) == list(range(7))
    for i, s in enumerate(stacks):
        ref = koma_reference_bruteforce(means, i, 2)
        np.testing.assert_allclose(got[i], apply_reference(s, ref, mode), rtol=1e-6)


# ---------------------------------------------------------------- modelled reference


def _vacuum_series(model, n_stacks=5, frames=10, seed=5):
    det = SyntheticDetector(model, seed=seed)
    stacks = [
        det.stack(frames, dose_rate=4.0, frame_time=0.25, contrast=0.0, outliers=False).data
        for _ in range(n_stacks)
    ]
    return det, stacks


_QUIET = {"static_hot": 0.0, "hot_birth": 0.0, "dead": 0.0}


def test_model_reference_captures_block_pattern():
    """Only a 1.5 % block pattern: the model recovers it far below the raw reference's
    noise, and correcting with it removes the frame-to-frame correlation that the raw
    KOMA reference (1/(2an) noise) makes worse."""
    model = DetectorModel(
        shape=(256, 256), etch_amplitude=0.0, column_gain=0.0, row_gain=0.0, seam_depth=0.0,
        block_pattern=0.015, **_QUIET,
    )  # fmt: skip
    det, stacks = _vacuum_series(model)
    truth = det.flat(4.0)
    truth = truth / truth.mean() - 1
    ref = np.mean([stack_mean(s) for j, s in enumerate(stacks) if j != 2], axis=0)
    fit = model_reference(ref)
    assert fit.applied
    err = fit.reference / fit.reference.mean() - 1 - truth
    raw_err = ref / ref.mean() - 1 - truth
    assert err.std() < 0.2 * truth.std() and err.std() < 0.05 * raw_err.std()
    uncorrected = mean_pair_r(stacks[2])
    raw = dict(correct_series(stacks, 2))[2]
    modelled = dict(correct_series(stacks, 2, model=True))[2]
    assert mean_pair_r(modelled) < 0.25 * uncorrected
    assert mean_pair_r(modelled) < 0.05 * mean_pair_r(raw)


def test_model_reference_beats_raw_on_full_pattern():
    """Etching + CMOS rows/columns/seams + blocks: the modelled reference leaves less
    correlation than no correction and far less than the raw KOMA reference."""
    _, stacks = _vacuum_series(DetectorModel(shape=(256, 256), block_pattern=0.015, **_QUIET))
    r_none = mean_pair_r(stacks[2])
    r_raw = mean_pair_r(dict(correct_series(stacks, 2))[2])
    r_model = mean_pair_r(dict(correct_series(stacks, 2, model=True))[2])
    assert r_model < r_none < r_raw


def test_model_reference_not_applied_without_pattern():
    """Pure Poisson frames: no term stands out of its noise, the reference is flat and
    the stack comes back unchanged."""
    stacks = [counting_movie(10, (256, 256), 1.0, seed=k) for k in range(5)]
    ref = np.mean([stack_mean(s) for s in stacks[1:]], axis=0)
    fit = model_reference(ref)
    assert not fit.applied and fit.pattern == 0.0 and fit.noise == 0.0
    np.testing.assert_array_equal(fit.reference, np.full(ref.shape, ref.mean()))
    out = dict(correct_series(stacks, 2, model=True))[0]
    np.testing.assert_array_equal(out, stacks[0].astype(np.float32))


def test_model_reference_rejects_bad_input():
    with pytest.raises(CorrectionInputError):
        model_reference(np.zeros((8, 8)))
    with pytest.raises(NonFiniteInputError):
        model_reference(np.full((8, 8), np.nan))
    with pytest.raises(OptionError):
        model_reference(np.ones((8, 8)), block_size=0)
