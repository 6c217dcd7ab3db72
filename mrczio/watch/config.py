"""Settings of ``mrczio watch``: defaults, a TOML file's ``[watch]`` table, then flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mrczio.errors import OptionError

MOVIE_PATTERNS = ("*.mrc", "*.mrcs", "*.tif", "*.tiff")
SIDECAR_PATTERNS = (
    "*.mdoc",
    "*.xml",
    "*.json",
    "*.dm4",
    "*.gain",
    "*gain*.mrc",
    "*gain*.tif",
    "*gain*.tiff",
)
STATE_DIR = ".mrczio-watch"


@dataclass
class WatchConfig:
    """Everything the watcher needs. Patterns match file names case-insensitively;
    sidecar patterns are tried first, so ``*gain*.mrc`` is copied, not compressed."""

    source: str
    dest: str
    quiet_seconds: float = 10.0
    poll_seconds: float = 2.0
    delete_source: bool = False
    once: bool = False
    retries: int = 2
    format: str = "mrcz"
    suffix: str = ".mrcz"
    movie_patterns: tuple[str, ...] = MOVIE_PATTERNS
    sidecar_patterns: tuple[str, ...] = SIDECAR_PATTERNS
    write: dict[str, Any] = field(default_factory=dict)
    journal: str | None = None

    @property
    def state_dir(self) -> str:
        return os.path.join(self.dest, STATE_DIR)

    @property
    def journal_path(self) -> str:
        return self.journal or os.path.join(self.state_dir, "journal.jsonl")

    def check(self) -> None:
        if not os.path.isdir(self.source):
            raise OptionError(f"{self.source}: the watched folder does not exist")
        if self.quiet_seconds < 0 or self.poll_seconds <= 0:
            raise OptionError("quiet_seconds must be >= 0 and poll_seconds > 0")
        if self.retries < 0:
            raise OptionError("retries must be >= 0")
        if os.path.realpath(self.source) == os.path.realpath(self.dest):
            raise OptionError(f"{self.dest}: the destination must differ from the watched folder")


def read_toml(path: str) -> dict[str, Any]:
    """The ``[watch]`` table of a TOML file (the whole file when it has none)."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(f"{path}: not valid TOML: {exc}") from None
    table = data.get("watch", data)
    if not isinstance(table, dict):
        raise OptionError(f"{path}: [watch] must be a table")
    return table


def load_config(path: str | None, overrides: Mapping[str, Any]) -> WatchConfig:
    """Defaults, then the file at ``path`` (if any), then ``overrides`` (None values ignored)."""
    values: dict[str, Any] = read_toml(path) if path else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(WatchConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        where = f"{path}: " if path else ""
        raise OptionError(f"{where}unknown watch setting(s): {', '.join(unknown)}")
    for name in ("source", "dest"):
        if not values.get(name):
            raise OptionError(f"watch needs a {name} folder (argument or '{name} = ...' in the config file)")
    for name in ("movie_patterns", "sidecar_patterns"):
        if name in values:
            values[name] = tuple(str(p) for p in values[name])
    if "write" in values and not isinstance(values["write"], dict):
        raise OptionError("[watch.write] must be a table of write options")
    config = WatchConfig(**values)
    config.check()
    return config
