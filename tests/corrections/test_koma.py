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
    stack_mean,
)


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
