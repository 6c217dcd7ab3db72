"""The MRCZ frame codecs: blosc with blosclz, lz4, lz4hc, zlib or zstd inside.

Writing uses python-blosc, which makes blosc1-format chunks (version byte 2) that
python-mrcz 0.5/0.6, c-mrcz and numcodecs all read; ``chunk_format="blosc2"`` writes
version-5 chunks with python-blosc2 instead. Reading always uses python-blosc2, which
decodes both formats straight into the output array.

Compressor ids are python-mrcz's (``MODE // 1000``). Decoding trusts the chunk's own
header, never the id: python-mrcz <= 0.5.7 wrote lz4hc as 2, and lz4 and lz4hc share one
codec code inside a blosc1 chunk.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, ClassVar, Self

import numpy as np

from mrczio.chunks import CHUNK_HEADER_SIZE, ChunkHeader
from mrczio.contracts import CodecParameter, FrameCodec, integer_in
from mrczio.errors import CodecError, MrczioWarning
from mrczio.hookspecs import hookimpl

#: Environment variables through which c-blosc overrides what the caller asked for.
BLOSC_ENVIRONMENT = (
    "BLOSC_CLEVEL", "BLOSC_COMPRESSOR", "BLOSC_SHUFFLE", "BLOSC_TYPESIZE", "BLOSC_BLOCKSIZE",
    "BLOSC_NTHREADS", "BLOSC_SPLITMODE", "BLOSC_NOLOCK", "BLOSC_DELTA",
)  # fmt: skip

#: Block size for byte-shuffled (or unshuffled) frames when ``blocksize=0``. Measured on
#: K2-size frames (docs/benchmarks.md, "Figure 2d"): 512 KiB..4 MiB blocks give the same
#: ratio within 0.5 %; 256 KiB and smaller lose up to 15 % on 16-bit integrating frames.
DEFAULT_BLOCKSIZE = 1 << 20

#: Bytes of one bit plane in a bit-shuffled block when ``blocksize=0``: 128 KiB, the size
#: of one zstd block, so every bit plane gets its own entropy tables. The block is
#: therefore ``8 * itemsize * PLANE_BYTES`` (1 MiB for 8-bit counts, 2 MiB for 16-bit).
#: On Poisson counts this is 0-7 % smaller than python-mrcz's 64 KiB blocks and within
#: 2 % of the best block size at every dose from 0.1 to 4 (docs/benchmarks.md).
PLANE_BYTES = 1 << 17

#: Bytes of the sample that ``filter="auto"`` compresses with each shuffle to choose one.
TRIAL_BYTES = 1 << 19

#: blosc's shuffle codes (the same in python-blosc and python-blosc2).
_SHUFFLES = {"none": 0, "shuffle": 1, "bitshuffle": 2}
_EXPECTED_FORMAT = {"blosclz": 0, "lz4": 1, "lz4hc": 1, "zlib": 3, "zstd": 4}


@functools.cache
def _blosc() -> ModuleType:
    """python-blosc, imported on first compression (reading plain MRC never needs it)."""
    import blosc

    blosc.set_releasegil(True)  # lets a writer compress several frames at once in helper threads
    module: ModuleType = blosc
    return module


@functools.cache
def _blosc2() -> ModuleType:
    """python-blosc2, imported on first use: it decodes every chunk and writes blosc2 ones."""
    import blosc2

    blosc2.set_releasegil(True)
    module: ModuleType = blosc2
    return module


_environment_lock = threading.Lock()
_environment_users = 0
_hidden_environment: dict[str, str] = {}


@contextmanager
def _without_blosc_environment() -> Iterator[None]:
    """Hide BLOSC_* variables from c-blosc while compressing (warning for each found).

    Concurrent compressions share one hiding: the first hides, the last restores.
    """
    global _environment_users
    with _environment_lock:
        saved = {name: os.environ.pop(name) for name in BLOSC_ENVIRONMENT if name in os.environ}
        _hidden_environment.update(saved)
        _environment_users += 1
    for name in sorted(saved):
        warnings.warn(
            f"mrczio ignores the environment variable {name} when writing; pass the "
            f"setting explicitly (codec=, level=, filter=, blocksize=, threads=)",
            MrczioWarning,
            stacklevel=4,
        )
    try:
        yield
    finally:
        with _environment_lock:
            _environment_users -= 1
            if _environment_users == 0:
                os.environ.update(_hidden_environment)
                _hidden_environment.clear()


def auto_blocksize(shuffle: str, itemsize: int) -> int:
    """The block size used when ``blocksize=0``, for a resolved shuffle filter."""
    if shuffle == "bitshuffle":
        return 8 * itemsize * PLANE_BYTES
    return DEFAULT_BLOCKSIZE


def choose_filter(frame: np.ndarray, requested: str, cname: str = "zstd", level: int = 1) -> str:
    """Resolve ``filter="auto"`` by compressing a sample with each shuffle filter.

    The sample is :data:`TRIAL_BYTES` from the middle of the frame, compressed as one
    block on one thread (about 2 ms). Bit-shuffle wins on sparse counts (Poisson doses
    up to ~2.5 e-/pixel), byte-shuffle on dense counts and 16-bit integrating frames;
    on K2-size frames the sample picked the same filter as whole-frame trials at every
    dose from 0.1 to 6 and on the real uint16 frame (docs/benchmarks.md).
    """
    if requested != "auto":
        return requested
    flat = frame.reshape(-1)
    count = min(flat.size, max(1, TRIAL_BYTES // flat.dtype.itemsize))
    start = (flat.size - count) // 2
    sample = np.ascontiguousarray(flat[start : start + count])
    sizes = {
        shuffle: len(_blosc1_compress(sample, level, shuffle, cname, threads=1, blocksize=sample.nbytes))
        for shuffle in ("bitshuffle", "shuffle")
    }
    return min(sizes, key=lambda name: (sizes[name], name))


class _GlobalSettingsGate:
    """Lets python-blosc calls with the same (threads, blocksize) run concurrently.

    python-blosc keeps the thread count and block size process-wide. Calls that need the
    same values share them (a writer compresses several frames at once, one thread
    each); a call that needs other values waits until the running ones finish.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._current: tuple[int, int] | None = None
        self._saved_threads = 1
        self._active = 0

    @contextmanager
    def use(self, threads: int, blocksize: int) -> Iterator[None]:
        wanted = (threads, blocksize)
        with self._condition:
            self._condition.wait_for(lambda: self._active == 0 or self._current == wanted)
            if self._current != wanted:
                blosc = _blosc()
                previous = blosc.set_nthreads(threads)
                if self._current is None:
                    self._saved_threads = previous
                blosc.set_blocksize(blocksize)
                self._current = wanted
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                if self._active == 0:  # leave python-blosc as other users set it
                    _blosc().set_blocksize(0)
                    _blosc().set_nthreads(self._saved_threads)
                    self._current = None
                self._condition.notify_all()


