"""PostgreSQL storage (psycopg 3 and its connection pool): any number of collectors, one database.

Every collector process keeps a small pool of connections (``psycopg_pool.ConnectionPool``).
A request's events go in with one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT (event_id)
DO NOTHING RETURNING event_id``: the UNIQUE constraint decides which are new, atomically, for
all processes (PostgreSQL documentation, "INSERT", "ON CONFLICT Clause"), and what it returns
are the ones stored. Each statement commits on its own (autocommit). The arrays go in psycopg's
binary format (``%b``): its text format escapes every element with a regular expression in
Python, which took 60 % of the collector's CPU on batches (py-spy; docs/collector.md, "Load").

When the server cannot be reached (down, restarting, connections refused or cut), an operation
is tried once more on a fresh connection (an insert is idempotent), then raises
:class:`~.base.StorageUnavailable`: the API answers 503 and the tracker retries later. Waiting
for a free connection is bounded by ``pool_timeout`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final, TypeVar

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from aae_tracking_plugins.collector.storage import postgres_outbox
from aae_tracking_plugins.collector.storage.base import (
    DatabaseURLError,
    EventQuery,
    EventRow,
    EventStore,
    StorageError,
    StorageUnavailable,
    StoredEvent,
    redact,
)
from aae_tracking_plugins.collector.storage.funnel import (
    FunnelQuery,
    FunnelRow,
    assemble,
    funnel_sql,
)
from aae_tracking_plugins.collector.storage.migrations import VERSION_TABLE, pending
from aae_tracking_plugins.collector.storage.outbox import (
    OutboxEntry,
    OutboxItem,
    OutboxStatus,
    Outcome,
)

__all__ = ["PostgresStore"]

_T = TypeVar("_T")
_Connection = psycopg.Connection[TupleRow]
_INSERT: Final = (
    "INSERT INTO aae_events (event_id, received_at, event_type, landing_page_id, campaign_id,"
    " variant, session_id, value, currency, event, origin)"
    " SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::float8[], %b::text[], %b::json[], %b::text[])"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
# Any constant: the advisory lock that serializes migrations of one database across processes.
_MIGRATION_LOCK: Final = 0x_AAE_C011
# The pool logs each failed reconnection as a warning; without a handler of the application's,
# Python would print them all to stderr. The service reports the outage once instead.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
# What says "the server is not there right now" rather than "this is wrong"; a read-only
# database (a standby after a failover, default_transaction_read_only) cannot write *now*.
_UNAVAILABLE: Final = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    psycopg.errors.ReadOnlySqlTransaction,
)


class PostgresStore(EventStore):
    """Events in the PostgreSQL database at ``url`` (``postgresql://user:pw@host:port/db``).

    Options: ``pool_size`` (most connections this process opens), ``pool_timeout`` (seconds
    an operation waits for a connection before 503), ``connect_timeout`` (seconds to wait for
    the server when opening), ``reconnect_timeout`` (seconds the pool retries a lost
    connection, with growing delays, before it gives up and connects anew on the next
    request: it bounds how long the collector still answers 503 once the server is back).

    Raises :class:`~.base.StorageUnavailable` when the server cannot be reached within
    ``connect_timeout``, :class:`~.base.DatabaseURLError` for a URL libpq refuses,
    :class:`~.base.StorageError` for a schema newer than this code.
    """

    dialect = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        pool_timeout: float = 3.0,
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 4.0,
    ) -> None:
        self.url = redact(url)
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            why = str(exc).strip().splitlines()[0]
            raise DatabaseURLError(f"invalid PostgreSQL URL {self.url}: {why}") from None
        self._pool: ConnectionPool[_Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=pool_timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout))},
            open=False,
            name="aae-collector",
            reconnect_timeout=reconnect_timeout,
        )
        self._check_reachable(url, connect_timeout)
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            self._run("cannot migrate", self._migrate, retry=False)
        except PoolTimeout:
            self._pool.close()
            raise StorageUnavailable(
                f"cannot connect to {self.url} within {connect_timeout:g}s"
            ) from None
        except BaseException:
            self._pool.close()
            raise

    def _check_reachable(self, url: str, timeout: float) -> None:
        """Connect once, for a clear message at once when the server refuses (the pool would
        keep retrying until its timeout)."""
        try:
            with psycopg.connect(url, connect_timeout=max(1, round(timeout))):
                pass
        except psycopg.Error as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageUnavailable(f"cannot connect to {self.url}: {why}") from None

    def _run(self, doing: str, work: Callable[[_Connection], _T], *, retry: bool = True) -> _T:
        """``work(connection)`` with a pooled connection; once more on a fresh one if the
        server went away. Raises :class:`StorageUnavailable` or :class:`StorageError`."""
        for attempt in (1, 2):
            try:
                with self._pool.connection() as connection:
                    return work(connection)
            except _UNAVAILABLE as exc:
                if attempt == 2 or not retry or isinstance(exc, PoolTimeout):
                    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                    raise StorageUnavailable(f"{doing} {self.url}: {why}") from None
            except psycopg.Error as exc:
                raise StorageError(f"{doing} {self.url}: {exc}") from None
        raise AssertionError("unreachable")

    def _migrate(self, connection: _Connection) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = [row[0] for row in connection.execute(f"SELECT version FROM {VERSION_TABLE}")]
            for migration in pending(self.dialect, applied, self.url):
                connection.execute(migration.sql.encode())  # several statements: simple protocol
                connection.execute(
                    f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )

    # -- the interface

    def add(
        self, rows: Sequence[EventRow], outbox: Mapping[str, OutboxEntry] | None = None
    ) -> set[str]:
        """See :meth:`EventStore.add`: with an ``outbox``, the events and their outbox rows in
        one transaction."""
        if not rows:
            return set()
        columns: list[list[Any]] = [[] for _ in range(11)]
        for row in rows:
            values = (
                row.event_id, row.received_at, row.event_type, row.landing_page_id,
                row.campaign_id, row.variant, row.session_id, row.value, row.currency,
                row.event_json, row.origin,
            )  # fmt: skip
            for column, value in zip(columns, values, strict=True):
                column.append(value)

        def insert(connection: _Connection) -> set[str]:
            return {found[0] for found in connection.execute(_INSERT, columns).fetchall()}

        if outbox:
            return self._run("cannot write to", lambda c: _add_with_outbox(c, insert, outbox))
        return self._run("cannot write to", insert)

    def latest(self, query: EventQuery) -> list[StoredEvent]:
        """See :meth:`EventStore.latest`."""
        filters = query.filters()
        where = " AND ".join(f"{column} = %s" for column in filters)
        sql = (
            "SELECT received_at, event, origin FROM aae_events"
            + (f" WHERE {where}" if where else "")
            + " ORDER BY received_at DESC, id DESC LIMIT %s"
        )

        def select(connection: _Connection) -> list[StoredEvent]:
            rows = connection.execute(sql.encode(), (*filters.values(), query.limit)).fetchall()
            return [
                StoredEvent(received.astimezone(timezone.utc), event, origin)
                for received, event, origin in rows
            ]

        return self._run("cannot read", select)

    def funnel(self, query: FunnelQuery) -> list[FunnelRow]:
        """See :meth:`EventStore.funnel`."""
        (sessions, parameters), (revenue, _same) = funnel_sql(query, "%s", lambda moment: moment)

        def select(connection: _Connection) -> list[FunnelRow]:
            # One REPEATABLE READ transaction: both statements see the same events.
            with connection.transaction():
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                steps = connection.execute(sessions.encode(), parameters).fetchall()
                money = connection.execute(revenue.encode(), parameters).fetchall()
            return assemble(steps, money)

        return self._run("cannot read", select)

    # -- the outbox (statements in :mod:`.postgres_outbox`)

    def claim_outbox(self, limit: int, lease: float) -> list[OutboxItem]:
        """See :meth:`EventStore.claim_outbox`: ``FOR UPDATE SKIP LOCKED``."""
        return self._run("cannot write to", lambda c: postgres_outbox.claim(c, limit, lease))

    def settle_outbox(self, ids: Sequence[int], outcome: Outcome) -> None:
        """See :meth:`EventStore.settle_outbox`."""
        self._run("cannot write to", lambda c: postgres_outbox.settle(c, ids, outcome))

    def prune_outbox(self, sent_before: datetime) -> int:
        """See :meth:`EventStore.prune_outbox`."""
        return self._run("cannot write to", lambda c: postgres_outbox.prune(c, sent_before))

    def outbox_status(self) -> OutboxStatus:
        """See :meth:`EventStore.outbox_status`."""
        return self._run("cannot read", postgres_outbox.status)

    def page_urls(self, sessions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """See :meth:`EventStore.page_urls`."""
        return self._run("cannot read", lambda c: postgres_outbox.page_urls(c, sessions))

    def ping(self) -> None:
        """See :meth:`EventStore.ping`. Here: the server answers, and takes writes (not a
        standby, not ``default_transaction_read_only``)."""
        row = self._run(
            "cannot reach",
            lambda connection: connection.execute("SHOW transaction_read_only").fetchone(),
        )
        if row is not None and row[0] == "on":
            raise StorageUnavailable(f"cannot write to {self.url}: the database is read-only")

    def schema_version(self) -> int:
        """See :meth:`EventStore.schema_version`."""

        def version(connection: _Connection) -> int:
            row = connection.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
            return int(row[0] or 0) if row is not None else 0

        return self._run("cannot read", version)

    def close(self) -> None:
        """See :meth:`EventStore.close`."""
        self._pool.close()


def _add_with_outbox(
    connection: _Connection,
    insert: Callable[[_Connection], set[str]],
    outbox: Mapping[str, OutboxEntry],
) -> set[str]:
    """The events, then the outbox rows of those stored, in one transaction."""
    with connection.transaction():
        stored = insert(connection)
        postgres_outbox.insert(connection, stored, outbox)
    return stored
