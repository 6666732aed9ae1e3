"""The package version, read from the installed metadata (pyproject.toml is its one source)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("aae-tracking-plugins")
except metadata.PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"
