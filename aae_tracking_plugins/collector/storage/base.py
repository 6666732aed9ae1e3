"""The storage interface every database of the collector implements, and what it stores.

:class:`EventStore` is five operations: :meth:`~EventStore.add` rows (the database's UNIQUE
constraint on ``event_id`` decides which are new), :meth:`~EventStore.latest` events, newest
first, the :meth:`~EventStore.funnel` of issue 12, :meth:`~EventStore.ping` and
:meth:`~EventStore.close`. Implementations:
:mod:`.sqlite` and :mod:`.postgres`; :func:`~aae_tracking_plugins.collector.storage.open_store`
picks one by URL. Each applies its migrations (:mod:`.migrations`) when it opens.

Errors: :class:`StorageUnavailable` when the database cannot be reached or written right now
(the API answers 503, and the tracker retries), :class:`DatabaseURLError` for a URL that names
no usable database, :class:`StorageError` for anything else (a file that is not a database, a
schema newer than this code).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from aae_tracking_plugins.collector.storage.funnel import FunnelQuery, FunnelRow
from aae_tracking_plugins.collector.storage.outbox import (
    OutboxEntry,
    OutboxItem,
    OutboxStatus,
    Outcome,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ORIGINS",
    "DatabaseURLError",
    "EventQuery",
    "EventRow",
    "EventStore",
    "StorageError",
    "StorageUnavailable",
    "StoredEvent",
    "redact",
]

#: Events listed when no ``limit`` is given, and the most one listing returns.
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
#: Where an event came from (the ``origin`` column): a page's tracker, or a back office that
#: sent the write token (docs/collector.md, "Server-side events").
ORIGINS: Final = ("browser", "server")


class StorageError(Exception):
    """The database cannot be used: the message is one line naming the database and why."""


class DatabaseURLError(StorageError):
    """A database URL that names no database this collector can use (a usage error)."""


class StorageUnavailable(StorageError):  # noqa: N818 - a state, as the API's 503 says
    """The database cannot be reached or written right now; the same request may work later."""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class EventRow:
    """One event as stored: its JSON text and the indexed columns (docs/collector.md).

    ``received_at`` is an aware UTC datetime; ``variant`` comes from ``event_data.variant``;
    ``value`` (a float) and ``currency`` from a Purchase's ``event_data``, None otherwise.
    ``event_json`` is the event as sent, re-encoded compactly (same keys, order and values).
    ``origin``: one of :data:`ORIGINS`.
    """

    event_id: str
    received_at: datetime
    event_type: str
    landing_page_id: str
    campaign_id: str | None
    variant: str | None
    session_id: str
    value: float | None
    currency: str | None
    event_json: str
    origin: str = "browser"

    @classmethod
    def from_event(
        cls, event: Mapping[str, Any], received_at: datetime, origin: str = "browser"
    ) -> EventRow:
        """The row of an event the contract accepted (so the fields have their types).

        Inputs: the decoded event; when it arrived (aware, any zone: stored as UTC); its
        origin (one of :data:`ORIGINS`).
        Output: the row. Raises ``KeyError`` / ``TypeError`` only for an event the contract
        would refuse.
        """
        data = event["event_data"]
        purchase = event["event_type"] == "Purchase"
        value = data.get("value") if purchase else None
        return cls(
            event_id=event["event_id"],
            received_at=received_at.astimezone(timezone.utc),
            event_type=event["event_type"],
            landing_page_id=event["landing_page_id"],
            campaign_id=_text(event["campaign_id"]),
            variant=_text(data.get("variant")),
            session_id=event["session_id"],
            value=float(value) if isinstance(value, (int, float)) else None,
            currency=_text(data.get("currency")) if purchase else None,
            event_json=json.dumps(
                event, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ),
            origin=origin,
        )


@dataclass(frozen=True)
class StoredEvent:
    """An event read back: ``event`` as it was sent (a decoded JSON object, keys in the order
    sent), ``received_at`` (aware, UTC) and ``origin`` (one of :data:`ORIGINS`)."""

    received_at: datetime
    event: dict[str, Any]
    origin: str = "browser"


@dataclass(frozen=True)
class EventQuery:
    """Which events :meth:`EventStore.latest` returns: those matching every given filter,
    newest first, at most ``limit`` (1 to :data:`MAX_LIMIT`; ``ValueError`` otherwise)."""

    landing_page_id: str | None = None
    campaign_id: str | None = None
    event_type: str | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1-{MAX_LIMIT}, got {self.limit}")

    def filters(self) -> dict[str, str]:
        """The given filters, column name to value."""
        given = {
            "landing_page_id": self.landing_page_id,
            "campaign_id": self.campaign_id,
            "event_type": self.event_type,
        }
        return {column: value for column, value in given.items() if value is not None}


class EventStore(ABC):
    """A database of events. Safe to use from several threads at once.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``; ``url`` the database URL with any
    password hidden (for messages).
    """

    dialect: str
    url: str

    @abstractmethod
    def add(
        self, rows: Sequence[EventRow], outbox: Mapping[str, OutboxEntry] | None = None
    ) -> set[str]:
        """Store the rows whose ``event_id`` is not stored yet, in one transaction.

        Input: rows (several may share an ``event_id``: the first is stored); ``outbox``: by
        ``event_id``, the outbox row of each event to forward (:mod:`.outbox`), written in the
        same transaction for each event this call stores (a duplicate gets none). Output: the
        ``event_id`` values stored by this call; the others were duplicates. Raises
        :class:`StorageUnavailable` (nothing stored) or :class:`StorageError`.
        """

    @abstractmethod
    def latest(self, query: EventQuery) -> list[StoredEvent]:
        """The events that match ``query``, newest ``received_at`` first (then latest stored).

        Raises :class:`StorageUnavailable` or :class:`StorageError`.
        """

    @abstractmethod
    def funnel(self, query: FunnelQuery) -> list[FunnelRow]:
        """The PageView -> AddToCart -> Purchase funnel of the events matching ``query``, one
        row per (landing_page_id, campaign_id, variant); the definition is in :mod:`.funnel`.

        Raises :class:`StorageUnavailable` or :class:`StorageError`.
        """

    @abstractmethod
    def claim_outbox(self, limit: int, lease: float) -> list[OutboxItem]:
        """Claim up to ``limit`` due ``pending`` outbox rows, oldest first, for ``lease``
        seconds (no other claim gets them meanwhile; PostgreSQL: ``FOR UPDATE SKIP LOCKED``,
        SQLite: under its single write lock). Raises :class:`StorageUnavailable` or
        :class:`StorageError`.
        """

    @abstractmethod
    def settle_outbox(self, ids: Sequence[int], outcome: Outcome) -> None:
        """Record how the attempt at the claimed rows ``ids`` ended (see :class:`Outcome`),
        releasing their claim. Raises :class:`StorageUnavailable` or :class:`StorageError`."""

    @abstractmethod
    def prune_outbox(self, sent_before: datetime) -> int:
        """Delete the ``sent`` outbox rows settled before ``sent_before`` (aware); ``pending``
        and ``failed`` rows stay. Output: how many were deleted. Raises
        :class:`StorageUnavailable` or :class:`StorageError`.

        A sent row only records that Meta took the event (its payload is already cleared);
        deleting it changes nothing else: a resent copy of the event is a duplicate of the
        stored event and gets no new row."""

    @abstractmethod
    def outbox_status(self) -> OutboxStatus:
        """The outbox's counts by state and its last error (:class:`OutboxStatus`). Raises
        :class:`StorageUnavailable` or :class:`StorageError`."""

    @abstractmethod
    def page_urls(self, sessions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The ``event_data.url`` of the latest stored PageView of each ``(session_id,
        landing_page_id)`` given (absent: the session has none). Raises
        :class:`StorageUnavailable` or :class:`StorageError`."""

    @abstractmethod
    def ping(self) -> None:
        """Return when the database answers and could store events now; raise
        :class:`StorageUnavailable` if not."""

    @abstractmethod
    def schema_version(self) -> int:
        """The highest migration applied to the database (see :mod:`.migrations`)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; safe to call twice. The store cannot be used afterwards."""

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def redact(url: str) -> str:
    """``url`` with the password of its user part, and a ``password`` query parameter (libpq
    takes any connection parameter there: PostgreSQL documentation, "Connection URIs"),
    replaced by ``***`` (for messages)."""
    parts = original = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if at and ":" in user:
        parts = parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}")
    if parts.query:
        fields = [
            f"{name}=***" if name.lower() == "password" and sep else f"{name}{sep}{value}"
            for name, sep, value in (field.partition("=") for field in parts.query.split("&"))
        ]
        parts = parts._replace(query="&".join(fields))
    # Unchanged: as given (urlunsplit would turn sqlite:///x.db into sqlite:/x.db).
    return url if parts == original else urlunsplit(parts)
