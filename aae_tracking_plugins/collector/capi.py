"""What the collector relays to Meta's Conversions API, and its settings.

The server side of dual tracking (docs/collector.md, "Forwarding to Facebook's Conversions
API"): a page with a Meta Pixel gives the Pixel each event with our ``event_id`` as its
``eventID`` (docs/facebook-pixel.md); the collector relays the same event to the Conversions
API with the same ``event_id`` and ``event_name``, and Meta keeps one of the two ("Deduplicate
Pixel and Server Events",
https://developers.facebook.com/docs/marketing-api/conversions-api/deduplicate-pixel-and-server-events:
the pair ``event_name`` + ``event_id`` within 48 hours).

:func:`server_event` builds one "server event" (Meta: "Server Event Parameters",
https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/server-event;
"Customer Information Parameters",
https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters):
``event_name``, ``event_id``, ``event_time`` (unix seconds), ``action_source: "website"``,
``event_source_url``, ``user_data`` with ``client_user_agent``, ``client_ip_address`` and
``fbp`` / ``fbc`` when the browser passed them, and ``custom_data`` as the Pixel got it. Nothing
else about the visitor: no e-mail, phone or other hashed identifier.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final
from urllib.parse import urlsplit

from aae_tracking_plugins.collector.access import parse_address
from aae_tracking_plugins.collector.storage.outbox import OutboxEntry

__all__ = [
    "ENVIRONMENT",
    "META_STANDARD_EVENTS",
    "CapiSettings",
    "RequestContext",
    "client_address",
    "forwarded",
    "outbox_entries",
    "server_event",
]

#: The environment variables of the forwarding (the access token is read from nowhere else).
ENVIRONMENT: Final = {
    "pixel_id": "AAE_CAPI_PIXEL_ID",
    "access_token": "AAE_CAPI_ACCESS_TOKEN",
    "graph_url": "AAE_CAPI_GRAPH_URL",
    "api_version": "AAE_CAPI_API_VERSION",
    "test_event_code": "AAE_CAPI_TEST_EVENT_CODE",
}
#: Meta's standard events (https://developers.facebook.com/docs/meta-pixel/reference#standard-events),
#: the list the tracker's pixel.js calls with ``fbq("track", ...)``.
META_STANDARD_EVENTS: Final = frozenset(
    {
        "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
        "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView",
        "Purchase", "Schedule", "Search", "StartTrial", "SubmitApplication", "Subscribe",
        "ViewContent",
    }
)  # fmt: skip
# Keys of event_data that are not the Pixel's custom data (pixel.js leaves them out too): the
# page's addresses, our own ids, the campaign (Meta reads the page address itself), the match
# keys (user_data) and the time (event_time).
_NOT_CUSTOM: Final = re.compile(r"(url|referrer|button_id|order_id|utm_.*|fbp|fbc|timestamp)")
_PIXEL_ID: Final = re.compile(r"[0-9]{1,32}")
_VERSION: Final = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")


@dataclass(frozen=True)
class CapiSettings:
    """The forwarding's settings (docs/collector.md has the table).

    ``pixel_id``: the Meta Pixel (dataset) id, digits. ``access_token``: the Conversions API
    token (never shown: not in ``repr``). ``graph_url``: base URL of the Graph API (a test
    stand-in in tests). ``api_version``: like ``v21.0``. ``test_event_code``: sent along, so
    the events show in Events Manager's Test Events tool only. ``batch_size``: events per
    request (Meta takes at most 1,000: "Using the API", "Batch Requests",
    https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api).
    ``max_attempts``: attempts before a row is ``failed``. ``backoff`` / ``max_backoff``:
    seconds of the exponential backoff (base, ceiling). ``timeout``: seconds per request.
    ``lease``: seconds a claim lasts. ``poll_interval``: seconds between looks at an idle
    outbox. ``keep_sent``: seconds a ``sent`` row is kept, for the dashboard and for looking
    up whether an event went (7 days: Meta takes no event older than that, so no row could be
    sent again after; "Server Event Parameters", ``event_time``). ``prune_interval``: seconds
    between deletions of older sent rows.

    Raises ``ValueError`` naming the environment variable of a bad value.
    """

    pixel_id: str
    access_token: str = field(repr=False)
    graph_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    test_event_code: str | None = None
    batch_size: int = 1000
    max_attempts: int = 10
    backoff: float = 2.0
    max_backoff: float = 900.0
    timeout: float = 10.0
    lease: float = 120.0
    poll_interval: float = 2.0
    keep_sent: float = 7 * 86400.0
    prune_interval: float = 3600.0

    def __post_init__(self) -> None:
        if not _PIXEL_ID.fullmatch(self.pixel_id):
            raise ValueError(f"{ENVIRONMENT['pixel_id']} must be digits, got {self.pixel_id!r}")
        if not self.access_token.strip():
            raise ValueError(f"{ENVIRONMENT['access_token']} is set but empty")
        try:
            parts = urlsplit(self.graph_url)
        except ValueError:  # "Invalid IPv6 URL": an unclosed "["
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"{ENVIRONMENT['graph_url']} must be an http(s) URL without a query, "
                f"got {self.graph_url!r}"
            )
        if not _VERSION.fullmatch(self.api_version):
            raise ValueError(
                f"{ENVIRONMENT['api_version']} must be like v21.0, got {self.api_version!r}"
            )
        if not 1 <= self.batch_size <= 1000:
            raise ValueError(f"batch_size must be 1-1000, got {self.batch_size}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.keep_sent < 0 or self.prune_interval <= 0:
            raise ValueError("keep_sent must be at least 0 and prune_interval above 0 seconds")

    @property
    def endpoint(self) -> str:
        """``{graph_url}/{api_version}/{pixel_id}/events``: the token is not in it (it goes in
        the body, so no URL in a log or an error holds it)."""
        return f"{self.graph_url.rstrip('/')}/{self.api_version}/{self.pixel_id}/events"

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], pixel_id: str | None = None, **options: Any
    ) -> CapiSettings | None:
        """The settings in ``environ`` (``pixel_id``: the CLI's ``--capi-pixel-id``, which
        wins), or None when neither a pixel id nor a token is given (forwarding off).

        Raises ``ValueError`` when only one of the two is given, or for a bad value.
        """
        pixel = pixel_id or environ.get(ENVIRONMENT["pixel_id"]) or None
        token = environ.get(ENVIRONMENT["access_token"])
        if pixel is None and token is None:
            return None
        if pixel is None:
            raise ValueError(
                f"{ENVIRONMENT['access_token']} is set but no Pixel id: set "
                f"{ENVIRONMENT['pixel_id']} or --capi-pixel-id"
            )
        if token is None:
            raise ValueError(
                f"forwarding to Pixel {pixel} needs the access token in "
                f"{ENVIRONMENT['access_token']} (never a file or an argument)"
            )
        values: dict[str, Any] = {"pixel_id": pixel, "access_token": token}
        for name in ("graph_url", "api_version", "test_event_code"):
            if environ.get(ENVIRONMENT[name]):
                values[name] = environ[ENVIRONMENT[name]]
        return cls(**values, **options)

    def redact(self, text: str) -> str:
        """``text`` with the access token replaced by ``***`` (for messages and the outbox's
        ``last_error``: an error text from anywhere never carries the token further)."""
        return text.replace(self.access_token, "***") if self.access_token else text


@dataclass(frozen=True)
class RequestContext:
    """What the request that brought events says: ``origin`` (``browser`` or ``server``),
    the ``User-Agent`` header and the client's IP address (see :func:`client_address`)."""

    origin: str = "browser"
    user_agent: str | None = None
    client_ip: str | None = None


