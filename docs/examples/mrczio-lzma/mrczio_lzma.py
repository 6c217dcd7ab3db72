"""An mrczio frame codec that compresses each frame with Python's lzma module.

Files written with it are MRCZ files that only mrczio (with this plugin) can read:
python-mrcz and c-mrcz know only the blosc compressor ids.
"""

from __future__ import annotations

import lzma

import numpy as np

from mrczio import CodecError, CompressionSettings, FrameCodec, hookimpl
from mrczio.chunks import frame_payload, framed_payload


class LzmaCodec(FrameCodec):
    name = "lzma"
    compressor_id = 100  # python-mrcz uses ids 0..15; pick one above them

    def encode(self, frame: np.ndarray, settings: CompressionSettings) -> bytes:
        payload = lzma.compress(frame.tobytes(), preset=settings.level)
        return frame_payload(payload, frame.nbytes, frame.dtype.itemsize)

    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray) -> None:
        try:
            raw = lzma.decompress(framed_payload(chunk))
        except lzma.LZMAError as exc:
            raise CodecError(f"lzma chunk is damaged: {exc}") from exc
        if len(raw) != out.nbytes:
            raise CodecError(f"lzma chunk holds {len(raw)} bytes, expected {out.nbytes}")
        out.reshape(-1).view(np.uint8)[:] = np.frombuffer(raw, dtype=np.uint8)


@hookimpl
def mrczio_register_codecs() -> list[FrameCodec]:
    return [LzmaCodec()]
