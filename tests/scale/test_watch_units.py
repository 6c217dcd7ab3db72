"""The watcher's parts: quiet tracking, completeness, journal, verification, adoption,
refusing deletion, sidecars and configuration (in-process, ``once`` mode)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.verification import verify_output
from mrczio.watch import Journal, Watcher, WatchLockedError, load_config
from mrczio.watch.completeness import QuietTracker, incomplete_reason


def movie(path: Path, seed: int = 0, **kwargs: object) -> np.ndarray:
    data = np.random.default_rng(seed).poisson(1.0, (3, 24, 32)).astype(np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    mrczio.imwrite(path, data, voxel_size=1.5, **kwargs)  # type: ignore[arg-type]
    return data


def run_once(src: Path, dest: Path, **settings: object) -> Watcher:
    config = load_config(None, {"source": str(src), "dest": str(dest), "quiet_seconds": 0.0,
                                "poll_seconds": 0.01, "once": True, **settings})  # fmt: skip
    watcher = Watcher(config)
    watcher.run()
    return watcher


def events(dest: Path) -> list[tuple[str, str]]:
    lines = (dest / ".mrczio-watch" / "journal.jsonl").read_text().splitlines()
    return [(r["event"], r["path"]) for r in map(json.loads, lines)]


def test_quiet_tracker_needs_an_unchanged_signature_for_the_whole_period() -> None:
    now = [0.0]
    tracker = QuietTracker(5.0, clock=lambda: now[0])
    assert tracker.observe([("a", (1, 1))]) == []
    now[0] = 4.0
    assert tracker.observe([("a", (2, 2))]) == [] and tracker.changed("a")
    now[0] = 8.9
    assert tracker.observe([("a", (2, 2))]) == []
    now[0] = 9.0
    assert tracker.observe([("a", (2, 2))]) == ["a"]
    assert tracker.observe([]) == [] and not tracker.changed("a")


def test_incomplete_until_the_declared_frames_are_there(tmp_path: Path) -> None:
    full = tmp_path / "m.mrc"
    movie(full)
    part = tmp_path / "part.mrc"
    part.write_bytes(full.read_bytes()[:-1000])
    assert incomplete_reason(str(full)) is None
    assert "part.mrc" in str(incomplete_reason(str(part)))
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(full.read_bytes()[:1024])
    assert incomplete_reason(str(empty)) is not None


def test_journal_drops_a_cut_line_and_is_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    with Journal(str(path)) as journal:
        journal.record("done", "a.mrc", size=1, mtime_ns=2, output="a.mrcz", sha256="x")
        with pytest.raises(WatchLockedError), Journal(str(path)):
            pass
    with open(path, "ab") as handle:
        handle.write(b'{"event": "deleted", "pa')
    with Journal(str(path)) as journal:
        assert journal.state("a.mrc").done is not None and not journal.state("a.mrc").deleted
        journal.record("deleted", "a.mrc")
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["done", "deleted"]


def test_verify_output_finds_each_kind_of_difference(tmp_path: Path) -> None:
    data = movie(tmp_path / "a.mrc", metadata={"k": [1, 2]})
    mrczio.imwrite(tmp_path / "same.mrcz", data, voxel_size=1.5, metadata={"k": [1, 2]})
    assert verify_output(tmp_path / "a.mrc", tmp_path / "same.mrcz").ok
    changed = data.copy()
    changed[2, 3, 4] += 1
    cases = {
        "pixels.mrcz": (changed, {"voxel_size": 1.5, "metadata": {"k": [1, 2]}}, "frame 2: 1 pixels differ"),
        "voxel.mrcz": (data, {"voxel_size": 1.6, "metadata": {"k": [1, 2]}}, "voxel size"),
        "meta.mrcz": (data, {"voxel_size": 1.5, "metadata": {"k": [1, 3]}}, "metadata"),
        "dtype.mrcz": (data.astype(np.float32), {"voxel_size": 1.5, "metadata": {"k": [1, 2]}}, "dtype"),
    }
    for name, (array, kwargs, expected) in cases.items():
        mrczio.imwrite(tmp_path / name, array, **kwargs)  # type: ignore[arg-type]
        result = verify_output(tmp_path / "a.mrc", tmp_path / name)
        assert not result.ok and expected in result.summary(), (name, result.problems)
    whole = (tmp_path / "same.mrcz").read_bytes()
    (tmp_path / "broken.mrcz").write_bytes(whole[: len(whole) * 3 // 5])  # cut inside the frames
    result = verify_output(tmp_path / "a.mrc", tmp_path / "broken.mrcz")
    assert not result.ok and "cannot decode" in result.problems[0]


def test_an_existing_identical_output_is_adopted_not_rewritten(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    movie(src / "a.mrc")
    (dest).mkdir()
    mrczio.convert(src / "a.mrc", dest / "a.mrcz")
    inode = os.stat(dest / "a.mrcz").st_ino
    run_once(src, dest, delete_source=True)
    assert os.stat(dest / "a.mrcz").st_ino == inode
    assert events(dest) == [("done", "a.mrc"), ("deleting", "a.mrc"), ("deleted", "a.mrc")]
    assert not (src / "a.mrc").exists()


def test_a_different_existing_output_is_left_alone_and_the_source_kept(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    movie(src / "a.mrc", seed=1)
    movie(dest / "a.mrcz", seed=2)
    before = (dest / "a.mrcz").read_bytes()
    watcher = run_once(src, dest, delete_source=True)
    assert watcher.counts.failed == 1
    assert (dest / "a.mrcz").read_bytes() == before and (src / "a.mrc").exists()
    assert events(dest) == [("failed", "a.mrc")]
    run_once(src, dest, delete_source=True)  # the failure is remembered for this version
    assert events(dest) == [("failed", "a.mrc")]


def test_source_kept_when_the_verified_output_changed(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    movie(src / "g" / "a.mrc")
    run_once(src, dest)
    assert events(dest) == [("start", "g/a.mrc"), ("done", "g/a.mrc")]
    with open(dest / "g" / "a.mrcz", "r+b") as handle:
        handle.seek(-10, os.SEEK_END)
        handle.write(b"\0" * 10)
    run_once(src, dest, delete_source=True)
    assert (src / "g" / "a.mrc").exists()
    assert ("deleted", "g/a.mrc") not in events(dest)


def test_sidecars_copied_and_recopied_gain_references_not_compressed(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    movie(src / "CountRef_gain.mrc")
    (src / "a.mdoc").write_text("one\n")
    run_once(src, dest, delete_source=True)
    assert (dest / "CountRef_gain.mrc").read_bytes() == (src / "CountRef_gain.mrc").read_bytes()
    assert (src / "CountRef_gain.mrc").exists()  # sidecars are never deleted
    (src / "a.mdoc").write_text("one\ntwo\n")
    run_once(src, dest)
    assert (dest / "a.mdoc").read_text() == "one\ntwo\n"
    assert [e for e in events(dest) if e[1] == "a.mdoc"] == [("copied", "a.mdoc")] * 2


def test_config_file_and_flags(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    config = tmp_path / "watch.toml"
    config.write_text(f'[watch]\nsource = "{tmp_path / "src"}"\ndest = "{tmp_path / "dest"}"\n'
                      'quiet_seconds = 30\nmovie_patterns = ["*.mrc"]\n[watch.write]\nlevel = 3\n')  # fmt: skip
    loaded = load_config(str(config), {"quiet_seconds": 5.0, "delete_source": None})
    assert loaded.quiet_seconds == 5.0 and loaded.movie_patterns == ("*.mrc",)
    assert loaded.write == {"level": 3} and loaded.delete_source is False
    config.write_text('[watch]\nsource = "x"\ndest = "y"\nquiet = 1\n')
    with pytest.raises(mrczio.OptionError, match="unknown watch setting"):
        load_config(str(config), {})
    with pytest.raises(mrczio.OptionError, match="needs a dest"):
        load_config(None, {"source": str(tmp_path)})


def test_status_line_only_when_enabled() -> None:
    import io

    from mrczio.watch.status import Counts, StatusLine

    stream = io.StringIO()
    StatusLine(stream).show(Counts(compressed=2))  # a StringIO is not a terminal
    assert stream.getvalue() == ""
    line = StatusLine(stream, enabled=True)
    line.show(Counts(compressed=2, waiting=1, last="a.mrc 3.90x 0.4 s"))
    line.close()
    assert stream.getvalue() == "\rwatch: 2 compressed, 0 sidecars, 0 deleted, 1 waiting, 0 failed | a.mrc 3.90x 0.4 s\n"
