"""The outbox (:mod:`.outbox`) in PostgreSQL: the statements :class:`~.postgres.PostgresStore` runs.

A claim is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``: the
rows another collector process is claiming at that moment are skipped rather than waited for,
and the rows claimed get a lease (``claimed_until``) that keeps them from every other claim
until they are settled or the lease ends (PostgreSQL documentation, "SELECT", "The Locking
Clause": ``SKIP LOCKED`` "is suitable for ... queue-like tables"). Times are the server's
``now()``, so collectors on machines whose clocks differ agree on what is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

import psycopg
from psycopg.rows import TupleRow

from aae_tracking_plugins.collector.storage.outbox import (
    OUTBOX_TABLE,
    OutboxEntry,
    OutboxItem,
    OutboxStatus,
    Outcome,
    decode_payload,
    read_status,
)

__all__ = ["claim", "insert", "page_urls", "prune", "settle", "status"]

_Connection = psycopg.Connection[TupleRow]
_CLAIM: Final = (
    f"UPDATE {OUTBOX_TABLE} SET claimed_until = now() + make_interval(secs => %s)"
    f" WHERE id IN (SELECT id FROM {OUTBOX_TABLE} WHERE state = 'pending'"
    " AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())"
    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING id, event_id, session_id, landing_page_id, payload, attempts"
)
_SETTLE: Final = {
    "sent": "state = 'sent', payload = NULL, settled_at = now()",
    "failed": "state = 'failed', settled_at = now(), last_error = %(error)s, last_error_at = now()",
    "retry": "state = CASE WHEN attempts + 1 >= %(most)s THEN 'failed' ELSE 'pending' END,"
    " settled_at = CASE WHEN attempts + 1 >= %(most)s THEN now() END,"
    " next_attempt_at = %(retry_at)s, last_error = %(error)s, last_error_at = now()",
}


def insert(connection: _Connection, stored: set[str], outbox: Mapping[str, OutboxEntry]) -> None:
    """Write the outbox rows of the events just ``stored`` that have one (the caller's
    transaction)."""
    chosen = [(event_id, entry) for event_id, entry in outbox.items() if event_id in stored]
    if not chosen:
        return
    connection.execute(
        f"INSERT INTO {OUTBOX_TABLE} (event_id, session_id, landing_page_id, payload)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::json[])"
        " ON CONFLICT (event_id) DO NOTHING",
        [
            [event_id for event_id, _entry in chosen],
            [entry.session_id for _id, entry in chosen],
            [entry.landing_page_id for _id, entry in chosen],
            [entry.payload for _id, entry in chosen],
        ],
    )


def claim(connection: _Connection, limit: int, lease: float) -> list[OutboxItem]:
    """See :meth:`~.base.EventStore.claim_outbox` (autocommit: one statement)."""
    rows = connection.execute(_CLAIM, (lease, limit)).fetchall()
    items = [
        OutboxItem(row[0], row[1], row[2], row[3], decode_payload(row[4]), row[5]) for row in rows
    ]
    return sorted(items, key=lambda item: item.id)


def settle(connection: _Connection, ids: Sequence[int], outcome: Outcome) -> None:
    """See :meth:`~.base.EventStore.settle_outbox`."""
    parameters: dict[str, Any] = {
        "ids": list(ids),
        "error": outcome.error,
        "most": outcome.max_attempts,
        "retry_at": outcome.retry_at.astimezone(timezone.utc) if outcome.retry_at else None,
    }
    connection.execute(
        f"UPDATE {OUTBOX_TABLE} SET attempts = attempts + 1, claimed_until = NULL,"
        f" {_SETTLE[outcome.state]} WHERE id = ANY(%(ids)s)",
        parameters,
    )


def prune(connection: _Connection, sent_before: datetime) -> int:
    """See :meth:`~.base.EventStore.prune_outbox`."""
    cursor = connection.execute(
        f"DELETE FROM {OUTBOX_TABLE} WHERE state = 'sent' AND settled_at < %s", (sent_before,)
    )
    return cursor.rowcount


def status(connection: _Connection) -> OutboxStatus:
    """See :meth:`~.base.EventStore.outbox_status`."""
    return read_status(
        lambda sql: connection.execute(sql).fetchall(), lambda value: value.astimezone(timezone.utc)
    )


def page_urls(
    connection: _Connection, sessions: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """See :meth:`~.base.EventStore.page_urls`."""
    wanted = set(sessions)
    rows = connection.execute(
        "SELECT session_id, landing_page_id, event -> 'event_data' ->> 'url' FROM aae_events"
        " WHERE event_type = 'PageView' AND session_id = ANY(%s) ORDER BY received_at, id",
        (sorted({session for session, _page in wanted}),),
    ).fetchall()
    found: dict[tuple[str, str], str] = {}
    for session, page, url in rows:  # oldest first: the latest wins
        if (session, page) in wanted and isinstance(url, str):
            found[(session, page)] = url
    return found