_gate = _GlobalSettingsGate()


def _blosc1_compress(
    frame: np.ndarray, level: int, shuffle: str, cname: str, *, threads: int, blocksize: int
) -> bytes:
    """One blosc1 chunk made by python-blosc (GIL released, see :class:`_GlobalSettingsGate`)."""
    address = frame.__array_interface__["data"][0]
    with _without_blosc_environment(), _gate.use(threads, blocksize):
        chunk: bytes = _blosc().compress_ptr(
            address, frame.size, frame.dtype.itemsize, level, _SHUFFLES[shuffle], cname
        )
    return chunk


def _non_negative(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


BLOSC_PARAMETERS: dict[str, CodecParameter] = {
    "level": CodecParameter(1, integer_in(0, 9), "compression level 0..9"),
    "filter": CodecParameter(
        "auto", lambda v: str(v).lower(), "shuffle filter; auto picks one by a trial on the first frame",
        choices=("auto", "bitshuffle", "shuffle", "none"),
    ),
    "blocksize": CodecParameter(0, _non_negative, "blosc block size in bytes; 0 chooses by filter"),
    "chunk_format": CodecParameter(
        "blosc1", lambda v: str(v).lower(), "blosc1 (read by every MRCZ reader) or blosc2 chunks",
        choices=("blosc1", "blosc2"),
    ),
}  # fmt: skip


class BloscCodec(FrameCodec):
    """One blosc compressor. Any instance decodes any blosc chunk."""

    cname: ClassVar[str]
    parameters = BLOSC_PARAMETERS

    def encode(self, frame: np.ndarray, *, threads: int = 1) -> bytes:
        if frame.nbytes >= (1 << 31) - 64:
            raise CodecError(f"a frame of {frame.nbytes} bytes exceeds blosc's 2 GiB chunk limit")
        tuned = self.tune(frame).config
        threads = threads or (os.cpu_count() or 1)
        if tuned["chunk_format"] == "blosc2":
            chunk = self._encode_blosc2(frame, tuned, threads)
        else:
            chunk = _blosc1_compress(
                frame, tuned["level"], tuned["filter"], self.cname,
                threads=threads, blocksize=tuned["blocksize"],
            )  # fmt: skip
        self._check_codec(chunk)
        return chunk

    def tune(self, frame: np.ndarray) -> Self:
        """Resolve ``filter="auto"`` and ``blocksize=0`` for frames like ``frame``."""
        if self.config["filter"] != "auto" and self.config["blocksize"] > 0:
            return self
        shuffle = choose_filter(frame, self.config["filter"], self.cname, self.config["level"])
        blocksize = self.config["blocksize"] or auto_blocksize(shuffle, frame.dtype.itemsize)
        return self.configured(filter=shuffle, blocksize=blocksize)

    def _encode_blosc2(self, frame: np.ndarray, config: dict[str, Any], threads: int) -> bytes:
        blosc2 = _blosc2()
        cparams = blosc2.CParams(
            codec=blosc2.Codec[self.cname.upper()],
            clevel=config["level"],
            typesize=frame.dtype.itemsize,
            nthreads=threads,
            blocksize=config["blocksize"],
            filters=[blosc2.Filter(_SHUFFLES[config["filter"]])],
            filters_meta=[0],
        )
        with _without_blosc_environment():
            return bytes(blosc2.compress2(frame, cparams=cparams))

    def _check_codec(self, chunk: bytes) -> None:
        header = ChunkHeader.parse(chunk)
        if header.flags & 0x02:  # stored uncompressed: no codec recorded
            return
        if header.blosc_format == 1 and header.flags >> 5 != _EXPECTED_FORMAT[self.name]:
            raise CodecError(f"blosc wrote a {header.codec_format} chunk although {self.name} was requested")

    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray, *, threads: int = 1) -> None:
        decode_blosc_chunk(chunk, out, threads)

    def decode_threads(self, chunk: bytes | memoryview) -> int:
        return decode_threads(ChunkHeader.parse(chunk)) if len(chunk) >= CHUNK_HEADER_SIZE else 1

    def describe(self, chunk: bytes | memoryview) -> dict[str, Any]:
        header = ChunkHeader.parse(chunk)
        return {
            "codec": header.codec_format,
            "chunk_format": f"blosc{header.blosc_format}",
            "filter": header.shuffle if header.blosc_format == 1 else "(blosc2 pipeline)",
            "blocksize": header.blocksize,
            "typesize": header.typesize,
        }


