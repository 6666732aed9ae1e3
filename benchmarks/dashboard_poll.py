"""What one poll of the dashboard costs the collector, by the number of stored events.

    .venv/bin/python benchmarks/dashboard_poll.py [--events 1000,10000,100000] [--polls 50]

For each size it fills a new SQLite database with that many events (PageView, AddToCart and
Purchase of sessions spread over 20 landing pages, 5 campaigns and 2 variants; stored through
the store, not over HTTP, to be quick), serves it with the stored collector on loopback, and
times ``GET /dashboard/panels`` (what the page's script asks every second) from one client:
answered 304 (nothing new: the usual case) and 200 (events arrived: the new HTML), median and
95th percentile, plus the page itself. Every poll runs the funnel and the latest-events
queries: the figures say how many open dashboards a collector carries. docs/collector.md
("Dashboard") quotes them.
"""

from __future__ import annotations

import http.client
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aae_tracking_plugins.collector.server import CollectorServer, create_app  # noqa: E402
from aae_tracking_plugins.collector.service import CollectorConfig  # noqa: E402
from aae_tracking_plugins.collector.storage import EventRow, open_store  # noqa: E402
from tests.events import make_event  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)


def fill(url: str, count: int) -> None:
    """``count`` events in funnel proportions: every session views, half add to cart, a
    fifth of those buy."""
    rows = []
    for index in range(count):
        session = index // 3
        kind = ("PageView", "AddToCart", "Purchase")[index % 3]
        if (kind == "AddToCart" and session % 2) or (kind == "Purchase" and session % 10):
            kind = "PageView"
        event = make_event(
            kind,
            landing_page_id=f"lp_{session % 20}",
            campaign_id=f"camp_{session % 5}",
            session_id=f"sess_1732960800000_{session:010d}",
        )
        event["event_data"]["variant"] = "ab"[session % 2]
        rows.append(EventRow.from_event(event, T0 + timedelta(milliseconds=index)))
    with open_store(url) as store:
        for start in range(0, len(rows), 5000):
            store.add(rows[start : start + 5000])


def timed(
    connection: http.client.HTTPConnection, path: str, etag: str | None
) -> tuple[float, int, str]:
    headers = {"If-None-Match": etag} if etag else {}
    began = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    return (time.perf_counter() - began) * 1000, response.status, response.getheader("ETag", "")


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):6.1f} ms  p95 {p95:6.1f} ms"


def measure(count: int, polls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'events.db'}"
        fill(url, count)
        with CollectorServer(create_app(CollectorConfig(database_url=url))) as server:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            _, _, etag = timed(connection, "/dashboard/panels", None)
            unchanged = [timed(connection, "/dashboard/panels", etag) for _ in range(polls)]
            assert {status for _, status, _ in unchanged} == {304}
            changed = [timed(connection, "/dashboard/panels", '"other"') for _ in range(polls)]
            assert {status for _, status, _ in changed} == {200}
            page = [timed(connection, "/", None)[0] for _ in range(max(polls // 5, 3))]
            connection.close()
    print(f"{count:>8} events  304: {summary([ms for ms, _, _ in unchanged])}   "
          f"200: {summary([ms for ms, _, _ in changed])}   page: {summary(page)}")  # fmt: skip


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    """``--events`` as the list of database sizes, e.g. ``"1000,10000"`` -> ``[1000, 10000]``.

    Raises:
        click.BadParameter: an item is not a whole number of at least 1.
    """
    sizes = []
    for item in value.split(","):
        try:
            sizes.append(int(item))
        except ValueError:
            sizes.append(0)
        if sizes[-1] < 1:
            raise click.BadParameter(
                f"{item!r} is not a number of events: give whole numbers >= 1, comma-separated"
            )
    return sizes


@click.command(help=__doc__.split("\n", 1)[0], context_settings={"show_default": True})
@click.option("--events", default="1000,10000,100000", callback=_sizes)
@click.option("--polls", type=click.IntRange(min=1), default=50)
def main(events: list[int], polls: int) -> None:
    """Fill, serve and poll one database per size in ``events``; prints one line per size."""
    for count in events:
        measure(count, polls)


if __name__ == "__main__":
    main()
