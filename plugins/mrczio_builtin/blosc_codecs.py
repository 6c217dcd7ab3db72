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

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import blosc
import blosc2
import numpy as np

from mrczio.chunks import CHUNK_HEADER_SIZE, ChunkHeader
from mrczio.contracts import CompressionSettings, FrameCodec
from mrczio.errors import CodecError, MrczioWarning
from mrczio.hookspecs import hookimpl

#: Environment variables through which c-blosc overrides what the caller asked for.
BLOSC_ENVIRONMENT = (
    "BLOSC_CLEVEL", "BLOSC_COMPRESSOR", "BLOSC_SHUFFLE", "BLOSC_TYPESIZE", "BLOSC_BLOCKSIZE",
    "BLOSC_NTHREADS", "BLOSC_SPLITMODE", "BLOSC_NOLOCK", "BLOSC_DELTA",
)  # fmt: skip

#: Default block size in bytes; see docs/formats.md for the measurement behind it.
DEFAULT_BLOCKSIZE = 1 << 20

_SHUFFLES = {"none": blosc.NOSHUFFLE, "shuffle": blosc.SHUFFLE, "bitshuffle": blosc.BITSHUFFLE}
_BLOSC2_FILTERS = {
    "none": blosc2.Filter.NOFILTER,
    "shuffle": blosc2.Filter.SHUFFLE,
    "bitshuffle": blosc2.Filter.BITSHUFFLE,
}
_EXPECTED_FORMAT = {"blosclz": 0, "lz4": 1, "lz4hc": 1, "zlib": 3, "zstd": 4}
_global_state = threading.Lock()  # python-blosc keeps blocksize and threads process-wide

blosc2.set_releasegil(True)


@contextmanager
def _without_blosc_environment() -> Iterator[None]:
    """Hide BLOSC_* variables from c-blosc while compressing (warning once each)."""
    saved = {name: os.environ.pop(name) for name in BLOSC_ENVIRONMENT if name in os.environ}
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
        os.environ.update(saved)


def choose_filter(frame: np.ndarray, requested: str) -> str:
    """Resolve ``filter="auto"``: bit-shuffle for bytes and sparse counts, else shuffle.

    Bit-shuffle wins when most high bits are zero (counting data); byte-shuffle wins on
    16-bit integrating frames and floats, whose low bytes are noisy.
    """
    if requested != "auto":
        return requested
    if frame.dtype.itemsize == 1:
        return "bitshuffle"
    if frame.dtype.kind in "iu" and frame.size:
        sample = frame.reshape(-1)[:: max(1, frame.size // 65536)]
        if int(np.max(np.abs(sample.astype(np.int64)))) < 256:
            return "bitshuffle"
    return "shuffle"


def _blocksize(settings: CompressionSettings) -> int:
    return settings.blocksize if settings.blocksize > 0 else DEFAULT_BLOCKSIZE


class BloscCodec(FrameCodec):
    """One blosc compressor. Any instance decodes any blosc chunk."""

    cname: ClassVar[str]

    def encode(self, frame: np.ndarray, settings: CompressionSettings) -> bytes:
        if frame.nbytes >= (1 << 31) - 64:
            raise CodecError(f"a frame of {frame.nbytes} bytes exceeds blosc's 2 GiB chunk limit")
        shuffle = choose_filter(frame, settings.filter)
        if settings.chunk_format == "blosc2":
            chunk = self._encode_blosc2(frame, settings, shuffle)
        else:
            chunk = self._encode_blosc1(frame, settings, shuffle)
        self._check_codec(chunk)
        return chunk

    def _encode_blosc1(self, frame: np.ndarray, settings: CompressionSettings, shuffle: str) -> bytes:
        address = frame.__array_interface__["data"][0]
        with _global_state, _without_blosc_environment():
            blosc.set_nthreads(settings.resolved_threads())
            blosc.set_blocksize(_blocksize(settings))
            try:
                return blosc.compress_ptr(
                    address, frame.size, frame.dtype.itemsize, settings.level,
                    _SHUFFLES[shuffle], self.cname,
                )  # fmt: skip
            finally:
                blosc.set_blocksize(0)

    def _encode_blosc2(self, frame: np.ndarray, settings: CompressionSettings, shuffle: str) -> bytes:
        cparams = blosc2.CParams(
            codec=blosc2.Codec[self.cname.upper()],
            clevel=settings.level,
            typesize=frame.dtype.itemsize,
            nthreads=settings.resolved_threads(),
            blocksize=_blocksize(settings),
            filters=[_BLOSC2_FILTERS[shuffle]],
            filters_meta=[0],
        )
        with _without_blosc_environment():
            return bytes(blosc2.compress2(frame, cparams=cparams))

    def _check_codec(self, chunk: bytes) -> None:
        header = ChunkHeader.parse(chunk)
        if header.flags & 0x02:  # stored uncompressed: no codec recorded
            return
        if header.blosc_format == 1 and header.flags >> 5 != _EXPECTED_FORMAT[self.name]:
            raise CodecError(
                f"blosc wrote a {header.codec_format} chunk although {self.name} was requested"
            )

    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray) -> None:
        decode_blosc_chunk(chunk, out)

    def describe(self, chunk: bytes | memoryview) -> dict[str, Any]:
        header = ChunkHeader.parse(chunk)
        return {
            "codec": header.codec_format,
            "chunk_format": f"blosc{header.blosc_format}",
            "filter": header.shuffle if header.blosc_format == 1 else "see blosc2 header",
            "blocksize": header.blocksize,
            "typesize": header.typesize,
        }


def decode_blosc_chunk(chunk: bytes | memoryview, out: np.ndarray, threads: int = 0) -> None:
    """Decode a blosc1 or blosc2 chunk into ``out`` after checking its declared size."""
    header = ChunkHeader.parse(chunk)
    if header.nbytes != out.nbytes:
        raise CodecError(f"chunk decodes to {header.nbytes} bytes, expected {out.nbytes}")
    if len(chunk) < max(header.cbytes, CHUNK_HEADER_SIZE):
        raise CodecError(f"chunk is {len(chunk)} bytes but declares {header.cbytes}")
    try:
        blosc2.decompress2(chunk, dst=out, nthreads=threads or (os.cpu_count() or 1))
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
