"""A bounded load on the stored collector, on loopback: events per second, latency, exactly once.

    .venv/bin/python benchmarks/collector_load.py [--events 5000] [--batch-events 50000]
        [--concurrency 16] [--database sqlite|postgresql|both] [--postgres-url URL]
        [--rounds N] [--forwarding]

For each database it starts ``aae-tracking collect --quiet`` (one uvicorn process) on a new
database, then sends a fixed number of events over ``--concurrency`` keep-alive connections
from this process (asyncio on uvloop, raw HTTP/1.1: a lean generator), one event per request
(what the tracker sends), or in batches of 100 (the ``batch`` setting), and stops. The
databases run side by side: single events on each, then batches on each, so that both see
the same machine. Per run it prints requests and events per second, the median and 99th
percentile latency of a request, whether every event is stored exactly once (counted in the
database), the CPU time the collector process spent per event (all its threads, from
/proc/PID/stat) and the share of a core the generator used, then the verdict against issue
12's targets and the ratio figure / target. With ``--rounds N`` each run is repeated N times
and the median round (by events per second) is printed. PostgreSQL is a throwaway server
(tests/postgres_cluster.py: fsync off) unless ``--postgres-url`` names one. With
``--forwarding`` the collector forwards to the Conversions API (a stand-in of the Graph API in
this process, answering 200) and every event carries ``fbp``, so each gets an outbox row. The
generator shares the machine's two cores with the collector (and, here, with whatever else
runs: the load average is printed): the figures are a floor.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
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

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.collector.graph_standin import fresh_event, graph_standin  # noqa: E402
from tests.collector_helpers import CollectorProcess  # noqa: E402
from tests.events import make_event  # noqa: E402

PATH = "/api/v1/landing-pages/events"
TARGETS = {
    "single": "target >= 2,000 requests/s, p99 < 50 ms",
    "batch": "target >= 20,000 events/s",
}
#: (events per second, p99 ms) each mode must reach (issue 12, "Load and faults").
GOALS = {"single": (2000.0, 50.0), "batch": (20000.0, float("inf"))}
HEADER = (
    f"{'database':<10} {'mode':<6} {'events':>7} {'requests':>8} {'conc':>4} {'seconds':>7} "
    f"{'requests/s':>10} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7}  once "
    f"{'cpu us/ev':>9} {'gen cpu':>7}  verdict"
)


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
    collector_cpu: float  # seconds, all threads of the collector process
    generator_cpu: float  # seconds, this process

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds

    @property
    def p99(self) -> float:
        """99th percentile latency of a request, in ms."""
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    @property
    def once(self) -> bool:
        """Every event sent stored exactly once."""
        return self.stored == self.distinct == self.events

    def verdict(self) -> str:
        """``ok`` or ``MISSED``, and figure / target."""
        rate, p99 = GOALS[self.mode]
        met = self.rate >= rate and self.p99 < p99 and self.once
        return f"{'ok' if met else 'MISSED'} x{self.rate / rate:.2f} ({TARGETS[self.mode]})"

    def line(self, concurrency: int) -> str:
        p50 = statistics.median(self.latencies) * 1000
        return (
            f"{self.database:<10} {self.mode:<6} {self.events:>7} {self.requests:>8} "
            f"{concurrency:>4} {self.seconds:>7.2f} {self.requests / self.seconds:>10.0f} "
            f"{self.rate:>9.0f} {p50:>7.2f} {self.p99:>7.2f}  {'yes' if self.once else 'NO':<4} "
            f"{self.collector_cpu / self.events * 1e6:>9.0f} "
            f"{self.generator_cpu / self.seconds:>7.0%}  {self.verdict()}"
        )


def bodies(count: int, per_request: int, forwarding: bool = False) -> list[bytes]:
    if forwarding:  # recent, with a Meta match key: each one is to be forwarded
        events = [
            fresh_event("PageView", fbp="fb.1.1596403881668.1116446470") for _ in range(count)
        ]
    else:
        events = [make_event("PageView", event_id=str(uuid.uuid4())) for _ in range(count)]
    if per_request == 1:
        return [_as_tracker(event) for event in events]
    return [
        _as_tracker({"events": events[i : i + per_request]}) for i in range(0, count, per_request)
    ]


def _as_tracker(body: object) -> bytes:
    """``body`` encoded as the tracker's ``JSON.stringify`` does: compact, non-ASCII as is."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


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


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    kind: str, database_url: str, mode: str, events: int, concurrency: int, graph: str | None
) -> Result:
    per_request = 1 if mode == "single" else 100
    env = {}
    if graph is not None:
        env = {
            "AAE_CAPI_PIXEL_ID": "1234567890",
            "AAE_CAPI_ACCESS_TOKEN": "load-test-token",
            "AAE_CAPI_GRAPH_URL": graph,
        }
    forwarding = graph is not None
    with CollectorProcess("--quiet", "--database", database_url, env=env) as collector:
        pid = collector.process.pid
        warm_up = bodies(200 * per_request, per_request, forwarding)
        run_load(collector.url, warm_up, concurrency)
        warm = counts(database_url)[0]
        queue = bodies(events, per_request, forwarding)
        requests = len(queue)
        cpu, mine = process_cpu(pid), own_cpu()
        seconds, latencies = run_load(collector.url, queue, concurrency)
        cpu, mine = process_cpu(pid) - cpu, own_cpu() - mine
        status, _, errors = collector.stop()
        if status != 0:
            raise RuntimeError(f"collector exited {status}: {errors}")
    stored, distinct = counts(database_url)
    return Result(
        kind, mode, events, requests, seconds, latencies, stored - warm, distinct - warm, cpu, mine
    )


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