def client_address(peer: str | None, forwarded_for: str | None, trust_proxy: bool) -> str | None:
    """The visitor's IP address: the TCP peer, or behind a trusted reverse proxy the last
    address of ``X-Forwarded-For`` (the one that proxy appended; earlier ones are whatever the
    client wrote). Output: a valid IP address, or None."""
    candidate = peer
    if trust_proxy and forwarded_for:
        candidate = forwarded_for.split(",")[-1].strip()
    if not candidate:
        return None
    address = parse_address(candidate)
    return None if address is None else str(address)


def forwarded(event: Mapping[str, Any]) -> bool:
    """Whether an event is relayed: a Meta standard event (PageView, AddToCart, Purchase, or a
    custom event named like one: ``Lead``, ``InitiateCheckout``...) that carries ``fbp`` or
    ``fbc``. The tracker adds those only on pages with a Pixel, and only when the visitor may be
    sent to the Pixel (not under Global Privacy Control): without them, the visitor's browser
    did not talk to Meta, and neither does the collector on its behalf."""
    data = event.get("event_data")
    return (
        event.get("event_type") in META_STANDARD_EVENTS
        and isinstance(data, Mapping)
        and bool(data.get("fbp") or data.get("fbc"))
    )


def _event_time(event: Mapping[str, Any], received_at: datetime) -> int:
    """Unix seconds of the event's ``timestamp``, not after it was received (a browser clock
    ahead of ours would put it in the future, which Meta refuses)."""
    try:
        created = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
    except ValueError:
        created = received_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return int(min(created, received_at).timestamp())


