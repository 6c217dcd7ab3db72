"""An mrczio frame codec that compresses each frame with Python's lzma module.

Files written with it are MRCZ files that only mrczio (with this plugin) can read:
python-mrcz and c-mrcz know only the blosc compressor ids.
"""

from __future__ import annotations

import lzma

import numpy as np

from mrczio import CodecError, CodecParameter, FrameCodec, hookimpl
from mrczio.chunks import frame_payload, framed_payload


def _flag(value: object) -> bool:
    """A boolean from Python or from the command line's text ("true", "0", ...)."""
    if isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{value!r} is not true or false")
        return value.lower() in ("true", "1", "yes")
    return bool(value)


class LzmaCodec(FrameCodec):
    name = "lzma"
    compressor_id = 100  # python-mrcz uses ids 0..15; pick one above them
    # The parameters this codec takes: imwrite(..., codec="lzma", preset=9, extreme=True)
    # or on the command line --codec-option preset=9 --codec-option extreme=true.
    parameters = {
        "preset": CodecParameter(6, int, "lzma preset 0..9", choices=tuple(range(10))),
        "extreme": CodecParameter(False, _flag, "slower, sometimes smaller (lzma.PRESET_EXTREME)"),
    }

    def encode(self, frame: np.ndarray, *, threads: int = 1) -> bytes:
        preset = self.config["preset"] | (lzma.PRESET_EXTREME if self.config["extreme"] else 0)
        payload = lzma.compress(frame.tobytes(), preset=preset)
        return frame_payload(payload, frame.nbytes, frame.dtype.itemsize)

    def decode_into(self, chunk: bytes | memoryview, out: np.ndarray, *, threads: int = 1) -> None:
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
