"""What the collector saw: stored events, refused requests, delivery attempts, and waits on them."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from aae_tracking_plugins.collector.log import summary_line
from aae_tracking_plugins.collector.wire import Event, event_ids

__all__ = ["Attempt", "AttemptOutcome", "DeliveryRecord"]

AttemptOutcome = Literal["pending", "answered", "dropped", "aborted"]


@dataclass(frozen=True)
class Attempt:
    """One ``POST`` to the events path, as the collector saw it (``collector.attempts``).

    ``at`` is ``time.monotonic()`` when the request's headers had arrived (use it
    for intervals: "no more than N requests a minute"), ``wall_time`` the same
    moment as ``time.time()``.  ``outcome`` is ``"pending"`` while the request is
    handled (e.g. held by :meth:`EventCollector.delay`), then ``"answered"``
    (``status`` is the status sent), ``"dropped"`` (closed without an answer by
    :meth:`EventCollector.drop_connections`) or ``"aborted"`` (the client went
    away before an answer).  ``events`` is how many events the body held (1 for a
    single event, the array's length for a batch, 0 when the body was not read or
    is not JSON) and ``event_ids`` their string ``event_id`` values in body order,
    also for requests that were refused or failed on purpose.  ``accepted`` and
    ``duplicates`` count the events this request stored and those acknowledged as
    repeats of an already stored ``event_id``.  ``delayed`` is the wait added by
    :meth:`EventCollector.delay` (seconds).  ``origin`` and ``fetch_mode`` are the
    ``Origin`` and ``Sec-Fetch-Mode`` request headers (``"cors"`` for a CORS-mode
    ``fetch``, ``"no-cors"`` for ``sendBeacon``), None when absent.
    """

    at: float
    wall_time: float
    outcome: AttemptOutcome = "pending"
    status: int | None = None
    events: int = 0
    event_ids: tuple[str, ...] = ()
    accepted: int = 0
    duplicates: int = 0
    delayed: float = 0.0
    origin: str | None = None
    fetch_mode: str | None = None


class DeliveryRecord:
    """The collector's memory, shared by the request threads and the test that waits on it.

    Holds the stored events (oldest first, de-duplicated by ``event_id``), the refused
    requests, every :class:`Attempt` and the preflight count. Thread-safe: one condition
    guards it all and is notified on every change, so :meth:`wait` and
    :meth:`wait_for_attempts` wake as soon as something arrives. Attempts are addressed by
    their index in :meth:`attempts`; an index that :meth:`clear` made stale is ignored.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._rejected: list[tuple[int, str]] = []
        self._attempts: list[Attempt] = []
        self._seen_ids: set[str] = set()
        self._duplicates = 0
        self._preflights = 0

    # -- snapshots

    def events(self) -> list[Event]:
        """A deep copy of the stored events, oldest first."""
        with self._cond:
            return copy.deepcopy(self._events)

    def rejected(self) -> list[tuple[int, str]]:
        """``(status, reason)`` for every refused request, oldest first."""
        with self._cond:
            return list(self._rejected)

    def attempts(self) -> list[Attempt]:
        """Every ``POST`` to the events path, in order of arrival."""
        with self._cond:
            return list(self._attempts)

    @property
    def duplicates(self) -> int:
        """How many events were acknowledged as repeats of a stored ``event_id``."""
        with self._cond:
            return self._duplicates

    @property
    def preflights(self) -> int:
        """How many CORS preflights arrived."""
        with self._cond:
            return self._preflights

    def clear(self) -> None:
        """Forget events, rejections, attempts, preflights and seen ``event_id`` values."""
        with self._cond:
            self._events.clear()
            self._rejected.clear()
            self._attempts.clear()
            self._seen_ids.clear()
            self._duplicates = 0
            self._preflights = 0

    # -- written by the request handler

    def count_preflight(self) -> None:
        """Count one preflight."""
        with self._cond:
            self._preflights += 1

    def record_rejection(self, status: int, reason: str) -> None:
        """Note a refused request: its status (>= 400) and a one-line reason."""
        with self._cond:
            self._rejected.append((int(status), reason))
            self._cond.notify_all()

    def begin_attempt(self, origin: str | None, fetch_mode: str | None) -> int:
        """Note a ``POST`` whose headers arrived now; returns its index (pending)."""
        with self._cond:
            self._attempts.append(
                Attempt(time.monotonic(), time.time(), origin=origin, fetch_mode=fetch_mode)
            )
            self._cond.notify_all()
            return len(self._attempts) - 1

    def note_body(self, index: int | None, events: list[object]) -> None:
        """The body of attempt ``index`` held ``events`` (decoded, not yet validated)."""
        self._update_attempt(index, events=len(events), event_ids=event_ids(events))

    def note_delay(self, index: int | None, seconds: float) -> None:
        """Attempt ``index`` is held ``seconds`` by a scripted delay."""
        self._update_attempt(index, delayed=seconds)

    def end_attempt(
        self, index: int | None, *, outcome: AttemptOutcome, status: int | None = None
    ) -> None:
        """Attempt ``index`` ended: ``"answered"`` with ``status``, or ``"dropped"``."""
        self._update_attempt(index, outcome=outcome, status=status)

    def settle_attempt(self, index: int | None) -> None:
        """Attempt ``index`` is over: still pending means the client went away (``"aborted"``)."""
        with self._cond:
            pending = (
                index is not None
                and index < len(self._attempts)
                and self._attempts[index].outcome == "pending"
            )
            if pending:
                assert index is not None
                self._attempts[index] = replace(self._attempts[index], outcome="aborted")
                self._cond.notify_all()

    def _update_attempt(self, index: int | None, **changes: Any) -> None:
        with self._cond:
            # clear() may have emptied the list while the request was handled
            if index is not None and index < len(self._attempts):
                self._attempts[index] = replace(self._attempts[index], **changes)
                self._cond.notify_all()

    def store(
        self, events: list[Event], attempt: int | None = None
    ) -> tuple[list[Event], list[Event]]:
        """Store the events whose ``event_id`` is new (also new within ``events``).

        Output: ``(stored, repeats)``, the events as given (not copies); the counts are also
        written to attempt ``attempt``. An event without a string ``event_id`` is always stored.
        """
        fresh: list[Event] = []
        repeats: list[Event] = []
        with self._cond:
            for event in events:
                event_id = event.get("event_id")
                if isinstance(event_id, str):
                    if event_id in self._seen_ids:
                        repeats.append(event)
                        continue
                    self._seen_ids.add(event_id)
                fresh.append(event)
            self._events.extend(fresh)
            self._duplicates += len(repeats)
            if attempt is not None and attempt < len(self._attempts):
                self._attempts[attempt] = replace(
                    self._attempts[attempt], accepted=len(fresh), duplicates=len(repeats)
                )
            self._cond.notify_all()
        return fresh, repeats

    # -- waits

    def wait(
        self, predicate: Callable[[list[Event]], bool], timeout: float, description: str
    ) -> list[Event]:
        """Block until ``predicate(events)`` is true; return that copy of the events.

        ``timeout`` is in seconds; ``description`` names what was awaited in the
        ``TimeoutError`` raised after it, which also lists what did arrive.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                snapshot = copy.deepcopy(self._events)
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout, description))
                self._cond.wait(remaining)

    def wait_for_attempts(self, n: int, timeout: float) -> list[Attempt]:
        """Block until at least ``n`` attempts are finished (not pending); return all.

        Raises ``TimeoutError`` after ``timeout`` seconds, with the finished and pending counts.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                done = [a for a in self._attempts if a.outcome != "pending"]
                if len(done) >= n:
                    return list(self._attempts)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"timed out after {timeout:g}s waiting for {n} finished attempt(s); "
                        f"{len(done)} finished, {len(self._attempts) - len(done)} pending"
                    )
                self._cond.wait(remaining)

    def _timeout_message(self, timeout: float, description: str) -> str:
        lines = [
            f"timed out after {timeout:g}s waiting for {description}; "
            f"{len(self._events)} event(s) arrived" + (":" if self._events else "")
        ]
        shown = self._events[-20:]
        if len(self._events) > len(shown):
            lines.append(f"  ... {len(self._events) - len(shown)} earlier event(s) not shown")
        lines.extend(f"  {summary_line(event)}" for event in shown)
        if self._duplicates:
            lines.append(f"{self._duplicates} duplicate event(s) acknowledged, not stored")
        if self._rejected:
            lines.append(f"{len(self._rejected)} request(s) rejected:")
            lines.extend(f"  {status} {reason}" for status, reason in self._rejected[-20:])
        else:
            lines.append("no requests were rejected")
        dropped = sum(1 for a in self._attempts if a.outcome == "dropped")
        if dropped:
            lines.append(f"{dropped} request(s) dropped without an answer")
        return "\n".join(lines)
