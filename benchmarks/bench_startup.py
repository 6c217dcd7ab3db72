"""Start-up cost: a plain-MRC read in a fresh process, mrczio against mrcfile.

Each pair of commands runs interleaved in fresh interpreters (the cost measured is
import + open + read, what a shell loop over files pays per file), and the result is
the ratio of medians, with the machine's load average beside it::

    python -m benchmarks.bench_startup [--rounds 15]

Also reports ``python -X importtime`` totals for ``import mrczio`` and for building the
plugin registry, and whether scipy, tifffile, blosc or the corrections were imported by
a plain-MRC read (they should not be).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PAIRS = {
    "info": (["mrczio", "info", "{path}"], ["mrcfile-header", "{path}"]),
    "imread": (
        [sys.executable, "-c", "import mrczio; mrczio.imread({path!r})"],
        [sys.executable, "-c", "import mrcfile; mrcfile.read({path!r})"],
    ),
}
HEAVY = ("scipy", "tifffile", "blosc", "blosc2", "mrczio.corrections", "imageio")


def _run(command: list[str], path: str) -> float:
    argv = [part.format(path=path) for part in command]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def compare(path: str, rounds: int) -> dict[str, tuple[float, float, float]]:
    """name -> (mrczio median s, anchor median s, ratio)."""
    results = {}
    for name, (ours, anchor) in PAIRS.items():
        if shutil.which(ours[0]) is None or shutil.which(anchor[0]) is None:
            raise SystemExit(f"{name}: {ours[0]} or {anchor[0]} is not on PATH")
        _run(ours, path), _run(anchor, path)  # warm the page cache
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            times[0].append(_run(ours, path))
            times[1].append(_run(anchor, path))
        a, b = statistics.median(times[0]), statistics.median(times[1])
        results[name] = (a, b, a / b)
    return results


def heavy_modules_loaded(path: str) -> list[str]:
    """Heavy modules a plain-MRC ``imread`` imports."""
    code = (
        f"import sys, mrczio; mrczio.imread({path!r}); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def import_ms(statement: str) -> float:
    """Total self+children import time (ms) of the top-level modules ``statement`` imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], check=True, capture_output=True, text=True
    )
    total = 0
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            total += int(parts[1])
    return total / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "movie.mrc")
        import mrcfile

        stack = np.random.default_rng(0).poisson(1.0, (10, 512, 512)).astype(np.int16)
        mrcfile.write(path, stack)
        load = os.getloadavg()
        results = compare(path, args.rounds)
        heavy = heavy_modules_loaded(path)
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: {os.getloadavg()[0]:.2f}")
    for name, (ours, anchor, ratio) in results.items():
        print(f"{name:7s} mrczio {ours * 1000:7.1f} ms   mrcfile {anchor * 1000:7.1f} ms   ratio {ratio:.2f}")
    print(f"import mrczio: {import_ms('import mrczio'):.0f} ms (importtime, cumulative)")
    print(f"import + registry: {import_ms('import mrczio; mrczio.get_registry()'):.0f} ms")
    print(f"heavy modules loaded by a plain-MRC read: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