@dataclass(frozen=True)
class Options:
    """The command line: events per run, connections, databases, rounds (see ``main``)."""

    events: int
    batch_events: int
    concurrency: int
    database: str
    postgres_url: str | None
    rounds: int


@click.command(help=__doc__.split("\n\n")[0], context_settings={"show_default": True})
@click.option(
    "--events", type=click.IntRange(min=1), default=5000, help="events sent one per request"
)
@click.option(
    "--batch-events",
    type=click.IntRange(min=1),
    default=50000,
    help="events sent in batches of 100",
)
@click.option("--concurrency", type=click.IntRange(min=1), default=16)
@click.option("--database", type=click.Choice(("sqlite", "postgresql", "both")), default="both")
@click.option("--postgres-url", help="a PostgreSQL to use (default: a throwaway one)")
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=1,
    help="repeat each run, print the median round",
)
@click.option(
    "--forwarding",
    is_flag=True,
    help="with Conversions API forwarding on (to a stand-in): every event gets an outbox row",
)
@click.pass_context
def main(
    ctx: click.Context,
    events: int,
    batch_events: int,
    concurrency: int,
    database: str,
    postgres_url: str | None,
    rounds: int,
    forwarding: bool,
) -> None:
    """Run the load; exits 0 when every event was stored exactly once, else 1."""
    options = Options(events, batch_events, concurrency, database, postgres_url, rounds)
    with graph_standin() as standin:
        ctx.exit(_main(options, standin.url if forwarding else None))


def _main(args: Options, graph: str | None) -> int:
    if graph is not None:
        print(f"forwarding on: the Conversions API stand-in is {graph}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(HEADER)
    results: dict[tuple[str, str], Result] = {}
    with databases(args.database, args.postgres_url) as found:
        for mode in ("single", "batch"):
            for kind, base in found:
                events = args.events if mode == "single" else args.batch_events
                rounds = []
                for _ in range(args.rounds):
                    url = fresh(kind, base, f"load_{mode}_{uuid.uuid4().hex[:8]}")
                    rounds.append(measure(kind, url, mode, events, args.concurrency, graph))
                result = sorted(rounds, key=lambda r: r.rate)[len(rounds) // 2]
                results[kind, mode] = result
                print(result.line(args.concurrency), flush=True)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for (kind, mode), result in results.items():
        per_event = result.collector_cpu / result.events
        print(
            f"{kind} {mode}: the collector spent {per_event * 1e6:.0f} us of CPU per event: "
            f"one free core would take {1 / per_event:,.0f} events/s"
        )
    for mode in ("single", "batch"):
        if ("sqlite", mode) in results and ("postgresql", mode) in results:
            ratio = results["postgresql", mode].rate / results["sqlite", mode].rate
            print(f"{mode}: PostgreSQL / SQLite events per second = {ratio:.2f}")
    return 0 if all(r.once for r in results.values()) else 1


if __name__ == "__main__":
    main()
