"""Peak memory of writing frames from an iterator; run in a fresh interpreter.

Usage: ``python -m benchmarks.memory_probe PATH FRAMES NY NX``. Prints JSON with the
tracemalloc peak (numpy reports its buffers to tracemalloc) and the growth of ru_maxrss
over the baseline taken just before writing.
"""

from __future__ import annotations

import json
import resource
import sys
import tracemalloc

import mrczio_builtin.blosc_codecs  # noqa: F401 - load plugins before the baseline

import mrczio
from benchmarks.data import poisson_frames


def main(argv: list[str]) -> int:
    path, count, ny, nx = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    mrczio.get_registry()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    mrczio.imwrite(path, poisson_frames(count, (ny, nx), 1.0), overwrite=True, fsync=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"frame_bytes": ny * nx, "traced_peak": peak, "rss_growth": rss - baseline}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
