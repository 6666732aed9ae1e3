"""First-party event tracking for MkDocs and Pelican landing pages."""

from importlib import metadata as _metadata

from .config import ConfigError, TrackingConfig
from .inject import InjectionResult
from .tracker import EventTracker

__all__ = ["ConfigError", "EventTracker", "InjectionResult", "TrackingConfig"]
try:  # pyproject.toml is the one version source; the installed metadata carries it.
    __version__ = _metadata.version("aae-tracking-plugins")
except _metadata.PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"
