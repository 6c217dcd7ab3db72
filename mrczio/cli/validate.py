"""``mrczio validate``: MRC2014 and MRCZ checks, exit 1 if any file has an error."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from mrczio.cli.options import add_json_option
from mrczio.cli.output import emit_json

NAME = "validate"
HELP = "check files against MRC2014 and MRCZ rules"
DESCRIPTION = """\
Check each file against MRC2014 (as mrcfile.validate does) and, for MRCZ, decode every
chunk. Prints one line per finding and "valid" for clean files; exits 1 if any file
has an error-level finding (warnings alone exit 0).
"""
EPILOG = """\
examples:
  mrczio validate movie.mrcz
  mrczio validate --json *.mrc                 # one JSON object per line
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    add_json_option(parser, "one result per file")


def run(args: argparse.Namespace) -> int:
    from mrczio.validate import validate

    status = 0
    for path in args.files:
        findings = validate(path)
        valid = not any(f.severity == "error" for f in findings)
        status = status if valid else 1
        if args.json:
            emit_json({"path": path, "valid": valid, "findings": [asdict(f) for f in findings]})
            continue
        for finding in findings:
            print(f"{path}: {finding.severity}: [{finding.code}] {finding.message}")
        if not findings:
            print(f"{path}: valid")
    return status
