"""``aae-tracking inject SITE_DIR``: add the tracker to every page of a built site, in place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import click

from aae_tracking_plugins.cli.config_file import FLAGS, tracking_config
from aae_tracking_plugins.cli.inject_work import (
    FAILED,
    LEFT_ALONE,
    NOT_PAGE,
    UP_TO_DATE,
    UPDATED,
    InjectOutcome,
    inject_pages,
)
from aae_tracking_plugins.cli.options import (
    Command,
    batch_option,
    config_option,
    jobs_option,
    pixel_option,
    quiet_option,
    site_dir_argument,
    switch,
    value_option,
    verbatim,
    web_vitals_option,
)
from aae_tracking_plugins.cli.output import os_error, plural, show, warn
from aae_tracking_plugins.cli.pool import Progress, process_pages
from aae_tracking_plugins.cli.site_files import SiteFiles, find_site_files
from aae_tracking_plugins.core.cpus import cpu_count
from aae_tracking_plugins.core.settings import SETTING_NAMES
from aae_tracking_plugins.core.tags import write_script_files

EPILOG = """\
config file (TOML), keys at the top level or in an [aae_tracking] table:
  [aae_tracking]
  landing_page_id = "lp_spring_desk"
  campaign_id = "camp_spring_2026"
  api_base_url = "https://api.aae.com"
  inline_script = false     # optional: strict-CSP mode (default true)
  track_automation = false  # optional (default false)
  batch = false             # optional (default false)
  facebook_pixel_id = "1234567890123456"  # optional: also send the events to a Meta Pixel
  variant = "B"             # optional: A/B variant sent with every event
  debug = false             # optional: log every event to the console (default false)
  engagement = true         # optional: send the Engagement event (default true)
  web_vitals = false        # optional: send a WebVitals event (default false)
  consent = "none"          # optional: "opt-in" or "opt-out" asks the visitor (default "none")
  gpc = "opt-out"           # optional: "first-party" keeps our own events under GPC
  cookieless = false        # optional: no cookie; session id in sessionStorage (default false)
  consent_manager = "none"  # optional: "vanilla-cookieconsent", "klaro" or "cookiebot"
  # consent_category = "analytics"  # with a manager: its category (default: its own)
  query_params = ["ref"]    # optional: query keys sent URLs keep besides utm_*, gclid, fbclid
  # optional, file only: hosted checkouts whose links get the session id
  checkout_links = [
    "https://buy.stripe.com/",  # as client_reference_id (Stripe payment links)
    { prefix = "https://shop.example.com/cart/", param = "ref" },
  ]

  # optional, file only: the tracking plan, one [[aae_tracking.events]] table per rule
  [[aae_tracking.events]]
  selector = "a.signup, form#newsletter"
  event = "Lead"
  props = { plan = "pro" }

  [[aae_tracking.events]]
  selector = "#pricing a[href*='checkout']"
  event = "InitiateCheckout"

examples:
  hugo && aae-tracking inject public --config tracking.toml
  bundle exec jekyll build && aae-tracking inject _site --config tracking.toml
  aae-tracking inject _site --config tracking.toml --campaign-id camp_autumn_2026
  aae-tracking inject public --config tracking.toml --no-inline-script

