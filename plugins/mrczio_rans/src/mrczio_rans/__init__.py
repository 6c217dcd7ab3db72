"""mrczio-rans: an order-0 rANS frame codec for mrczio (``codec="rans"``, compressor id 120).

A third-party plugin: it joins mrczio through the ``mrczio`` entry-point group and is
never imported by mrczio itself. Files written with it are readable only by mrczio with
this plugin installed. See docs/rans.md in the mrczio repository.
"""

from __future__ import annotations

from mrczio import FrameCodec, hookimpl
from mrczio_rans.codec import COMPRESSOR_ID, RansCodec

__all__ = ["COMPRESSOR_ID", "RansCodec", "mrczio_register_codecs"]


@hookimpl
def mrczio_register_codecs() -> list[FrameCodec]:
    return [RansCodec()]
