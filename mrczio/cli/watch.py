"""``mrczio watch``: compress movies as the microscope writes them (see docs/facility.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

NAME = "watch"
HELP = "compress movies as they are acquired: wait until complete, compress, verify, mirror"
DESCRIPTION = """\
Watch SRC (polling, so NFS and SMB shares work) and give every movie (MRC, TIFF, 4-bit)
a verified MRCZ copy in DEST, mirroring the folder tree. A movie is taken once its size
and modification time have not changed for --quiet-seconds and it opens at its declared
size. The output is built in DEST/.mrczio-watch/staging, decoded and compared with the
source (pixels, shape, dtype, voxel size, metadata, header fields), fsynced and only
then published. Sidecars (.mdoc, .xml, .json, gain references) are copied alongside.
With --delete-source a movie is removed only after its verified output is on disk.
A fsynced journal (DEST/.mrczio-watch/journal.jsonl) makes a restart after a kill or a
reboot carry on without redoing or losing work. Settings may come from a TOML file
(--config, a [watch] table); flags override it.
"""
EPILOG = """\
examples:
  mrczio watch /data/incoming /archive/session1
  mrczio watch /data/incoming /archive/session1 --delete-source --quiet-seconds 30
  mrczio watch --config watch.toml --once        # from cron: process what is complete
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?", metavar="SRC", help="folder the microscope writes into")
    parser.add_argument("dest", nargs="?", metavar="DEST", help="folder for the compressed tree")
    parser.add_argument("--config", help="TOML file with a [watch] table (flags override it)")
    parser.add_argument("--quiet-seconds", type=float, help="size and mtime unchanged this long (default 10)")
    parser.add_argument("--poll-seconds", type=float, help="seconds between scans (default 2)")
    parser.add_argument("--delete-source", action="store_true", default=None,
                        help="delete each movie once its verified output is on disk")  # fmt: skip
    parser.add_argument("--once", action="store_true", default=None,
                        help="process what is complete, then exit (for cron and tests)")  # fmt: skip
    parser.add_argument("--retries", type=int, help="extra attempts after an I/O failure (default 2)")
    parser.add_argument("--journal", help="journal file (default DEST/.mrczio-watch/journal.jsonl)")
    group = parser.add_argument_group("output")
    group.add_argument("-c", "--codec", help="MRCZ codec (default zstd)")
    group.add_argument("-l", "--level", type=int, help="compression level")
    group.add_argument("-j", "--threads", type=int, help="compression threads")
    parser.add_argument("--status", action=argparse.BooleanOptionalAction, default=None,
                        help="a status line on stderr (default: when stderr is a terminal)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from mrczio.watch import Watcher, load_config
    from mrczio.watch.status import StatusLine

    overrides = {
        "source": args.source, "dest": args.dest, "quiet_seconds": args.quiet_seconds,
        "poll_seconds": args.poll_seconds, "delete_source": args.delete_source, "once": args.once,
        "retries": args.retries, "journal": args.journal,
    }  # fmt: skip
    config = load_config(args.config, overrides)
    flags = {k: getattr(args, k) for k in ("codec", "level", "threads")}
    config.write = {**config.write, **{k: v for k, v in flags.items() if v is not None}}
    _timestamped_logs()
    stop = threading.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in signals}
    try:  # a signal lets the current file finish, then the watcher stops
        return Watcher(config, status=StatusLine(enabled=args.status), stop=stop).run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _timestamped_logs() -> None:
    """A watcher runs for days: give its log lines a time."""
    for handler in logging.getLogger("mrczio").handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
