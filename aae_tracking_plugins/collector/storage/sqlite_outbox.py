"""The outbox (:mod:`.outbox`) in SQLite: the statements :class:`~.sqlite.SQLiteStore` runs.

Every function takes the connection the store gives it: the write connection inside its
``BEGIN IMMEDIATE`` transaction for writes, so a claim is made under SQLite's single write
lock (no two forwarders, in this process or another sharing the file, claim the same row),
the read connection for reads. Times are UTC text in the events table's format (it sorts in
time order, so ``<=`` compares moments).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Final

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

_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"  # as aae_events.received_at
# Ids per statement: far below SQLite's parameter limit.
_CHUNK: Final = 500


def _text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def _parse(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)


def insert(
    connection: sqlite3.Connection, stored: set[str], outbox: Mapping[str, OutboxEntry]
) -> None:
    """Write the outbox rows of the events just ``stored`` that have one (same transaction)."""
    now = _text(datetime.now(timezone.utc))
    connection.executemany(
        f"INSERT INTO {OUTBOX_TABLE} (event_id, session_id, landing_page_id, payload,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        [
            (event_id, entry.session_id, entry.landing_page_id, entry.payload, now, now)
            for event_id, entry in outbox.items()
            if event_id in stored
        ],
    )


def claim(connection: sqlite3.Connection, limit: int, lease: float) -> list[OutboxItem]:
    """See :meth:`~.base.EventStore.claim_outbox` (inside the write transaction)."""
    now = datetime.now(timezone.utc)
    rows = connection.execute(
        f"UPDATE {OUTBOX_TABLE} SET claimed_until = ? WHERE id IN ("
        f" SELECT id FROM {OUTBOX_TABLE} WHERE state = 'pending' AND next_attempt_at <= ?"
        " AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY id LIMIT ?)"
        " RETURNING id, event_id, session_id, landing_page_id, payload, attempts",
        (_text(now + timedelta(seconds=lease)), _text(now), _text(now), limit),
    ).fetchall()
    items = [
        OutboxItem(row[0], row[1], row[2], row[3], decode_payload(row[4]), row[5]) for row in rows
    ]
    return sorted(items, key=lambda item: item.id)


def settle(connection: sqlite3.Connection, ids: Sequence[int], outcome: Outcome) -> None:
    """See :meth:`~.base.EventStore.settle_outbox` (inside the write transaction)."""
    now = _text(datetime.now(timezone.utc))
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        where = f" WHERE id IN ({', '.join('?' * len(chunk))})"
        if outcome.state == "sent":
            sql = (
                f"UPDATE {OUTBOX_TABLE} SET state = 'sent', payload = NULL,"
                " attempts = attempts + 1, claimed_until = NULL, settled_at = ?"
            )
            parameters: list[object] = [now]
        elif outcome.state == "failed":
            sql = (
                f"UPDATE {OUTBOX_TABLE} SET state = 'failed', attempts = attempts + 1,"
                " claimed_until = NULL, settled_at = ?, last_error = ?, last_error_at = ?"
            )
            parameters = [now, outcome.error, now]
        else:
            assert outcome.retry_at is not None
            sql = (
                f"UPDATE {OUTBOX_TABLE} SET attempts = attempts + 1, claimed_until = NULL,"
                " state = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE 'pending' END,"
                " settled_at = CASE WHEN attempts + 1 >= ? THEN ? ELSE NULL END,"
                " next_attempt_at = ?, last_error = ?, last_error_at = ?"
            )
            limit = outcome.max_attempts
            parameters = [limit, limit, now, _text(outcome.retry_at), outcome.error, now]
        connection.execute(sql + where, [*parameters, *chunk])


def prune(connection: sqlite3.Connection, sent_before: datetime) -> int:
    """See :meth:`~.base.EventStore.prune_outbox` (inside the write transaction)."""
    cursor = connection.execute(
        f"DELETE FROM {OUTBOX_TABLE} WHERE state = 'sent' AND settled_at < ?",
        (_text(sent_before),),  # the same fixed-width UTC text: compares as time
    )
    return cursor.rowcount


def status(connection: sqlite3.Connection) -> OutboxStatus:
    """See :meth:`~.base.EventStore.outbox_status` (the read connection)."""
    return read_status(lambda sql: connection.execute(sql).fetchall(), _parse)


def page_urls(
    connection: sqlite3.Connection, sessions: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """See :meth:`~.base.EventStore.page_urls` (the read connection)."""
    found: dict[tuple[str, str], str] = {}
    wanted = set(sessions)
    session_ids = sorted({session for session, _page in wanted})
    for start in range(0, len(session_ids), _CHUNK):
        chunk = session_ids[start : start + _CHUNK]
        rows = connection.execute(
            "SELECT session_id, landing_page_id, json_extract(event, '$.event_data.url')"
            " FROM aae_events WHERE event_type = 'PageView'"
            f" AND session_id IN ({', '.join('?' * len(chunk))}) ORDER BY received_at, id",
            chunk,
        ).fetchall()
        for session, page, url in rows:  # oldest first: the latest wins
            if (session, page) in wanted and isinstance(url, str):
                found[(session, page)] = url
    return found
