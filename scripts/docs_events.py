"""The event reference of the docs site, rendered from the event JSON Schema at every build.

Source: ``aae_tracking_plugins/core/schema/events.schema.json`` (the wire contract the collector
validates with). The tables come from ``scripts/render_event_reference.py``, the renderer that
also writes the section of docs/events.md, so both say the same. Each event type also gets an
example body; :func:`events_page` validates every example against the schema
(``aae_tracking_plugins.core.contract.validate_payload``) and raises
:class:`DocsReferenceError` when one does not pass, so no example on the site is one the
collector would refuse.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from aae_tracking_plugins.core.contract import SCHEMA_RESOURCE, load_schema, validate_payload

SCRIPTS = Path(__file__).resolve().parent
TIMESTAMP = "2026-03-02T09:15:04.120Z"
URL = "https://www.example.com/offer/?utm_source=newsletter&utm_medium=email"
#: ``event_data`` of one example per event type (the schema has no ``examples`` of its own).
EXAMPLE_DATA: dict[str, dict[str, Any]] = {
    "PageView": {
        "url": URL,
        "referrer": "",
        "timestamp": TIMESTAMP,
        "utm_source": "newsletter",
        "utm_medium": "email",
    },
    "AddToCart": {
        "button_text": "Get the spring offer",
        "button_id": "buy-now",
        "timestamp": TIMESTAMP,
        "variant": "b",
    },
    "Purchase": {"value": 399.0, "currency": "EUR", "order_id": "1001", "timestamp": TIMESTAMP},
    "Engagement": {"url": URL, "timestamp": TIMESTAMP, "engaged_ms": 41250, "scroll_depth": 75},
    "WebVitals": {
        "url": URL,
        "timestamp": TIMESTAMP,
        "lcp": 1830,
        "lcp_rating": "good",
        "cls": 0.04,
        "cls_rating": "good",
        "inp": 120,
        "inp_rating": "good",
    },
    "Lead": {"url": URL, "timestamp": TIMESTAMP, "plan": "team", "seats": 5},
}


class DocsReferenceError(Exception):
    """An example event does not pass the schema."""


def _renderer() -> ModuleType:
    """``scripts/render_event_reference.py`` as a module (it is a script, not a package)."""
    name = "render_event_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def example(kind: str) -> dict[str, Any]:
    """A complete, valid event of ``kind`` (a custom name gets the ``Lead`` data).

    Raises:
        DocsReferenceError: the example does not pass the schema (names the problems).
    """
    body = {
        "event_type": kind,
        "event_id": "3b0c6f0e-8f5d-4f7e-9d61-0c2a51a3c9b4",
        "landing_page_id": "lp_spring_desk",
        "campaign_id": "camp_spring_2026",
        "session_id": "sess_1772442904120_k3v9q0m2a7c1d8e4",
        "event_data": copy.deepcopy(EXAMPLE_DATA.get(kind, EXAMPLE_DATA["Lead"])),
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "screen_resolution": "1920x1080",
        "timestamp": TIMESTAMP,
    }
    problems = validate_payload(body)
    if problems:
        reasons = "; ".join(problems)
        raise DocsReferenceError(f"the example {kind} event breaks the schema: {reasons}")
    return body


def _json_block(body: object) -> list[str]:
    return ["```json", json.dumps(body, indent=2, ensure_ascii=False), "```"]


def event_types(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, $defs name)`` per event type in the schema's dispatch order; the custom
    events' entry is named ``Custom events``."""
    return [
        (heading.strip("`"), definition) for heading, definition in _renderer()._event_types(schema)
    ]


def events_page() -> str:
    """The Markdown of ``reference/events.md``.

    Raises:
        DocsReferenceError: an example event does not pass the schema.
    """
    render = _renderer()
    schema = load_schema()
    defs = schema["$defs"]
    lines = [
        "# Event reference",
        "",
        f"Generated at every build of this site from the JSON Schema "
        f"`aae_tracking_plugins/core/{SCHEMA_RESOURCE}` (draft 2020-12), the wire contract "
        "the collector validates with. It cannot drift from it; every example below is "
        "validated against it during the build. The prose about each event is in "
        "[Events](../events.md).",
        "",
        "## Every event: top-level fields",
        "",
        render._cell(defs["Event"]["description"]),
        "",
        *render._table(defs["Event"], schema),
    ]
    for name, definition_name in event_types(schema):
        definition = defs[definition_name]
        kind = "Lead" if name == "Custom events" else name
        heading = "Custom events" if name == "Custom events" else f"`{name}`"
        lines += [
            "",
            f"## {heading}",
            "",
            render._cell(definition["description"]),
            "",
            *render._table(definition, schema, render._prop_rows(definition, schema)),
            "",
            f"Example (`{kind}`):" if kind != name else "Example:",
            "",
            *_json_block(example(kind)),
        ]
    batch = {"events": [example("PageView"), example("AddToCart")]}
    if validate_payload(batch):
        raise DocsReferenceError("the example batch breaks the schema")
    lines += [
        "",
        "## Batch body",
        "",
        render._cell(defs["Batch"]["description"]),
        "",
        *render._table(defs["Batch"], schema),
        "",
        'Example: `{"events": [<PageView>, <AddToCart>]}`, each event as in the examples above.',
        "",
        "## The schema",
        "",
        "The whole schema, as the package ships it:",
        "",
        '??? note "events.schema.json"',
        "",
        *("    " + line for line in "\n".join(_json_block(schema)).splitlines()),
    ]
    return "\n".join(lines) + "\n"
