"""``aae-tracking csp-hashes``: the Content-Security-Policy hashes of the inline scripts."""

from __future__ import annotations

import click

from aae_tracking_plugins.cli.config_file import read_config_file
from aae_tracking_plugins.cli.options import (
    Command,
    batch_option,
    config_option,
    pixel_option,
    switch,
    verbatim,
    web_vitals_option,
)
from aae_tracking_plugins.cli.output import UsageError, warn
from aae_tracking_plugins.core.plan import CheckoutLink, validate_checkout_links
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import csp_hashes
from aae_tracking_plugins.core.values import ConfigError, validate_bool, validate_pixel_id

DESCRIPTION = """\
Print the 'sha256-...' sources a Content-Security-Policy script-src must
allow for the inline scripts that inject (and the MkDocs and Pelican plugins) put into
pages. They depend on this version and on the settings that select another tracker
build (batch, whether a Facebook Pixel id is set, web_vitals, whether checkout links
are set), not on the ids, URLs, variant, tracking plan or the links themselves, which
are attributes."""

EPILOG = """\
output: one line, the sources to add to script-src, e.g.
  'sha256-...' 'sha256-...'

examples:
  aae-tracking csp-hashes
  aae-tracking csp-hashes --config tracking.toml
  echo "Content-Security-Policy: script-src 'self' $(aae-tracking csp-hashes)"

The hashes change when aae-tracking-plugins is upgraded: print them again after every
upgrade, or use strict-CSP mode (inject --no-inline-script), which needs only 'self'.
Purchase calls (render_purchase_call) are inline scripts with per-order data: they
cannot be allowed by a fixed hash; see docs/purchase.md.
"""


def _file_settings(config: str | None) -> dict[str, object]:
    """The ``--config`` settings this command reads, validated as ``inject`` would.

    Raises:
        UsageError: an unknown setting, or a bad ``batch``/``inline_script``/``web_vitals``/
            ``facebook_pixel_id``/``checkout_links`` value.
    """
    if config is None:
        return {}
    settings = read_config_file(config)
    unknown = sorted(str(key) for key in settings if key not in SETTING_NAMES)
    if unknown:  # the same file must work for inject, which refuses it
        raise UsageError(
            f"{config}: {unknown[0]}: unknown setting (known settings: {', '.join(SETTING_NAMES)})"
        )
    try:
        for key in ("batch", "inline_script", "web_vitals"):
            if key in settings:
                validate_bool(key, settings[key])
        if settings.get("facebook_pixel_id") not in (None, ""):
            pixel = validate_pixel_id("facebook_pixel_id", settings["facebook_pixel_id"])
            settings["facebook_pixel_id"] = pixel
        if settings.get("checkout_links") is not None:
            links = validate_checkout_links("checkout_links", settings["checkout_links"])
            settings["checkout_links"] = links
    except ConfigError as exc:
        raise UsageError(f"{config}: {exc}") from None
    return settings


@click.command(
    "csp-hashes",
    cls=Command,
    help=verbatim(DESCRIPTION),
    short_help="print the Content-Security-Policy hashes of the inline scripts",
    epilog=EPILOG,
)
@batch_option("hashes for the batch tracker (default: the batch setting of --config, else off)")
@pixel_option(
    "hashes for pages with this Meta Pixel id (any id gives the same hashes; default: the "
    "facebook_pixel_id of --config, else none)"
)
@web_vitals_option(
    "hashes for the tracker that sends WebVitals (default: the web_vitals setting of --config, "
    "else off)"
)
@switch(
    "checkout",
    "hashes for pages with checkout_links (any links give the same hashes; default: whether "
    "--config sets checkout_links)",
)
@config_option(
    "the TOML settings file given to inject (only batch, web_vitals, facebook_pixel_id, "
    "checkout_links and inline_script are read)"
)
def csp_hashes_command(
    batch: bool | None,
    facebook_pixel_id: str | None,
    web_vitals: bool | None,
    checkout: bool | None,
    config: str | None,
) -> int:
    """Print the CSP hash sources for the build that ``--config`` and the flags select.

    Raises:
        UsageError: a bad setting in the file (see :func:`_file_settings`) or a bad
            ``--facebook-pixel-id``.
    """
    settings = _file_settings(config)
    pixel: object = settings.get("facebook_pixel_id")
    if facebook_pixel_id is not None:
        try:
            pixel = validate_pixel_id("--facebook-pixel-id", facebook_pixel_id)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    links: object = settings.get("checkout_links") or ()
    if checkout is not None:
        # Any link selects the same build: only whether there are links matters.
        links = (CheckoutLink("https://checkout.invalid/"),) if checkout else ()
    if settings.get("inline_script") is False:
        warn(
            f"{config} sets inline_script = false: the pages carry no inline script, "
            "so script-src 'self' is enough; the hashes below are for the inline mode"
        )
    build = TrackingConfig(
        "lp",
        "https://api.invalid",
        batch=bool(settings.get("batch", False) if batch is None else batch),
        web_vitals=bool(settings.get("web_vitals", False) if web_vitals is None else web_vitals),
        facebook_pixel_id=str(pixel) if pixel not in (None, "") else None,
        checkout_links=links if isinstance(links, tuple) else (),
    )
    print(" ".join(source for _script, source in csp_hashes(build)))
    return 0
