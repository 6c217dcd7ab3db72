"""Memory ceilings of the MRCZ paths (tracemalloc sees numpy's buffers and Python bytes):
a streaming write holds at most 4 frames, imread the output plus a few chunks."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator

import numpy as np

import mrczio

SHAPE = (3838, 3710)  # K2-size frames, as in the benchmarks
FRAMES = 6


def _frames() -> Iterator[np.ndarray]:
    rng = np.random.default_rng(1)
    for _ in range(FRAMES):
        frame = np.empty(SHAPE, dtype=np.uint8)
        for top in range(0, SHAPE[0], 64):  # a whole frame of int64 draws would be 8 frames
            frame[top : top + 64] = rng.poisson(1.0, (min(64, SHAPE[0] - top), SHAPE[1]))
        yield frame


def _peak(action: object) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        action()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_streaming_write_holds_at_most_four_frames(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "stream.mrcz")
    mrczio.imwrite(path, _frames(), overwrite=True)  # warm-up: plugins, codec imports
    frame_bytes = SHAPE[0] * SHAPE[1]
    peak = _peak(lambda: mrczio.imwrite(path, _frames(), overwrite=True))
    assert peak <= 4 * frame_bytes, f"peak {peak / frame_bytes:.2f} frames"


def test_imread_holds_the_output_plus_a_few_chunks(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "read.mrcz")
    mrczio.imwrite(path, _frames(), overwrite=True)
    with mrczio.open(path) as reader:
        largest_chunk = max(length for _, length in reader.chunk_spans())
    mrczio.imread(path)
    out_bytes = FRAMES * SHAPE[0] * SHAPE[1]
    peak = _peak(lambda: mrczio.imread(path))
    extra = peak - out_bytes
    assert extra <= 4 * largest_chunk, f"{extra / largest_chunk:.2f} chunks beyond the output"
