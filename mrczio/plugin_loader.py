"""Find plugins through the ``mrczio`` entry-point group and register them, one by one.

pluggy's own ``load_setuptools_entrypoints`` stops at the first plugin that fails and
silently drops a second distribution that reuses a name. This loader instead:

* imports and registers each entry point separately; a third-party plugin that fails to
  import (any exception, ``SystemExit`` included), or has a hook pluggy rejects, is
  reported (a :class:`PluginLoadWarning` and a :class:`LoadFailure` record) and skipped.
  ``KeyboardInterrupt`` is not caught: it is the user stopping the program, and swallowing
  it would make Ctrl-C during start-up do nothing;
* raises :class:`PluginConflictError` when two distributions claim one plugin name;
* raises :class:`PluginsNotInstalledError` when none of mrczio's own built-in plugins is
  found, which happens when the source tree is imported without being installed.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from dataclasses import dataclass

import pluggy

from mrczio import hookspecs
from mrczio.errors import (
    PluginConflictError,
    PluginError,
    PluginLoadWarning,
    PluginsNotInstalledError,
)
from mrczio.plugin_discovery import PluginEntryPoint as EntryPoint
from mrczio.plugin_discovery import entry_points

BUILTIN_DISTRIBUTION = "mrczio"
DISABLE_AUTOLOAD_ENV = "MRCZIO_DISABLE_PLUGIN_AUTOLOAD"


@dataclass(frozen=True)
class PluginRecord:
    """Where a registered plugin came from."""

    name: str
    distribution: str
    version: str
    value: str


@dataclass(frozen=True)
class LoadFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    error: str


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows mrczio's hook specs and holds no plugins."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def _distribution_of(ep: EntryPoint) -> tuple[str, str]:
    return ep.distribution, ep.version


def _group_by_name(eps: list[EntryPoint]) -> dict[str, list[EntryPoint]]:
    grouped: dict[str, list[EntryPoint]] = defaultdict(list)
    for ep in eps:
        grouped[ep.name].append(ep)
    return grouped


def _distinct_claims(name: str, claims: list[EntryPoint]) -> EntryPoint:
    """One entry point per name; two different distributions is a conflict.

    The same distribution can appear twice when it is visible on ``sys.path`` through two
    routes (an editable install plus a stray ``*.egg-info``); that is not a conflict.
    """
    by_dist = {_distribution_of(ep)[0].lower().replace("_", "-"): ep for ep in claims}
    if len(by_dist) > 1:
        owners = ", ".join(sorted(by_dist))
        raise PluginConflictError(
            f"plugin name {name!r} is claimed by several distributions: {owners}; uninstall one of them"
        )
    return next(iter(by_dist.values()))


def load_entry_point_plugins(
    manager: pluggy.PluginManager,
) -> tuple[list[PluginRecord], list[LoadFailure]]:
    """Register every plugin of the ``mrczio`` entry-point group into ``manager``."""
    records: list[PluginRecord] = []
    failures: list[LoadFailure] = []
    found = list(entry_points(group=hookspecs.ENTRY_POINT_GROUP))
    autoload_disabled = bool(os.environ.get(DISABLE_AUTOLOAD_ENV))
    for name, claims in sorted(_group_by_name(found).items()):
        ep = _distinct_claims(name, claims)
        dist_name, version = _distribution_of(ep)
        is_builtin = dist_name == BUILTIN_DISTRIBUTION
        if autoload_disabled and not is_builtin:
            continue
        if manager.is_blocked(name):
            continue
        try:
            _register_checked(manager, ep.load(), name)
        except (Exception, SystemExit) as exc:  # a broken third-party plugin must not end the host
            if is_builtin:
                raise
            manager.set_blocked(name)
            failures.append(LoadFailure(name, dist_name, f"{type(exc).__name__}: {exc}"))
            warnings.warn(
                f"mrczio plugin {name!r} from {dist_name} was skipped: {type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        records.append(PluginRecord(name, dist_name, version, ep.value))
    _require_builtins(records)
    return records, failures


def _register_checked(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register ``plugin``; undo and raise if it has a hook no spec knows (a typo)."""
    manager.register(plugin, name=name)
    for caller in manager.get_hookcallers(plugin) or []:
        if caller.spec is not None:
            continue
        impls = [i for i in caller.get_hookimpls() if i.plugin is plugin]
        if any(not i.opts.get("optionalhook") for i in impls):
            manager.unregister(plugin)
            raise PluginError(f"plugin {name!r} implements unknown hook {caller.name!r}")


def _require_builtins(records: list[PluginRecord]) -> None:
    if not any(r.distribution == BUILTIN_DISTRIBUTION for r in records):
        raise PluginsNotInstalledError(
            "no built-in mrczio plugins were found in the 'mrczio' entry-point group. "
            "mrczio seems to be imported from a source tree that is not installed; "
            "run `pip install -e .` in the repository (or `pip install mrczio`)."
        )
