"""SQLite storage: the embedded default, one file that survives restarts.

The file is created on first use (its folder must exist) and put in WAL mode
(https://sqlite.org/wal.html): readers do not block the writer, nor the writer readers.
``synchronous=NORMAL``: in WAL mode a commit survives the process being killed, and only a
power loss or an operating system crash may undo the last commits (sqlite.org/pragma.html,
"synchronous"). Writes go through one connection under a lock, reads through another; several
processes may share a file (each write takes SQLite's write lock, waiting up to
``busy_timeout`` seconds for it). SQLite's own errors that say "not now" (locked, busy, disk
full, read-only, I/O) raise :class:`~.base.StorageUnavailable`; the message names the file
and, when the file system tells (:func:`storage_cause`), why: a read-only mount, a full disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Final, TypeVar

from aae_tracking_plugins.collector.storage import sqlite_outbox
from aae_tracking_plugins.collector.storage.base import (
    EventQuery,
    EventRow,
    EventStore,
    StorageError,
    StorageUnavailable,
    StoredEvent,
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

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"  # sorts as text in time order
_INSERT: Final = (
    "INSERT INTO aae_events (event_id, received_at, event_type, landing_page_id, campaign_id,"
    " variant, session_id, value, currency, event, origin) VALUES {rows}"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_ROW: Final = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Rows per INSERT: 100 rows are 1,100 parameters, far below SQLite's limit (32,766 since 3.32).
_ROWS_PER_INSERT: Final = 100
# SQLite result codes that mean "try again later" (sqlite.org/rescode.html).
_TRANSIENT: Final = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR",
     "SQLITE_CANTOPEN", "SQLITE_PROTOCOL"}
)  # fmt: skip


# Result codes after which the file system is worth a look (storage_cause): SQLite's own
# text ("unable to open database file") does not say why.
_STORAGE_CODES: Final = ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR")


def storage_cause(path: Path) -> str | None:
    """Why the database file ``path`` (and the ``-wal`` and ``-shm`` files SQLite keeps beside
    it) cannot be written, when the file system says so: a read-only mount, no space left, a
    folder or file without write permission. None when nothing of that is found."""
    folder = path.parent
    try:
        stats = os.statvfs(folder)
    except OSError as exc:
        return f"{folder}: {exc.strerror}"
    if stats.f_flag & os.ST_RDONLY:
        return f"the file system of {folder} is mounted read-only"
    if stats.f_bavail == 0:
        return f"no space left on the file system of {folder}"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable (SQLite creates {path.name}-wal beside it)"
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file {path} is read-only"
    return None


def _transient(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", None)  # Python 3.11+
    if name is None:
        return isinstance(exc, sqlite3.OperationalError)
    return any(name.startswith(code) for code in _TRANSIENT)


def _statements(sql: str) -> Iterator[str]:
    """The statements of a migration file, one at a time (``executescript`` would commit)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    rest = [
        line for line in buffer.splitlines() if line.strip() and not line.strip().startswith("--")
    ]
    if rest:
        raise ValueError(f"migration ends inside a statement: {rest[0][:60]!r}")


