"""Compress movies as they are acquired: ``mrczio watch SRC DEST``.

A polling watcher (portable, NFS-safe) that waits until each movie is complete, writes
a verified MRCZ copy into a mirrored tree, copies sidecar files, and (if asked) deletes
the source only once its verified output is on disk. A fsynced JSON-lines journal makes
it resumable after a kill. See ``docs/facility.md``.
"""

from __future__ import annotations

from mrczio.watch.config import WatchConfig, load_config
from mrczio.watch.journal import Journal, WatchLockedError
from mrczio.watch.watcher import Watcher

__all__ = ["Journal", "WatchConfig", "WatchLockedError", "Watcher", "load_config"]
