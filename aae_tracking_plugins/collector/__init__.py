"""Local development collector for landing-page tracking events.

The tracker POSTs events to ``{api_base_url}/api/v1/landing-pages/events`` as a
``text/plain`` JSON body (CORS-simple: no preflight), normally with
``fetch(..., {keepalive: true})`` in CORS mode, which reads the status and
``Retry-After``, and with ``navigator.sendBeacon`` (``no-cors``) where a beacon
helps.  This subpackage is a small stand-in for the real API (standard library plus the
package's own ``jsonschema`` dependency); the contract it implements is documented in
docs/collector-cors.md.

* :func:`validate_event` checks one event against the wire contract and
  :func:`validate_payload` a whole body (one event or ``{"events": [...]}``);
  both return human-readable problems (empty list when valid).  They are
  :mod:`aae_tracking_plugins.core.contract`'s, re-exported: the JSON Schema
  ``aae_tracking_plugins/core/schema/events.schema.json`` is the one definition of
  every event type (the five standard ones and custom events) and of the batch.
* :class:`EventCollector` is an HTTP server that accepts valid events, de-duplicates
  them by ``event_id``, answers CORS preflights, can fail on purpose
  (:meth:`EventCollector.fail`, ``delay``, ``drop_connections``), records every
  delivery attempt, and lets tests block until events arrive
  (:meth:`EventCollector.wait_for`).
* ``python -m aae_tracking_plugins.collector`` runs it from the command line and
  prints one line per accepted (or duplicate) event.

Modules, from the wire inwards:

* ``wire``: the paths, limits and body framing/decoding of the HTTP contract.
* ``cors``: the CORS headers of every answer and of a preflight.
* ``http``: the ``ThreadingHTTPServer`` and its request handler (the answers, by status).
* ``faults``: scripted failures and delays (``fail``, ``drop_connections``, ``delay``).
* ``record``: what arrived (events, refusals, :class:`Attempt` per ``POST``) and waits on it.
* ``log``: :func:`format_event_line`, one readable line per event.
* ``app``: :class:`EventCollector`, which puts them together.
* ``cli``: the ``python -m`` entry point (:func:`main`).

The stored collector lives beside it (the ``collector`` extra: FastAPI, pydantic, uvicorn,
psycopg; docs/collector.md), imported only when used: ``models`` (the contract as pydantic
models), ``intake`` (body to events), ``access`` (origins, reads), ``service``, ``api`` (the
``APIRouter``), ``responses``, ``server`` (the app factory, uvicorn), ``command``
(``aae-tracking collect``), ``report`` (``aae-tracking report``, the funnel) and ``storage``
(SQLite, PostgreSQL, migrations, ``funnel``).
"""

from __future__ import annotations

from aae_tracking_plugins.collector.app import EventCollector
from aae_tracking_plugins.collector.cli import main
from aae_tracking_plugins.collector.http import shutdown_promptly
from aae_tracking_plugins.collector.log import format_event_line
from aae_tracking_plugins.collector.record import Attempt
from aae_tracking_plugins.collector.wire import (
    EVENT_TYPES,
    EVENTS_PATH,
    HEALTH_PATH,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
)
from aae_tracking_plugins.core.contract import validate_event, validate_payload

# The name tests/static_server.py has imported since the collector was one module.
_shutdown_promptly = shutdown_promptly

__all__ = [
    "EVENTS_PATH",
    "EVENT_TYPES",
    "HEALTH_PATH",
    "MAX_BATCH_EVENTS",
    "MAX_BODY_BYTES",
    "Attempt",
    "EventCollector",
    "format_event_line",
    "main",
    "validate_event",
    "validate_payload",
]
