"""What the dashboard at ``/`` shows, as plain values, and the HTML that shows it.

The numbers are the funnel of :mod:`.storage.funnel` (the same rows as ``aae-tracking
report``: PageView -> AddToCart -> Purchase, unique sessions per step, per landing page,
campaign and variant) and the latest events of :meth:`~.storage.EventStore.latest`; this
module only arranges them for the page. Templates are Jinja2 files in ``templates/`` with
autoescaping on: event data is untrusted text (a custom event's props come from any page),
so every value reaches the page as text, never as markup.

The chart is drawn here, on the server, as SVG (docs/collector.md, "Dashboard" says why):
one small bar chart per funnel row, bars scaled to the row's own PageView sessions, so
each row shows its funnel's shape and the numbers beside it give its volume.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Final
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup

from aae_tracking_plugins.collector.log import _event_details
from aae_tracking_plugins.collector.storage import FunnelRow, StoredEvent
from aae_tracking_plugins.collector.storage.funnel import STEPS
from aae_tracking_plugins.collector.storage.outbox import OutboxStatus

__all__ = [
    "BAR_WIDTH",
    "REFRESH_SECONDS",
    "EventLine",
    "FunnelPanel",
    "Step",
    "event_lines",
    "funnel_panels",
    "render_page",
    "render_panels",
    "state_tag",
]

#: Width in SVG user units (px) of a bar at 100 % of the row's PageView sessions.
BAR_WIDTH: Final = 200
#: The live part is rendered again at least this often (seconds), changed or not.
REFRESH_SECONDS: Final = 30
_BAR_HEIGHT: Final = 16
_BAR_GAP: Final = 6


@dataclass(frozen=True)
class Step:
    """One funnel step of a row: ``name`` (an event type of :data:`~.funnel.STEPS`),
    ``sessions`` at it, ``rate`` from the previous step (a fraction 0-1; None for the
    first), and the bar: ``width`` (px, 0-:data:`BAR_WIDTH`) and ``y`` (px from the top)."""

    name: str
    sessions: int
    rate: float | None
    width: float
    y: int


@dataclass(frozen=True)
class FunnelPanel:
    """One funnel row for the page: its group (``campaign_id``/``variant`` None when the
    events had none), its :class:`Step` values, ``overall`` (Purchase sessions / PageView
    sessions, 0-1), ``revenue`` as ``"EUR 15.00"`` texts (one per currency, ``?`` for a
    Purchase without one) and ``link``, the query string that filters on its page and
    campaign."""

    landing_page_id: str
    campaign_id: str | None
    variant: str | None
    steps: tuple[Step, ...]
    overall: float
    revenue: tuple[str, ...]
    link: str

    @property
    def chart_height(self) -> int:
        """Height in px of the row's SVG chart."""
        return len(self.steps) * (_BAR_HEIGHT + _BAR_GAP)


@dataclass(frozen=True)
class EventLine:
    """One line of the latest events: ``received`` (``YYYY-MM-DD HH:MM:SS``, UTC), the
    event's type, page, campaign (``-`` for none) and session as sent, and ``details``
    (its ``event_data`` as ``key=value`` pairs, as the collector's log lines show them)."""

    received: str
    event_type: str
    landing_page_id: str
    campaign_id: str
    session_id: str
    details: str


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def funnel_panels(rows: Sequence[FunnelRow]) -> list[FunnelPanel]:
    """The panels of funnel rows, in the rows' order.

    Input: :meth:`~.storage.EventStore.funnel` rows. Output: one :class:`FunnelPanel` each.
    Step rates: AddToCart / PageView, Purchase / AddToCart (a session counts at Purchase only
    if it counted at AddToCart, :mod:`.storage.funnel`, so each is 0-1); ``overall``
    Purchase / PageView (the report's ``purchase_rate``).
    """
    panels = []
    for row in rows:
        counts = (row.page_views, row.add_to_carts, row.purchases)
        steps = tuple(
            Step(
                name=name,
                sessions=count,
                rate=None if index == 0 else _rate(count, counts[index - 1]),
                width=round(BAR_WIDTH * _rate(count, row.page_views), 1),
                y=index * (_BAR_HEIGHT + _BAR_GAP),
            )
            for index, (name, count) in enumerate(zip(STEPS, counts, strict=True))
        )
        filters = {"landing_page_id": row.landing_page_id}
        if row.campaign_id is not None:
            filters["campaign_id"] = row.campaign_id
        panels.append(
            FunnelPanel(
                landing_page_id=row.landing_page_id,
                campaign_id=row.campaign_id,
                variant=row.variant,
                steps=steps,
                overall=row.purchase_rate,
                revenue=tuple(
                    f"{currency or '?'} {total:,.2f}" for currency, total in row.revenue.items()
                ),
                link="?" + urlencode(filters),
            )
        )
    return panels


