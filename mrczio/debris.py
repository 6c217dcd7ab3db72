"""Find and remove temporary files left behind by killed mrczio writers.

A writer that is killed (``SIGKILL``, power loss) cannot remove its temporary file
``.NAME.<8 hex>.part`` (see :mod:`mrczio.publish`); nothing is ever left under the final
name, but the hidden file keeps its disk space. :func:`cleanup_stale_temps` removes such
files safely:

* only names of exactly that pattern, only regular files (a symlink is never followed);
* only files no live process is writing: every mrczio writer holds an exclusive
  ``flock`` on its temporary file until it finishes, and the kernel drops that lock when
  the process dies, so a file whose lock can be taken has no living writer;
* only files last modified at least ``min_age`` seconds ago (default 60 s), which also
  covers the instant between a writer creating its file and locking it.

From the shell: ``python -m mrczio.debris FOLDER...`` (``--dry-run`` lists only,
``--min-age SECONDS``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import stat
import sys
import time
from collections.abc import Sequence

from mrczio.oserrors import reraise_os_errors
from mrczio.publish import TEMP_NAME

DEFAULT_MIN_AGE = 60.0


def cleanup_stale_temps(
    folder: str | os.PathLike[str], *, min_age: float = DEFAULT_MIN_AGE, dry_run: bool = False
) -> list[str]:
    """Remove mrczio temporary files in ``folder`` whose writer is gone.

    Returns the paths removed (or, with ``dry_run``, the paths that would be). Files of
    live writers, younger files and anything not matching mrczio's temporary-name
    pattern are left alone. The folder is not searched recursively.
    """
    directory = os.fspath(folder)
    with reraise_os_errors(directory, "listing the folder"):
        names = sorted(os.listdir(directory))
    stale = []
    for name in names:
        if TEMP_NAME.match(name):
            path = os.path.join(directory, name)
            if _remove_if_stale(path, min_age, dry_run):
                stale.append(path)
    return stale


def _remove_if_stale(path: str, min_age: float, dry_run: bool) -> bool:
    try:
        before = os.lstat(path)
        if not stat.S_ISREG(before.st_mode) or time.time() - before.st_mtime < min_age:
            return False
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # vanished, or not ours to open: leave it
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it
        if not _same_file(os.fstat(fd), path):
            return False
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return True
    finally:
        os.close(fd)


def _same_file(held: os.stat_result, path: str) -> bool:
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mrczio.debris FOLDER...``: remove (or list) stale temporary files."""
    parser = argparse.ArgumentParser(prog="python -m mrczio.debris", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", metavar="FOLDER")
    parser.add_argument("--min-age", type=float, default=DEFAULT_MIN_AGE, metavar="SECONDS")
    parser.add_argument("--dry-run", action="store_true", help="list, do not remove")
    args = parser.parse_args(argv)
    for folder in args.folders:
        for path in cleanup_stale_temps(folder, min_age=args.min_age, dry_run=args.dry_run):
            print(("would remove " if args.dry_run else "removed ") + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
