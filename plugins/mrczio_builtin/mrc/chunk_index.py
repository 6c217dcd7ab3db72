"""Where each frame's chunk of an MRCZ file starts and how long it is.

The chunks follow the extended header back to back; each begins with a 16-byte header
whose last word is the chunk's length (:mod:`mrczio.chunks`), so the index is found by
walking from chunk to chunk, one small read per frame, checking every length against the
data region before trusting it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mrczio.byte_source import ByteSource
from mrczio.chunks import CHUNK_HEADER_SIZE, ChunkHeader
from mrczio.errors import CorruptFrameError, FormatError, TruncatedFileError
from mrczio_builtin.mrc.layout import MrcLayout
from mrczio_builtin.mrc.problems import complain

Span = tuple[int, int]


def walk_chunks(source: ByteSource, layout: MrcLayout, *, permissive: bool) -> Sequence[Span] | np.ndarray:
    """(offset, length) of every frame's chunk, in frame order.

    A chunk that is damaged or runs past the data region ends the walk: an error, or in
    permissive mode a warning and the frames before it.
    """
    if layout.compressor_id == 0:
        raise FormatError(layout.path, "is not compressed; read it as plain MRC")
    if layout.checksums is not None:
        return indexed_spans(layout)
    spans: list[Span] = []
    position = layout.data_offset
    for k in range(layout.nz):
        header, problem = _chunk_at(source, layout, position)
        if header is None or problem:
            truncated = header is None or "past the end" in str(problem) or "runs past" in str(problem)
            error = TruncatedFileError if truncated else CorruptFrameError
            complain(layout.path, f"frame {k} of {layout.nz}: {problem}", permissive, error)
            break
        spans.append((position, header.cbytes))
        position += header.cbytes
    return spans


def _chunk_at(source: ByteSource, layout: MrcLayout, position: int) -> tuple[ChunkHeader | None, str | None]:
    if position + CHUNK_HEADER_SIZE > layout.data_limit:
        return None, f"chunk header at byte {position} is past the end of the data"
    header = ChunkHeader.parse(source.read_at(position, CHUNK_HEADER_SIZE, what="chunk header"))
    return header, header.problem(layout.section_nbytes, layout.data_limit - position)


def data_end(layout: MrcLayout, spans: Sequence[Span] | np.ndarray) -> int:
    """The byte offset just after the last frame's chunk."""
    return int(spans[-1][0]) + int(spans[-1][1]) if len(spans) else layout.data_offset


def indexed_spans(layout: MrcLayout) -> np.ndarray:
    """The (offset, length) rows the checksum block lists, checked to tile the data
    region exactly: one read at open instead of one per frame, and no Python loop."""
    assert layout.checksums is not None
    table = layout.checksums.table
    offsets, lengths = table["offset"].astype(np.int64), table["length"].astype(np.int64)
    ends = offsets + lengths
    tiled = len(table) == 0 or (
        offsets[0] == layout.data_offset
        and bool(np.all(offsets[1:] == ends[:-1]))
        and bool(np.all(lengths >= CHUNK_HEADER_SIZE))
    )
    end = int(ends[-1]) if len(table) else layout.data_offset
    if not tiled or end != layout.data_limit or len(table) != layout.nz:
        raise FormatError(
            layout.path,
            f"the chunk index lists {len(table)} frames ending at byte {end}; the header says "
            f"{layout.nz} frames and the data ends at byte {layout.data_limit}",
        )
    return np.stack([offsets, lengths], axis=1)


def frame_crcs(layout: MrcLayout) -> np.ndarray | None:
    """The CRC-32C of every frame's stored bytes, or None when the file has none."""
    return None if layout.checksums is None else layout.checksums.table["crc"]