def event_lines(events: Sequence[StoredEvent]) -> list[EventLine]:
    """The latest events as :class:`EventLine` values, in the given order (newest first)."""
    lines = []
    for stored in events:
        event = stored.event
        campaign = event.get("campaign_id")
        lines.append(
            EventLine(
                received=stored.received_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                event_type=str(event.get("event_type")),
                landing_page_id=str(event.get("landing_page_id")),
                campaign_id="-" if campaign is None else str(campaign),
                session_id=str(event.get("session_id")),
                details=_event_details(event),
            )
        )
    return lines


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("aae_tracking_plugins.collector", "templates"),
        autoescape=True,  # every value is text: event data comes from any page
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _percent(fraction: float | None) -> str:
    return "" if fraction is None else f"{100 * fraction:.1f} %"


def render_panels(
    panels: Sequence[FunnelPanel],
    events: Sequence[EventLine],
    forwarding: OutboxStatus | None,
) -> str:
    """The HTML of the live part of the page (funnel table with charts, forwarding counts,
    latest events): what ``GET /dashboard/panels`` answers and the page embeds.

    ``forwarding``: the Conversions API outbox (:class:`~.storage.outbox.OutboxStatus`: rows
    pending, sent and failed, the last error and when), or None when forwarding is not set up
    (the panel is left out).
    """
    template = _environment().get_template("panels.html.j2")
    return template.render(
        panels=panels,
        events=events,
        forwarding=forwarding,
        percent=_percent,
        bar_height=_BAR_HEIGHT,
        bar_width=BAR_WIDTH,
    )


def state_tag(events: Sequence[StoredEvent], forwarding: OutboxStatus | None, moment: float) -> str:
    """A weak ETag (RFC 9110 section 8.8.3) of what the live part would show, from cheap
    reads only: the latest events (their ids and arrival times), the forwarding counts, and
    the :data:`REFRESH_SECONDS` period ``moment`` (a ``time.time()``) falls in.

    An event stored since the last poll is among the latest ones and changes the tag, so the
    funnel query runs only when something changed. The period covers the one case the latest
    events miss (an event whose commit was overtaken by :data:`~.dashboard.LATEST` events
    received after it, under load from several processes): the page is rendered again at
    least once a period.
    """
    digest = hashlib.sha256()
    for stored in events:
        digest.update(f"{stored.received_at.isoformat()} {stored.event.get('event_id')}\n".encode())
    digest.update(repr(sorted((forwarding.as_json() if forwarding else {}).items())).encode())
    digest.update(str(int(moment // REFRESH_SECONDS)).encode())
    return 'W/"' + digest.hexdigest()[:32] + '"'


def render_page(panels_html: str, context: Mapping[str, Any]) -> str:
    """The whole dashboard page around ``panels_html``.

    ``context``: ``filters`` (``landing_page_id``, ``campaign_id``: str or None),
    ``panels_url`` (the live part's URL, relative), ``poll_ms`` (polling interval),
    ``etag`` (:func:`state_tag`), ``assets`` (the assets' URL prefix, relative).
    """
    template = _environment().get_template("dashboard.html.j2")
    return template.render(panels_html=Markup(panels_html), **context)
