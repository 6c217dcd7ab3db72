"""Peak memory of streaming gain + outlier correction (issue 16: at most 2x the input).

Run from the repository root::

    PYTHONPATH=.:plugins:benchmarks python benchmarks/corrections_memory.py            # 50 x 4096^2
    PYTHONPATH=.:plugins:benchmarks python benchmarks/corrections_memory.py --side 1024

Writes a seeded uint8 Poisson stack (1 e-/pix/frame, 0.5 % hot pixels) as plain MRC,
then runs ``mrczio.correct.correct_files(..., ["gain", "outliers"])`` in fresh child
processes: what ``mrczio correct --filters gain,outliers`` does, including reading the
file and writing the float32 output. Each child loads the plugins and corrects a tiny
file first (imports, codecs, thread pool), makes the gain reference, then measures:

- ``rss``: the peak resident set during the correction above the resident set just
  before it (``VmHWM`` is reset through ``/proc/self/clear_refs`` first, so earlier
  peaks do not hide it);
- ``traced``: the peak of ``tracemalloc`` (numpy reports its buffers to it) above the
  start, in a second child (tracing costs time).

Both are reported as a multiple of the input's size, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, os, sys, time, tracemalloc
    import numpy as np
    import mrczio
    from mrczio.correct import correct_files

    src, out, mode, path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    tiny = os.path.join(out, "tiny.mrc")
    mrczio.imwrite(tiny, np.ones((4, 32, 32), np.uint8), overwrite=True)
    warm = {"gain": {"gain": np.ones((32, 32), np.float32), "gamma": 0.9}}
    correct_files([tiny], os.path.join(out, "warm"), ["gain", "outliers"], suffix=".mrc",
                  overwrite=True, params=warm)
    with mrczio.open(src) as reader:
        shape = tuple(reader.frame_shape)
    gain = np.random.default_rng(0).uniform(0.9, 1.1, shape).astype(np.float32)
    params = {"gain": {"gain": gain, "gamma": 0.9}}

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

    if mode == "rss":
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set (VmHWM) to the current one
        before = status("VmRSS:")
    else:
        tracemalloc.start()
    t0 = time.perf_counter()
    if path == "stream":
        reports = correct_files([src], os.path.join(out, "big"), ["gain", "outliers"], suffix=".mrc",
                                overwrite=True, params=params)
        info = reports[0]["outliers"]
    else:  # the in-memory path: the whole stack and its float32 result in memory
        report = {}
        data = mrczio.imread(src)
        result = mrczio.apply_corrections(data, {}, ["gain", "outliers"], params, report=report)
        info = report["outliers"]
        del data, result
    seconds = time.perf_counter() - t0
    if mode == "rss":
        peak = status("VmHWM:") - before
    else:
        peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"peak": peak, "seconds": seconds, "n_outliers": info["n_outliers"],
                      "n_transient": info["n_transient"]}))
    """
)


def write_input(path: str, frames: int, side: int) -> int:
    """Write the seeded stack frame by frame; returns its size in bytes (data only)."""
    import mrczio

    rng = np.random.default_rng(1)
    hot = rng.random((side, side)) < 0.005
    lam = np.where(hot, 1.0 + rng.lognormal(np.log(6.0), 1.0, (side, side)) / np.sqrt(frames), 1.0)
    with mrczio.open_writer(path, (side, side), np.uint8, n_frames=frames, overwrite=True) as writer:
        for _ in range(frames):
            writer.write(np.minimum(rng.poisson(lam), 255).astype(np.uint8)[None])
    return frames * side * side


def child(src: str, out: str, mode: str, path: str = "stream") -> dict[str, float]:
    """Run one measurement in a fresh interpreter: ``mode`` "rss" or "traced", ``path``
    "stream" (``correct_files``) or "memory" (``imread`` + ``apply_corrections``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, src, out, mode, path],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"child ({mode}) failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--in-memory", action="store_true", help="also measure imread + apply_corrections")
    parser.add_argument("--dir", help="working folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mrczio-mem-", dir=args.dir) as tmp:
        src = os.path.join(tmp, "in.mrc")
        size = write_input(src, args.frames, args.side)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        rss = child(src, tmp, "rss")
        traced = child(src, tmp, "traced")
        load_after = os.getloadavg()
        mib = 2**20
        print(f"input {args.frames} x {args.side}^2 uint8: {size / mib:.0f} MiB")
        print(f"peak RSS growth: {rss['peak'] / mib:.0f} MiB = {rss['peak'] / size:.2f}x the input")
        print(f"peak traced:     {traced['peak'] / mib:.0f} MiB = {traced['peak'] / size:.2f}x the input")
        print(f"correct_files (RSS run): {rss['seconds']:.1f} s; outliers {rss['n_outliers']}, "
              f"transient {rss['n_transient']}")  # fmt: skip
        if args.in_memory:
            memory = child(src, tmp, "rss", "memory")
            print(f"in memory (imread + apply_corrections, float32 result held): peak RSS growth "
                  f"{memory['peak'] / mib:.0f} MiB = {memory['peak'] / size:.2f}x the input "
                  f"(the input itself is counted here, as it is read inside); {memory['seconds']:.1f} s")  # fmt: skip
            load_after = os.getloadavg()
        print(f"load average {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before, "
              f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after; "
              f"{time.perf_counter() - t0:.0f} s in all")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
