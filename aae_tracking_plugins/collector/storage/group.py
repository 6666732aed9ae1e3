"""Group commit: the rows of requests that arrive together go into the database in one transaction.

Under load most of a write's cost is per transaction, not per row: SQLite takes its write lock
and appends a commit record to the WAL, PostgreSQL does a round trip and a commit. And handing
each request to a worker thread of its own (Starlette's ``run_in_threadpool``) costs more CPU
than the insert: a thread wake-up per request, each fighting for the GIL. So
:class:`GroupWriter` has one writer thread per store:

* a request queues its rows (:meth:`GroupWriter.add`, awaited by the event loop;
  :meth:`GroupWriter.submit` for a thread) and waits;
* the writer takes everything queued, writes it with one ``write`` call (one transaction),
  then settles each request with its part of the result;
* while it writes, the next requests queue up: they go in the next transaction.

A request is answered only after the transaction that holds its rows has committed: a 200
still means stored. Nobody waits for a timer: a lone request is written at once, and groups
grow only while the database is busy with the previous one (as PostgreSQL's and MySQL's own
group commit of their logs). At most :data:`MAX_GROUP_ROWS` rows go in one transaction.

Outbox rows (Conversions API forwarding, :mod:`.outbox`) travel with their request's rows and
are written in the same transaction: a group's ``write`` gets every request's outbox entries,
the first request's entry for an ``event_id`` that several carry (its row is the one stored).

De-duplication stays the database's: ``write`` returns the ``event_id`` values its ``INSERT ...
ON CONFLICT (event_id) DO NOTHING`` stored, and each request gets those of its own rows that no
earlier request of the group claimed (the first copy of an event is the one stored, as within
one request's batch). A write that fails as unavailable fails every request of the group
(nothing of it was stored); any other storage error is retried request by request, so a row
the database refuses fails only its own request.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Final, Protocol

from aae_tracking_plugins.collector.storage.base import (
    EventRow,
    StorageError,
    StorageUnavailable,
)
from aae_tracking_plugins.collector.storage.outbox import OutboxEntry

__all__ = ["MAX_GROUP_ROWS", "GroupWriter"]

#: Most rows written in one transaction (a group takes whole requests: one of up to 100 rows
#: may take it past). Bounds how long one commit holds SQLite's write lock.
MAX_GROUP_ROWS: Final = 5000

Outbox = Mapping[str, OutboxEntry]


class Write(Protocol):
    """``EventStore.add``: one transaction per call; the stored ``event_id`` values."""

    def __call__(self, rows: Sequence[EventRow], outbox: Outbox | None = None, /) -> set[str]: ...


_Pending = tuple[Sequence[EventRow], Outbox | None, "Future[set[str]]"]


class GroupWriter:
    """Writes the rows of concurrent requests together, through ``write``, in its own thread.

    Input: ``write(rows[, outbox]) -> stored event ids``: one transaction per call, raising
    :class:`~.base.StorageUnavailable` (nothing stored) or :class:`~.base.StorageError`
    (typically ``EventStore.add``). The thread starts with the first request and ends at
    :meth:`close`. Thread-safe; usable from any number of event loops and threads.
    """

    def __init__(self, write: Write, name: str = "collector-writer") -> None:
        self._write = write
        self._name = name
        self._lock = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: Transactions written and the requests they held (the load benchmark reports them).
        self.transactions = 0
        self.requests = 0

    def submit(self, rows: Sequence[EventRow], outbox: Outbox | None = None) -> Future[set[str]]:
        """Queue ``rows`` (and the outbox entries of those to forward, by ``event_id``); the
        future's result is the ``event_id`` values of ``rows`` stored, once committed, or the
        storage error (a fresh instance per request). Raises
        :class:`~.base.StorageUnavailable` after :meth:`close`."""
        future: Future[set[str]] = Future()
        with self._lock:
            if self._closed:
                raise StorageUnavailable("the collector is shutting down")
            self._queue.append((rows, outbox or None, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._lock.notify()
        return future

    async def add(self, rows: Sequence[EventRow], outbox: Outbox | None = None) -> set[str]:
        """:meth:`submit` for the event loop: waits without blocking it."""
        return await asyncio.wrap_future(self.submit(rows, outbox))

    def close(self) -> None:
        """Write what is queued, then stop the thread; later requests raise
        :class:`~.base.StorageUnavailable`. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._lock.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if not self._queue:
                    return
                group: list[_Pending] = []
                size = 0
                while self._queue and size < MAX_GROUP_ROWS:
                    pending = self._queue.popleft()
                    # A request whose waiter was cancelled (asyncio.wrap_future cancels the
                    # future) is answered nothing: its rows are not written. The others can no
                    # longer be cancelled, so settling them cannot raise InvalidStateError.
                    if pending[2].set_running_or_notify_cancel():
                        group.append(pending)
                        size += len(pending[0])
                if not group:
                    continue
            self._commit(group)
            self.transactions += 1
            self.requests += len(group)

    def _commit(self, group: list[_Pending]) -> None:
        rows = [row for rows, _outbox, _future in group for row in rows]
        outbox: dict[str, OutboxEntry] = {}
        for _rows, entries, _future in group:
            for event_id, entry in (entries or {}).items():
                outbox.setdefault(event_id, entry)
        try:
            # Without outbox rows, write(rows): the call a store without forwarding expects.
            stored = self._write(rows, outbox) if outbox else self._write(rows)
        except StorageUnavailable as exc:
            _fail(group, exc)
            return
        except StorageError as exc:
            if len(group) == 1:
                _fail(group, exc)
            else:
                for pending in group:
                    self._commit([pending])
            return
        except Exception as exc:  # a bug: no request may take its rows for stored
            _fail(group, StorageError(f"cannot write: {type(exc).__name__}: {exc}"))
            return
        claimed: set[str] = set()
        for mine_rows, _outbox, future in group:
            mine = {row.event_id for row in mine_rows if row.event_id in stored} - claimed
            claimed |= mine
            future.set_result(mine)


def _fail(group: list[_Pending], error: StorageError) -> None:
    for _rows, _outbox, future in group:
        # A new exception per request: one instance raised in several tasks would share (and
        # scramble) its traceback.
        future.set_exception(type(error)(str(error)))
