"""The cheap entry-point scan finds exactly what importlib.metadata finds."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio import plugin_discovery
from mrczio.plugin_discovery import PluginEntryPoint, entry_points


def _metadata_view(group: str) -> set[tuple[str, str, str, str]]:
    found = set()
    for ep in importlib.metadata.entry_points(group=group):
        assert ep.dist is not None
        found.add((ep.name, ep.value, ep.dist.metadata["Name"], ep.dist.version))
    return found


def _ours(group: str) -> set[tuple[str, str, str, str]]:
    return {(ep.name, ep.value, ep.distribution, ep.version) for ep in entry_points(group)}


@pytest.mark.parametrize("group", ["mrczio", "console_scripts", "pytest11"])
def test_same_entry_points_as_importlib_metadata(group: str) -> None:
    assert not plugin_discovery._needs_importlib_metadata()
    assert _ours(group) == _metadata_view(group)
    if group == "mrczio":
        assert {"mrc", "mrcz", "blosc", "rans"} <= {name for name, *_ in _ours(group)}


def test_a_zip_on_sys_path_hands_the_scan_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_plugin-1.0.dist-info/METADATA", "Name: zipped-plugin\nVersion: 1.0\n")
        zf.writestr("zipped_plugin-1.0.dist-info/entry_points.txt", "[mrczio_test]\nz = json:dumps\n")
    monkeypatch.syspath_prepend(str(archive))
    assert plugin_discovery._needs_importlib_metadata()
    assert _ours("mrczio_test") == {("z", "json:dumps", "zipped-plugin", "1.0")}


def test_first_distribution_of_a_name_on_sys_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for root, version in (("a", "2.0"), ("b", "1.0")):
        info = tmp_path / root / f"twice-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: twice\nVersion: {version}\n\nbody: x\n")
        (info / "entry_points.txt").write_text(
            f"# comment\n[other]\nx = os\n[mrczio_test]\nt = json:dumps{version[0]}\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path / root))  # b ends up first
    assert _ours("mrczio_test") == _metadata_view("mrczio_test") == {("t", "json:dumps1", "twice", "1.0")}


def test_load_imports_the_named_object() -> None:
    def point(value: str) -> PluginEntryPoint:
        return PluginEntryPoint("x", value, "g", "d", "1")

    assert point("os.path:join").load() is __import__("os").path.join
    assert point("json:JSONDecoder.decode").load() is __import__("json").JSONDecoder.decode
    assert point("json").load() is __import__("json")
    assert point("json:dumps [extra]").load() is __import__("json").dumps
    with pytest.raises(ValueError, match="malformed"):
        point("not a value!").load()


def test_a_plain_mrc_read_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    path = tmp_path / "plain.mrc"
    mrczio.imwrite(path, np.zeros((2, 8, 8), np.float32))
    heavy = [
        "importlib.metadata",
        "crc32c",
        "scipy",
        "tifffile",
        "blosc",
        "blosc2",
        "mrczio.corrections",
        "imageio",
    ]
    code = (
        "import sys, mrczio; mrczio.imread(sys.argv[1]); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def _dist(root: Path, folder: str, metadata: bytes, points: bytes) -> None:
    info = root / folder
    info.mkdir(parents=True)
    (info / "METADATA").write_bytes(metadata)
    (info / "entry_points.txt").write_bytes(points)


def test_metadata_headers_in_any_case_folded_or_with_a_bom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dist(
        tmp_path,
        "alpha-1.0.dist-info",
        b"\xef\xbb\xbfname: gamma\nversion : 1.0\n",
        b"[mrczio_test]\na = json\n",
    )
    _dist(tmp_path, "beta-2.0.dist-info", b"Name:\n delta\nVersion: 2.0\n", b"[mrczio_test]\nb = json\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _ours("mrczio_test") == {("a", "json", "gamma", "1.0"), ("b", "json", "delta", "2.0")}


@pytest.mark.parametrize(
    "layout", ["unpacked egg", "upper-case suffix", "metadata file", "egg-info beside dist-info"]
)
def test_unusual_layouts_are_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    points = b"[mrczio_test]\nodd = json\n"
    meta = b"Name: odd\nVersion: 1.0\n"
    if layout == "unpacked egg":
        _dist(tmp_path / "odd-1.0-py3.11.egg", "EGG-INFO", meta, points)
    elif layout == "upper-case suffix":
        _dist(tmp_path, "ODD-1.0.DIST-INFO", meta, points)
    elif layout == "metadata file":
        (tmp_path / "odd-0.9.egg-info").write_bytes(meta)
        _dist(tmp_path / "later", "odd-1.0.dist-info", meta, points)
        monkeypatch.syspath_prepend(str(tmp_path / "later"))
    else:
        _dist(tmp_path, "odd-0.5.egg-info", b"Name: odd\nVersion: 0.5\n", b"[mrczio_test]\nodd = os\n")
        _dist(tmp_path, "odd-1.0.dist-info", meta, points)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert plugin_discovery._metadata_folders() is None
    assert _ours("mrczio_test") == _metadata_view("mrczio_test")


def test_an_unreadable_entry_points_file_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mrczio.errors import PluginLoadWarning

    _dist(
        tmp_path,
        "latin-1.0.dist-info",
        b"Name: latin\nVersion: 1.0\n",
        b"[mrczio_test]\n# caf\xe9\nx = json\n",
    )
    _dist(
        tmp_path,
        "noeq-1.0.dist-info",
        b"Name: noeq\nVersion: 1.0\n",
        b"[mrczio_test]\njust a name\ny = json\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginLoadWarning) as caught:
        found = _ours("mrczio_test")
    assert found == {("y", "json", "noeq", "1.0")}
    messages = " ".join(str(w.message) for w in caught)
    assert "not UTF-8" in messages and "has no '='" in messages


def test_version_is_listed_before_it_is_read() -> None:
    code = "import mrczio; print('__version__' in dir(mrczio), 'importlib.metadata' in __import__('sys').modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
