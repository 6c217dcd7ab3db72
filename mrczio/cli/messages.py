"""Errors in command-line terms: the one place library messages become CLI messages.

The library speaks Python (``pass overwrite=True``, ``format=...``, parameter names);
the command line must speak flags. :func:`cli_message` rewrites a library error's text
with :data:`REWRITES` and replaces internal temporary file names by the final name the
user asked for. :func:`exit_code` says whether an error is a usage error (exit 2: the
command line asks for something impossible) or a failure (exit 1).
"""

from __future__ import annotations

import re

from mrczio.errors import (
    OptionError,
    UnknownCodecError,
    UnknownFilterError,
    UnknownSerializerError,
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """The command line asks for something impossible; exit 2, nothing written."""


#: Errors that come from the options given, not from a file: exit 2 and stop at once.
USAGE_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    OptionError,
    UnknownCodecError,
    UnknownSerializerError,
    UnknownFilterError,
)

#: Write options of the library and the flags that set them.
OPTION_FLAGS = {
    "overwrite": "--overwrite",
    "format": "--format",
    "clip": "--clip",
    "dtype": "--dtype",
    "codec": "--codec",
    "level": "--level",
    "filter": "--filter",
    "blocksize": "--blocksize",
    "threads": "--threads",
    "chunk_format": "--chunk-format",
    "metadata_format": "--metadata-format",
    "compression": "--compression",
    "packed4bit": "--packed4bit",
}

_OPTION_LIST = re.compile(r"(does not take option\(s\)|it takes:|take no options \() ?([\w, ]+)")

#: (pattern, replacement) applied in order to every library message.
REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (
            r"output file exists; pass overwrite=True to replace it",
            "already exists; add --overwrite to replace it",
        ),
        (r"output is the input file; pass overwrite=True", "output is the input file"),
        (r"pass format=\.\.\.", "name one with --format NAME"),
        (r"pass clip=True to round and clip them", "add --clip to round and clip them"),
        (r"[Pp]ass clip=True to clip them", "add --clip to clip them"),
        (r"\(clip=True\)", "(--clip)"),
        (r"pass dtype=\.\.\. to cast", "add --dtype NAME to cast"),
        (r"\(metadata_format='json'\)", "(--metadata-format json)"),
        (r"packed4bit='standard'", "--packed4bit standard"),
        (r"TIFF compression must be", "--compression must be"),
        (r"^unknown codec '([^']*)'", r"--codec \1: unknown codec"),
        (r"^unknown metadata serializer '([^']*)'", r"--metadata-format \1: unknown serializer"),
        (r"^unknown format '([^']*)'", r"--format \1: unknown format"),
        (r"^unknown correction filter '([^']*)'", r"--filters \1: unknown correction filter"),
        (r"^codec '[^']*': bad level=\S+: .* is not in 0\.\.9", "--level must be 0..9"),
        (r"^codec '[^']*': bad (\w+)=(\S+): ", r"--codec-option \1=\2: "),
        (
            r"^codec '([^']*)' does not take ([\w, ]+); it takes",
            r"codec '\1' does not take --codec-option \2; it takes",
        ),
        (r"^codec_options must be", "--codec-option values must be"),
        (r"^codec '[^']*': filter must be", "--filter must be"),
        (r"^codec '[^']*': chunk_format must be", "--chunk-format must be"),
        (r"^codec '[^']*': (\w+) must be", r"--codec-option \1 must be"),
        (r"^threads must not be negative", "--threads must not be negative"),
        (
            r"no gain reference \(parameter 'gain' or metadata 'gain_reference'\)",
            (
                "no gain reference: give one with --gain FILE (or store 'gain_reference' in the "
                "file's metadata), or leave gain out of --filters"
            ),
        ),
    )
)

#: The temporary names of :class:`mrczio.fileio.AtomicFile`: ``DIR/.NAME.8hex.part``.
_TEMP_NAME = re.compile(r"(?P<dir>[^\s'\"]*/)?\.(?P<name>[^/\s'\"]+?)\.[0-9a-f]{8}\.part")


def strip_temp_names(text: str) -> str:
    """``/d/.out.mrcz.631915ca.part`` -> ``/d/out.mrcz``: users never see temp names."""
    return _TEMP_NAME.sub(lambda m: (m.group("dir") or "") + m.group("name"), text)


def _flags_in_option_lists(text: str) -> str:
    def flags(match: re.Match[str]) -> str:
        names = [n.strip() for n in match.group(2).split(",")]
        mapped = [OPTION_FLAGS.get(n, n) for n in names if n]
        return f"{match.group(1)} {', '.join(mapped)}"

    return _OPTION_LIST.sub(flags, text)


def cli_message(exc: BaseException) -> str:
    """The error as the command line reports it (no ``mrczio: error:`` prefix)."""
    if isinstance(exc, OSError) and exc.strerror is not None:
        text = _os_error_text(exc)
    else:
        text = str(exc) or type(exc).__name__
    for pattern, replacement in REWRITES:
        text = pattern.sub(replacement, text)
    return strip_temp_names(_flags_in_option_lists(text))


def _os_error_text(exc: OSError) -> str:
    """``[Errno 2] No such file or directory: 'x'`` -> ``x: No such file or directory``."""
    reason = exc.strerror or str(exc)
    return reason if exc.filename is None else f"{exc.filename}: {reason}"


def exit_code(exc: BaseException) -> int:
    """2 for usage errors, 1 for everything else."""
    return EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_FAILURE


class WrittenFiles:
    """Outputs finished so far in this run, for the one line printed on Ctrl-C."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def add(self, path: str) -> None:
        self.paths.append(path)

    def interrupted_message(self) -> str:
        if not self.paths:
            return "interrupted; nothing written"
        shown = ", ".join(self.paths[:3]) + (", ..." if len(self.paths) > 3 else "")
        return f"interrupted; nothing partial written, {len(self.paths)} finished kept ({shown})"


#: Reset by :func:`mrczio.cli.main` at the start of every run.
WRITTEN = WrittenFiles()
