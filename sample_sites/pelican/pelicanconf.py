"""Pelican settings for the sample landing site."""

import os

AUTHOR = "Acme Marketing"
SITENAME = "Acme Standing Desk"
SITEURL = ""
RELATIVE_URLS = True
TIMEZONE = "Europe/Berlin"
DEFAULT_LANG = "en"
PATH = "content"
DEFAULT_PAGINATION = 2
YEAR_ARCHIVE_SAVE_AS = "posts/{date:%Y}/index.html"
MONTH_ARCHIVE_SAVE_AS = "posts/{date:%Y}/{date:%m}/index.html"
FEED_ALL_ATOM = "feeds/all.atom.xml"  # feeds are XML: never tracked
FEED_DOMAIN = "https://desk.example.com"
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None

PLUGINS = ["aae_tracking"]
AAE_TRACKING = {
    "landing_page_id": "lp_spring_desk",
    "campaign_id": "camp_spring_2026",
    # Production: "https://api.aae.com". `make demo` and the tests point it at a local collector.
    "api_base_url": os.environ.get("AAE_API_BASE_URL", "https://api.aae.com"),
    # The tracking plan: clicks on these elements send custom events, no page markup needed
    # (docs/custom-events.md). The FAQ on the launch page uses data-aae-event in its markup.
    "events": [{"selector": "#book-call", "event": "Lead", "props": {"source": "landing"}}],
}