Pages that cannot be tracked safely are left byte-for-byte as they were, with a
warning. Running inject again is safe: up-to-date pages are not rewritten, and a
tracker with other ids is replaced. Exit status: 0 done (even if some pages were
left alone), 1 a file could not be read or written, 2 usage error.
"""


DESCRIPTION = """\
Insert the tracking stub and tracker into every *.html / *.htm file under
SITE_DIR, in place (and into *.xhtml / *.xht files, written as XML). Every other
byte of each page, and its encoding, is kept; precompressed copies next to a page
(index.html.gz, .br, .zst) are rewritten from the new page. Hidden directories
(.git, ...) are skipped; symlinks are not followed."""


def _query_keys(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """``--query-params ref,plan`` as the list ``query_params`` takes (``None``: not given, so a
    config file's value stands; ``''``: no keys of the site's own)."""
    if value is None:
        return None
    return [key.strip() for key in value.split(",") if key.strip()]


def inject_summary(outcomes: Sequence[InjectOutcome], files: SiteFiles) -> str:
    """The last line of ``inject``'s output: a count for each kind of file."""
    counts = Counter(outcome.kind for outcome in outcomes)
    tracked = counts[UPDATED] + counts[UP_TO_DATE]
    parts = [
        f"tracked {plural(tracked, 'page')} ({counts[UPDATED]} updated, "
        f"{counts[UP_TO_DATE]} already up to date)",
        f"left {counts[LEFT_ALONE]} alone",
        f"{counts[NOT_PAGE]} not {'a page' if counts[NOT_PAGE] == 1 else 'pages'}",
        f"skipped {plural(files.other_files, 'non-HTML file')}",
    ]
    copies = sum(outcome.copies for outcome in outcomes)
    if copies:
        parts.append(f"rewrote {plural(copies, 'precompressed copy', 'precompressed copies')}")
    if files.symlinked_pages:
        parts.append(f"skipped {plural(len(files.symlinked_pages), 'symlink')}")
    if files.excluded:
        parts.append(f"excluded {len(files.excluded)}")
    failed = counts[FAILED] + len(files.errors)
    if failed:
        parts.append(f"{failed} could not be read or written")
    return ", ".join(parts)


def _report(outcomes: Sequence[InjectOutcome], files: SiteFiles, root: str, quiet: bool) -> int:
    """Print the warnings and the summary; return the exit status."""
    for path, why in files.errors:
        warn(f"{show(path)} {why}")
    for outcome in outcomes:
        if outcome.kind == LEFT_ALONE:
            warn(f"{show(outcome.path)} left untracked: {outcome.reason}")
        elif outcome.kind == FAILED:
            warn(f"{show(outcome.path)} {outcome.reason}")
    if not files.pages and not files.excluded:
        warn(f"no .html or .htm files under {root!r}: is it the site's build output directory?")
    if not quiet:
        print(inject_summary(outcomes, files))
    failed = files.errors or any(outcome.kind == FAILED for outcome in outcomes)
    return 1 if failed else 0


