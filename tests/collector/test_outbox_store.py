"""The outbox in the stores themselves, on SQLite and PostgreSQL: rows written with their events
(and only for events stored), claims that two stores on one database never share, a lease that
lets another claim a dead forwarder's rows, retries that become failures after N attempts, and the
migration of a database made before server-sent events. Plus the request context's address."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from aae_tracking_plugins.collector.capi import client_address
from aae_tracking_plugins.collector.command import collect_command
from aae_tracking_plugins.collector.storage import (
    EventQuery,
    EventRow,
    EventStore,
    StorageError,
    open_store,
)
from aae_tracking_plugins.collector.storage.migrations import available
from aae_tracking_plugins.collector.storage.outbox import OutboxEntry, OutboxStatus, Outcome
from tests.collector.test_report_command import run
from tests.events import make_event

NOW = datetime.now(timezone.utc)


def rows_and_outbox(count: int) -> tuple[list[EventRow], dict[str, OutboxEntry]]:
    events = [make_event("PageView") for _ in range(count)]
    rows = [EventRow.from_event(event, NOW) for event in events]
    outbox = {
        event["event_id"]: OutboxEntry(
            json.dumps({"event_id": event["event_id"]}), event["session_id"], "lp_123"
        )
        for event in events
    }
    return rows, outbox


def test_outbox_rows_are_written_with_their_events_and_not_for_duplicates(
    store: EventStore,
) -> None:
    rows, outbox = rows_and_outbox(3)
    assert store.add(rows[:1]) == {rows[0].event_id}  # stored before, without forwarding
    assert store.add(rows, outbox) == {rows[1].event_id, rows[2].event_id}
    assert store.outbox_status() == OutboxStatus(pending=2)
    claimed = store.claim_outbox(10, 60)
    assert [item.event_id for item in claimed] == [rows[1].event_id, rows[2].event_id]
    assert claimed[0].payload == {"event_id": rows[1].event_id}
    assert claimed[0].attempts == 0


def test_an_event_and_its_outbox_row_are_one_transaction(store: EventStore) -> None:
    rows, outbox = rows_and_outbox(2)
    broken = {**outbox, rows[1].event_id: OutboxEntry("{not json", "sess_1_a", "lp_123")}
    with pytest.raises(StorageError):
        store.add(rows, broken)
    assert store.latest(EventQuery()) == []  # neither event: the outbox row failed
    assert store.outbox_status() == OutboxStatus()
    assert store.add(rows, outbox) == {row.event_id for row in rows}
    assert store.outbox_status() == OutboxStatus(pending=2)


def test_two_stores_on_one_database_never_claim_the_same_row(database_url: str) -> None:
    with open_store(database_url) as first, open_store(database_url) as second:
        rows, outbox = rows_and_outbox(60)
        first.add(rows, outbox)
        claimed: list[list[str]] = [[], []]

        def drain(store: EventStore, into: list[str]) -> None:
            while batch := store.claim_outbox(7, 60):
                into.extend(item.event_id for item in batch)

        threads = [
            threading.Thread(target=drain, args=(store, into))
            for store, into in zip((first, second), claimed, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(claimed[0] + claimed[1]) == sorted(row.event_id for row in rows)
        assert not set(claimed[0]) & set(claimed[1])


def test_a_lapsed_claim_is_claimed_again_and_retries_end_in_failed(store: EventStore) -> None:
    rows, outbox = rows_and_outbox(1)
    store.add(rows, outbox)
    (item,) = store.claim_outbox(10, 0.2)
    assert store.claim_outbox(10, 60) == []  # claimed
    threading.Event().wait(0.3)
    (again,) = store.claim_outbox(10, 60)  # the first forwarder died: its lease ended
    assert again.id == item.id
    soon = datetime.now(timezone.utc)
    store.settle_outbox([again.id], Outcome("retry", "Meta answered 500: x", soon, 2))
    assert store.outbox_status().pending == 1
    (third,) = store.claim_outbox(10, 60)
    assert third.attempts == 1
    store.settle_outbox([third.id], Outcome("retry", "Meta answered 503: y", soon, 2))
    final = store.outbox_status()
    assert (final.pending, final.sent, final.failed) == (0, 0, 1)
    assert final.last_error == "Meta answered 503: y"
    assert final.last_error_at is not None
    assert abs(final.last_error_at - datetime.now(timezone.utc)) < timedelta(seconds=30)
    assert store.claim_outbox(10, 60) == []


def test_a_row_not_due_yet_waits(store: EventStore) -> None:
    rows, outbox = rows_and_outbox(1)
    store.add(rows, outbox)
    (item,) = store.claim_outbox(10, 60)
    later = datetime.now(timezone.utc) + timedelta(seconds=0.4)
    store.settle_outbox([item.id], Outcome("retry", "429", later, 5))
    assert store.claim_outbox(10, 60) == []
    threading.Event().wait(0.5)
    assert [found.id for found in store.claim_outbox(10, 60)] == [item.id]
    store.settle_outbox([item.id], Outcome("sent"))
    assert store.outbox_status() == OutboxStatus(
        sent=1, last_error="429", last_error_at=store.outbox_status().last_error_at
    )


def test_only_sent_rows_settled_before_the_cutoff_are_pruned(store: EventStore) -> None:
    rows, outbox = rows_and_outbox(4)
    store.add(rows, outbox)
    first, second, third, _fourth = store.claim_outbox(10, 60)
    store.settle_outbox([first.id, second.id], Outcome("sent"))
    store.settle_outbox([third.id], Outcome("failed", "Meta answered 400: x"))
    assert store.prune_outbox(datetime.now(timezone.utc) - timedelta(hours=1)) == 0
    assert store.outbox_status().sent == 2
    assert store.prune_outbox(datetime.now(timezone.utc) + timedelta(seconds=1)) == 2
    status = store.outbox_status()
    assert (status.pending, status.sent, status.failed) == (1, 0, 1)  # a claimed row stays
    # A copy of a pruned event sent again is a duplicate of the stored event: no new row.
    assert store.add(rows[:1], {first.event_id: outbox[first.event_id]}) == set()
    assert store.outbox_status().pending == 1


def test_events_stored_before_migration_2_are_browser_sent(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = available("sqlite")[0]
    with sqlite3.connect(path) as connection:
        connection.executescript(first.sql)
        connection.execute(
            "CREATE TABLE aae_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        connection.execute("INSERT INTO aae_schema_migrations VALUES (1, ?, 'x')", (first.name,))
        connection.execute(
            "INSERT INTO aae_events (event_id, received_at, event_type, landing_page_id,"
            " session_id, event) VALUES ('old-1', '2026-01-01T00:00:00.000000Z', 'PageView',"
            " 'lp', 'sess_1_a', '{}')"
        )
    with open_store(f"sqlite:///{path}") as store:
        assert store.schema_version() == 2
        (old,) = store.latest(EventQuery())
        assert old.origin == "browser"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "expected"),
    [
        ("203.0.113.7", None, False, "203.0.113.7"),
        ("10.0.0.2", "198.51.100.1, 203.0.113.9", False, "10.0.0.2"),  # not trusted: the peer
        ("10.0.0.2", "198.51.100.1, 203.0.113.9", True, "203.0.113.9"),  # what the proxy added
        ("10.0.0.2", "garbage", True, None),
        ("::ffff:192.0.2.5", None, False, "192.0.2.5"),
        ("2001:db8::1", None, False, "2001:db8::1"),
        (None, None, False, None),
    ],
)
def test_the_client_address(
    peer: str | None, forwarded_for: str | None, trusted: bool, expected: str | None
) -> None:
    assert client_address(peer, forwarded_for, trusted) == expected


def test_collect_refuses_a_pixel_id_without_the_token_in_the_environment() -> None:
    result = CliRunner().invoke(
        collect_command,
        ["--capi-pixel-id", "123"],
        env={"AAE_CAPI_ACCESS_TOKEN": None, "AAE_CAPI_PIXEL_ID": None},
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: forwarding to Pixel 123 needs the access token in AAE_CAPI_ACCESS_TOKEN "
        "(never a file or an argument)"
    )


def test_the_report_table_shows_the_outbox_once_it_was_used(database_url: str) -> None:
    with open_store(database_url) as store:
        rows, outbox = rows_and_outbox(3)
        store.add(rows[:1])
        before = run("--database", database_url)
        assert before.returncode == 0, before.stderr
        assert "Conversions API" not in before.stdout  # never used: not mentioned
        store.add(rows[1:], outbox)
        (first, _second) = store.claim_outbox(10, 60)
        store.settle_outbox([first.id], Outcome("failed", "Meta answered 400: Invalid parameter"))
    table = run("--database", database_url)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[-1] == (
        "Conversions API outbox: 1 pending, 0 sent, 1 failed"
        " (last error: Meta answered 400: Invalid parameter)"
    )
    as_json = run("--database", database_url, "--format", "json")
    assert json.loads(as_json.stdout)  # only the funnel: still JSON
