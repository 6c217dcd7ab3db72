"""Misbehaving plugins never take the host down; hooks go through pluggy; outbidding warns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mrczio
from mrczio import FileFormat, Registry
from mrczio.errors import PluginConflictError, PluginLoadWarning, PluginOverrideWarning


def builtin_plugins() -> list[object]:
    eps = entry_points(group="mrczio")
    return [ep.load() for ep in eps if ep.dist is not None and ep.dist.metadata["Name"] == "mrczio"]


def registry_with(*extra: object) -> Registry:
    return Registry.from_plugins([*builtin_plugins(), *extra])


# -- import time: a real entry point in a real distribution ----------------------------


def _install_fake_distribution(site: Path, module_source: str) -> None:
    (site / "evil_plugin.py").write_text(textwrap.dedent(module_source))
    info = site / "evil_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: evil-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mrczio]\nevil = evil_plugin\n")


HOST = textwrap.dedent(
    """
    import sys, warnings, numpy as np
    sys.path.insert(0, sys.argv[1])
    import mrczio
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = mrczio.get_registry()
    print([str(w.message) for w in caught if issubclass(w.category, mrczio.PluginLoadWarning)])
    mrczio.imwrite(sys.argv[2], np.ones((2, 8, 8), np.uint16))
    print("host alive", int(mrczio.imread(sys.argv[2]).sum()))
    """
)


@pytest.mark.parametrize(
    "body",
    [
        "import sys\nsys.exit(3)\n",
        "raise RuntimeError('broken plugin')\n",
        "import no_such_module\n",
    ],
)
def test_plugin_failing_at_import_is_skipped(tmp_path: Path, body: str) -> None:
    _install_fake_distribution(tmp_path, body)
    result = subprocess.run(
        [sys.executable, "-c", HOST, str(tmp_path), str(tmp_path / "x.mrcz")],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warned, alive = result.stdout.strip().splitlines()
    assert "'evil'" in warned and "evil-plugin" in warned
    assert alive == "host alive 128"


def test_keyboard_interrupt_at_import_still_stops_the_program(tmp_path: Path) -> None:
    # Documented choice: Ctrl-C during start-up is the user stopping, not a bad plugin.
    _install_fake_distribution(tmp_path, "raise KeyboardInterrupt\n")
    result = subprocess.run(
        [sys.executable, "-c", HOST, str(tmp_path), str(tmp_path / "x.mrcz")],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr


# -- hooks -----------------------------------------------------------------------------


class ExitingHook:
    @mrczio.hookimpl
    def mrczio_register_codecs(self) -> list[Any]:
        raise SystemExit("a plugin calling sys.exit() in a hook")


class RaisingHook:
    @mrczio.hookimpl
    def mrczio_register_formats(self) -> list[Any]:
        raise ValueError("cannot describe my format")


class WrongType:
    @mrczio.hookimpl
    def mrczio_register_serializers(self) -> Any:
        return "json"


@pytest.mark.parametrize(
    ("plugin", "why"),
    [
        (ExitingHook(), "mrczio_register_codecs raised SystemExit"),
        (RaisingHook(), "mrczio_register_formats raised ValueError"),
        (WrongType(), "returned a str"),
    ],
)
def test_misbehaving_hook_disables_only_that_plugin(
    tmp_path: Path, counts: np.ndarray, plugin: object, why: str
) -> None:
    with pytest.warns(PluginLoadWarning, match=why):
        registry = registry_with(plugin)
    assert registry.manager.is_registered(plugin) is False
    assert {"mrc", "mrcz", "tiff"} <= {e.key for e in registry.formats.entries()}
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, registry=registry)
    assert np.array_equal(mrczio.imread(path, registry=registry), counts)


def test_hook_wrappers_and_tryfirst_take_effect() -> None:
    order: list[str] = []

    class Filter:
        @mrczio.hookimpl(wrapper=True)
        def mrczio_register_codecs(self) -> Any:
            results = yield
            return [[c for c in result if c.name != "zstd"] for result in results]

    class Early:
        @mrczio.hookimpl(tryfirst=True)
        def mrczio_register_pixel_modes(self) -> list[Any]:
            order.append("early")
            return []

    class Late:
        @mrczio.hookimpl(trylast=True)
        def mrczio_register_pixel_modes(self) -> list[Any]:
            order.append("late")
            return []

    registry = registry_with(Late(), Filter(), Early())
    codecs = {e.key for e in registry.codecs.entries()}
    assert "zstd" not in codecs and "lz4" in codecs  # the wrapper changed the collection
    assert order == ["early", "late"]


def test_conflict_names_both_plugins() -> None:
    zstd = mrczio.get_registry().codec("zstd")

    class Copycat:
        @mrczio.hookimpl
        def mrczio_register_codecs(self) -> list[Any]:
            return [zstd]

    with pytest.raises(PluginConflictError, match=r"codec 'zstd' is provided by both plugin '.*'"):
        registry_with(Copycat())


# -- formats outbidding built-ins ---------------------------------------------------


class Greedy(FileFormat):
    name = "greedy"
    extensions = (".x.mrcz",)
    description = "claims everything with confidence 1.0"

    def __init__(self, crash: bool = False) -> None:
        self.crash = crash

    def claim(self, head: bytes, path: str) -> float:
        if self.crash:
            raise RuntimeError("claim exploded")
        return 1.0

    def open_reader(self, path: str, registry: Registry, **kwargs: Any) -> Any:
        return mrczio.get_registry().format("mrcz").open_reader(path, registry, **kwargs)

    def open_writer(self, request: Any, registry: Registry) -> Any:
        return mrczio.get_registry().format("mrcz").open_writer(request, registry)


class GreedyPlugin:
    def __init__(self, crash: bool = False) -> None:
        self.crash = crash

    @mrczio.hookimpl
    def mrczio_register_formats(self) -> list[Any]:
        return [Greedy(self.crash)]


def test_outbidding_a_builtin_warns_once(tmp_path: Path, counts: np.ndarray) -> None:
    registry = registry_with(GreedyPlugin())
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts)
    with pytest.warns(
        PluginOverrideWarning, match=r"'greedy'.*built-in format 'mrcz'.*confidence 1 > "
    ):
        assert registry.format_for_content(path.read_bytes()[:1024], str(path)).name == "greedy"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry.format_for_content(path.read_bytes()[:1024], str(path))  # once only
    with pytest.warns(PluginOverrideWarning, match=r"extension '.x.mrcz' is longer than '.mrcz'"):
        assert registry.format_for_extension("movie.x.mrcz").name == "greedy"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.format_for_extension("other.x.mrcz").name == "greedy"
        assert registry.format_for_extension("plain.mrcz").name == "mrcz"  # no contest


def test_claim_that_raises_disables_the_format(tmp_path: Path, counts: np.ndarray) -> None:
    registry = registry_with(GreedyPlugin(crash=True))
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts)
    with (
        pytest.warns(PluginLoadWarning, match="claim exploded"),
        mrczio.open(path, registry=registry) as reader,
    ):
        assert reader.format_name == "mrcz"
    assert "greedy" not in registry.formats
