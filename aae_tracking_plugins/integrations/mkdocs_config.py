"""The MkDocs plugin's typed ``Config``, apart from its hooks (as mkdocs-material's plugins keep
``config.py`` beside ``plugin.py``): what ``mkdocs.yml`` may say under ``- aae-tracking:``."""

from __future__ import annotations

from mkdocs.config import base
from mkdocs.config import config_options as c

__all__ = ["AaeTrackingConfig"]


class AaeTrackingConfig(base.Config):
    """The plugin's ``mkdocs.yml`` options: every setting of :data:`SETTING_NAMES`, plus
    ``enabled`` and ``static_html``.

    Types are checked by :class:`TrackingConfig`, which gives one message per setting for every
    generator (``events[2].selector: ...``), so the options take any value of a plausible type.
    """

    landing_page_id = c.Optional(c.Type((str, int)))
    campaign_id = c.Optional(c.Type((str, int)))
    api_base_url = c.Optional(c.Type(str))
    # Any value: TrackingConfig accepts only real booleans, with its own one-line message.
    inline_script = c.Optional(c.Type(object))
    track_automation = c.Optional(c.Type(object))
    batch = c.Optional(c.Type(object))
    facebook_pixel_id = c.Optional(c.Type((str, int)))
    debug = c.Optional(c.Type(object))
    engagement = c.Optional(c.Type(object))
    web_vitals = c.Optional(c.Type(object))
    cookieless = c.Optional(c.Type(object))
    #: ``none``, ``opt-in`` or ``opt-out``; any value: TrackingConfig names the modes.
    consent = c.Optional(c.Type(object))
    #: ``opt-out`` or ``first-party`` (what Global Privacy Control stops), as above.
    gpc = c.Optional(c.Type(object))
    #: The consent manager that gates the tracker tag, and its category (docs/consent.md).
    consent_manager = c.Optional(c.Type(object))
    consent_category = c.Optional(c.Type(object))
    #: The page's A/B variant (overridable per page in front matter).
    variant = c.Optional(c.Type((str, int)))
    #: The tracking plan: a list of ``{selector, event, props}`` mappings. Any value: a
    #: non-list is refused by TrackingConfig with a message naming ``events``.
    events = c.Optional(c.Type(object))
    #: Hosted-checkout URL prefixes (text) or ``{prefix, param}`` mappings, any value as above.
    checkout_links = c.Optional(c.Type(object))
    #: Query keys sent URLs keep besides the UTM parameters, gclid and fbclid, any value as above.
    query_params = c.Optional(c.Type(object))
    #: False: the plugin does nothing (no tags, no checks), e.g. ``!ENV [AAE_TRACKING, true]``.
    enabled = c.Type(bool, default=True)
    #: Also track hand-written .html files copied from docs_dir as they are.
    static_html = c.Type(bool, default=True)