class SQLiteStore(EventStore):
    """Events in the SQLite file ``path`` (created, with its tables, on first use).

    ``busy_timeout``: seconds a write waits for another process's write lock before the
    request is answered 503. Raises :class:`~.base.StorageError` when the file cannot be
    opened or created (the message names it and why), is not an SQLite database, or has a
    newer schema than this code.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._busy_timeout = busy_timeout
        if not self.path.parent.is_dir():
            raise StorageError(
                f"cannot create {self.url}: no folder {str(self.path.parent)!r} (create it first)"
            )
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._writer = self._connect()
        try:
            self._migrate()
            self._reader = self._connect()
        except BaseException:
            self._writer.close()
            raise

    # -- connections

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # transactions are explicit (BEGIN ... COMMIT)
                check_same_thread=False,  # used from the server's worker threads, under locks
            )
            try:
                mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode != "wal":
                    raise StorageError(f"{self.url}: cannot use WAL mode here (got {mode!r})")
                connection.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                connection.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise self._error("cannot open", exc) from None
        return connection

    def _error(self, doing: str, exc: sqlite3.Error) -> StorageError:
        message = f"{doing} {self.url}: {exc}"
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            return StorageError(f"{self.url} is not an SQLite database")
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(_STORAGE_CODES):
            cause = storage_cause(self.path)
            message += f" ({cause})" if cause else ""
        return StorageUnavailable(message) if _transient(exc) else StorageError(message)

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The write connection in a ``BEGIN IMMEDIATE`` transaction, committed on success."""
        with self._write_lock:
            connection = self._writer
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(doing, exc) from None

    def _migrate(self) -> None:
        with self._transaction("cannot migrate") as connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = [row[0] for row in connection.execute(f"SELECT version FROM {VERSION_TABLE}")]
            for migration in pending(self.dialect, applied, self.url):
                for statement in _statements(migration.sql):
                    connection.execute(statement)
                connection.execute(
                    f"INSERT INTO {VERSION_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, _now()),
                )

    # -- the interface

    def add(
        self, rows: Sequence[EventRow], outbox: Mapping[str, OutboxEntry] | None = None
    ) -> set[str]:
        """See :meth:`EventStore.add`."""
        stored: set[str] = set()
        if not rows:
            return stored
        # The rows of one request share their received_at: format each moment once (strftime
        # per row was a sixth of the writer's time on batches).
        times = {moment: _format_time(moment) for moment in {row.received_at for row in rows}}
        with self._transaction("cannot write to") as connection:
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                sql = _INSERT.format(rows=", ".join([_ROW] * len(chunk)))
                values = [value for row in chunk for value in _values(row, times[row.received_at])]
                stored.update(found[0] for found in connection.execute(sql, values))
            if outbox:
                sqlite_outbox.insert(connection, stored, outbox)
        return stored

    def latest(self, query: EventQuery) -> list[StoredEvent]:
        """See :meth:`EventStore.latest`."""
        filters = query.filters()
        where = " AND ".join(f"{column} = ?" for column in filters)
        sql = (
            "SELECT received_at, event, origin FROM aae_events"
            + (f" WHERE {where}" if where else "")
            + " ORDER BY received_at DESC, id DESC LIMIT ?"
        )
        with self._read_lock:
            try:
                rows = self._reader.execute(sql, (*filters.values(), query.limit)).fetchall()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from None
        return [
            StoredEvent(_parse_time(received), json.loads(event), origin)
            for received, event, origin in rows
        ]

    def funnel(self, query: FunnelQuery) -> list[FunnelRow]:
        """See :meth:`EventStore.funnel`. ``received_at`` is compared as text: its format
        sorts in time order."""
        sessions, revenue = funnel_sql(query, "?", lambda moment: _format_time(moment))
        with self._read_lock:
            try:
                # One read transaction: both statements see the same events.
                self._reader.execute("BEGIN")
                try:
                    steps = self._reader.execute(*sessions).fetchall()
                    money = self._reader.execute(*revenue).fetchall()
                finally:
                    self._reader.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from None
        return assemble(steps, money)

    # -- the outbox (statements in :mod:`.sqlite_outbox`)

    def claim_outbox(self, limit: int, lease: float) -> list[OutboxItem]:
        """See :meth:`EventStore.claim_outbox`: under SQLite's write lock."""
        with self._transaction("cannot write to") as connection:
            return sqlite_outbox.claim(connection, limit, lease)

    def settle_outbox(self, ids: Sequence[int], outcome: Outcome) -> None:
        """See :meth:`EventStore.settle_outbox`."""
        with self._transaction("cannot write to") as connection:
            sqlite_outbox.settle(connection, ids, outcome)

    def prune_outbox(self, sent_before: datetime) -> int:
        """See :meth:`EventStore.prune_outbox`."""
        with self._transaction("cannot write to") as connection:
            return sqlite_outbox.prune(connection, sent_before)

    def outbox_status(self) -> OutboxStatus:
        """See :meth:`EventStore.outbox_status`."""
        return self._read(sqlite_outbox.status)

    def page_urls(self, sessions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """See :meth:`EventStore.page_urls`."""
        return self._read(lambda connection: sqlite_outbox.page_urls(connection, sessions))

    def _read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._read_lock:
            try:
                return work(self._reader)
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from None

    def ping(self) -> None:
        """See :meth:`EventStore.ping`. Here: the write lock can be taken (so a write would
        go through: not locked by another process), then let go; and the file may be written
        and the disk has room (taking the lock writes nothing, so a full disk would pass it,
        and so does a file SQLite opened read-only without a word: it has no write permission)."""
        with self._transaction("cannot write to"):
            pass
        if not os.access(self.path, os.W_OK):
            cause = storage_cause(self.path) or f"the file {self.path} is read-only"
            raise StorageUnavailable(f"cannot write to {self.url}: not writable ({cause})")
        if os.statvfs(self.path.parent).f_bavail == 0:
            raise StorageUnavailable(
                f"cannot write to {self.url}: database or disk is full"
                f" (no space left on the file system of {self.path.parent})"
            )

    def schema_version(self) -> int:
        """See :meth:`EventStore.schema_version`."""
        with self._read_lock:
            try:
                row = self._reader.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from None
        return int(row[0] or 0)

    def close(self) -> None:
        """See :meth:`EventStore.close`."""
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()


def _now() -> str:
    return datetime.now(timezone.utc).strftime(_TIME_FORMAT)


def _values(row: EventRow, received_at: str) -> tuple[object, ...]:
    return (
        row.event_id,
        received_at,
        row.event_type,
        row.landing_page_id,
        row.campaign_id,
        row.variant,
        row.session_id,
        row.value,
        row.currency,
        row.event_json,
        row.origin,
    )


def _format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)
