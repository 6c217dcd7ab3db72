"""The paper's Figure 2: compression ratio against dose, level and block size, and speed
against threads, measured on single frames in memory with mrczio's blosc codecs."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

import mrczio
from benchmarks.data import entropy_bytes, poisson_stack
from benchmarks.report import Table
from benchmarks.timing import median

CODECS = ("zstd", "lz4", "lz4hc", "zlib", "blosclz")
#: python-mrcz 0.6.0's settings for a K2 frame on 2 threads: bit-shuffle, 64 KiB blocks.
MRCZ_RULE = {"filter": "bitshuffle", "blocksize": 1 << 16}


def encode(frame: np.ndarray, codec: str = "zstd", threads: int = 0, **settings: object) -> bytes:
    """One blosc1 chunk made by mrczio's codec (``filter="auto"``, ``blocksize=0`` by default)."""
    return mrczio.get_registry().codec(codec).configured(**settings).encode(frame, threads=threads)


def ratio_vs_dose(frames: dict[float, np.ndarray]) -> Table:
    columns = ["dose", "entropy bound", *CODECS, "python-mrcz rule (zstd)"]
    table = Table("ratio_vs_dose", "Figure 2a: compression ratio against dose (level 1, auto filter)", columns)
    for dose, frame in frames.items():
        ratios = [frame.nbytes / len(encode(frame, codec, level=1)) for codec in CODECS]
        rule = frame.nbytes / len(encode(frame, "zstd", level=1, **MRCZ_RULE))  # type: ignore[arg-type]
        table.add(dose, frame.nbytes / entropy_bytes(frame), *ratios, rule)
    return table


def ratio_vs_level(frame: np.ndarray, levels: Sequence[int]) -> Table:
    table = Table("ratio_vs_level", "Figure 2b: compression ratio against level (dose 1, auto filter)", ["level", *CODECS])
    for level in levels:
        table.add(level, *[frame.nbytes / len(encode(frame, codec, level=level)) for codec in CODECS])
    return table


def ratio_vs_blocksize(series: dict[str, tuple[np.ndarray, str]], blocksizes: Sequence[int]) -> Table:
    """size / entropy for each (frame, filter) series against the block size (zstd 1)."""
    table = Table("ratio_vs_blocksize", "Figure 2d: size / entropy bound against block size (zstd 1)",
                  ["block KiB", *series])  # fmt: skip
    bounds = {name: entropy_bytes(frame) for name, (frame, _) in series.items()}
    for blocksize in blocksizes:
        cells = [len(encode(frame, "zstd", level=1, filter=flt, blocksize=blocksize)) / bounds[name]
                 for name, (frame, flt) in series.items()]  # fmt: skip
        table.add(blocksize >> 10, *cells)
    return table


def blocksize_by_dose(frames: dict[float, np.ndarray], blocksizes: Sequence[int]) -> Table:
    """The measurement behind the default bit-shuffle block size."""
    table = Table("blocksize_by_dose", "Block size: size / entropy bound, bit-shuffle zstd 1, uint8 counts",
                  ["dose", *[f"{b >> 10} KiB" for b in blocksizes]])  # fmt: skip
    for dose, frame in frames.items():
        bound = entropy_bytes(frame)
        table.add(dose, *[len(encode(frame, filter="bitshuffle", blocksize=b)) / bound for b in blocksizes])
    return table


def auto_filter(frames: dict[str, np.ndarray]) -> Table:
    """What ``filter="auto"`` picks from its sample against whole-frame sizes of each filter."""
    from mrczio_builtin.blosc_codecs import choose_filter

    table = Table("auto_filter", "Auto filter: the sampled choice against whole-frame sizes (zstd 1, size / entropy)",
                  ["data", "auto picks", "bitshuffle", "shuffle", "auto / best"])  # fmt: skip
    for name, frame in frames.items():
        bound = entropy_bytes(frame)
        sizes = {flt: len(encode(frame, filter=flt)) for flt in ("bitshuffle", "shuffle")}
        pick = choose_filter(frame, "auto")
        table.add(name, pick, sizes["bitshuffle"] / bound, sizes["shuffle"] / bound, sizes[pick] / min(sizes.values()))
    return table


def speed_vs_threads(frames: np.ndarray, reps: int, threads: Sequence[int]) -> Table:
    """Compression and decompression GB/s of whole frames against the thread count.

    "frames" columns parallelise as mrczio's writer and reader do (one frame per thread,
    one blosc thread each); "blocks" columns use blosc's own threads on one frame at a
    time (python-mrcz's way, and mrczio's for a single frame).
    """
    columns = ["threads", "zstd compress", "zstd decompress", "zstd compress (blocks)",
               "zstd decompress (blocks)", "lz4 compress", "lz4 decompress"]  # fmt: skip
    table = Table("speed_vs_threads", "Figure 2c: speed against threads (zstd/lz4 1, auto filter, in memory)", columns)
    samples: dict[tuple[int, str], list[float]] = {}
    for _ in range(reps):
        for count in threads:
            for codec, split in (("zstd", True), ("zstd", False), ("lz4", True)):
                compress, decompress = _speeds(frames, codec, count, by_frame=split)
                label = codec if split else f"{codec} blocks"
                samples.setdefault((count, f"{label} c"), []).append(compress)
                samples.setdefault((count, f"{label} d"), []).append(decompress)
    keys = ("zstd c", "zstd d", "zstd blocks c", "zstd blocks d", "lz4 c", "lz4 d")
    for count in threads:
        table.add(count, *[median(samples[(count, key)]) for key in keys])
    return table


def _speeds(frames: np.ndarray, codec: str, threads: int, *, by_frame: bool) -> tuple[float, float]:
    """(compress, decompress) GB/s of ``frames`` on ``threads`` threads."""
    from concurrent.futures import ThreadPoolExecutor

    from mrczio_builtin.blosc_codecs import decode_blosc_chunk

    out = np.empty_like(frames)
    per_call = 1 if by_frame else threads
    with ThreadPoolExecutor(threads if by_frame else 1) as pool:
        start = time.perf_counter()
        chunks = list(pool.map(lambda f: encode(f, codec, threads=per_call), frames))
        compress = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(lambda k: decode_blosc_chunk(chunks[k], out[k], per_call), range(len(frames))))
        decompress = time.perf_counter() - start
    return frames.nbytes / compress / 1e9, frames.nbytes / decompress / 1e9


def dose_frames(doses: Sequence[float], shape: tuple[int, int]) -> dict[float, np.ndarray]:
    return {dose: poisson_stack(1, shape, dose, seed=index)[0] for index, dose in enumerate(doses)}
