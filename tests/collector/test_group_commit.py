"""Group commit (aae_tracking_plugins/collector/storage/group.py) on a real SQLite store: the rows
of requests queued while a write runs go in one transaction, each request learns which of its
events were new, an unavailable database fails the whole group and nothing of it is stored, and
an answer always follows the commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from aae_tracking_plugins.collector.storage import (
    EventQuery,
    EventRow,
    StorageError,
    StorageUnavailable,
    open_store,
)
from aae_tracking_plugins.collector.storage.group import GroupWriter
from aae_tracking_plugins.collector.storage.outbox import OutboxEntry
from aae_tracking_plugins.collector.storage.sqlite import SQLiteStore
from tests.events import make_event

pytestmark = pytest.mark.collector


def rows(*event_ids: str) -> list[EventRow]:
    now = datetime.now(timezone.utc)
    return [EventRow.from_event(make_event("PageView", event_id=i), now) for i in event_ids]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with open_store(f"sqlite:///{tmp_path / 'events.db'}", busy_timeout=0.3) as opened:
        assert isinstance(opened, SQLiteStore)
        yield opened


@pytest.fixture
def patient_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A store whose writes wait up to 10 s for the lock: the test releases it long before
    (a 0.3 s busy timeout could run out on a loaded machine between taking and releasing it)."""
    with open_store(f"sqlite:///{tmp_path / 'patient.db'}", busy_timeout=10.0) as opened:
        assert isinstance(opened, SQLiteStore)
        yield opened


def lock_of(store: SQLiteStore) -> sqlite3.Connection:
    """Another connection to ``store``'s database, to take its write lock (``BEGIN EXCLUSIVE``)."""
    return sqlite3.connect(store.path, isolation_level=None, timeout=0)


def announcing(write: Callable[..., set[str]]) -> tuple[Callable[..., set[str]], threading.Event]:
    """``write`` and an event set as the writer calls it: the writer has taken its group off
    the queue, so what is submitted from then on goes in a later transaction. (A 50 ms sleep
    for that let a loaded machine's writer take the first request together with the next.)"""
    called = threading.Event()

    def wrapped(*args: Any) -> set[str]:
        called.set()
        return write(*args)

    return wrapped, called