def _custom_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Pixel's parameters of the event (as pixel.js): ``value``, ``currency``,
    ``variant``, a custom event's props; the CTA's text as ``content_name``."""
    custom = {key: value for key, value in data.items() if not _NOT_CUSTOM.fullmatch(key)}
    if "button_text" in custom:
        custom["content_name"] = custom.pop("button_text")
    return custom


def server_event(
    event: Mapping[str, Any], received_at: datetime, context: RequestContext
) -> dict[str, Any] | None:
    """The Conversions API server event of one stored event, or None when it is not relayed
    (:func:`forwarded`).

    Inputs: an event the contract accepted; when it arrived (aware); the request's context.
    ``client_user_agent`` / ``client_ip_address`` come from the request that brought a browser
    event. A server-sent event came from a back office, whose address and user agent are not
    the visitor's: it gets the event's own ``user_agent`` and no IP address.
    ``event_source_url`` is the event's ``event_data.url`` when it has one; otherwise (an
    AddToCart, a Purchase) the forwarder adds its session's page URL when it sends.
    """
    if not forwarded(event):
        return None
    data: Mapping[str, Any] = event["event_data"]
    browser = context.origin == "browser"
    user: dict[str, Any] = {}
    agent = context.user_agent if browser and context.user_agent else event.get("user_agent")
    if agent:
        user["client_user_agent"] = agent
    if browser and context.client_ip:
        user["client_ip_address"] = context.client_ip
    for key in ("fbp", "fbc"):
        if data.get(key):
            user[key] = data[key]
    server: dict[str, Any] = {
        "event_name": event["event_type"],
        "event_time": _event_time(event, received_at),
        "event_id": event["event_id"],
        "action_source": "website",
    }
    if isinstance(data.get("url"), str):
        server["event_source_url"] = data["url"]
    server["user_data"] = user
    server["custom_data"] = _custom_data(data)
    return server


def outbox_entries(
    events: Sequence[Mapping[str, Any]], received_at: datetime, context: RequestContext
) -> dict[str, OutboxEntry]:
    """The outbox rows of the events to relay, by ``event_id`` (the first of a repeated id)."""
    entries: dict[str, OutboxEntry] = {}
    for event in events:
        if event["event_id"] in entries:
            continue
        payload = server_event(event, received_at, context)
        if payload is not None:
            entries[event["event_id"]] = OutboxEntry(
                json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                event["session_id"],
                event["landing_page_id"],
            )
    return entries
