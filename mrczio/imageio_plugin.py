"""imageio v3 plugin: ``imageio.v3.imread("movie.mrcz")`` and friends, after ``import mrczio``.

imageio has no entry points: a plugin adds itself to ``imageio.config.known_plugins`` and
``known_extensions``. Importing imageio costs about 0.1 s, so ``import mrczio`` does not
import it: :func:`register_when_imported` registers at once if imageio's config is
already loaded, and otherwise installs a one-shot import hook that registers right
after ``imageio.config`` is first imported. The plugin class itself is built on first
use (module ``__getattr__``), which is when imageio's lazy ``PluginConfig`` asks for it.

Index semantics follow imageio's v3 contract. An *ndimage* is one frame of an image
stack or movie, the whole volume of a volume (ISPG 1..230), one volume of a volume
stack. ``index=None`` (the default) reads the whole file as :func:`mrczio.imread` does;
an int reads one ndimage; ``index=...`` stacks all ndimages on a new batch axis.
``improps`` reports shape, dtype, ``n_images``, ``is_batch`` and ``spacing`` (the voxel
size in Angstrom, slowest axis first, or None when the file does not know it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

PLUGIN_NAME = "mrczio"
CLASS_NAME = "MrczioPlugin"
#: The module imageio imports (only when it first needs the plugin) for the class.
PLUGIN_MODULE = "mrczio._imageio_v3"
#: MRC and MRCZ extensions no other imageio plugin claims (``.rec`` stays tifffile's).
EXTENSIONS = (".mrc", ".mrcs", ".mrcz", ".map", ".st", ".ali", ".ccp4")
#: imageio-style keyword names accepted by ``write`` and their mrczio names.
WRITE_ALIASES = {"clevel": "level", "nthreads": "threads", "compressor": "codec"}


def register() -> None:
    """Add mrczio to imageio's plugin and extension tables (imports imageio; idempotent)."""
    from imageio.config import FileExtension, PluginConfig, known_extensions, known_plugins

    known_plugins[PLUGIN_NAME] = PluginConfig(
        name=PLUGIN_NAME, class_name=CLASS_NAME, module_name=PLUGIN_MODULE
    )
    for ext in EXTENSIONS:
        entries = [e for e in known_extensions.get(ext, []) if PLUGIN_NAME not in e.priority]
        ours = FileExtension(
            extension=ext, priority=[PLUGIN_NAME], name="MRC/MRCZ",
            description="MRC2014, MRCZ and 4-bit MRC through mrczio",
        )  # fmt: skip
        known_extensions[ext] = [ours, *entries]


class _RegisterAfter(importlib.abc.Loader):
    """Runs the real loader of ``imageio.config``, then :func:`register`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        register()


class _ImageioConfigHook(importlib.abc.MetaPathFinder):
    """A one-shot finder that wraps the loader of ``imageio.config``."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != "imageio.config":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfter(spec.loader)
        return spec


def register_when_imported() -> None:
    """Register now if imageio is loaded, else as soon as it is (cheap: imports nothing)."""
    if "imageio.config" in sys.modules:
        register()
    elif not any(isinstance(finder, _ImageioConfigHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ImageioConfigHook())


def write_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """imageio-style write keywords translated to mrczio option names."""
    return {WRITE_ALIASES.get(key, key): value for key, value in kwargs.items()}


def extension_of(request: Any) -> str:
    """The extension imageio was told (``extension=``) or the file name's."""
    if request.extension:
        return str(request.extension).lower()
    return os.path.splitext(str(getattr(request, "raw_uri", "") or ""))[1].lower()
