"""The watch loop: scan, wait for completeness, compress, verify, publish, then delete.

Order of work for one movie, each step durable before the next::

    quiet + parses whole -> journal "start" -> compress into staging -> source unchanged?
    -> verify_output (full decode against the source) -> fsync -> link under the final
    name (never replacing) -> fsync folder -> journal "done" (with the output's SHA-256)
    -> [--delete-source: source unchanged and output's SHA-256 still the journal's]
    -> unlink source -> fsync folder -> journal "deleted"

A kill at any point leaves either no output (staging is emptied on start) or a
published output that a restart verifies again and adopts instead of rewriting, and a
source is removed only when the journal holds a "done" record for exactly that version
of it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from enum import Enum

import mrczio
from mrczio.batch import is_retryable
from mrczio.file_digest import file_digest
from mrczio.verification import verify_output
from mrczio.watch.completeness import QuietTracker, incomplete_reason
from mrczio.watch.config import WatchConfig
from mrczio.watch.journal import Journal
from mrczio.watch.publish import (
    Staging,
    copy_into_staging,
    fsync_dir,
    fsync_file,
    publish,
    remove_source,
)
from mrczio.watch.scan import Entry, scan, signature
from mrczio.watch.status import Counts, StatusLine

log = logging.getLogger(__name__)


class Outcome(Enum):
    """What one attempt at a file came to."""

    DONE = "done"
    INCOMPLETE = "incomplete"  # quiet, but does not parse whole yet
    RETRY = "retry"  # try again at a later poll
    FAILED = "failed"


class _SourceChanged(Exception):
    pass


class Watcher:
    """Runs the loop for one :class:`WatchConfig`; :meth:`run` returns an exit code."""

    def __init__(
        self,
        config: WatchConfig,
        *,
        status: StatusLine | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.status = status if status is not None else StatusLine(enabled=False)
        self.stop = stop if stop is not None else threading.Event()
        self.tracker = QuietTracker(config.quiet_seconds)
        self.staging = Staging(os.path.join(config.state_dir, "staging"))
        self.counts = Counts()
        self._attempts: dict[tuple[str, tuple[int, int]], int] = {}
        self._told: set[tuple[str, tuple[int, int], str]] = set()
        self.journal: Journal | None = None

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Watch until stopped (or, with ``once``, until nothing complete is left)."""
        with Journal(self.config.journal_path) as journal:
            self.journal = journal
            self._finish_interrupted_deletions()
            removed = self.staging.reset()
            if removed:
                log.info(
                    "removed %d unfinished file(s) left in %s by an interrupted run",
                    removed,
                    self.staging.path,
                )
            log.info(
                "watching %s -> %s (quiet %.1f s)",
                self.config.source,
                self.config.dest,
                self.config.quiet_seconds,
            )
            try:
                while not self.stop.is_set():
                    outstanding = self.poll()
                    if self.config.once and not outstanding:
                        break
                    self.stop.wait(self.config.poll_seconds)
            finally:
                self.status.close()
        return 1 if self.counts.failed else 0

    def poll(self) -> int:
        """One scan and the work it allows; returns how many files are still to wait for."""
        entries = scan(self.config.source, exclude=self.config.dest, movie_patterns=self.config.movie_patterns,
                       sidecar_patterns=self.config.sidecar_patterns)  # fmt: skip
        quiet = set(self.tracker.observe((rel, e.signature) for rel, e in entries.items()))
        outstanding = waiting = 0
        for rel, entry in entries.items():
            if self.stop.is_set():
                return outstanding + 1
            if self._settled(entry):
                continue
            if rel not in quiet:
                waiting += 1
                if not (self.config.once and self.tracker.changed(rel)):
                    outstanding += 1  # still gathering quiet time
                else:
                    self._tell(entry, "busy", "%s: still being written; left for the next run")
                continue
            outcome = self._attempt(entry)
            waiting += outcome in (Outcome.INCOMPLETE, Outcome.RETRY)
            outstanding += outcome is Outcome.RETRY
            self.counts.waiting = waiting
            self.status.show(self.counts)
        self.counts.waiting = waiting
        self.status.show(self.counts)
        return outstanding

    def _tell(self, entry: Entry, topic: str, message: str, *args: object) -> None:
        """Log ``message`` once per file version and topic."""
        key = (entry.rel, entry.signature, topic)
        if key not in self._told:
            self._told.add(key)
            log.info(message, entry.rel, *args)

    # -- deciding -----------------------------------------------------------------------

    def _settled(self, entry: Entry) -> bool:
        """True when the journal says there is nothing (more) to do for this version."""
        state = self._journal.state(entry.rel)
        done = state.done
        if done is not None and (done["size"], done["mtime_ns"]) == entry.signature:
            if entry.kind == "movie" and self.config.delete_source and not state.deleted:
                self._delete_source(entry, done)
            return True
        if done is not None and entry.kind == "movie":
            self._tell(entry, "changed", "%s: changed after it was compressed; left alone, output kept")
            return True
        failed = state.failed
        return failed is not None and (failed["size"], failed["mtime_ns"]) == entry.signature

    def _attempt(self, entry: Entry) -> Outcome:
        try:
            if entry.kind == "sidecar":
                return self._copy_sidecar(entry)
            return self._compress_movie(entry)
        except _SourceChanged:
            self._journal.record("abandoned", entry.rel, reason="source changed while it was processed")
            self.tracker.restart(entry.rel)
            return Outcome.RETRY
        except Exception as exc:
            key = (entry.rel, entry.signature)
            self._attempts[key] = self._attempts.get(key, 0) + 1
            if is_retryable(exc) and self._attempts[key] <= self.config.retries:
                log.warning("%s: attempt %d failed (%s); will retry", entry.rel, self._attempts[key], exc)
                return Outcome.RETRY
            return self._fail(entry, f"{type(exc).__name__}: {exc}")

    def _fail(self, entry: Entry, error: str) -> Outcome:
        self._journal.record("failed", entry.rel, size=entry.size, mtime_ns=entry.mtime_ns, error=error)
        self.counts.failed += 1
        log.error("%s: %s", entry.rel, error)
        return Outcome.FAILED

    @property
    def _journal(self) -> Journal:
        assert self.journal is not None, "Watcher.run() opens the journal"
        return self.journal

    # -- movies -------------------------------------------------------------------------

    def movie_output(self, rel: str) -> str:
        stem = os.path.splitext(rel)[0]
        return os.path.join(self.config.dest, *(stem + self.config.suffix).split("/"))

    def _compress_movie(self, entry: Entry) -> Outcome:
        reason = incomplete_reason(entry.path)
        if reason is not None:
            self._tell(entry, "incomplete", "%s: quiet but not complete yet (%s)", reason)
            return Outcome.INCOMPLETE
        output = self.movie_output(entry.rel)
        if os.path.lexists(output):
            return self._adopt(entry, output)
        out_rel = os.path.relpath(output, self.config.dest).replace(os.sep, "/")
        self._journal.record("start", entry.rel, output=out_rel, size=entry.size, mtime_ns=entry.mtime_ns)
        started = time.monotonic()
        staged = self.staging.new_path(self.config.suffix)
        try:
            mrczio.convert(entry.path, staged, format=self.config.format, **self.config.write)
            self._check_unchanged(entry)
            result = verify_output(entry.path, staged)
            if not result.ok:
                return self._fail(entry, result.summary())
            digest = file_digest(staged)
            publish(staged, output)
        finally:
            self.staging.discard(staged)
        return self._finish(
            entry, output, digest.value, result.checks, time.monotonic() - started, adopted=False
        )

    def _check_unchanged(self, entry: Entry) -> None:
        if signature(entry.path) != entry.signature:
            raise _SourceChanged(entry.rel)

    def _adopt(self, entry: Entry, output: str) -> Outcome:
        """An output exists without a journal record (e.g. a kill right after publishing):
        verify it and record it instead of compressing again."""
        started = time.monotonic()
        result = verify_output(entry.path, output)
        if not result.ok:
            return self._fail(
                entry,
                f"an output already exists and is not a verified copy; left alone: {result.summary()}",
            )
        self._check_unchanged(entry)
        fsync_file(output)
        fsync_dir(os.path.dirname(output))
        digest = file_digest(output)
        return self._finish(
            entry, output, digest.value, result.checks, time.monotonic() - started, adopted=True
        )

    def _finish(
        self,
        entry: Entry,
        output: str,
        sha256: str,
        checks: list[str],
        seconds: float,
        *,
        adopted: bool,
    ) -> Outcome:
        out_rel = os.path.relpath(output, self.config.dest).replace(os.sep, "/")
        record = self._journal.record(
            "done", entry.rel, output=out_rel, size=entry.size, mtime_ns=entry.mtime_ns,
            bytes_out=os.path.getsize(output), sha256=sha256, checks=checks, seconds=round(seconds, 3),
            adopted=adopted,
        )  # fmt: skip
        self.counts.compressed += 1
        self.counts.last = f"{entry.rel} {entry.size / max(record['bytes_out'], 1):.2f}x {seconds:.1f} s"
        log.info(
            "%s -> %s verified (%s)%s",
            entry.rel,
            out_rel,
            ", ".join(checks),
            " [existing output adopted]" * adopted,
        )
        if self.config.delete_source:
            self._delete_source(entry, record)
        return Outcome.DONE

    def _delete_source(self, entry: Entry, done: dict[str, object]) -> None:
        """Remove the source only if it is the version verified and the output's bytes are
        still those recorded."""
        if signature(entry.path) != (done["size"], done["mtime_ns"]):
            self._tell(entry, "keep", "%s: changed since it was verified; source kept")
            return
        output = os.path.join(self.config.dest, *str(done["output"]).split("/"))
        try:
            current = file_digest(output).value
        except FileNotFoundError:
            current = None
        if current != done["sha256"]:
            self._tell(entry, "keep", "%s: verified output %s is missing or changed; source kept", output)
            return
        self._journal.record("deleting", entry.rel, output=done["output"])
        remove_source(entry.path)
        self._journal.record("deleted", entry.rel, output=done["output"])
        self.counts.deleted += 1
        log.info("%s: source deleted (verified output %s)", entry.rel, done["output"])

    def _finish_interrupted_deletions(self) -> None:
        """Record the deletions a kill interrupted after the unlink (the source is gone);
        a source still present goes through the normal checks again."""
        for rel, state in list(self._journal.states.items()):
            if state.deleting and not state.deleted and state.done is not None:
                source = os.path.join(self.config.source, *rel.split("/"))
                if signature(source) is None:
                    self._journal.record("deleted", rel, output=state.done["output"], after_restart=True)

    # -- sidecars -----------------------------------------------------------------------

    def _copy_sidecar(self, entry: Entry) -> Outcome:
        """Copy a sidecar byte for byte (replacing an older copy); checked by SHA-256."""
        final = os.path.join(self.config.dest, *entry.rel.split("/"))
        staged = self.staging.new_path(os.path.splitext(entry.rel)[1])
        try:
            copy_into_staging(entry.path, staged)
            source_digest, copy_digest = file_digest(entry.path), file_digest(staged)
            self._check_unchanged(entry)
            if source_digest != copy_digest:
                raise OSError(f"{entry.path}: the copy's SHA-256 differs from the source's")
            publish(staged, final, replace=True)
        finally:
            self.staging.discard(staged)
        self._journal.record("copied", entry.rel, output=entry.rel, size=entry.size, mtime_ns=entry.mtime_ns,
                             sha256=copy_digest.value)  # fmt: skip
        self.counts.copied += 1
        log.info("%s: sidecar copied", entry.rel)
        return Outcome.DONE
