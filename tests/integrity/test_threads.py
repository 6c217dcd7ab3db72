"""One reader shared by several threads returns every frame exactly (every format).

Without the TIFF reader's lock this test saw dozens of wrong frames and tifffile errors
per run (page directories parsed and strips read through one shared file position).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import mrczio

THREADS = 6
ROUNDS = 80


@pytest.mark.parametrize(
    ("name", "options"),
    [("a.tif", {}), ("b.tif", {"compression": "none"}), ("c.mrc", {}), ("d.mrcz", {})],
)
def test_threads_hammering_one_reader(
    tmp_path: Path, name: str, options: dict[str, object]
) -> None:
    rng = np.random.default_rng(7)
    stack = rng.poisson(3.0, size=(32, 192, 160)).astype(np.uint16)
    path = tmp_path / name
    mrczio.imwrite(path, stack, **options)  # type: ignore[arg-type]
    wrong: list[tuple[int, int]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def hammer(seed: int) -> None:
        order = np.random.default_rng(seed)
        start.wait()
        try:
            for _ in range(ROUNDS):
                k = int(order.integers(len(stack)))
                if k % 3 == 0:
                    got = reader[k : k + 2]
                    if not np.array_equal(got, stack[k : k + 2]):
                        wrong.append((seed, k))
                elif not np.array_equal(reader[k], stack[k]):
                    wrong.append((seed, k))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    with mrczio.open(path) as reader:
        threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == [] and wrong == []
