"""The gain orientation check against a direct float64 computation of every variant."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from mrczio.corrections.gain import normalize_gain, orientation_check


def _highpass(image: np.ndarray, size: int) -> np.ndarray:
    local = uniform_filter(image, size=size, mode="mirror")
    hp = np.where(local > 0, image / np.where(local > 0, local, 1.0) - 1.0, 0.0)
    return hp - hp.mean()


def _reference(total: np.ndarray, gain: np.ndarray, size: int) -> dict[str, float]:
    g = normalize_gain(gain).astype(np.float64)
    flat = np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), 1.0)
    variants = {
        "as given": flat, "flipped up-down": flat[::-1], "flipped left-right": flat[:, ::-1],
        "rotated 180": flat[::-1, ::-1],
    }  # fmt: skip
    if flat.shape[0] == flat.shape[1]:
        variants |= {
            "transposed": flat.T, "rotated 90": np.rot90(flat), "rotated 270": np.rot90(flat, 3),
            "anti-transposed": np.rot90(flat, 2).T,
        }  # fmt: skip
    a = _highpass(total.astype(np.float64), size)
    out = {}
    for name, f in variants.items():
        b = _highpass(np.ascontiguousarray(f), size)
        out[name] = float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    return out


@pytest.mark.parametrize("shape", [(128, 128), (96, 160)])
@pytest.mark.parametrize("size", [3, 4, 5])
def test_every_orientation_matches_the_direct_computation(shape: tuple[int, int], size: int) -> None:
    rng = np.random.default_rng(size)
    gain = rng.uniform(0.9, 1.1, shape).astype(np.float32)
    total = rng.poisson(50.0 / gain)
    gain[3, 4] = 0.0  # a bad pixel
    ours, reference = orientation_check(total, gain, size), _reference(total, gain, size)
    assert ours.keys() == reference.keys()
    for name in ours:
        assert ours[name] == pytest.approx(reference[name], abs=1e-6), name
    assert max(ours, key=lambda k: ours[k]) == "as given"
