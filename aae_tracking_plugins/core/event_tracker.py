"""``EventTracker``: the public API of the earlier in-house tracker, on top of the core modules."""

from __future__ import annotations

import logging

from aae_tracking_plugins.core.engine.inject import InjectionResult, inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import (
    render_head_stub,
    render_purchase_call,
    render_snippet,
    render_tracker_tag,
)

logger = logging.getLogger("aae_tracking_plugins")


class EventTracker:
    """Builds the tracking script for a landing page and injects it into HTML.

    >>> tracker = EventTracker(api_base_url="https://api.aae.com")
    >>> html = tracker.inject_tracking_script("<html><body>Hi</body></html>", "lp_123", "camp_456")
    """

    def __init__(self, api_base_url: str = "https://api.aae.com") -> None:
        """``api_base_url``: the collector's base URL (https, or http on loopback; no query).

        Raises:
            ConfigError: ``api_base_url`` is not such a URL (the message names the setting).
        """
        # Validate up front (with a placeholder id): a bad URL is the caller's error, not a page's.
        self.api_base_url = TrackingConfig("lp", api_base_url).api_base_url

    def config(self, landing_page_id: str, campaign_id: str | None = None) -> TrackingConfig:
        """The validated settings for one landing page (and campaign) on this API base URL.

        Raises:
            ConfigError: an id is not a short identifier (the message names it).
        """
        return TrackingConfig(landing_page_id, self.api_base_url, campaign_id)

    def generate_tracking_script(self, landing_page_id: str, campaign_id: str | None = None) -> str:
        """The queue stub and the self-initialising tracker as HTML ``<script>`` elements.

        Paste it at the end of ``<body>``; use :meth:`inject_tracking_script` to place the stub
        early in ``<head>`` as well, so purchase calls made before the tracker loads are queued.
        """
        return render_head_stub() + render_tracker_tag(self.config(landing_page_id, campaign_id))

    def generate_purchase_tracking_call(
        self, order_value: float, currency: str, order_id: str | int | None = None
    ) -> str:
        """A ``<script>`` for an order confirmation page that records one Purchase."""
        return render_purchase_call(order_value, currency, order_id)

    def inject(
        self, html: str, landing_page_id: str, campaign_id: str | None = None
    ) -> InjectionResult:
        """Like :meth:`inject_tracking_script`, but says why a page was left alone."""
        return inject(html, render_snippet(self.config(landing_page_id, campaign_id)))

    def inject_tracking_script(
        self, html: str, landing_page_id: str, campaign_id: str | None = None
    ) -> str:
        """``html`` with the tracker inserted (stub in ``<head>``, tracker before ``</body>``).

        A page that cannot be tracked safely is returned unchanged and the reason is logged.
        """
        result = self.inject(html, landing_page_id, campaign_id)
        if result.worth_a_warning:
            logger.warning("aae-tracking: page left untracked: %s", result.skipped_reason)
        return result.html
