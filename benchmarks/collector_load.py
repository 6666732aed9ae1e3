"""A bounded load on the stored collector, on loopback: events per second, latency, exactly once.

    .venv/bin/python benchmarks/collector_load.py [--events 5000] [--batch-events 50000]
        [--concurrency 16] [--database sqlite|postgresql|both] [--postgres-url URL]

For each database it starts ``aae-tracking collect --quiet`` (one uvicorn process) on a new
database, then sends a fixed number of events over ``--concurrency`` keep-alive connections
from this process (asyncio), first one event per request (what the tracker sends), then in
batches of 100 (the ``batch`` setting), and stops. It prints requests and events per second,
the median and 99th percentile latency of a request, and whether every event is stored exactly
once (counted in the database). PostgreSQL is a throwaway server (tests/postgres_cluster.py)
unless ``--postgres-url`` names one. The load generator shares the machine's cores with the
collector: the figures are a floor. The targets printed are issue 12's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.collector_helpers import CollectorProcess  # noqa: E402
from tests.events import make_event  # noqa: E402

PATH = "/api/v1/landing-pages/events"
TARGETS = {
    "single": "target >= 2,000 requests/s, p99 < 50 ms",
    "batch": "target >= 20,000 events/s",
}


@dataclass
class Result:
    database: str
    mode: str
    events: int
    requests: int
    seconds: float
    latencies: list[float]
    stored: int
    distinct: int

    def line(self, concurrency: int) -> str:
        p50 = statistics.median(self.latencies) * 1000
        p99 = statistics.quantiles(self.latencies, n=100)[98] * 1000
        once = "yes" if self.stored == self.distinct == self.events else "NO"
        return (
            f"{self.database:<10} {self.mode:<6} {self.events:>7} {self.requests:>8} "
            f"{concurrency:>4} {self.seconds:>7.2f} {self.requests / self.seconds:>10.0f} "
            f"{self.events / self.seconds:>9.0f} {p50:>7.2f} {p99:>7.2f}  {once:<4} "
            f"{TARGETS[self.mode]}"
        )


def bodies(count: int, per_request: int) -> list[bytes]:
    events = [make_event("PageView", event_id=str(uuid.uuid4())) for _ in range(count)]
    if per_request == 1:
        return [json.dumps(event).encode() for event in events]
    return [
        json.dumps({"events": events[i : i + per_request]}).encode()
        for i in range(0, count, per_request)
    ]


async def _client(host: str, port: int, queue: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            body = queue.pop()
            head = (
                f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain;charset=UTF-8"
                f"\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            start = time.perf_counter()
            writer.write(head.encode() + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"collector answered {status!r}")
    finally:
        writer.close()


async def _load(url: str, queue: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    parts = urlsplit(url)
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(
        *(
            _client(parts.hostname or "", parts.port or 80, queue, latencies)
            for _ in range(concurrency)
        )
    )
    return time.perf_counter() - start, latencies


def run_load(url: str, queue: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    try:
        import uvloop

        return uvloop.run(_load(url, queue, concurrency))
    except ImportError:
        return asyncio.run(_load(url, queue, concurrency))


def counts(database_url: str) -> tuple[int, int]:
    """Rows and distinct event ids stored."""
    sql = "SELECT count(*), count(DISTINCT event_id) FROM aae_events"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            rows, distinct = connection.execute(sql).fetchone()
    else:
        import psycopg

        with psycopg.connect(database_url) as connection:
            rows, distinct = connection.execute(sql).fetchone()  # type: ignore[misc]
    return int(rows), int(distinct)


def measure(kind: str, database_url: str, mode: str, events: int, concurrency: int) -> Result:
    per_request = 1 if mode == "single" else 100
    with CollectorProcess("--quiet", "--database", database_url) as collector:
        run_load(collector.url, bodies(200 * per_request, per_request), concurrency)  # warm up
        warm = counts(database_url)[0]
        queue = bodies(events, per_request)
        requests = len(queue)
        seconds, latencies = run_load(collector.url, queue, concurrency)
        status, _, errors = collector.stop()
        if status != 0:
            raise RuntimeError(f"collector exited {status}: {errors}")
    stored, distinct = counts(database_url)
    return Result(kind, mode, events, requests, seconds, latencies, stored - warm, distinct - warm)


@contextmanager
def databases(which: str, postgres_url: str | None) -> Iterator[list[tuple[str, str]]]:
    """``(kind, url)`` of fresh databases for the runs (a new one per run: see :func:`fresh`)."""
    found: list[tuple[str, str]] = []
    folder = Path(tempfile.mkdtemp(prefix="aae-load-"))
    cluster = None
    if which in ("sqlite", "both"):
        found.append(("sqlite", f"sqlite:///{folder}"))
    if which in ("postgresql", "both"):
        if postgres_url is None:
            from tests.postgres_cluster import PostgresCluster

            cluster = PostgresCluster().start()
            postgres_url = cluster.url()
        found.append(("postgresql", postgres_url))
    try:
        yield found
    finally:
        if cluster is not None:
            cluster.remove()


def fresh(kind: str, base: str, name: str) -> str:
    """A new database for one run: a file in the folder, or a new PostgreSQL database."""
    if kind == "sqlite":
        return f"{base}/{name}.db"
    import psycopg

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + f"/{name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events sent one per request")
    parser.add_argument(
        "--batch-events", type=int, default=50000, help="events sent in batches of 100"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", help="a PostgreSQL to use (default: a throwaway one)")
    args = parser.parse_args()
    print(
        f"{'database':<10} {'mode':<6} {'events':>7} {'requests':>8} {'conc':>4} "
        f"{'seconds':>7} {'requests/s':>10} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7}  once"
    )
    with databases(args.database, args.postgres_url) as found:
        for kind, base in found:
            for mode in ("single", "batch"):
                name = f"load_{mode}_{uuid.uuid4().hex[:8]}"
                url = fresh(kind, base, name)
                events = args.events if mode == "single" else args.batch_events
                result = measure(kind, url, mode, events, args.concurrency)
                print(result.line(args.concurrency), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
