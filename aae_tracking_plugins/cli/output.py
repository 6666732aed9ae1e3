"""What the command line prints besides its reports: warnings, errors, paths and counts."""

from __future__ import annotations

import sys

PROG = "aae-tracking"


class UsageError(Exception):
    """Something the user can fix: printed as one ``aae-tracking: error: ...`` line, exit 2."""


def one_line(message: str) -> str:
    """``message`` with its line breaks turned into spaces (errors and warnings are one line)."""
    return " ".join(message.splitlines())


def warn(message: str) -> None:
    """Print ``aae-tracking: warning: MESSAGE`` (one line) on stderr."""
    print(f"{PROG}: warning: {one_line(message)}", file=sys.stderr)


def show(path: str) -> str:
    """A path for display: file names that are not valid UTF-8 must not crash the output."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 page"``, ``"2 pages"`` (``plural_form`` for irregular words)."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def os_error(exc: OSError) -> str:
    """The operating system's words for ``exc`` (``"Permission denied"``), without the path."""
    return exc.strerror or str(exc)
