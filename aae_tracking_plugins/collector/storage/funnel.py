"""The funnel of issue 12: PageView -> AddToCart -> Purchase, per page, campaign and variant.

One SQL text serves SQLite and PostgreSQL (only the placeholder differs), so both databases
give the same numbers. The definition (docs/collector.md, "Report"):

- A group is one ``(landing_page_id, campaign_id, variant)``; ``campaign_id`` and ``variant``
  may be None (no campaign, no A/B test). ``variant`` is the event's own ``event_data.variant``.
- A session counts once per step. It counts at a step when, in its group, it has an event of
  that step *and of every earlier step* (the usual funnel: a Purchase of a session that never
  sent a PageView is not a funnel purchase). The order of arrival is not compared:
  ``received_at`` is when a batch arrived, and a retried batch may arrive after a later one.
- Rates are step sessions / PageView sessions (0.0 when there were none).
- Revenue is the sum of ``value`` of every stored Purchase of the group, by currency, also
  those of sessions that skipped steps (the money was received); an event is stored once per
  ``event_id`` (the UNIQUE constraint), so a retried Purchase is counted once.
- Filters: ``landing_page_id``, ``campaign_id``, ``since <= received_at < until`` (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = ["STEPS", "FunnelQuery", "FunnelRow", "assemble", "funnel_sql"]

#: The steps, in funnel order (the event types of the contract).
STEPS: Final = ("PageView", "AddToCart", "Purchase")

_SESSIONS: Final = """
WITH per_session AS (
  SELECT landing_page_id, campaign_id, variant, session_id,
         MAX(CASE WHEN event_type = 'PageView' THEN 1 ELSE 0 END) AS viewed,
         MAX(CASE WHEN event_type = 'AddToCart' THEN 1 ELSE 0 END) AS carted,
         MAX(CASE WHEN event_type = 'Purchase' THEN 1 ELSE 0 END) AS bought
  FROM aae_events
  WHERE event_type IN ('PageView', 'AddToCart', 'Purchase'){where}
  GROUP BY landing_page_id, campaign_id, variant, session_id
)
SELECT landing_page_id, campaign_id, variant,
       SUM(viewed), SUM(viewed * carted), SUM(viewed * carted * bought)
FROM per_session
GROUP BY landing_page_id, campaign_id, variant
"""
_REVENUE: Final = """
SELECT landing_page_id, campaign_id, variant, currency, SUM(value), COUNT(*)
FROM aae_events
WHERE event_type = 'Purchase' AND value IS NOT NULL{where}
GROUP BY landing_page_id, campaign_id, variant, currency
"""


@dataclass(frozen=True)
class FunnelQuery:
    """Which events the funnel counts: those matching every given filter.

    ``since`` / ``until``: aware datetimes bounding ``received_at`` (``since`` included,
    ``until`` excluded); ``ValueError`` for a naive one or ``since`` not before ``until``.
    """

    landing_page_id: str | None = None
    campaign_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} must carry a time zone, got {moment.isoformat()}")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"since ({self.since}) must be before until ({self.until})")


@dataclass(frozen=True)
class FunnelRow:
    """The funnel of one ``(landing_page_id, campaign_id, variant)``.

    ``page_views``, ``add_to_carts``, ``purchases``: sessions at each step (module docstring);
    ``revenue``: currency (None when the Purchase named none) to the sum of values, in that
    currency's units as sent (e.g. euros, not cents).
    """

    landing_page_id: str
    campaign_id: str | None
    variant: str | None
    page_views: int
    add_to_carts: int
    purchases: int
    revenue: dict[str | None, float] = field(default_factory=dict)

    @property
    def cart_rate(self) -> float:
        """AddToCart sessions / PageView sessions, 0.0 when there were none."""
        return self.add_to_carts / self.page_views if self.page_views else 0.0

    @property
    def purchase_rate(self) -> float:
        """Purchase sessions / PageView sessions, 0.0 when there were none."""
        return self.purchases / self.page_views if self.page_views else 0.0


def funnel_sql(
    query: FunnelQuery, placeholder: str, moment: Callable[[datetime], object]
) -> tuple[tuple[str, list[object]], tuple[str, list[object]]]:
    """The two statements of the funnel with their parameters: (sessions, revenue).

    Inputs: the query; the driver's placeholder (``?`` or ``%s``); ``moment`` turning a
    datetime into the value the database compares with ``received_at``.
    """
    clauses: list[str] = []
    parameters: list[object] = []
    for column in ("landing_page_id", "campaign_id"):
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = {placeholder}")
            parameters.append(value)
    if query.since is not None:
        clauses.append(f"received_at >= {placeholder}")
        parameters.append(moment(query.since))
    if query.until is not None:
        clauses.append(f"received_at < {placeholder}")
        parameters.append(moment(query.until))
    where = "".join(f" AND {clause}" for clause in clauses)
    return (_SESSIONS.format(where=where), parameters), (_REVENUE.format(where=where), parameters)


def assemble(
    sessions: Iterable[Sequence[Any]], revenue: Iterable[Sequence[Any]]
) -> list[FunnelRow]:
    """The rows of the two statements of :func:`funnel_sql` as :class:`FunnelRow` values,
    sorted by page, campaign, variant (None first), each revenue by currency."""
    money: dict[tuple[Any, ...], dict[str | None, float]] = {}
    for page, campaign, variant, currency, total, _count in revenue:
        money.setdefault((page, campaign, variant), {})[currency] = float(total)
    rows = [
        FunnelRow(
            page, campaign, variant, int(views or 0), int(carts or 0), int(bought or 0),
            dict(sorted(money.get((page, campaign, variant), {}).items(), key=_none_first)),
        )
        for page, campaign, variant, views, carts, bought in sessions
    ]  # fmt: skip
    return sorted(rows, key=lambda row: (row.landing_page_id, *_key(row.campaign_id, row.variant)))


def _key(*values: str | None) -> tuple[tuple[bool, str], ...]:
    return tuple((value is not None, value or "") for value in values)


def _none_first(item: tuple[str | None, float]) -> tuple[tuple[bool, str], ...]:
    return _key(item[0])
