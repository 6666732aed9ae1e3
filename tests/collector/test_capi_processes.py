"""The Conversions API forwarding as it is deployed: ``aae-tracking collect --capi-pixel-id`` in a
process of its own, configured by the environment, and two collectors sharing one database
(SQLite file or PostgreSQL), each with its forwarder: every event reaches the Graph API stand-in
exactly once."""

from __future__ import annotations

import time
from pathlib import Path

from tests.collector.graph_standin import fresh_event, graph_standin
from tests.collector.test_capi_forwarding import ACCESS, AGENT, FBP, PIXEL, settings, wait_until
from tests.collector_helpers import CollectorProcess, post, running_collector


def test_collect_forwards_with_the_token_from_the_environment_only(tmp_path: Path) -> None:
    events = [fresh_event("PageView", fbp=FBP) for _ in range(3)]
    busy = (503, {"error": {"message": "Service unavailable"}}, {"Retry-After": "1"})
    with graph_standin(busy) as meta:
        env = {
            "AAE_CAPI_ACCESS_TOKEN": ACCESS,
            "AAE_CAPI_GRAPH_URL": meta.url,
            "AAE_CAPI_TEST_EVENT_CODE": "TEST77",
        }
        with CollectorProcess("--capi-pixel-id", PIXEL, env=env, cwd=tmp_path) as collector:
            assert post(collector.url, {"events": events}, headers=AGENT).status == 200
            delivered = meta.wait_for(3, timeout=30)
            status, out, err = collector.stop()
    assert sorted(delivered) == sorted(event["event_id"] for event in events)
    assert status == 0
    banner = [line.strip() for line in collector.banner]
    endpoint = f"{meta.url}/v21.0/{PIXEL}/events"
    assert f"Conversions API:           Pixel {PIXEL} via {endpoint}, test_event_code TEST77" in (
        banner
    )
    assert "capi: Meta answered 503: Service unavailable" in err
    for text in (out, err, "\n".join(collector.banner)):
        assert ACCESS not in text
    assert meta.received[-1].body["access_token"] == ACCESS


def test_two_collectors_on_one_database_forward_each_event_once(database_url: str) -> None:
    events = [fresh_event("PageView", fbc="fb.1.1.x") for _ in range(40)]
    with (
        graph_standin() as meta,
        running_collector(database_url, capi=settings(meta.url, batch_size=3)) as first,
        running_collector(database_url, capi=settings(meta.url, batch_size=3)) as second,
    ):
        for index, event in enumerate(events):
            target = first if index % 2 else second
            assert post(target.url, event, headers=AGENT).status == 200
        delivered = meta.wait_for(len(events), timeout=30)
        wait_until(lambda: first.service.store.outbox_status().sent == len(events))
        time.sleep(0.3)
        delivered = meta.delivered()
    assert sorted(delivered) == sorted(event["event_id"] for event in events)
    assert len(meta.received) >= len(events) // 3
