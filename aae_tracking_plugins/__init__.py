"""First-party event tracking for MkDocs and Pelican landing pages.

The public API: :class:`EventTracker` (the earlier in-house tracker's API), :class:`TrackingConfig`
and its :class:`ConfigError`, and :class:`InjectionResult`. The layout is in the README.
"""

from aae_tracking_plugins.core.engine.inject import InjectionResult
from aae_tracking_plugins.core.event_tracker import EventTracker
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.values import ConfigError
from aae_tracking_plugins.core.version import __version__

__all__ = ["ConfigError", "EventTracker", "InjectionResult", "TrackingConfig", "__version__"]
