"""``mrczio plugins``: installed plugins and what they provide."""

from __future__ import annotations

import argparse
from typing import Any

from mrczio.cli.options import add_json_option
from mrczio.cli.output import emit_json
from mrczio.registry import NameTable, Registry, get_registry

NAME = "plugins"
HELP = "list installed plugins and what they provide"
DESCRIPTION = """\
List the plugins loaded from the "mrczio" entry-point group (mrczio's own included),
the ones that failed to load and why, and the formats, pixel modes, codecs, metadata
serializers and correction filters each provides.
"""
EPILOG = """\
examples:
  mrczio plugins
  mrczio plugins -v                            # also each codec's parameters
  mrczio plugins --json                        # one JSON object
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser, "the listing")


def run(args: argparse.Namespace) -> int:
    registry = get_registry()
    tables: dict[str, NameTable[Any]] = {
        "formats": registry.formats, "pixel modes": registry.modes, "codecs": registry.codecs,
        "serializers": registry.serializers, "filters": registry.filters,
    }  # fmt: skip
    if args.json:
        out: dict[str, dict[str, str]] = {
            kind: {str(e.key): e.plugin for e in table.entries()} for kind, table in tables.items()
        }
        out["plugins"] = {r.name: f"{r.distribution} {r.version}" for r in registry.records}
        out["failed"] = {f.name: f.error for f in registry.failures}
        emit_json({**out, "codec_parameters": _codec_parameters(registry)})
        return 0
    print("plugins:")
    for record in registry.records:
        print(f"  {record.name:<12} {record.distribution} {record.version}  ({record.value})")
    for failure in registry.failures:
        print(f"  {failure.name:<12} FAILED ({failure.distribution}): {failure.error}")
    for kind, table in tables.items():
        print(f"{kind}: " + ", ".join(f"{e.key} [{e.plugin}]" for e in table.entries()))
    if args.verbose:
        print("codec parameters (--codec-option NAME=VALUE):")
        for codec, parameters in _codec_parameters(registry).items():
            for name, about in parameters.items():
                choices = f" [{', '.join(map(str, about['choices']))}]" if about["choices"] else ""
                print(f"  {codec:<10} {name}={about['default']}{choices}  {about['help']}")
    return 0


def _codec_parameters(registry: Registry) -> dict[str, dict[str, dict[str, Any]]]:
    """codec -> parameter -> default, help and choices."""
    return {
        str(entry.key): {
            name: {"default": p.default, "help": p.help, "choices": list(p.choices)}
            for name, p in entry.item.parameters.items()
        }
        for entry in registry.codecs.entries()
    }
