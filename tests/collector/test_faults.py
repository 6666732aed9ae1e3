"""Faults of the stored collector, with real processes (issue 12, "Load and faults").

* The database away for a while (SQLite locked by another process past the collector's 5 s
  busy timeout; PostgreSQL stopped): 503 with ``Retry-After``, then recovery; a tracker-like
  sender that retries what was refused loses nothing and stores nothing twice.
* A read-only database (folder, file system) and a full disk: at start-up one error line that
  names the file and the cause, exit status 1; a disk full while running: 503 and one stderr
  line per outage, never a traceback, and recovery once there is room again. A read-only or
  full file system is a real one: a small tmpfs mounted for the test (root and ``mount``: CI
  runs as root). Without them the test is skipped, and the full disk is still tested in this
  process with SQLite's ``PRAGMA max_page_count``, which makes the file full and raises the
  same ``SQLITE_FULL`` as a full disk; the read-only folder without root is a ``chmod``.
* A collector killed with SIGKILL under load: every event answered 2xx is in the database
  after a restart, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from aae_tracking_plugins.collector.storage import EventQuery
from aae_tracking_plugins.collector.wire import EVENTS_PATH
from tests.collector.conftest import new_database
from tests.collector_helpers import CollectorProcess, listing, post, running_collector
from tests.collector_helpers import request as http_request
from tests.events import make_event
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.collector


def stored_ids(database_url: str) -> list[str]:
    """Every stored event_id, read from the database itself (duplicates would show twice)."""
    sql = "SELECT event_id FROM aae_events"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            return [row[0] for row in connection.execute(sql)]
    import psycopg

    with psycopg.connect(database_url) as connection:
        return [row[0] for row in connection.execute(sql)]


class Sender:
    """A tracker-like sender in a thread: one event per request on a keep-alive connection,
    each event sent until it is answered 2xx (after a 503 or a lost connection it waits a
    little and sends the same event again, as the tracker's queue does). ``acked`` holds the
    event ids answered 2xx, ``statuses`` every status seen (with its Retry-After)."""

    def __init__(self, base_url: str, *, retry: bool = True, batch: int = 1) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.retry, self.batch = retry, batch
        self.acked: list[str] = []
        self.statuses: list[tuple[int, str | None]] = []
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        events = [make_event("PageView") for _ in range(self.batch)]
        while not self.stop.is_set():
            body = json.dumps(events[0] if self.batch == 1 else {"events": events})
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                connection.request("POST", EVENTS_PATH, body, {"Content-Type": "text/plain"})
                answer = connection.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection = None
                if not self.retry:
                    return
                time.sleep(0.05)
                continue
            self.statuses.append((answer.status, answer.getheader("Retry-After")))
            if 200 <= answer.status < 300:
                self.acked.extend(event["event_id"] for event in events)
                events = [make_event("PageView") for _ in range(self.batch)]
            else:
                time.sleep(0.05)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Until ``count`` events were acknowledged."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked)} events acknowledged"
            assert self.thread.is_alive() or len(self.acked) >= count, "the sender stopped"
            time.sleep(0.02)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


# ------------------------------------------------------------------------ database away


@contextmanager
def sqlite_locked(database_url: str) -> Iterator[None]:
    """Another process holds SQLite's write lock (``BEGIN EXCLUSIVE``) meanwhile."""
    path = database_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()",
            path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    try:
        yield
    finally:
        holder.communicate("", timeout=30)


def _outage_checks(database_url: str, sender: Sender, errors: str) -> None:
    refused = [retry for status, retry in sender.statuses if status == 503]
    assert refused, f"no 503 seen: {sender.statuses[-5:]}"
    assert all(retry == "5" for retry in refused)
    stored = stored_ids(database_url)
    assert sorted(stored) == sorted(set(stored)), "an event stored twice"
    assert set(sender.acked) <= set(stored), "an acknowledged event was lost"
    assert len(stored) == len(sender.acked), "stored events nobody was told about"
    lines = errors.splitlines()
    assert "Traceback" not in errors
    assert [("unavailable, answering 503" in line, "answers again" in line) for line in lines] == [
        (True, False), (False, True),
    ], lines  # fmt: skip


def test_sqlite_locked_past_the_busy_timeout_503_then_recovery(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'events.db'}"
    with CollectorProcess("--quiet", "--database", database_url) as collector:
        sender = Sender(collector.url)
        sender.wait_for(20)
        with sqlite_locked(database_url):
            # Held until a write waiting for it was answered 503 (past the 5 s busy timeout). A
            # fixed 6.5 s left a loaded machine's first waiting write too little of it.
            deadline = time.monotonic() + 30
            while not any(status == 503 for status, _ in sender.statuses):
                assert time.monotonic() < deadline, "no 503 while the database was locked"
                time.sleep(0.05)
        sender.wait_for(len(sender.acked) + 20)
        sender.finish()
        status, _out, errors = collector.stop()
    assert status == 0
    _outage_checks(database_url, sender, errors)


def test_postgresql_stopped_503_then_recovery() -> None:
    from tests.postgres_cluster import PostgresCluster

    with PostgresCluster() as cluster:  # this test's own server: it stops it
        database_url = cluster.new_database()
        with CollectorProcess("--quiet", "--database", database_url) as collector:
            sender = Sender(collector.url)
            sender.wait_for(20)
            cluster.stop()
            deadline = time.monotonic() + 30
            while not any(status == 503 for status, _ in sender.statuses):
                assert time.monotonic() < deadline, "no 503 while PostgreSQL was down"
                time.sleep(0.05)
            time.sleep(1)
            cluster.start()
            sender.wait_for(len(sender.acked) + 20)
            sender.finish()
            status, _out, errors = collector.stop()
        assert status == 0
        _outage_checks(database_url, sender, errors)


# ------------------------------------------------------------- read-only and full disks


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of this test's own (root and ``mount`` needed: else skipped)."""
    where = tmp_path / "mnt"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): not root?")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def fill(where: Path) -> Path:
    """Fill the file system at ``where`` up (a file of zeros until ENOSPC): the filler."""
    filler = where / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(descriptor)
    return filler


