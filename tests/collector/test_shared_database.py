"""Two collector processes (``aae-tracking collect``: real uvicorn servers) sharing one database,
SQLite or PostgreSQL, with the same events posted to both at once: each event is stored once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from aae_tracking_plugins.collector.storage import EventQuery, open_store
from tests.collector_helpers import CollectorProcess, post
from tests.events import make_event


def test_two_collectors_on_one_database_store_each_event_once(database_url: str) -> None:
    events = [make_event(kind) for kind in ("PageView", "AddToCart", "Purchase") * 20]
    batches = [{"events": events[i : i + 6]} for i in range(0, len(events), 6)]
    with (
        CollectorProcess("--database", database_url) as first,
        CollectorProcess("--database", database_url) as second,
    ):
        # Every event twice: alone to one collector, in a batch to the other, all at once.
        jobs = [(first.url, event) for event in events] + [(second.url, b) for b in batches]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda job: post(*job), jobs))
        assert {answer.status for answer in answers} == {200}
        replies = [answer.json() for answer in answers]
        assert sum(reply["accepted"] for reply in replies) == len(events)
        assert sum(reply["duplicates"] for reply in replies) == len(events)
        statuses = [first.stop(), second.stop()]
    assert [status for status, _, _ in statuses] == [0, 0]
    printed = [line for _, out, _ in statuses for line in out.splitlines()]
    stored_lines = [line for line in printed if "sess_" in line and "(duplicate" not in line]
    assert len(stored_lines) == len(events)  # one line per stored event, across both
    summaries = [line for line in printed if line.startswith("stopped; ")]
    assert sum(int(line.split()[1]) for line in summaries) == len(events)
    with open_store(database_url) as store:
        stored = store.latest(EventQuery(limit=1000))
    assert sorted(json.dumps(s.event, sort_keys=True) for s in stored) == sorted(
        json.dumps(event, sort_keys=True) for event in events
    )
