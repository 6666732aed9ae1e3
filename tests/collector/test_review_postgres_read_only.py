"""A PostgreSQL that cannot take writes for now (a standby after a failover, or
``default_transaction_read_only``) is "the database is unavailable": the events endpoint
answers 503 with ``Retry-After`` (nothing stored, the tracker retries) and ``GET /healthz``,
which docs/collector.md says is 200 only while the database "answers and takes a write",
answers 503. Before, the write failed as ``ReadOnlySqlTransaction`` (not an
``OperationalError``): a 500 with a traceback, while /healthz said 200."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.collector.conftest import new_database
from tests.collector_helpers import listing, post, request, running_collector
from tests.events import make_event
from tests.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.collector


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
    return request(base_url, "GET", "/healthz").status
