"""One test's share of a collector that several tests use in turn (a module-scoped collector).

A page keeps sending after its test is over: closing a browser context (at the test's teardown,
or a context the test closed itself) hides and unloads its pages, and the tracker sends what it
sends on the way out (the Engagement of a page viewed for over a second, anything still queued)
with ``fetch(..., {keepalive: true})``, which outlives the page.  Those events are made while the
context closes (here they were always made before ``close()`` returned; a ``pagehide`` handler
kept busy for 1.5 s sent nothing at all), but the requests travel on their own: on a loaded
machine one reached the collector after the next test had emptied it, and that test found an
event of the earlier test's visitor (another session id) among its own.
:func:`this_tests_events` keeps such late events out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import pytest

from aae_tracking_plugins.collector import EventCollector

Event = dict[str, Any]


def _made_before(event: Event, moment: datetime) -> bool:
    """Whether the event's ``timestamp`` (when the tracker made it: ISO 8601 UTC, in
    milliseconds) is before ``moment`` (aware); False when it is unreadable."""
    try:
        made = datetime.fromisoformat(str(event.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return made.tzinfo is not None and made < moment


@contextmanager
def this_tests_events(collector: EventCollector) -> Iterator[list[Event]]:
    """Empty ``collector`` for a test, and keep events made before the test began out of it.

    Input: a running collector shared by several tests.  While the ``with`` block runs, an
    arriving event whose ``timestamp`` (set by the tracker when it made the event, from the same
    system clock as this process's) is earlier than the moment the block began is answered as
    accepted, but not stored: no page of this test existed yet, so it is an earlier test's.
    Yields the list those events are put in (oldest arrival first), for diagnostics and tests.
    Events with an unreadable timestamp are stored (the collector validates them as usual).
    On exit the collector stores everything again.  Raises nothing of its own.

    The collector's request handler reaches ``EventCollector._store`` at request time (the
    suite's conftest wraps it at class level to schema-check stored events); this wraps it for
    this one collector only.
    """
    collector.fail_with = None
    collector.clear()
    now = datetime.now(timezone.utc)
    began = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the tracker's resolution
    late: list[Event] = []
    store = collector._store

    def store_this_tests(events: list[Event], attempt: int | None = None) -> tuple[int, int]:
        ours = [e for e in events if not _made_before(e, began)]
        late.extend(e for e in events if _made_before(e, began))
        accepted, duplicates = store(ours, attempt)
        return accepted + len(events) - len(ours), duplicates

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collector, "_store", store_this_tests)
        try:
            yield late
        finally:
            collector.fail_with = None
