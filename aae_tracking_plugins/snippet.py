"""Render the tags that go into pages from the Jinja2 templates and the built browser scripts.

Config values only ever reach the page as HTML-escaped attribute values (read by the tracker from
``document.currentScript.dataset``) or as ``tojson`` data, never as code, so no value can end the
``<script>`` element or run as JavaScript.
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache
from importlib.resources import files

import jinja2
from markupsafe import Markup

from .config import TrackingConfig
from .inject import MARKER_ATTRIBUTE, Snippet

# Inline script text must never contain these: each would end or re-mode the <script> element.
_UNSAFE_IN_SCRIPT = re.compile(r"</script|<script|<!--", re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("aae_tracking_plugins", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def browser_script(name: str) -> Markup:
    """A built (minified) browser script shipped in the package, e.g. ``tracker``."""
    text = files("aae_tracking_plugins").joinpath(f"static/{name}.min.js").read_text("utf-8")
    text = text.strip()
    if _UNSAFE_IN_SCRIPT.search(text):  # a broken build must never reach a page
        raise RuntimeError(
            f"static/{name}.min.js contains markup that would break an inline script"
        )
    return Markup(text)


def _render(template: str, **values: object) -> str:
    return _environment().get_template(template).render(marker=MARKER_ATTRIBUTE, **values)


@cache
def render_head_stub() -> str:
    return _render("head_stub.html.j2", stub_js=browser_script("stub"))


@lru_cache(maxsize=256)  # one render per distinct config, not one per page
def render_tracker_tag(config: TrackingConfig) -> str:
    return _render("tracker_tag.html.j2", config=config, tracker_js=browser_script("tracker"))


def render_snippet(config: TrackingConfig) -> Snippet:
    return Snippet(head=render_head_stub(), body=render_tracker_tag(config))


def render_purchase_call(
    order_value: float, currency: str, order_id: str | int | None = None
) -> str:
    """A self-contained ``<script>`` that records a Purchase, wherever on the page it is placed.

    It carries the queue stub, so it works before the tracker has loaded or without it.
    """
    if isinstance(order_value, bool) or not isinstance(order_value, (int, float)):
        raise ValueError(f"order_value must be a number, got {order_value!r}")
    if not math.isfinite(order_value) or order_value < 0:
        raise ValueError(f"order_value must be a finite number >= 0, got {order_value!r}")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise ValueError(
            f"currency must be a 3-letter ISO 4217 code such as 'USD', got {currency!r}"
        )
    if order_id is not None and (
        isinstance(order_id, bool) or not isinstance(order_id, (str, int))
    ):
        raise ValueError(f"order_id must be text or a whole number, got {order_id!r}")
    if isinstance(order_id, str) and not 0 < len(order_id) <= 128:
        raise ValueError(f"order_id must be 1-128 characters, got {order_id!r}")
    purchase = {
        "value": order_value,
        "currency": currency.upper(),
        "order_id": None if order_id is None else str(order_id),
    }
    return _render("purchase_call.html.j2", stub_js=browser_script("stub"), purchase=purchase)
