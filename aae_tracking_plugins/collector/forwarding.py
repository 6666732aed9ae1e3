"""The forwarder: a thread of the collector that sends the outbox to Meta's Conversions API.

It claims up to ``batch_size`` due rows (:meth:`~.storage.EventStore.claim_outbox`), adds each
event's page URL when it has none, sends them in one request and records the outcome
(:meth:`~.storage.EventStore.settle_outbox`):

* 2xx: ``sent``.
* 429, 5xx, a timeout or no connection: tried again later, after an exponential backoff with
  full jitter (a random delay between 0 and ``backoff * 2**attempts`` seconds, at most
  ``max_backoff``), and never before the ``Retry-After`` the answer asked for; the forwarder
  pauses that long. After ``max_attempts`` attempts a row is ``failed``. Meta's advice: retry
  what is not a client error ("Troubleshooting", "API Errors",
  https://developers.facebook.com/docs/marketing-api/conversions-api/support).
* any other 4xx: ``failed`` at once, with Meta's ``error.message`` stored (the request is
  wrong, sending it again cannot help: an expired token, a malformed event). Meta refuses a
  whole batch for one invalid event ("Using the API", "Batch Requests"), so a 400 whose Graph
  error is an invalid parameter (code 100, other than subcode 33, "object does not exist": a
  wrong Pixel id) is about an event, not the request: the batch is split in halves and each
  half sent again, until the refused events are alone. Only they fail; the others are sent.
  The splitting is bounded (:func:`split_budget` extra requests a round), so an error that is
  about every event costs a few requests, not one per event.
* Not sent at all, ``failed`` at once: an event older than 7 days (Meta refuses the whole
  request for one such event: "Using the API", "Upload Time versus Event Transaction Time",
  https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api), or an event
  without a page URL (``event_source_url`` is required for website events: "Parameters",
  https://developers.facebook.com/docs/marketing-api/conversions-api/parameters).

The HTTP client is the standard library's ``urllib.request``: one POST per batch from one
thread needs no connection pool or async client, and it adds no dependency to the collector
extra (the proxy variables ``https_proxy`` / ``no_proxy`` are honoured). The access token goes
in the JSON body (Graph API requests take ``access_token`` as a body parameter), never in the
URL, so no URL in a log or error carries it; any text from elsewhere is redacted before it is
stored or printed (:meth:`~.capi.CapiSettings.redact`).
"""

from __future__ import annotations

import http.client
import json
import math
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import IO, Any, Final

from aae_tracking_plugins.collector.capi import CapiSettings
from aae_tracking_plugins.collector.service import EventService
from aae_tracking_plugins.collector.storage import EventStore, StorageError
from aae_tracking_plugins.collector.storage.outbox import OutboxItem, Outcome

__all__ = [
    "Answer",
    "Forwarder",
    "backoff_delay",
    "post_events",
    "retry_after_seconds",
    "split_budget",
    "start_forwarding",
]

#: Meta refuses events older than this (the whole request).
MAX_AGE: Final = timedelta(days=7)
_PAUSE_LIMIT: Final = 3600.0  # never pause longer than an hour for one Retry-After


#: Graph API error code "invalid parameter", and its subcode for an object that does not exist
#: (the Pixel id): https://developers.facebook.com/docs/graph-api/guides/error-handling
_INVALID_PARAMETER: Final = 100
_NO_SUCH_OBJECT: Final = 33


@dataclass(frozen=True)
class Answer:
    """What one request got: ``status`` (0: no answer at all), ``retry_after`` (seconds,
    None when not asked), ``error`` (one line, redacted; None on success) and the Graph API
    error's ``code`` / ``subcode`` (None when the body had none)."""

    status: int
    retry_after: float | None = None
    error: str | None = None
    code: int | None = None
    subcode: int | None = None

    @property
    def retryable(self) -> bool:
        """No answer, 429 or 5xx: sending the same events later may work."""
        return self.status == 0 or self.status == 429 or self.status >= 500

    @property
    def about_an_event(self) -> bool:
        """A 400 for an invalid parameter of an event, not for the request as a whole (a
        token, a permission, the Pixel id): the other events of the batch may be fine."""
        return (
            self.status == 400
            and self.code == _INVALID_PARAMETER
            and self.subcode != _NO_SUCH_OBJECT
        )


