"""The outbox of the Conversions API forwarding: what is stored, claimed and settled.

An event to relay to Meta gets one row in ``aae_capi_outbox`` (migration 0002), written in the
same transaction as the event itself (:meth:`~.base.EventStore.add` with ``outbox``): an event
is never stored without its row, nor a row without its event. A row's ``state``:

* ``pending``: to send. A forwarder *claims* due rows (``next_attempt_at`` passed, no live
  claim) by setting ``claimed_until`` (a lease): another forwarder, in this process or another,
  skips them until it expires; a forwarder that died mid-send loses its claim when the lease
  ends and the rows are claimed again (so a row may be sent twice in that case: Meta drops the
  second copy by ``event_id``, see :mod:`~aae_tracking_plugins.collector.capi`).
* ``sent``: Meta accepted it (``payload`` is cleared then: the visitor's IP address and user
  agent are kept only until they are forwarded).
* ``failed``: Meta refused it (a 4xx other than 429, its message in ``last_error``), it could
  not be sent (too old, no page URL) or every one of the allowed attempts failed.

A failed attempt that may work later (a 5xx, a 429, no connection) leaves the row ``pending``
with ``attempts`` counted and ``next_attempt_at`` pushed back (:class:`Outcome`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "OUTBOX_TABLE",
    "OutboxEntry",
    "OutboxItem",
    "OutboxStatus",
    "Outcome",
    "decode_payload",
    "read_status",
]

#: The table of the outbox.
OUTBOX_TABLE: Final = "aae_capi_outbox"


@dataclass(frozen=True)
class OutboxEntry:
    """A row to write with its event: the Conversions API ``payload`` (one server event, as
    :func:`~aae_tracking_plugins.collector.capi.server_event` builds it, JSON text), and the
    event's ``session_id`` and ``landing_page_id`` (to find its page URL when sending)."""

    payload: str
    session_id: str
    landing_page_id: str


@dataclass(frozen=True)
class OutboxItem:
    """A claimed row: its ``id``, the event's ``event_id``, ``session_id`` and
    ``landing_page_id``, the ``payload`` (decoded) and the ``attempts`` made before."""

    id: int
    event_id: str
    session_id: str
    landing_page_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """How an attempt at some rows ended, for :meth:`~.base.EventStore.settle_outbox`.

    ``state``: ``sent``; ``failed`` (final, ``error`` says why); ``retry``: the attempt failed
    but may work later: the row is tried again at ``retry_at`` (aware), or becomes ``failed``
    when it has now made ``max_attempts`` attempts. ``error`` is stored as ``last_error``.
    """

    state: Literal["sent", "failed", "retry"]
    error: str | None = None
    retry_at: datetime | None = None
    max_attempts: int = 1

    def __post_init__(self) -> None:
        if self.state == "retry" and self.retry_at is None:
            raise ValueError("a retry needs retry_at")


@dataclass(frozen=True)
class OutboxStatus:
    """The outbox at a glance (for the dashboard and ``aae-tracking report``).

    ``pending``, ``sent``, ``failed``: how many rows are in each state. ``last_error``: the
    error of the most recently settled or retried row that has one (None: none), and
    ``last_error_at`` when it was recorded (aware, UTC).
    """

    pending: int = 0
    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"pending": N, "sent": N, "failed": N, "last_error": str|null,
        "last_error_at": "...Z"|null}``."""
        when = self.last_error_at
        return {
            "pending": self.pending,
            "sent": self.sent,
            "failed": self.failed,
            "last_error": self.last_error,
            "last_error_at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else None,
        }


def decode_payload(value: object) -> dict[str, Any]:
    """A payload column as read back (JSON text from SQLite, decoded JSON from PostgreSQL)."""
    decoded = json.loads(value) if isinstance(value, (str, bytes)) else value
    return dict(decoded) if isinstance(decoded, Mapping) else {}


def read_status(
    fetch: Callable[[str], Sequence[Sequence[Any]]], when: Callable[[Any], datetime | None]
) -> OutboxStatus:
    """The :class:`OutboxStatus` from two queries that SQLite and PostgreSQL answer alike.

    ``fetch``: runs one SQL text (no parameters) on the database and returns its rows.
    ``when``: turns the database's ``last_error_at`` value into an aware UTC datetime. Raises
    what ``fetch`` raises.
    """
    by_state = {
        str(state): int(number)
        for state, number in fetch(f"SELECT state, count(*) FROM {OUTBOX_TABLE} GROUP BY state")
    }
    last = fetch(
        f"SELECT last_error, last_error_at FROM {OUTBOX_TABLE} WHERE last_error IS NOT NULL"
        " ORDER BY last_error_at DESC, id DESC LIMIT 1"
    )
    return OutboxStatus(
        pending=by_state.get("pending", 0),
        sent=by_state.get("sent", 0),
        failed=by_state.get("failed", 0),
        last_error=str(last[0][0]) if last else None,
        last_error_at=when(last[0][1]) if last else None,
    )
