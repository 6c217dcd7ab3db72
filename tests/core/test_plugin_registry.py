"""Entry-point discovery: built-ins and third parties load the same way; failures are contained."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio import plugin_loader
from mrczio.registry import Registry

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mrczio-lzma"


def fake_distribution(root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """A minimal installed distribution (dist-info + modules) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[mrczio]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch):
    def add(path: Path) -> None:
        monkeypatch.syspath_prepend(str(path))

    return add


def test_builtins_come_from_the_mrczio_distribution(builtin_registry: Registry) -> None:
    names = {r.name: r.distribution for r in builtin_registry.records}
    assert {"mrc", "mrcz", "blosc", "json", "msgpack", "modes"} <= set(names)
    assert {names[n] for n in ("mrc", "mrcz", "blosc")} == {"mrczio"}
    assert {"zstd", "lz4", "lz4hc", "zlib", "blosclz"} <= {e.key for e in builtin_registry.codecs.entries()}


def test_third_party_codec_joins_through_the_same_group(
    tmp_path: Path, on_path, counts: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path(EXAMPLE)
    on_path(fake_distribution(tmp_path / "site", "mrczio-lzma", {"lzma": "mrczio_lzma"}, {}))
    registry = Registry.from_entry_points()
    assert registry.codec("lzma").compressor_id == 100
    assert "mrczio-lzma" in registry.distribution_of("lzma")
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, codec="lzma", registry=registry)
    assert np.array_equal(mrczio.imread(path, registry=registry), counts)
    monkeypatch.setenv(plugin_loader.DISABLE_AUTOLOAD_ENV, "1")
    without_plugin = Registry.from_entry_points()
    with pytest.raises(mrczio.UnknownCodecError, match="compressor id 100"):
        mrczio.imread(path, registry=without_plugin)


def test_broken_plugin_is_reported_and_skipped(tmp_path: Path, on_path) -> None:
    site = fake_distribution(
        tmp_path / "site", "mrczio-broken", {"broken": "broken_plugin", "typo": "typo_plugin"},
        {
            "broken_plugin": "raise ImportError('needs a library that is not installed')",
            "typo_plugin": """
                from mrczio import hookimpl
                @hookimpl
                def mrczio_register_codec():
                    return []
            """,
        },
    )  # fmt: skip
    on_path(site)
    with pytest.warns(mrczio.PluginLoadWarning) as caught:
        registry = Registry.from_entry_points()
    assert len(caught) == 2
    failed = {f.name: f.error for f in registry.failures}
    assert "not installed" in failed["broken"]
    assert "mrczio_register_codec" in failed["typo"]
    assert registry.format("mrcz") is not None


def test_two_distributions_claiming_one_name_conflict(tmp_path: Path, on_path) -> None:
    on_path(fake_distribution(tmp_path / "a", "mrczio-one", {"shared": "one_plugin"}, {"one_plugin": ""}))
    on_path(fake_distribution(tmp_path / "b", "mrczio-two", {"shared": "two_plugin"}, {"two_plugin": ""}))
    with pytest.raises(mrczio.PluginConflictError, match="mrczio-one.*mrczio-two"):
        Registry.from_entry_points()


def test_third_party_codec_name_conflict(tmp_path: Path, on_path) -> None:
    source = """
        from mrczio import hookimpl
        from mrczio_builtin.blosc_codecs import Zstd
        @hookimpl
        def mrczio_register_codecs():
            return [Zstd()]
    """
    on_path(fake_distribution(tmp_path / "s", "mrczio-zstd2", {"zstd2": "zstd2_plugin"}, {"zstd2_plugin": source}))
    with pytest.raises(mrczio.PluginConflictError, match="codec 'zstd'"):
        Registry.from_entry_points()


def test_descriptor_of_the_wrong_type_is_rejected() -> None:
    class Bad:
        @mrczio.hookimpl
        def mrczio_register_codecs(self):
            return ["not a codec"]

    # a third-party plugin returning the wrong type is disabled, never the host
    with pytest.warns(mrczio.PluginLoadWarning, match="not a codec descriptor"):
        registry = Registry.from_plugins([Bad()])
    assert [e.key for e in registry.codecs.entries()] == []