def split_budget(events: int) -> int:
    """Extra requests a round may spend splitting a refused batch of ``events``: enough to
    isolate three refused events by halving (two requests per halving, ``ceil(log2 n)``
    halvings each)."""
    return 6 * math.ceil(math.log2(events)) if events > 1 else 0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _graph_error(body: bytes) -> dict[str, Any]:
    """The ``error`` object of a Graph API error body, or ``{}``."""
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _meta_message(status: int, body: bytes, error: dict[str, Any]) -> str:
    """``Meta answered 400: <error.message>[: <error_user_msg>] (code C, subcode S, type)``
    (Graph API errors are ``{"error": {"message": ..., "type": ..., "code": ...,
    "error_subcode": ..., "error_user_msg": ...}}``), or the start of a body that is not that.
    ``error_user_msg`` says which event field is wrong; ``message`` alone is often only
    "Invalid parameter". ``error``: the body's :func:`_graph_error`, parsed once by the
    caller."""
    if "message" not in error:
        message = body[:200].decode("utf-8", "replace").strip() or "no body"
        return f"Meta answered {status}: {message}"
    details = [
        f"code {error['code']}" if "code" in error else None,
        f"subcode {error['error_subcode']}" if "error_subcode" in error else None,
        error.get("type"),
    ]
    known = ", ".join(str(detail) for detail in details if detail)
    message = str(error["message"])
    if error.get("error_user_msg"):
        message += f": {error['error_user_msg']}"
    return f"Meta answered {status}: {message}" + (f" ({known})" if known else "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would send a POST answered 301/302/303 again as a
    GET without its body (the events never arrive, and a 200 to that GET looked like sent).
    The 3xx is the answer (an ``HTTPError``)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


def post_events(settings: CapiSettings, events: list[dict[str, Any]]) -> Answer:
    """POST ``events`` (server events, at most 1,000) to the settings' endpoint.

    Output: the :class:`Answer` (a redirect is not followed: its 3xx is the answer); this
    never raises for what the network or Meta does.
    """
    body: dict[str, Any] = {"data": events, "access_token": settings.access_token}
    if settings.test_event_code:
        body["test_event_code"] = settings.test_event_code
    request = urllib.request.Request(
        settings.endpoint,
        data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=settings.timeout) as response:
            response.read()
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            content = exc.read()
        retry = retry_after_seconds(exc.headers.get("Retry-After"))
        error = _graph_error(content)
        return Answer(
            exc.code,
            retry,
            settings.redact(_meta_message(exc.code, content, error)),
            _integer(error.get("code")),
            _integer(error.get("error_subcode")),
        )
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: an answer that is not HTTP (BadStatusLine, IncompleteRead...)
        reason = getattr(exc, "reason", None) or exc
        return Answer(0, None, settings.redact(f"cannot reach {settings.endpoint}: {reason}"))


def backoff_delay(settings: CapiSettings, attempts: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt ``attempts + 1``: full jitter over an exponential
    ceiling, and at least ``retry_after``."""
    ceiling = min(settings.max_backoff, settings.backoff * 2 ** min(attempts, 30))
    delay = random.uniform(0, ceiling)
    return max(delay, min(retry_after or 0.0, _PAUSE_LIMIT))


class Forwarder:
    """Sends the outbox of ``store`` to the Conversions API, in a daemon thread.

    Inputs: the store; the :class:`~.capi.CapiSettings`; ``warn`` receives one line per
    failed attempt (redacted). :meth:`start` / :meth:`stop`; :meth:`wake` when events were
    just added (otherwise it looks every ``poll_interval`` seconds). :meth:`forward_once` is
    one round, for tests and for callers with their own loop.
    """

    def __init__(
        self, store: EventStore, settings: CapiSettings, warn: Callable[[str], None]
    ) -> None:
        self.store = store
        self.settings = settings
        self.warn = warn
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._store_down = False
        self._pruned_at = -math.inf  # monotonic seconds of the last prune: first round prunes

    def start(self) -> None:
        """Start the thread (pending rows of an earlier run are sent first)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="aae-capi-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the thread, waiting up to ``timeout`` seconds for a request in flight (a
        claim it leaves unsettled expires after its lease and the rows are sent later)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the outbox now (new rows were written)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self.forward_once()
                self._store_down = False
            except StorageError as exc:
                if not self._store_down:
                    self.warn(f"capi: cannot use the outbox: {self.settings.redact(str(exc))}")
                self._store_down = True
                pause = self.settings.poll_interval
            except Exception as exc:  # the thread must outlive any one round
                why = self.settings.redact(f"{type(exc).__name__}: {exc}")
                self.warn(f"capi: forwarding round failed, trying again: {why}")
                pause = self.settings.max_backoff
            if pause is None:
                continue  # a batch went: look for more at once
            if pause > 0:
                self._stop.wait(pause)  # Meta asked to wait, or is down: so do we
                continue
            self._wake.wait(self.settings.poll_interval)
            self._wake.clear()

    def forward_once(self) -> float | None:
        """One round: claim, send, settle. Output: None when a batch was sent (more may be
        due), else seconds to pause first (0: the outbox had nothing due). Raises
        :class:`~.storage.StorageError` when the database cannot be used."""
        settings = self.settings
        items = self.store.claim_outbox(settings.batch_size, settings.lease)
        if not items:
            self.prune()
            return 0.0
        ready = self._prepare(items)
        if not ready:
            return None
        return self._send(ready, [split_budget(len(ready))])

    def _send(self, items: list[OutboxItem], budget: list[int]) -> float | None:
        """Send ``items`` in one request and settle them; a batch refused for an event is
        split in halves while ``budget[0]`` (extra requests left, shared by the halves)
        allows. Output: as :meth:`forward_once`."""
        settings = self.settings
        answer = post_events(settings, [item.payload for item in items])
        ids = [item.id for item in items]
        if 200 <= answer.status < 300:
            self.store.settle_outbox(ids, Outcome("sent"))
            return None
        if answer.retryable:
            return self._retry_later(items, answer)
        if len(items) > 1 and answer.about_an_event and budget[0] >= 2:
            budget[0] -= 2
            half = len(items) // 2
            first, second = items[:half], items[half:]
            pause = self._send(first, budget)
            if self._stop.is_set():  # stopping: the claim expires, the rest goes later
                return 0.0
            if pause is not None:  # Meta went down meanwhile: the second half waits too
                self._retry_later(
                    second, Answer(0, None, "not sent: it waits with the other half of its batch")
                )
                return pause
            return self._send(second, budget)
        self.store.settle_outbox(ids, Outcome("failed", answer.error))
        self.warn(f"capi: {answer.error}; {len(ids)} event(s) failed")
        return None

    def _retry_later(self, items: list[OutboxItem], answer: Answer) -> float:
        """Settle ``items`` for another attempt after the backoff; output: that delay."""
        settings = self.settings
        attempts = max(item.attempts for item in items)
        delay = backoff_delay(settings, attempts, answer.retry_after)
        retry_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        self.store.settle_outbox(
            [item.id for item in items],
            Outcome("retry", answer.error, retry_at, settings.max_attempts),
        )
        self.warn(f"capi: {answer.error}; {len(items)} event(s) retried in {delay:.1f}s")
        return delay

    def prune(self, force: bool = False) -> int:
        """Delete the sent rows older than ``keep_sent``, at most once per ``prune_interval``
        (or now, with ``force``). Called on idle rounds, so pruning never delays sending.
        Output: rows deleted (0 when it was not time). Raises
        :class:`~.storage.StorageError` when the database cannot be used."""
        now = time.monotonic()
        if not force and now - self._pruned_at < self.settings.prune_interval:
            return 0
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.settings.keep_sent)
        deleted = self.store.prune_outbox(cutoff)
        self._pruned_at = now
        return deleted

    def _prepare(self, items: list[OutboxItem]) -> list[OutboxItem]:
        """The items that can be sent, each with an ``event_source_url``; the others are
        settled ``failed`` here (too old, no page URL)."""
        oldest = (datetime.now(timezone.utc) - MAX_AGE).timestamp()
        too_old = [item.id for item in items if item.payload.get("event_time", 0) < oldest]
        if too_old:
            why = "older than 7 days: Meta refuses it"
            self.store.settle_outbox(too_old, Outcome("failed", why))
            items = [item for item in items if item.id not in set(too_old)]
        missing = [
            (item.session_id, item.landing_page_id)
            for item in items
            if "event_source_url" not in item.payload
        ]
        urls = self.store.page_urls(missing) if missing else {}
        ready: list[OutboxItem] = []
        unknown: list[int] = []
        for item in items:
            if "event_source_url" not in item.payload:
                url = urls.get((item.session_id, item.landing_page_id))
                if url is None:
                    unknown.append(item.id)
                    continue
                item.payload["event_source_url"] = url
            ready.append(item)
        if unknown:
            why = "no page URL: the session has no stored PageView (event_source_url is required)"
            self.store.settle_outbox(unknown, Outcome("failed", why))
        return ready


def start_forwarding(service: EventService) -> Forwarder | None:
    """The forwarder of a service whose configuration has ``capi`` (None without), woken by
    the service when it stores events to relay. The caller starts and stops it."""
    settings = service.config.capi
    if settings is None:
        return None
    forwarder = Forwarder(service.store, settings, service.config.warn)
    service.on_outbox = forwarder.wake
    return forwarder