def decode_threads(header: ChunkHeader) -> int:
    """Threads for decoding one chunk when the caller leaves the choice to the codec:
    one per block, at most one per CPU. blosc starts its threads anew for every call
    (about 0.1 ms), which a chunk of one block cannot repay; a K2-size frame of 14 blocks
    decodes 1.9x faster on 2 threads than on one (8.7 vs 4.7 ms, docs/benchmarks.md)."""
    blocks = -(-header.nbytes // max(header.blocksize, 1))
    return max(1, min(blocks, os.cpu_count() or 1))


def decode_blosc_chunk(chunk: bytes | memoryview, out: np.ndarray, threads: int = 0) -> None:
    """Decode a blosc1 or blosc2 chunk into ``out`` after checking its declared size."""
    header = ChunkHeader.parse(chunk)
    if not header.is_blosc:
        raise CodecError(f"chunk is not a blosc chunk (version byte {header.version})")
    if header.nbytes != out.nbytes:
        raise CodecError(f"chunk decodes to {header.nbytes} bytes, expected {out.nbytes}")
    if len(chunk) < max(header.cbytes, CHUNK_HEADER_SIZE):
        raise CodecError(f"chunk is {len(chunk)} bytes but declares {header.cbytes}")
    try:
        _blosc2().decompress2(chunk, dst=out, nthreads=threads or decode_threads(header))
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CodecError(f"blosc could not decode the chunk: {exc}") from exc


class BloscLZ(BloscCodec):
    name = "blosclz"
    cname = "blosclz"
    compressor_id = 1


class LZ4(BloscCodec):
    name = "lz4"
    cname = "lz4"
    compressor_id = 2


class LZ4HC(BloscCodec):
    name = "lz4hc"
    cname = "lz4hc"
    compressor_id = 3


class Zlib(BloscCodec):
    name = "zlib"
    cname = "zlib"
    compressor_id = 5


class Zstd(BloscCodec):
    name = "zstd"
    cname = "zstd"
    compressor_id = 6


@hookimpl
def mrczio_register_codecs() -> list[FrameCodec]:
    return [BloscLZ(), LZ4(), LZ4HC(), Zlib(), Zstd()]