def test_uninstalled_source_tree_fails_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_loader, "entry_points", lambda group: [])
    with pytest.raises(mrczio.PluginsNotInstalledError, match="pip install -e"):
        Registry.from_entry_points()


def test_autoload_can_be_disabled_for_third_parties(tmp_path: Path, on_path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(EXAMPLE)
    on_path(fake_distribution(tmp_path / "site", "mrczio-lzma", {"lzma": "mrczio_lzma"}, {}))
    monkeypatch.setenv(plugin_loader.DISABLE_AUTOLOAD_ENV, "1")
    registry = Registry.from_entry_points()
    assert "lzma" not in registry.codecs
    assert "zstd" in registry.codecs


def test_documented_example_installs_with_pip(tmp_path: Path, counts: np.ndarray) -> None:
    """docs/plugins.md: pip-install the example package, then use the codec by name."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(EXAMPLE)],
        check=True,
    )
    script = f"""
import sys, numpy as np
sys.path.insert(0, {str(target)!r})
import mrczio
mrczio.imwrite({str(tmp_path / 'x.mrcz')!r}, np.arange(24, dtype=np.int16).reshape(2, 3, 4), codec="lzma")
print(mrczio.imread({str(tmp_path / 'x.mrcz')!r}).sum())
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == str(sum(range(24)))
    cli = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(target)!r}); from mrczio.cli import main; sys.exit(main())",
         "plugins"], check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "lzma" in cli.stdout and "mrczio-lzma" in cli.stdout
    verbose = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(target)!r}); from mrczio.cli import main; sys.exit(main())",
         "plugins", "--verbose"], check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "lzma" in verbose.stdout and "preset=6" in verbose.stdout  # the codec's own parameters


def test_example_codec_takes_its_own_parameters(tmp_path: Path) -> None:
    """The pip-installed LZMA example declares ``preset`` and ``extreme``: the API and
    the command line pass them through, they change the bytes, and bad values are
    refused naming the parameter."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(EXAMPLE)],
        check=True,
    )
    movie = tmp_path / "m.mrc"
    mrczio.imwrite(movie, np.random.default_rng(0).poisson(3, (2, 64, 64)).astype(np.int16))
    prefix = f"import sys; sys.path.insert(0, {str(target)!r}); "
    api = prefix + f"""import mrczio, numpy as np
data = mrczio.imread({str(movie)!r})
for preset in (0, 9):
    mrczio.imwrite({str(tmp_path)!r} + f"/p{{preset}}.mrcz", data, codec="lzma", preset=preset, extreme=preset == 9)
    assert (mrczio.imread({str(tmp_path)!r} + f"/p{{preset}}.mrcz") == data).all()
try:
    mrczio.imwrite({str(tmp_path)!r} + "/bad.mrcz", data, codec="lzma", preset=12)
except mrczio.OptionError as exc:
    print("refused:", exc)
"""
    out = subprocess.run([sys.executable, "-c", api], check=True, capture_output=True, text=True)
    assert "refused:" in out.stdout and "preset" in out.stdout
    assert (tmp_path / "p0.mrcz").read_bytes() != (tmp_path / "p9.mrcz").read_bytes()
    cli = prefix + "from mrczio.cli import main; sys.exit(main())"
    subprocess.run(
        [sys.executable, "-c", cli, "compress", str(movie), "-o", str(tmp_path / "c.mrcz"), "--codec", "lzma",
         "--codec-option", "preset=9", "--codec-option", "extreme=true"], check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert (tmp_path / "c.mrcz").stat().st_size == (tmp_path / "p9.mrcz").stat().st_size  # same chunks
    bad = subprocess.run(
        [sys.executable, "-c", cli, "compress", str(movie), "-o", str(tmp_path / "d.mrcz"), "--codec", "lzma",
         "--codec-option", "preset=eleven"], capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "--codec-option preset=" in bad.stderr and "eleven" in bad.stderr
    assert not (tmp_path / "d.mrcz").exists()
