"""Fixtures of the stored collector's tests: the same tests against SQLite and PostgreSQL.

``postgres`` (session): a throwaway PostgreSQL server (tests/postgres_cluster.py), one per test
worker. ``database_url``: a new, empty database for one test, ``sqlite:///<tmp>/events.db`` or
a fresh PostgreSQL database (parametrized: every test that uses it runs on both). ``store``: that
database opened (and migrated). ``stored_collector``: a collector serving it on a free loopback port
(uvicorn in a thread), with the lines it printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.storage import EventStore, open_store
from tests.collector_helpers import InProcessCollector, running_collector
from tests.postgres_cluster import PostgresCluster

DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of this test session (this xdist worker)."""
    with PostgresCluster() as cluster:
        yield cluster


def new_database(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty database of ``kind``, dropped afterwards (PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'events.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    url = cluster.new_database()
    yield url
    cluster.drop_database(url)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database (SQLite file or PostgreSQL database): its URL."""
    yield from new_database(request.param, tmp_path, request)


@pytest.fixture
def store(database_url: str) -> Iterator[EventStore]:
    """The test's database, opened and migrated."""
    with open_store(database_url) as opened:
        yield opened


@pytest.fixture
def stored_collector(database_url: str) -> Iterator[InProcessCollector]:
    """A collector on the test's database, on a free loopback port."""
    with running_collector(database_url) as running:
        yield running
