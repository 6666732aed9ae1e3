"""First-party event tracking for MkDocs and Pelican landing pages."""

from .config import ConfigError, TrackingConfig
from .inject import InjectionResult
from .tracker import EventTracker

__all__ = ["ConfigError", "EventTracker", "InjectionResult", "TrackingConfig"]
__version__ = "0.1.0"