def start_error(*arguments: str) -> tuple[int, str]:
    """``aae-tracking collect`` that is expected not to start: exit status, stderr."""
    from tests.collector_helpers import AAE_TRACKING

    done = subprocess.run(
        [str(AAE_TRACKING), "collect", "--port", "0", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == ""
    return done.returncode, done.stderr


def test_a_read_only_or_full_file_system_is_one_line_at_start_up(tmpfs: Path) -> None:
    database = tmpfs / "events.db"
    remount(tmpfs, "ro")
    status, errors = start_error("--database", f"sqlite:///{database}")
    assert status == 1
    assert errors.count("\n") == 1
    assert "Traceback" not in errors
    assert f"sqlite:///{database}" in errors
    assert f"the file system of {tmpfs} is mounted read-only" in errors
    # A database that exists, on a file system that became read-only since.
    remount(tmpfs, "rw")
    CollectorProcess("--database", f"sqlite:///{database}").stop()
    remount(tmpfs, "ro")
    status, errors = start_error("--database", f"sqlite:///{database}")
    assert (status, errors.count("\n")) == (1, 1)
    assert "mounted read-only" in errors
    assert f"sqlite:///{database}" in errors
    # A new database on a full disk.
    remount(tmpfs, "rw")
    fill(tmpfs)
    status, errors = start_error("--database", f"sqlite:///{tmpfs / 'new.db'}")
    assert (status, errors.count("\n")) == (1, 1)
    assert "Traceback" not in errors
    assert f"sqlite:///{tmpfs / 'new.db'}" in errors
    assert "no space left" in errors


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a folder or a file) read-only while inside: for root, which ignores
    permissions, a read-only bind mount of itself (skips the test where root cannot mount);
    for another user, ``chmod`` without the write bits."""
    mode = path.stat().st_mode & 0o777
    if os.geteuid() == 0:
        bound = subprocess.run(["mount", "--bind", str(path), str(path)], check=False)
        if bound.returncode != 0:
            pytest.skip(f"root without mount: {path.name} cannot be made read-only for it")
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
    else:
        path.chmod(mode & 0o555)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(path)], check=True)
        path.chmod(mode)


def test_a_read_only_folder_is_one_line_at_start_up(tmp_path: Path) -> None:
    """As any user: a folder without write permission (:func:`read_only`)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        status, errors = start_error("--database", f"sqlite:///{folder / 'events.db'}")
    assert (status, errors.count("\n")) == (1, 1)
    assert "Traceback" not in errors
    assert f"sqlite:///{folder / 'events.db'}" in errors
    assert "read-only" in errors or "not writable" in errors


def test_a_read_only_database_file_is_one_line_at_start_up(tmp_path: Path) -> None:
    """An existing database file that may not be written, in a folder that may: SQLite opens
    it read-only without a word, so without a check the collector started and answered every
    event 503 while ``/healthz`` said ok (the file made read-only by :func:`read_only`)."""
    from aae_tracking_plugins.collector.storage import open_store

    database = tmp_path / "events.db"
    open_store(f"sqlite:///{database}").close()
    with read_only(database):
        status, errors = start_error("--database", f"sqlite:///{database}")
    assert (status, errors.count("\n")) == (1, 1), errors
    assert "Traceback" not in errors
    assert f"the file {database} is read-only" in errors


def test_a_full_disk_while_running_503_one_line_then_recovery(tmpfs: Path) -> None:
    """(A read-only remount is refused while the collector holds its files open for writing:
    a read-only database is met at start-up, above.)"""
    database_url = f"sqlite:///{tmpfs / 'events.db'}"
    with CollectorProcess("--quiet", "--database", database_url) as collector:
        assert post(collector.url, make_event("PageView")).status == 200
        filler = fill(tmpfs)
        big = {"events": [make_event("PageView", user_agent="x" * 8000) for _ in range(6)]}
        answers = [post(collector.url, big) for _ in range(40)]
        refused = [answer for answer in answers if answer.status == 503]
        assert refused
        assert all(answer.headers["retry-after"] == "5" for answer in refused)
        assert http_request(collector.url, "GET", "/healthz").status == 503
        filler.unlink()
        assert post(collector.url, big).status == 200
        status, _out, errors = collector.stop()
    assert status == 0
    assert "Traceback" not in errors
    lines = errors.splitlines()
    assert len(lines) == 2, lines  # unavailable, answers again
    assert "unavailable" in lines[0]
    assert database_url in lines[0]
    assert "database or disk is full" in lines[0]
    assert "no space left" in lines[0]
    stored = stored_ids(database_url)
    accepted = sum(len(big["events"]) for answer in answers if answer.status == 200)
    assert len(stored) == len(set(stored)) == 1 + accepted + 6


def test_a_full_database_file_503_one_line_then_recovery(tmp_path: Path) -> None:
    """Without a small file system: ``PRAGMA max_page_count`` caps the file, and SQLite
    answers ``SQLITE_FULL`` as for a full disk (sqlite.org/pragma.html#pragma_max_page_count).
    In this process, as the pragma belongs to the collector's own connection."""
    database_url = f"sqlite:///{tmp_path / 'events.db'}"
    with running_collector(database_url) as collector:
        writer = collector.service.store._writer  # type: ignore[attr-defined]
        pages = writer.execute("PRAGMA page_count").fetchone()[0]
        writer.execute(f"PRAGMA max_page_count = {pages + 2}")
        big = {"events": [make_event("PageView", user_agent="x" * 8000) for _ in range(6)]}
        answers = [post(collector.url, big) for _ in range(10)]
        assert 503 in [answer.status for answer in answers]
        writer.execute("PRAGMA max_page_count = 1073741823")
        assert post(collector.url, big).status == 200
        warnings = [line for line in collector.lines if line.startswith("collector: database")]
        assert len(warnings) == 2
        assert "database or disk is full" in warnings[0]
        assert database_url in warnings[0]
        stored = collector.service.store.latest(EventQuery(limit=1000))
        accepted = sum(len(big["events"]) for a in answers if a.status == 200) + 6
        assert len(stored) == accepted


# ---------------------------------------------------------------------- killed mid-load


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_collector_killed_mid_load_kept_all_it_acknowledged(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    databases = new_database(kind, tmp_path, request)
    database_url = next(databases)
    with CollectorProcess("--quiet", "--database", database_url) as collector:
        senders = [Sender(collector.url, retry=False, batch=1 if i % 2 else 20) for i in range(6)]
        for sender in senders:
            sender.wait_for(40)
        collector.process.kill()  # SIGKILL: no shutdown, requests in flight cut
        collector.process.wait(timeout=30)
        for sender in senders:
            sender.finish()
    acked = {event_id for sender in senders for event_id in sender.acked}
    assert len(acked) >= 6 * 40
    with CollectorProcess("--quiet", "--database", database_url) as again:
        assert http_request(again.url, "GET", "/healthz").status == 200
        assert post(again.url, make_event("PageView")).status == 200
        again.stop()
    stored = stored_ids(database_url)
    assert len(stored) == len(set(stored))
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged events lost"
    next(databases, None)  # drop the PostgreSQL database


# A client that goes away while sending its body (a tab closed mid-upload, a dropped
# connection) is not a server error: the collector stores nothing of it and prints no traceback
# (docs/collector.md: every error is one line; nothing a client sends makes an answer fail).
# Before, Starlette's ``ClientDisconnect`` escaped the events handler: an "Exception in ASGI
# application" traceback on stderr for every aborted upload.


def test_a_client_gone_mid_body_is_no_traceback(tmp_path: Path) -> None:
    with CollectorProcess("--database", f"sqlite:///{tmp_path / 'e.db'}") as collector:
        parts = urlsplit(collector.url)
        assert parts.hostname is not None
        assert parts.port is not None
        for _ in range(3):
            with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
                sock.sendall(
                    b"POST /api/v1/landing-pages/events HTTP/1.1\r\nHost: x\r\n"
                    b'Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{"event_type"'
                )
                time.sleep(0.2)  # the handler is waiting for the rest of the body
        time.sleep(0.5)
        assert post(collector.url, make_event("PageView", event_id="after-abort")).status == 200
        listed = listing(collector.url).json()
        assert [item["event"]["event_id"] for item in listed] == ["after-abort"]
        code, _out, err = collector.stop()
    assert code == 0
    assert "Traceback" not in err, err
    assert "ClientDisconnect" not in err, err


# A PostgreSQL that cannot take writes for now (a standby after a failover, or
# ``default_transaction_read_only``) is "the database is unavailable": the events endpoint
# answers 503 with ``Retry-After`` (nothing stored, the tracker retries) and ``GET /healthz``,
# which docs/collector.md says is 200 only while the database "answers and takes a write",
# answers 503. Before, the write failed as ``ReadOnlySqlTransaction`` (not an
# ``OperationalError``): a 500 with a traceback, while /healthz said 200.


def _set_read_only(url: str, postgres: PostgresCluster, on: bool) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        value = "on" if on else "off"
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}')
        # The setting applies to new sessions: end the collector's, its pool reconnects.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def test_a_read_only_postgresql_is_503_then_recovers(
    tmp_path: object, request: pytest.FixtureRequest, postgres: PostgresCluster
) -> None:
    url = next(new_database("postgresql", tmp_path, request))  # type: ignore[arg-type]
    with running_collector(url, retry_after=3) as collector:
        assert post(collector.url, make_event("PageView", event_id="before")).status == 200
        _set_read_only(url, postgres, on=True)
        refused = post(collector.url, make_event("PageView", event_id="during"))
        assert refused.status == 503
        assert refused.headers["retry-after"] == "3"
        assert request_health(collector.url) == 503
        _set_read_only(url, postgres, on=False)
        deadline = time.monotonic() + 15  # the pool replaces its ended connections
        while request_health(collector.url) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert request_health(collector.url) == 200
        assert post(collector.url, make_event("PageView", event_id="during")).status == 200
        listed = [item["event"]["event_id"] for item in listing(collector.url).json()]
        assert listed == ["during", "before"]


def request_health(base_url: str) -> int:
    return http_request(base_url, "GET", "/healthz").status
