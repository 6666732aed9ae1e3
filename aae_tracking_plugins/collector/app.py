"""``EventCollector``: the local events endpoint the tests, the demo and the CLI run."""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from aae_tracking_plugins.collector.faults import (
    Failure,
    FaultSchedule,
    check_seconds,
    check_status,
    check_times,
    retry_after_value,
)
from aae_tracking_plugins.collector.http import CollectorServer, Endpoint, shutdown_promptly
from aae_tracking_plugins.collector.log import format_event_line
from aae_tracking_plugins.collector.record import Attempt, DeliveryRecord
from aae_tracking_plugins.collector.wire import EVENTS_PATH, Event
from aae_tracking_plugins.core.contract import event_type_problem

__all__ = ["EventCollector"]

_POLL_SECONDS = 0.5  # serve_forever() checks for shutdown this often when idle


class EventCollector:
    """A local events endpoint that stores what the tracker sends.

    ``EventCollector()`` binds 127.0.0.1 on a free port when started::

        with EventCollector() as collector:
            configure(api_base_url=collector.url)
            ...
            events = collector.wait_for_count(1, "PageView")

    A ``POST`` body is one event or a batch ``{"events": [...]}`` (see
    :func:`validate_payload`); a valid one is answered ``200`` with
    ``{"accepted": N, "duplicates": D}``.  Events are de-duplicated by
    ``event_id``: an event whose id was already stored (earlier, in another
    batch, or earlier in the same batch) is acknowledged the same way but not
    stored again, and counted in :attr:`duplicates`.  The HTTP answers are listed
    in :mod:`aae_tracking_plugins.collector.http`.

    ``echo`` receives one line per stored event (see :func:`format_event_line`)
    and one per duplicate (the same line plus ``(duplicate, not stored)``);
    ``on_event`` receives each stored event dict, never a duplicate (the CLI uses
    it for ``--jsonl``).  Callbacks run on the request threads, one at a time; an
    exception in one is printed to stderr and does not fail the request.

    Failure modes, for tests of the tracker's retries.  They apply to ``POST`` on
    the events path only (preflights, ``GET`` and ``/healthz`` stay normal), are
    decided per request when it arrives (thread-safe: concurrent requests each
    take one of ``times``), and may be changed while the collector runs:

    * :meth:`fail` ``(status=503, times=None, retry_after=None)``: answer
      ``status`` (400-599) with ``{"error": ...}`` and, when given, a
      ``Retry-After`` header (int seconds, a datetime sent as an HTTP date, or a
      string sent verbatim), storing nothing.
    * :meth:`drop_connections` ``(times=None, store=False)``: read the request,
      then close the connection without an answer, which a browser reports as a
      network error.  ``store=True`` stores valid events first (an answer lost on
      its way back).
    * :meth:`delay` ``(seconds, times=None)``: hold each request ``seconds``
      before handling it (then normally, or as :meth:`fail` /
      :meth:`drop_connections` say).  Other requests are served meanwhile.
    * :meth:`recover`: back to normal; also ends the waits of delayed requests
      in flight (they are then handled as decided when they arrived).

    ``times=None`` lasts until :meth:`recover`; an int applies to that many
    requests, then the collector is normal again.  :attr:`attempts` records every
    ``POST`` to the events path (:class:`Attempt`: time, outcome, status, events,
    event ids), so tests can assert bounded retries and exactly-once arrival;
    :meth:`wait_for_attempts` blocks until some are finished.

    ``fail_with`` (constructor argument and attribute; an error status or None)
    is the older spelling of ``fail(status)`` / ending that failure.

    ``keep_alive=False`` (also an attribute) closes every connection after its
    answer.  Browsers silently resend a request, once, when a *reused*
    keep-alive connection closes without an answer (Chromium does), so with
    keep-alive one dropped send shows as two attempts and ``drop_connections(1)``
    is invisible to the page; without keep-alive each drop is exactly one
    network error to the page.

    Raises ``ValueError`` for an invalid status, ``times``, ``seconds`` or
    ``retry_after``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        echo: Callable[[str], None] | None = None,
        fail_with: int | None = None,
        on_event: Callable[[Event], None] | None = None,
        keep_alive: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.keep_alive = keep_alive
        self.echo = echo
        self.on_event = on_event
        self._record = DeliveryRecord()
        self._faults = FaultSchedule()
        self.fail_with = fail_with
        self._output_lock = threading.Lock()
        self._server: CollectorServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> EventCollector:
        """Bind and serve in a daemon thread; returns ``self``.

        Raises ``OSError`` if the address cannot be bound (e.g. the port is taken),
        ``RuntimeError`` if already started.
        """
        if self._server is not None:
            raise RuntimeError("collector already started")
        # Both read at request time: tests change keep_alive while the collector runs, and the
        # suite's conftest wraps EventCollector._store to check every stored event.
        endpoint = Endpoint(
            self._record,
            self._faults,
            keep_alive=lambda: self.keep_alive,
            store=lambda events, attempt: self._store(events, attempt),
        )
        server = CollectorServer((self.host, self.port), endpoint)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"aae-collector-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = None
        self._thread = None
        self._faults.wake_waiters()  # delayed requests stop waiting
        shutdown_promptly(server)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    def __enter__(self) -> EventCollector:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        """Base URL to configure as ``api_base_url``, e.g. ``http://127.0.0.1:54321``.

        A wildcard host is shown as its loopback address. Raises ``RuntimeError`` before
        :meth:`start` when the port is 0 (not chosen yet).
        """
        if self._server is None and self.port == 0:
            raise RuntimeError("collector not started: no port yet")
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def events_url(self) -> str:
        """Full URL the tracker posts to (raises like :attr:`url`)."""
        return self.url + EVENTS_PATH

    # -- recorded data

    @property
    def events(self) -> list[Event]:
        """A copy of the accepted events, oldest first."""
        return self._record.events()

    @property
    def rejected(self) -> list[tuple[int, str]]:
        """``(status, reason)`` for every refused request, oldest first."""
        return self._record.rejected()

    @property
    def duplicates(self) -> int:
        """How many events were acknowledged as repeats of a stored ``event_id``."""
        return self._record.duplicates

    @property
    def preflights(self) -> int:
        """How many CORS preflights (``OPTIONS`` on the events path) arrived.

        The tracker's requests are CORS-simple, so this stays 0 for it.
        """
        return self._record.preflights

    @property
    def attempts(self) -> list[Attempt]:
        """Every ``POST`` to the events path (:class:`Attempt`), in order of arrival."""
        return self._record.attempts()

    def clear(self) -> None:
        """Forget stored events, rejections, attempts, preflights and seen ``event_id`` values.

        The failure mode (:meth:`fail`, :meth:`delay`, ...) is kept.
        """
        self._record.clear()

    # -- failure modes

    def fail(
        self,
        status: int = 503,
        times: int | None = None,
        retry_after: int | str | datetime | None = None,
    ) -> None:
        """Answer ``POST`` requests with ``status`` (400-599) without storing anything.

        ``times``: that many requests, None = until :meth:`recover`.
        ``retry_after``: seconds (int >= 0), an aware datetime (sent as an HTTP
        date) or a string sent as is (e.g. garbage, to test the client); None
        sends no ``Retry-After``.  Replaces an active fail/drop mode; a
        :meth:`delay` stays.  Raises ``ValueError`` for bad arguments.
        """
        failure = Failure(check_status("status", status), retry_after_value(retry_after))
        self._faults.set_failure(failure, check_times(times))

    def drop_connections(self, times: int | None = None, *, store: bool = False) -> None:
        """Close ``POST`` connections without an answer (a network error to a browser).

        The request is read first.  ``store=True`` stores its valid events before
        dropping (de-duplicated as usual): the answer is lost, not the events.
        ``times`` as in :meth:`fail`.  Browsers resend a request on their own,
        once, when a reused keep-alive connection closes without an answer: use
        ``keep_alive=False`` when each drop must reach the page (see the class).
        """
        self._faults.set_failure(Failure(None, store=store), check_times(times))

    def delay(self, seconds: float, times: int | None = None) -> None:
        """Hold each ``POST`` ``seconds`` before handling it; ``delay(0)`` ends this.

        Only the delayed request's thread waits: other requests are served
        meanwhile.  ``times`` as in :meth:`fail`.  Raises ``ValueError`` unless
        ``seconds`` is a finite number >= 0.
        """
        self._faults.set_delay(check_seconds(seconds), check_times(times))

    def recover(self) -> None:
        """Back to normal: no failure, no delay; delayed requests in flight stop waiting."""
        self._faults.recover()

    @property
    def fail_with(self) -> int | None:
        """The status of the active :meth:`fail` mode, None when not failing that way.

        Setting a status is ``fail(status)``; setting None ends a fail/drop mode.
        """
        failure = self._faults.failure
        return failure.status if failure is not None else None

    @fail_with.setter
    def fail_with(self, status: int | None) -> None:
        failure = None if status is None else Failure(check_status("fail_with", status))
        self._faults.set_failure(failure, None)

    # -- waiting for arrivals

    def wait_for_attempts(self, n: int, timeout: float = 10.0) -> list[Attempt]:
        """Block until at least ``n`` attempts are finished (not pending); return all.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        return self._record.wait_for_attempts(n, timeout)

    def wait_for(
        self, predicate: Callable[[list[Event]], bool], timeout: float = 10.0
    ) -> list[Event]:
        """Block until ``predicate(events)`` is true and return those events.

        Raises ``TimeoutError`` after ``timeout`` seconds, listing the events and
        rejections that did arrive.
        """
        name = getattr(predicate, "__name__", "predicate")
        return self._record.wait(predicate, timeout, f"{name}(events)")

    def wait_for_count(
        self, n: int, event_type: str | None = None, timeout: float = 10.0
    ) -> list[Event]:
        """Block until at least ``n`` events (of ``event_type``, if given) arrived.

        ``event_type`` is a standard type or a custom event's name.  Returns the matching
        events (all of them, possibly more than ``n``).  Raises ``ValueError`` at once for a
        name no event can have (not matching the schema's ``EventType``), ``TimeoutError``
        after ``timeout`` seconds.
        """
        problem = None if event_type is None else event_type_problem(event_type)
        if problem is not None:
            raise ValueError(f"not an event type: {problem}")

        def matching(events: list[Event]) -> list[Event]:
            if event_type is None:
                return events
            return [e for e in events if e.get("event_type") == event_type]

        what = f"{n} {event_type or ''} event(s)".replace("  ", " ")
        events = self._record.wait(lambda evs: len(matching(evs)) >= n, timeout, f"at least {what}")
        return matching(events)

    # -- called by the request handler

    def _store(self, events: list[Event], attempt: int | None = None) -> tuple[int, int]:
        """Store the events whose ``event_id`` is new; returns ``(accepted, duplicates)``."""
        received_at = time.time()
        fresh, repeats = self._record.store(events, attempt)
        if self.echo is not None or self.on_event is not None:
            with self._output_lock:
                for event in fresh:
                    self._output(event, received_at, duplicate=False)
                for event in repeats:
                    self._output(event, received_at, duplicate=True)
        return len(fresh), len(repeats)

    def _output(self, event: Event, received_at: float, *, duplicate: bool) -> None:
        try:
            if self.on_event is not None and not duplicate:
                self.on_event(copy.deepcopy(event))
            if self.echo is not None:
                line = format_event_line(event, received_at)
                self.echo(line + "  (duplicate, not stored)" if duplicate else line)
        except Exception as exc:  # a broken callback must not lose the request
            print(f"aae collector: output callback failed: {exc!r}", file=sys.stderr)