@click.command(
    "inject",
    cls=Command,
    help=verbatim(DESCRIPTION),
    short_help="add the tracker to every HTML page of a built site (in place)",
    epilog=EPILOG,
)
@site_dir_argument()
@value_option("landing-page-id", "ID", "landing page id sent with every event (required)")
@value_option("campaign-id", "ID", "campaign id sent with every event")
@value_option(
    "api-base-url",
    "URL",
    "base URL of the events API, e.g. https://api.aae.com (required; https, or http for "
    "localhost only); events go to URL/api/v1/landing-pages/events",
)
@switch(
    "inline-script",
    "--no-inline-script: strict Content-Security-Policy mode: write the scripts as hashed files "
    "into SITE_DIR/aae-tracking/ and load them with src and integrity, no inline script "
    "(default: inline scripts; see 'aae-tracking csp-hashes')",
)
@switch(
    "track-automation",
    "also track browsers driven by automation (navigator.webdriver), e.g. in your own "
    "end-to-end tests (default: not tracked)",
)
@batch_option('send several events per request as {"events": [...]} (default: one per request)')
@pixel_option(
    "Meta (Facebook) Pixel id (5-20 digits): pages also load the Pixel, send it the same events "
    "and carry its <noscript> image fallback (default: no Pixel code at all; see "
    "docs/facebook-pixel.md)"
)
@value_option(
    "variant",
    "ID",
    "A/B variant of the pages, sent as event_data.variant with every event (same characters as "
    "the ids; default: none; '' removes a variant set in --config)",
)
@switch(
    "debug",
    "log every event to the browser console with why it was sent or dropped (default: off; "
    "?aae_debug=1 in a page's URL also turns it on)",
)
@switch(
    "engagement",
    "--no-engagement: do not send the Engagement event (engaged time and scroll depth per page "
    "view; default: sent)",
)
@web_vitals_option(
    "send one WebVitals event per page load (LCP, CLS, INP, FCP, TTFB) with the tracker.vitals "
    "build of the script (default: off, no Web Vitals code)"
)
@value_option(
    "consent",
    "MODE",
    "ask the visitor's consent: 'opt-in' (nothing stored or sent, no Pixel, until "
    "AAE_TRACKING.consent(true)), 'opt-out' (tracked until AAE_TRACKING.consent(false)) or "
    "'none' (default: not asked); see docs/consent.md",
)
@value_option(
    "gpc",
    "MODE",
    "what a browser's Global Privacy Control signal stops: 'opt-out' (default: all tracking) "
    "or 'first-party' (the Pixel only; our own events are still sent)",
)
@value_option(
    "consent-manager",
    "NAME",
    "the consent manager that runs the tracker once the visitor consents: "
    "'vanilla-cookieconsent', 'klaro' or 'cookiebot' (the tracker tag is written "
    "type=\"text/plain\" with its category) or 'none' (default); a gating already on a "
    "page's tracker tag is kept; see docs/consent.md",
)
@value_option(
    "consent-category",
    "NAME",
    "the consent manager's category (Klaro: service) for the tracker tag (default: "
    "'analytics', Klaro 'aae-tracking', Cookiebot 'statistics')",
)
@switch(
    "cookieless",
    "no cookie at all: the session id lives in sessionStorage (one tab), and so does the "
    "retry queue (default: the _aae_sid cookie, 30 days)",
)
@click.option(
    "--query-params",
    metavar="KEYS",
    callback=_query_keys,
    help="comma-separated query keys that the URLs in events keep, e.g. ref,plan (default: only "
    "utm_source, utm_medium, utm_campaign, utm_term, utm_content, gclid and fbclid; every other "
    "key and the #fragment are dropped; see docs/security-privacy.md)",
)
@config_option(
    "TOML file with the settings (top-level keys or an [aae_tracking] table): "
    f"{', '.join(SETTING_NAMES)}. They are the flags above with '_', plus two that only this "
    "file can set: the tracking plan, events ([[aae_tracking.events]] tables with selector, "
    "event and props), and checkout_links (an array of URL prefixes or {prefix, param} "
    "tables); see the example below. Flags given on the command line override the file"
)
@click.option(
    "--exclude",
    metavar="GLOB",
    multiple=True,
    help="leave pages whose path relative to SITE_DIR matches GLOB alone, e.g. 'privacy/*' "
    "('*' also matches '/'); repeatable",
)
@jobs_option()
@quiet_option("no progress and no summary; warnings only")
def inject_command(
    site_dir: str,
    config: str | None,
    exclude: tuple[str, ...],
    jobs: int | None,
    quiet: bool,
    **flags: object,
) -> int:
    """Track every page of ``site_dir``; return the exit status (0, or 1 for I/O errors).

    Raises:
        UsageError: a bad setting in the flags or the ``--config`` file.
    """
    settings = tracking_config({key: flags[key] for key in FLAGS}, config)
    files = find_site_files(site_dir, exclude)
    if not settings.inline_script:  # the pages' src must never point at a missing file
        try:
            write_script_files(site_dir, settings)
        except OSError as exc:
            warn(f"cannot write the script files into {show(site_dir)}: {os_error(exc)}")
            return 1
    progress = Progress(len(files.pages), enabled=not quiet)
    outcomes = process_pages(
        inject_pages, site_dir, files.pages, settings, jobs=jobs or cpu_count(), progress=progress
    )
    outcomes.sort(key=lambda outcome: outcome.path)
    return _report(outcomes, files, site_dir, quiet)
