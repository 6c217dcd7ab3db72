"""Pearson metrics: the O(n*P) forms equal explicit pairwise averages."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mrczio.corrections.koma import apply_reference, koma_window
from mrczio.corrections.metrics import (
    adjacent_pair_r,
    cross_r,
    mean_pair_r,
    mean_pair_r_bruteforce,
    pearson,
    separated_pair_r,
    split_reference_cross_r,
)


@pytest.fixture
def correlated_stack():
    rng = np.random.default_rng(0)
    common = rng.standard_normal((32, 32))
    return np.stack([0.3 * common + rng.standard_normal((32, 32)) + 0.01 * t for t in range(9)])


def _pairwise(stack, keep):
    r = np.corrcoef(stack.reshape(stack.shape[0], -1))
    vals = [r[i, j] for i, j in itertools.permutations(range(stack.shape[0]), 2) if keep(i, j)]
    return float(np.mean(vals))


def test_pearson_matches_corrcoef(correlated_stack):
    a, b = correlated_stack[0], correlated_stack[1]
    assert pearson(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    mask = np.zeros(a.shape, bool)
    mask[::2] = True
    assert pearson(a, b, mask=mask) == pytest.approx(np.corrcoef(a[mask], b[mask])[0, 1])


def test_mean_pair_r_equals_brute_force(correlated_stack):
    expected = _pairwise(correlated_stack, lambda i, j: True)
    assert mean_pair_r(correlated_stack) == pytest.approx(expected, rel=1e-9)
    assert mean_pair_r_bruteforce(correlated_stack) == pytest.approx(expected, rel=1e-9)
    assert expected > 0.05


def test_adjacent_and_separated_pairs(correlated_stack):
    adj = _pairwise(correlated_stack, lambda i, j: abs(i - j) == 1)
    assert adjacent_pair_r(correlated_stack) == pytest.approx(adj, rel=1e-9)
    far = _pairwise(correlated_stack, lambda i, j: abs(i - j) >= 3)
    assert separated_pair_r(correlated_stack, 3) == pytest.approx(far, rel=1e-9)
    assert separated_pair_r(correlated_stack, 1) == pytest.approx(mean_pair_r(correlated_stack))
    with pytest.raises(ValueError):
        separated_pair_r(correlated_stack, 9)


def test_cross_r_and_crop(correlated_stack):
    a, b = correlated_stack[:4], correlated_stack[4:]
    r = np.corrcoef(correlated_stack[:, 2:-2, 2:-2].reshape(9, -1))
    assert cross_r(a, b, crop=2) == pytest.approx(r[:4, 4:].mean(), rel=1e-9)


def test_split_reference_cross_r_matches_definition():
    rng = np.random.default_rng(1)
    pattern = 1 + 0.3 * rng.random((24, 24))
    stacks = [rng.poisson(4 * pattern, (6, 24, 24)).astype(np.float32) for _ in range(5)]
    got = split_reference_cross_r(stacks, 0, 1)
    start, stop = koma_window(0, 5, 1)
    others = [j for j in range(start, stop) if j != 0]
    ref_a = np.mean([stacks[j][:3].mean(0) for j in others], axis=0)
    ref_b = np.mean([stacks[j][3:].mean(0) for j in others], axis=0)
    even = apply_reference(stacks[0][0::2], ref_a)
    odd = apply_reference(stacks[0][1::2], ref_b)
    r = np.corrcoef(np.concatenate([even, odd]).reshape(6, -1))
    assert got == pytest.approx(r[:3, 3:].mean(), rel=1e-6)
    raw = cross_r(stacks[0][0::2], stacks[0][1::2])
    assert raw > 0.02 and abs(got) < raw / 3


def test_moved_restored_and_specimen_subtracted_metrics():
    from mrczio.corrections.metrics import (
        moved_per_mpix,
        restored_fraction,
        specimen_subtracted_r,
    )

    rng = np.random.default_rng(11)
    rate = np.full((100, 100), 4.0)
    rate[:, 50:] = 8.0  # a specimen edge shared by every frame
    stack = rng.poisson(rate, (20, 100, 100)).astype(np.float64)
    hot = np.zeros((100, 100), bool)
    hot[10, 10] = True
    stack[:, 10, 10] += 30
    fixed = stack.copy()
    fixed[:, 10, 10] = rate[10, 10]
    assert moved_per_mpix(stack, fixed, ~hot) == 0.0
    smoothed = fixed.copy()
    smoothed[:, :, :50] = rate[0, 0]  # over-filtering moves normal pixels
    assert moved_per_mpix(stack, smoothed, ~hot) > 1e4
    assert restored_fraction(fixed, rate * 20, hot) == 1.0
    assert restored_fraction(stack, rate * 20, hot) == 0.0
    assert abs(specimen_subtracted_r(stack[:, 20:, 20:], rate[20:, 20:])) < 0.01
    assert mean_pair_r(stack[:, 20:, 20:]) > 0.1  # the specimen alone correlates frames
