"""The storage interface, the same tests on SQLite and on a real PostgreSQL (``database_url``):
de-duplication by the database's UNIQUE constraint, listing order and filters, restarts,
migrations, and what happens when the database is not there."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.storage import (
    DatabaseURLError,
    EventQuery,
    EventRow,
    EventStore,
    StorageError,
    StorageUnavailable,
    open_store,
    redact,
)
from aae_tracking_plugins.collector.storage.migrations import VERSION_TABLE, available
from aae_tracking_plugins.collector.storage.sqlite import SQLiteStore
from tests.events import make_event
from tests.postgres_cluster import PostgresCluster

T0 = datetime(2026, 3, 2, 9, 15, 4, 120512, tzinfo=timezone.utc)


def row(event: dict[str, object], seconds: float = 0) -> EventRow:
    return EventRow.from_event(event, T0 + timedelta(seconds=seconds))


def stored_ids(store: EventStore) -> list[str]:
    return [stored.event["event_id"] for stored in store.latest(EventQuery(limit=1000))]


def test_new_events_are_stored_and_repeats_are_not(store: EventStore) -> None:
    first, second = make_event("PageView"), make_event("Purchase")
    assert store.add([row(first)]) == {first["event_id"]}
    # Again (a retry), with a new one, and the new one twice in the same batch.
    assert store.add([row(first), row(second), row(second)]) == {second["event_id"]}
    assert store.add([row(first), row(second)]) == set()
    assert sorted(stored_ids(store)) == sorted([first["event_id"], second["event_id"]])


def test_an_event_is_read_back_as_it_was_sent_with_when_it_arrived(store: EventStore) -> None:
    event = make_event("Purchase", campaign_id=None)
    event["event_data"] |= {"variant": "b", "value": 1e308, "order_id": "ORD-é-😀"}
    event["user_agent"] = 'Mozilla/5.0 \u2028 \\ " \x01 \ufeff'
    store.add([row(event)])
    (stored,) = store.latest(EventQuery())
    assert stored.event == event
    assert list(stored.event) == list(event)  # the keys in the order sent
    assert list(stored.event["event_data"]) == list(event["event_data"])
    assert stored.received_at == T0


def test_the_indexed_columns_come_from_the_event(store: EventStore) -> None:
    purchase = make_event("Purchase")
    purchase["event_data"]["variant"] = "b"
    view = make_event("PageView", campaign_id=None)
    assert row(purchase) == EventRow(
        purchase["event_id"], T0, "Purchase", "lp_123", "camp_456", "b",
        "sess_1732960800000_abc123def4", 49.99, "EUR", row(purchase).event_json,
    )  # fmt: skip
    assert (row(view).campaign_id, row(view).variant, row(view).value, row(view).currency) == (
        None, None, None, None,
    )  # fmt: skip


def test_latest_is_newest_first_filtered_and_limited(store: EventStore) -> None:
    events = [
        make_event("PageView", landing_page_id="lp_a"),
        make_event("AddToCart", landing_page_id="lp_a", campaign_id="camp_x"),
        make_event("Purchase", landing_page_id="lp_b", campaign_id="camp_x"),
        make_event("PageView", landing_page_id="lp_b", campaign_id=None),
    ]
    store.add([row(event, seconds) for seconds, event in enumerate(events)])
    ids = [event["event_id"] for event in events]

    def listed(**query: object) -> list[str]:
        return [stored.event["event_id"] for stored in store.latest(EventQuery(**query))]

    assert listed() == ids[::-1]
    assert listed(limit=2) == [ids[3], ids[2]]
    assert listed(landing_page_id="lp_a") == [ids[1], ids[0]]
    assert listed(campaign_id="camp_x") == [ids[2], ids[1]]
    assert listed(event_type="PageView") == [ids[3], ids[0]]
    assert listed(landing_page_id="lp_b", event_type="Purchase", campaign_id="camp_x") == [ids[2]]
    assert listed(landing_page_id="lp_none") == []


def test_events_received_in_the_same_instant_list_latest_stored_first(store: EventStore) -> None:
    events = [make_event("PageView") for _ in range(5)]
    for event in events:
        store.add([row(event)])
    assert stored_ids(store) == [event["event_id"] for event in events[::-1]]


def test_a_query_limit_must_be_1_to_1000() -> None:
    EventQuery(limit=1000)
    for limit in (0, 1001):
        with pytest.raises(ValueError, match="limit must be 1-1000"):
            EventQuery(limit=limit)


def test_events_survive_reopening_and_migrations_run_once(database_url: str) -> None:
    event = make_event("PageView")
    with open_store(database_url) as store:
        store.add([row(event)])
        assert store.schema_version() == len(available(store.dialect)) >= 1
    with open_store(database_url) as again:
        assert stored_ids(again) == [event["event_id"]]
        assert again.add([row(event)]) == set()
        assert again.schema_version() == len(available(again.dialect))


def test_threads_adding_the_same_events_store_each_once(store: EventStore) -> None:
    events = [make_event("PageView") for _ in range(40)]
    results: list[set[str]] = []
    lock = threading.Lock()

    def add_all() -> None:
        for event in events:
            found = store.add([row(event)])
            with lock:
                results.append(found)

    threads = [threading.Thread(target=add_all) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored_per_call = [event_id for found in results for event_id in found]
    assert sorted(stored_per_call) == sorted(event["event_id"] for event in events)
    assert sorted(stored_ids(store)) == sorted(stored_per_call)


def test_ping_answers_while_the_database_does(store: EventStore) -> None:
    store.ping()
    store.close()
    with pytest.raises(StorageError):
        store.ping()


# ------------------------------------------------------------------ URLs and SQLite specifics


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("events.db", "did you mean sqlite:///events.db?"),
        ("mysql://db/x", "unsupported database URL 'mysql://db/x'"),
        ("sqlite://host/x.db", "invalid SQLite URL"),
        # One slash: not the relative file x.db nor the absolute /x.db, but a mistake.
        ("sqlite:/x.db", "three slashes for a relative file, four for an absolute one"),
        ("sqlite:///:memory:", "keeps nothing"),
        ("postgresql://u:secret@h:5432/db?nonsense=1", "u:***@h:5432"),
        # libpq's key=value form: not taken, and not repeated (it holds the password).
        ("host=db user=aae password=secret dbname=aae", "write it as postgresql://"),
        # urllib cannot split it (an unclosed "["): still a DatabaseURLError, not a ValueError.
        ("postgresql://aae:secret@[db.internal/aae", "Invalid IPv6 URL"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_it(url: str, message: str) -> None:
    with pytest.raises(DatabaseURLError) as raised:
        open_store(url)
    assert message in str(raised.value)
    assert "secret" not in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'new.db'}"):
        pass
    with sqlite3.connect(tmp_path / "new.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        versions = connection.execute(f"SELECT version, name FROM {VERSION_TABLE}").fetchall()
    assert versions == [(m.version, m.name) for m in available("sqlite")]


def test_a_relative_sqlite_url_is_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///sub.db") as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "sub.db").is_file()


def test_sqlite_refuses_a_missing_folder_and_a_file_that_is_no_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"no folder .*create it first"):
        open_store(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    (tmp_path / "text.db").write_text("not a database, " * 100)
    with pytest.raises(StorageError, match="is not an SQLite database"):
        open_store(f"sqlite:///{tmp_path / 'text.db'}")


def test_a_locked_sqlite_database_is_unavailable_then_available(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    event = make_event("PageView")
    with open_store(url, busy_timeout=0.2) as store:
        blocker = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
        with pytest.raises(StorageUnavailable, match="database is locked"):
            store.add([row(event)])
        blocker.execute("ROLLBACK")
        blocker.close()
        assert store.add([row(event)]) == {event["event_id"]}


def test_a_database_migrated_by_a_newer_collector_is_refused(database_url: str) -> None:
    with open_store(database_url) as store:
        newer = len(available(store.dialect)) + 1
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            connection.execute(
                f"INSERT INTO {VERSION_TABLE} VALUES (?, 'future.sql', 'now')", (newer,)
            )
    else:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, 'future.sql')", (newer,)
            )
    with pytest.raises(StorageError, match=f"schema version {newer}, newer than this"):
        open_store(database_url)


# ------------------------------------------------------------------ PostgreSQL going away


def wait_until_available(store: EventStore, seconds: float = 10.0) -> float:
    """Ping until the store answers; return how long that took (fails after ``seconds``)."""
    start = time.monotonic()
    while True:
        try:
            store.ping()
            return time.monotonic() - start
        except StorageUnavailable:
            if time.monotonic() - start > seconds:
                raise
            time.sleep(0.1)


def test_postgresql_down_is_unavailable_and_back_is_available() -> None:
    event, later = make_event("PageView"), make_event("Purchase")
    with PostgresCluster() as cluster:  # this test's own server: it stops it
        url = cluster.new_database()
        with open_store(url, pool_timeout=1.0) as store:
            store.add([row(event)])
            cluster.stop()
            with pytest.raises(StorageUnavailable, match=r"cannot write to postgresql://aae@"):
                store.add([row(later)])
            with pytest.raises(StorageUnavailable):
                store.ping()
            cluster.start()
            wait_until_available(store)
            assert store.add([row(later), row(event)]) == {later["event_id"]}
            assert sorted(stored_ids(store)) == sorted([event["event_id"], later["event_id"]])


def test_postgresql_not_reachable_at_start_is_one_line() -> None:
    cluster = PostgresCluster()  # never started
    try:
        url = cluster.url()
        with pytest.raises(StorageUnavailable) as raised:
            open_store(url, connect_timeout=2)
    finally:
        cluster.remove()
    assert str(raised.value).startswith(f"cannot connect to {url}: ")
    assert "\n" not in str(raised.value)


# redact(): what the banner, errors and warnings show of a database URL.


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://aae@db/aae?password=qs3cret", "postgresql://aae@db/aae?password=***"),
        ("postgresql://aae@db/aae?sslmode=require&PASSWORD=qs3cret&connect_timeout=3",
         "postgresql://aae@db/aae?sslmode=require&PASSWORD=***&connect_timeout=3"),
        ("postgresql://aae:us3cret@db/aae?password=qs3cret",
         "postgresql://aae:***@db/aae?password=***"),
        ("postgresql://aae@db/aae?sslmode=require", "postgresql://aae@db/aae?sslmode=require"),
        ("postgresql://aae:us3cret@db/aae", "postgresql://aae:***@db/aae"),
    ],
)  # fmt: skip
def test_redact_hides_a_password_in_the_query(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize("url", ["sqlite:///aae-events.db", "sqlite:////srv/aae/e.db"])
def test_a_url_without_a_password_is_left_as_given(url: str) -> None:
    assert redact(url) == url