@pytest.fixture
def locked(store: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """Another connection that takes SQLite's write lock (``BEGIN EXCLUSIVE``) when told."""
    other = lock_of(store)
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


@pytest.fixture
def patient_lock(patient_store: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """:func:`locked` for ``patient_store``."""
    other = lock_of(patient_store)
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def submit_while_locked(
    store: SQLiteStore, locked: sqlite3.Connection, batches: list[list[EventRow]]
) -> tuple[GroupWriter, list[Future[set[str]]]]:
    """A writer to ``store``; a first request submitted while the lock is held (the writer
    takes it and waits in its write), then the others (they queue behind it). The lock stays
    held: the caller releases it."""
    write, called = announcing(store.add)
    writer = GroupWriter(write)
    locked.execute("BEGIN EXCLUSIVE")
    futures = [writer.submit(batches[0])]
    assert called.wait(10), "the writer did not take the first request"
    futures += [writer.submit(batch) for batch in batches[1:]]
    return writer, futures


def test_requests_queued_during_a_write_share_the_next_transaction(
    patient_store: SQLiteStore, patient_lock: sqlite3.Connection
) -> None:
    store = patient_store
    batches = [rows("a1"), rows("b1", "b2"), rows("c1", "a1"), rows("b2", "d1", "d1")]
    writer, futures = submit_while_locked(store, patient_lock, batches)
    patient_lock.execute("ROLLBACK")
    results = [future.result(timeout=10) for future in futures]
    writer.close()
    # The first copy of an event is the one stored; each id is new for exactly one request.
    assert results == [{"a1"}, {"b1", "b2"}, {"c1"}, {"d1"}]
    assert (writer.transactions, writer.requests) == (2, 4)
    stored = [event.event["event_id"] for event in store.latest(EventQuery(limit=100))]
    assert sorted(stored) == ["a1", "b1", "b2", "c1", "d1"]


def test_outbox_rows_go_with_their_requests_rows_in_the_groups_transaction(
    patient_store: SQLiteStore, patient_lock: sqlite3.Connection
) -> None:
    """Forwarding on: each request's outbox entries are written with its rows, one outbox row
    per stored event (the first request's entry for an event two requests carry), none for a
    duplicate, none for an event without an entry."""
    store, locked = patient_store, patient_lock
    write, called = announcing(store.add)
    writer = GroupWriter(write)
    entry = {i: OutboxEntry(json.dumps({"from": i}), "sess_1_a", "lp_123") for i in "abcd"}
    locked.execute("BEGIN EXCLUSIVE")
    futures = [writer.submit(rows("a1"), {"a1": entry["a"]})]
    assert called.wait(10), "the writer did not take the first request"
    futures.append(writer.submit(rows("b1", "c1"), {"b1": entry["b"]}))  # c1: not forwarded
    futures.append(writer.submit(rows("b1", "d1"), {"b1": entry["c"], "d1": entry["d"]}))
    futures.append(writer.submit(rows("a1")))  # stored in the first transaction: a duplicate
    locked.execute("ROLLBACK")
    results = [future.result(timeout=10) for future in futures]
    writer.close()
    assert results == [{"a1"}, {"b1", "c1"}, {"d1"}, set()]
    assert (writer.transactions, writer.requests) == (2, 4)
    claimed = {item.event_id: item.payload for item in store.claim_outbox(10, 60)}
    assert claimed == {"a1": {"from": "a"}, "b1": {"from": "b"}, "d1": {"from": "d"}}


def test_an_unavailable_database_fails_the_whole_group_and_stores_nothing(
    store: SQLiteStore, locked: sqlite3.Connection
) -> None:
    batches = [rows("a1"), rows("b1"), rows("c1")]
    writer, futures = submit_while_locked(store, locked, batches)
    # The lock is held until every request has failed (busy_timeout 0.3 s, once per group): a
    # lock released after a fixed second let a loaded machine's second group through.
    errors = [future.exception(timeout=10) for future in futures]
    locked.execute("ROLLBACK")
    assert all(isinstance(error, StorageUnavailable) for error in errors)
    assert "database is locked" in str(errors[0])
    assert len({id(error) for error in errors}) == 3  # one exception per request
    assert store.latest(EventQuery()) == []
    assert writer.submit(rows("a1")).result(timeout=10) == {"a1"}  # recovered
    writer.close()


def test_a_row_the_database_refuses_fails_only_its_own_request(store: SQLiteStore) -> None:
    """Any other storage error: the group is written again request by request."""

    def write(batch: list[EventRow]) -> set[str]:
        if any(row.event_id == "bad" for row in batch):
            raise StorageError("cannot write to the test store: a row it refuses")
        return store.add(batch)

    writer = GroupWriter(write)  # type: ignore[arg-type]
    gate = threading.Event()
    held, called = announcing(lambda batch: (gate.wait(10), write(batch))[1])
    slow = GroupWriter(held)
    first = slow.submit(rows("a1"))
    assert called.wait(10), "the writer did not take the first request"
    queued = [slow.submit(rows("b1")), slow.submit(rows("bad")), slow.submit(rows("c1"))]
    gate.set()
    assert first.result(timeout=10) == {"a1"}
    assert queued[0].result(timeout=10) == {"b1"}
    assert isinstance(queued[1].exception(timeout=10), StorageError)
    assert queued[2].result(timeout=10) == {"c1"}
    assert writer.submit(rows("d1")).result(timeout=10) == {"d1"}
    writer.close()
    slow.close()


def test_after_close_requests_are_refused_as_unavailable(store: SQLiteStore) -> None:
    writer = GroupWriter(store.add)
    assert writer.submit(rows("a1")).result(timeout=10) == {"a1"}
    writer.close()
    with pytest.raises(StorageUnavailable, match="shutting down"):
        writer.submit(rows("b1"))


# Group commit (collector/storage/group.py) when a waiting request is cancelled: the request's
# task is cancelled (a client gone, a server's graceful-shutdown timeout, a timeout middleware of
# the Web Platform), so ``asyncio.wrap_future`` cancels the writer's future. The writer must go on
# settling the other requests of its group and serving later ones: before, ``set_result`` on the
# cancelled future raised ``InvalidStateError`` in the writer thread, which died, and every later
# request waited forever.


async def _cancel_one_of_a_group(
    store: SQLiteStore, writer: GroupWriter, called: threading.Event
) -> set[str]:
    other = lock_of(store)
    try:
        other.execute("BEGIN EXCLUSIVE")  # the writer's first write waits for this lock
        first = writer.submit(rows("a1"))
        # The writer holds the first request, waiting in its write.
        assert await asyncio.to_thread(called.wait, 10), "the writer did not take a1"
        cancelled = asyncio.create_task(writer.add(rows("b1")))
        third = writer.submit(rows("c1"))
        await asyncio.sleep(0.05)  # the task awaits the writer's future
        cancelled.cancel()
        await asyncio.sleep(0.05)
        other.execute("ROLLBACK")
        assert first.result(timeout=5) == {"a1"}
        stored = third.result(timeout=5)  # before the fix: TimeoutError, the writer was dead
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        later = await asyncio.wait_for(writer.add(rows("d1")), timeout=5)
        return stored | later
    finally:
        other.close()


def test_a_cancelled_request_does_not_stop_the_writer(tmp_path: Path) -> None:
    # A longer busy timeout than the module's store: the lock is held through three steps.
    with open_store(f"sqlite:///{tmp_path / 'events.db'}", busy_timeout=10.0) as opened:
        assert isinstance(opened, SQLiteStore)
        _cancel_and_check(opened)


def _cancel_and_check(store: SQLiteStore) -> None:
    write, called = announcing(store.add)
    writer = GroupWriter(write)
    outcome: list[set[str] | BaseException] = []

    def scenario() -> None:  # a thread of its own: the suite may run a loop in this one
        try:
            outcome.append(asyncio.run(_cancel_one_of_a_group(store, writer, called)))
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=scenario)
    thread.start()
    thread.join(60)
    writer.close()
    assert outcome, "the scenario did not finish"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    stored = outcome[0]
    assert stored == {"c1", "d1"}
    listed = {item.event["event_id"] for item in store.latest(EventQuery(limit=10))}
    # The cancelled request was answered nothing: its rows are not written (the tracker keeps
    # its event and sends it again), the others are.
    assert listed == {"a1", "c1", "d1"}
