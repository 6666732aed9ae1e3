"""Group commit (collector/storage/group.py) when a waiting request is cancelled: the request's
task is cancelled (a client gone, a server's graceful-shutdown timeout, a timeout middleware of
the Web Platform), so ``asyncio.wrap_future`` cancels the writer's future. The writer must go on
settling the other requests of its group and serving later ones: before, ``set_result`` on the
cancelled future raised ``InvalidStateError`` in the writer thread, which died, and every later
request waited forever."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.storage import EventQuery, EventRow, open_store
from aae_tracking_plugins.collector.storage.group import GroupWriter
from aae_tracking_plugins.collector.storage.sqlite import SQLiteStore
from tests.events import make_event

pytestmark = pytest.mark.collector


def rows(*event_ids: str) -> list[EventRow]:
    now = datetime.now(timezone.utc)
    return [EventRow.from_event(make_event("PageView", event_id=i), now) for i in event_ids]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with open_store(f"sqlite:///{tmp_path / 'events.db'}", busy_timeout=2.0) as opened:
        assert isinstance(opened, SQLiteStore)
        yield opened


async def _cancel_one_of_a_group(store: SQLiteStore, writer: GroupWriter) -> set[str]:
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN EXCLUSIVE")  # the writer's first write waits for this lock
        first = writer.submit(rows("a1"))
        await asyncio.sleep(0.1)  # the writer holds the first request, waiting in its write
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


def test_a_cancelled_request_does_not_stop_the_writer(store: SQLiteStore) -> None:
    writer = GroupWriter(store.add)
    outcome: list[set[str] | BaseException] = []

    def scenario() -> None:  # a thread of its own: the suite may run a loop in this one
        try:
            outcome.append(asyncio.run(_cancel_one_of_a_group(store, writer)))
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
