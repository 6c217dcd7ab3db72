"""Row-block parallelism shared by the correction kernels.

numpy ufuncs and reductions release the GIL, so a thread pool over row blocks of a
(frames, ny, nx) stack scales on a few cores without copying the stack.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def resolve_threads(threads: int | None) -> int:
    """The number of worker threads: ``threads`` or, when ``None``/0, the CPU count."""
    if threads is None or threads <= 0:
        return os.cpu_count() or 1
    return int(threads)


def row_blocks(ny: int, block: int) -> list[tuple[int, int]]:
    """Split ``range(ny)`` into consecutive ``(start, stop)`` blocks of ``block`` rows."""
    block = max(1, int(block))
    return [(r, min(r + block, ny)) for r in range(0, ny, block)]


def for_each_block(
    fn: Callable[[int, int], None], ny: int, *, block: int, threads: int | None = None
) -> None:
    """Call ``fn(start, stop)`` for every row block, on ``threads`` threads."""
    blocks = row_blocks(ny, block)
    n = min(resolve_threads(threads), len(blocks))
    if n <= 1:
        for r0, r1 in blocks:
            fn(r0, r1)
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        for future in [pool.submit(fn, r0, r1) for r0, r1 in blocks]:
            future.result()
