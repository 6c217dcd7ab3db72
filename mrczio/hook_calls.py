"""Calling the registration hooks through pluggy while keeping track of who returned what.

:func:`call_registration_hook` runs one ``mrczio_register_*`` hook the pluggy way, so
``tryfirst``/``trylast`` ordering and hook wrappers (``wrapper=True`` or the older
``hookwrapper=True``) take effect, and still knows which plugin returned each list of
descriptors (the registry names both plugins in a conflict message). It does so by
giving every ordinary implementation a thin recording shim once, when the registry is
built.

A plugin must never take the host down: an implementation that raises (``SystemExit``
included) is recorded as failed and contributes nothing, and the hook call goes on with
the other plugins. ``KeyboardInterrupt`` is deliberately not caught: it is the user
asking to stop, not the plugin misbehaving. A hook wrapper that raises makes the whole
call fail; the wrappers of third-party plugins are then reported as failed, so that the
caller can disable them and call again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

BUILTIN_PACKAGE = "mrczio_builtin"
UNKNOWN_WRAPPER = "<hook wrapper>"


@dataclass
class Contribution:
    """What one plugin's implementation returned from one hook."""

    plugin: str
    result: Any


@dataclass
class HookOutcome:
    """All contributions to one hook call, and the plugins that failed in it."""

    contributions: list[Contribution] = field(default_factory=list)
    failures: dict[str, BaseException] = field(default_factory=dict)


@dataclass
class _Recording:
    owners: dict[int, str] = field(default_factory=dict)
    kept: list[Any] = field(default_factory=list)  # keeps ids unique while the call runs
    failures: dict[str, BaseException] = field(default_factory=dict)


class _Shim:
    """Stands in for an implementation: records its result, or its failure."""

    def __init__(self, function: Callable[..., Any], plugin: str, session: list[_Recording]) -> None:
        self.function = function
        self.plugin = plugin
        self._session = session

    def __call__(self, *args: Any) -> Any:
        recording = self._session[-1]
        try:
            result = self.function(*args)
        except (Exception, SystemExit) as exc:
            recording.failures[self.plugin] = exc
            return None
        if result is not None:
            recording.owners[id(result)] = self.plugin
            recording.kept.append(result)
        return result


def plugin_name(manager: pluggy.PluginManager, plugin: object) -> str:
    return manager.get_name(plugin) or repr(plugin)


def is_builtin(plugin: object) -> bool:
    """True for mrczio's own plugin modules (``mrczio_builtin.*``)."""
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    return str(module).split(".")[0] == BUILTIN_PACKAGE


class HookRecorder:
    """Installs the recording shims on a plugin manager's registration hooks."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._session: list[_Recording] = []

    def install(self, caller: pluggy.HookCaller) -> None:
        for impl in caller.get_hookimpls():
            if impl.wrapper or impl.hookwrapper or isinstance(impl.function, _Shim):
                continue
            shim = _Shim(impl.function, plugin_name(self.manager, impl.plugin), self._session)
            # pluggy types HookImpl.function as Final, but it is a plain slot it calls
            # through; replacing it is how each result stays attributed to its plugin.
            setattr(impl, "function", shim)  # noqa: B010

    def call(self, caller: pluggy.HookCaller) -> HookOutcome:
        """Call the hook through pluggy; see the module docstring."""
        self.install(caller)
        recording = _Recording()
        self._session.append(recording)
        try:
            results = caller()
        except (Exception, SystemExit) as exc:
            return HookOutcome([], {**recording.failures, **self._wrappers_failed(caller, exc)})
        finally:
            self._session.pop()
        contributions = [
            Contribution(recording.owners.get(id(result), UNKNOWN_WRAPPER), result) for result in results
        ]
        return HookOutcome(contributions, recording.failures)

    def _wrappers_failed(self, caller: pluggy.HookCaller, exc: BaseException) -> dict[str, BaseException]:
        wrappers = [i for i in caller.get_hookimpls() if (i.wrapper or i.hookwrapper)]
        third_party = [i for i in wrappers if not is_builtin(i.plugin)]
        if not third_party:  # mrczio's own code failed: that is a bug to report, not hide
            raise exc
        return {plugin_name(self.manager, i.plugin): exc for i in third_party}
