"""The stored collector's work between the HTTP layer and the database, and its configuration.

:class:`CollectorConfig` is everything an operator chooses (database URL, allowed origins,
read token, where lines go); :meth:`CollectorConfig.from_environment` reads it from
``AAE_COLLECTOR_*`` variables (the names are in docs/collector.md). :class:`EventService` is
what the API calls: it stores events through an :class:`~.storage.EventStore` (the rows of
concurrent requests committed together by one writer thread, :mod:`.storage.group`), prints one
line per event as it arrives (:func:`~.log.format_event_line`), and says once when the database
becomes unavailable and once when it is back.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from aae_tracking_plugins.collector.access import OriginPolicy, ReadAccess, WriteAccess
from aae_tracking_plugins.collector.capi import CapiSettings, RequestContext, outbox_entries
from aae_tracking_plugins.collector.log import format_event_line
from aae_tracking_plugins.collector.storage import (
    DEFAULT_DATABASE_URL,
    EventQuery,
    EventRow,
    EventStore,
    StorageUnavailable,
    StoredEvent,
    open_store,
)
from aae_tracking_plugins.collector.storage.group import GroupWriter
from aae_tracking_plugins.collector.storage.outbox import OutboxEntry
from aae_tracking_plugins.collector.wire import Event

__all__ = ["ENVIRONMENT", "CollectorConfig", "EventService", "stderr_line"]

#: The environment variables :meth:`CollectorConfig.from_environment` reads.
ENVIRONMENT: Final = {
    "database_url": "AAE_COLLECTOR_DATABASE",
    "allowed_origins": "AAE_COLLECTOR_ALLOW_ORIGINS",
    "read_token": "AAE_COLLECTOR_READ_TOKEN",
    "write_token": "AAE_COLLECTOR_WRITE_TOKEN",
    "trust_proxy": "AAE_COLLECTOR_TRUST_PROXY",
}
_YES: Final = ("1", "true", "yes", "on")
_NO: Final = ("", "0", "false", "no", "off")

LineWriter = Callable[[str], None]


def stderr_line(line: str) -> None:
    """Write one line to stderr (the default for warnings)."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class CollectorConfig:
    """What an operator configures.

    ``database_url``: see :func:`~.storage.open_store`. ``allowed_origins``: origins whose
    pages may send events (``*`` any; empty: loopback origins only). ``read_token``: the token
    reads must send (None: reads only from loopback). ``write_token``: the token a back office
    sends to post server-sent events (None: server-side events are refused; docs/collector.md,
    "Server-side events"). ``trust_proxy``: the collector is behind one reverse proxy, so the
    visitor's address is the last of ``X-Forwarded-For``. ``capi``: the Conversions API
    forwarding (None: off; :mod:`.capi`). ``echo``: receives one line per event
    (None: silent). ``warn``: receives one line per operational problem (default stderr).
    ``retry_after``: seconds a 503 asks the tracker to wait. ``store_options``: passed to
    :func:`~.storage.open_store`.

    Raises ``ValueError`` for an origin that is not one (see
    :func:`~.access.normalize_origin`) or an empty read or write token.
    """

    database_url: str = DEFAULT_DATABASE_URL
    allowed_origins: tuple[str, ...] = ()
    read_token: str | None = field(default=None, repr=False)
    write_token: str | None = field(default=None, repr=False)
    trust_proxy: bool = False
    capi: CapiSettings | None = None
    echo: LineWriter | None = None
    warn: LineWriter = stderr_line
    retry_after: int = 5
    store_options: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        OriginPolicy.of(self.allowed_origins)  # raises ValueError for a bad origin
        if self.read_token is not None and not self.read_token.strip():
            raise ValueError(f"{ENVIRONMENT['read_token']} is set but empty")
        if self.write_token is not None and not self.write_token.strip():
            raise ValueError(f"{ENVIRONMENT['write_token']} is set but empty")

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> CollectorConfig:
        """The configuration in ``environ`` (default ``os.environ``), then ``overrides``.

        ``AAE_COLLECTOR_DATABASE`` (a URL), ``AAE_COLLECTOR_ALLOW_ORIGINS`` (origins separated
        by spaces or commas), ``AAE_COLLECTOR_READ_TOKEN``, ``AAE_COLLECTOR_WRITE_TOKEN``,
        ``AAE_COLLECTOR_TRUST_PROXY`` (``1``/``true``/``yes``/``on``, or ``0``/``false``/``no``/
        ``off``: another value raises ``ValueError`` naming it), the ``AAE_CAPI_*`` variables
        (:meth:`~.capi.CapiSettings.from_environment`; the override ``capi_pixel_id`` is the
        CLI's ``--capi-pixel-id``). Raises ``ValueError`` as the class.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get(ENVIRONMENT["database_url"]):
            values["database_url"] = env[ENVIRONMENT["database_url"]]
        origins = env.get(ENVIRONMENT["allowed_origins"], "").replace(",", " ").split()
        if origins:
            values["allowed_origins"] = tuple(origins)
        if ENVIRONMENT["read_token"] in env:
            values["read_token"] = env[ENVIRONMENT["read_token"]]
        if ENVIRONMENT["write_token"] in env:
            values["write_token"] = env[ENVIRONMENT["write_token"]]
        trust = env.get(ENVIRONMENT["trust_proxy"], "").strip().lower()
        if trust not in _YES + _NO:
            raise ValueError(
                f"{ENVIRONMENT['trust_proxy']} must be 1/true/yes/on or 0/false/no/off,"
                f" got {trust!r}"
            )
        values["trust_proxy"] = trust in _YES
        pixel_id = overrides.pop("capi_pixel_id", None)
        values["capi"] = CapiSettings.from_environment(env, str(pixel_id) if pixel_id else None)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def origin_policy(self) -> OriginPolicy:
        """The :class:`~.access.OriginPolicy` of ``allowed_origins``."""
        return OriginPolicy.of(self.allowed_origins)

    def open_store(self) -> EventStore:
        """Open the configured database and check that it takes a write (``ping``): SQLite
        opens a file it may not write read-only, and an up-to-date schema writes nothing, so
        without the check the first event would be the first to fail. Raises what
        :func:`~.storage.open_store` and :meth:`~.storage.EventStore.ping` raise."""
        store = open_store(self.database_url, **self.store_options)
        try:
            store.ping()
        except BaseException:
            store.close()
            raise
        return store


class EventService:
    """Stores events and lists them, for the API.

    Inputs: an open ``store``; the ``config`` (its echo and warn lines, retry delay, origins
    and read access). Thread-safe: the API calls it from the event loop and worker threads.
    Writes go through a :class:`~.storage.group.GroupWriter` (one thread); :meth:`close`
    stops it (the store stays open: it is the caller's).
    """

    def __init__(self, store: EventStore, config: CollectorConfig) -> None:
        self.store = store
        self.config = config
        self.origins = config.origin_policy()
        self.reads = ReadAccess(config.read_token)
        self.writes = WriteAccess(config.write_token)
        #: Called after events with outbox rows were stored (the forwarder's wake-up).
        self.on_outbox: Callable[[], None] | None = None
        self._lines = threading.Lock()
        self._unavailable = False
        self.writer = GroupWriter(store.add)
        #: Events stored, and duplicates acknowledged, by this service since it started.
        self.stored = 0
        self.duplicates = 0

    def ingest(
        self,
        events: Sequence[Event],
        received_at: datetime,
        context: RequestContext | None = None,
    ) -> tuple[int, int]:
        """Store events the contract accepted; returns ``(accepted, duplicates)``.

        Inputs: the decoded events; when they arrived (aware); the request's
        :class:`~.capi.RequestContext` (origin, user agent, address) when it matters: for
        server-sent events (stored with origin ``server``), and for every event while
        forwarding is on (the events to relay get their outbox rows in the same transaction,
        and the forwarder is woken). None: a browser's request without forwarding (the hot
        path). Raises :class:`~.storage.StorageUnavailable` (nothing stored: answer 503) or
        :class:`~.storage.StorageError`.
        """
        rows, outbox = self._rows(events, received_at, context)
        try:
            stored = self.writer.submit(rows, outbox).result()
        except StorageUnavailable as exc:
            self._note_availability(str(exc))
            raise
        return self._stored(events, stored, received_at, context, outbox)

    async def ingest_async(
        self,
        events: Sequence[Event],
        received_at: datetime,
        context: RequestContext | None = None,
    ) -> tuple[int, int]:
        """:meth:`ingest` for the event loop (the API's path): waits for the writer thread
        without a worker thread of its own. Same inputs, output and errors."""
        rows, outbox = self._rows(events, received_at, context)
        try:
            stored = await self.writer.add(rows, outbox)
        except StorageUnavailable as exc:
            self._note_availability(str(exc))
            raise
        return self._stored(events, stored, received_at, context, outbox)

    def close(self) -> None:
        """Write what is queued and stop the writer thread (not the store: see the class)."""
        self.writer.close()

    def _rows(
        self, events: Sequence[Event], received_at: datetime, context: RequestContext | None
    ) -> tuple[list[EventRow], dict[str, OutboxEntry]]:
        """The rows of ``events`` (with the request's origin) and, while forwarding is on and
        the request is known, the outbox entries of those to forward, by ``event_id``."""
        if context is None:
            return [EventRow.from_event(event, received_at) for event in events], {}
        rows = [EventRow.from_event(event, received_at, context.origin) for event in events]
        outbox = outbox_entries(events, received_at, context) if self.config.capi else {}
        return rows, outbox

    def _stored(
        self,
        events: Sequence[Event],
        stored: set[str],
        received_at: datetime,
        context: RequestContext | None,
        outbox: Mapping[str, OutboxEntry],
    ) -> tuple[int, int]:
        """Wake the forwarder when outbox rows were written; count and print what a write
        stored; ``(accepted, duplicates)``."""
        self._note_availability(None)
        if outbox and self.on_outbox is not None and stored & outbox.keys():
            self.on_outbox()
        accepted, duplicates = len(stored), len(events) - len(stored)
        with self._lines:
            self.stored += accepted
            self.duplicates += duplicates
        if self.config.echo is not None:
            origin = context.origin if context is not None else "browser"
            self._echo(events, stored, received_at, origin)
        return accepted, duplicates

    def latest(self, query: EventQuery) -> list[StoredEvent]:
        """The stored events ``query`` selects, newest first (raises as the store does)."""
        try:
            found = self.store.latest(query)
        except StorageUnavailable as exc:
            self._note_availability(str(exc))
            raise
        self._note_availability(None)
        return found

    def ping(self) -> None:
        """Return when the database answers; raise :class:`~.storage.StorageUnavailable`."""
        try:
            self.store.ping()
        except StorageUnavailable as exc:
            self._note_availability(str(exc))
            raise
        self._note_availability(None)

    def refused(self, status: int, error: str, first_problem: str | None) -> None:
        """Print one line for a refused request (in the event lines, when they are on)."""
        if self.config.echo is None:
            return
        detail = f": {first_problem}" if first_problem else ""
        clock = datetime.now().strftime("%H:%M:%S")
        with self._lines:
            self.config.echo(f"{clock}  refused {status} {error}{detail}")

    def _echo(
        self,
        events: Sequence[Event],
        stored: set[str],
        received_at: datetime,
        origin: str = "browser",
    ) -> None:
        echo = self.config.echo
        assert echo is not None
        when = received_at.timestamp()
        printed: set[str] = set()
        with self._lines:
            for event in events:
                event_id = event["event_id"]
                line = format_event_line(event, when)
                if origin != "browser":
                    line += f"  ({origin}-sent)"
                if event_id in stored and event_id not in printed:
                    printed.add(event_id)
                    echo(line)
                else:
                    echo(line + "  (duplicate, not stored)")

    def _note_availability(self, problem: str | None) -> None:
        """Warn once when the database stops answering, and once when it answers again."""
        if (problem is not None) == self._unavailable:
            return
        with self._lines:
            if (problem is not None) == self._unavailable:
                return
            self._unavailable = problem is not None
            if problem is not None:
                self.config.warn(f"collector: database unavailable, answering 503: {problem}")
            else:
                self.config.warn(f"collector: database {self.store.url} answers again")
