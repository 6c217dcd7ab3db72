"""What the ``mrc`` and ``mrcz`` formats answer alike: appends, carried header fields,
storage limits and validation. Writing, appending and validation modules are imported
when first used, so reading a file loads none of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mrczio.contracts import FileFormat, Finding, StorageLimits
from mrczio.reader import StackReader
from mrczio.registry import Registry
from mrczio_builtin.mrc.header_policy import options_like, wants_packing
from mrczio_builtin.mrc.packed4bit import MAX_4BIT

if TYPE_CHECKING:
    from mrczio.stats import RunningStats
    from mrczio.writer import StackWriter


class MrcFamilyFormat(FileFormat):
    """Base of the plain MRC and MRCZ formats."""

    #: Whether a plain copy keeps 4-bit packing (mode 101) unless told otherwise.
    keeps_packing = False
    holds_mrc_header = True

    def open_appender(self, path: str, registry: Registry, options: Mapping[str, Any]) -> StackWriter:
        from mrczio_builtin.mrc.append import MrcAppender  # reading never loads the writers

        return MrcAppender(path, registry, dict(options))

    def options_like(self, reader: StackReader) -> dict[str, Any]:
        return options_like(reader, frozenset(self.write_options()), keep_packing=self.keeps_packing)

    def storage_limits(self, dtype: np.dtype[Any], options: Mapping[str, Any]) -> StorageLimits:
        if wants_packing(options):
            return StorageLimits(np.dtype(np.uint8), MAX_4BIT, "4-bit packing (mode 101)")
        return StorageLimits(np.dtype(dtype))

    def validate(self, reader: StackReader, data: RunningStats | None) -> list[Finding]:
        from mrczio_builtin.mrc import validation

        return validation.findings(reader, data)
