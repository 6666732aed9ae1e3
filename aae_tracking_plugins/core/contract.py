"""The event wire contract, in one place: ``schema/events.schema.json``.

The JSON Schema (draft 2020-12) shipped in this package is the one definition of what the tracker
sends to ``POST {api_base_url}/api/v1/landing-pages/events``: every event type (PageView,
AddToCart, Purchase, Engagement, WebVitals and custom events) and the batch body
``{"events": [...]}``.  This module loads it once (``importlib.resources``) and validates decoded
JSON against it with the ``jsonschema`` library, turning its errors into short messages that name
the field, e.g. ``"events[2].event_data.currency must be 3 uppercase letters, got 'usd'"``.

The local collector (:mod:`aae_tracking_plugins.collector`) validates every request body with
:func:`validate_payload`; docs/events.md renders its event reference from the schema
(``scripts/render_event_reference.py``).

How the schema is read here, beyond plain ``Draft202012Validator``:

* ``pattern`` and ``patternProperties`` are ECMA-262 regular expressions (JSON Schema 2020-12,
  section 6.4), where ``$`` is the end of the text.  Python's ``re`` also lets ``$`` match before
  a final newline, so a trailing ``$`` is read as ``\\Z`` (``"lp_1\\n"`` is not an id) by
  ``pattern``, ``patternProperties`` and ``additionalProperties``.
* ``maximum`` also refuses NaN (which no JSON text can hold, but a Python caller can pass):
  the schema spells "finite number" as ``maximum: 1.7976931348623157e+308``.
* ``format: "date-time"`` is asserted: the ``Timestamp`` pattern checks the shape, and this
  checks it is a real calendar date (no 30 February).
* The non-standard keyword ``x-error`` of a subschema is the readable rule reported when an
  instance breaks that subschema (except for its ``type``, which gets the generic
  ``must be a string, got 5``, and ``required``); on an object schema it says why a key is
  unknown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from referencing import Registry, Resource

from aae_tracking_plugins.core.contract_messages import (
    compiled_pattern,
    field_problems,
    problems,
    unknown_keys,
)

__all__ = [
    "SCHEMA_RESOURCE",
    "STANDARD_EVENT_TYPES",
    "event_type_problem",
    "load_schema",
    "payload_problems",
    "schema_text",
    "validate_event",
    "validate_payload",
]

#: Where the schema is, relative to the ``aae_tracking_plugins`` package directory.
SCHEMA_RESOURCE: Final = "schema/events.schema.json"

_CALENDAR_PART = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")


# --------------------------------------------------------------------------- the schema


@lru_cache(maxsize=1)
def schema_text() -> str:
    """The schema file's text, exactly as shipped (read once from the installed package).

    Returns:
        The UTF-8 text of ``aae_tracking_plugins/core/schema/events.schema.json``.

    Raises:
        OSError: the package was installed without its data file (a broken install).
    """
    return resources.files("aae_tracking_plugins.core").joinpath(SCHEMA_RESOURCE).read_text("utf-8")


def load_schema() -> dict[str, Any]:
    """A fresh copy of the decoded schema (the caller may change it freely).

    Returns:
        The JSON Schema as a dict: ``$defs`` holds ``Event``, ``Batch``, one ``<Type>Data`` per
        standard event type, ``CustomEventData`` and the shared field definitions.

    Raises:
        OSError: as :func:`schema_text`.
    """
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


@lru_cache(maxsize=1)
def _schema() -> Mapping[str, Any]:
    """The decoded schema shared by this module's validators (never handed out)."""
    return load_schema()


def _standard_event_types() -> tuple[str, ...]:
    return tuple(str(name) for name in _schema()["$defs"]["StandardEventType"]["enum"])


#: The event types the tracker sends itself, from the schema's ``StandardEventType``.
STANDARD_EVENT_TYPES: Final[tuple[str, ...]] = _standard_event_types()


# --------------------------------------------------------------------------- the validators


# Keyword callbacks get the running validator (a class made by ``extend``, typed Any here).
def _pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not compiled_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any,
    pattern_properties: Mapping[str, Any],
    instance: object,
    schema: Mapping[str, Any],
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if compiled_pattern(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    extras = unknown_keys(instance, schema)
    if additional is False:
        if extras:
            yield ValidationError(f"Additional properties are not allowed ({extras!r} unexpected)")
    elif isinstance(additional, dict):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)


def _maximum(
    validator: Any, maximum: float, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, bool) or not isinstance(instance, (int, float)):
        return
    if math.isnan(instance) or instance > maximum:
        yield ValidationError(f"{instance!r} is greater than the maximum of {maximum!r}")


def _is_calendar_date(instance: object) -> bool:
    """``format: date-time``: the date and time a ``Timestamp`` names exist."""
    if not isinstance(instance, str):
        return True
    match = _CALENDAR_PART.match(instance)
    if match is None:
        return True  # the shape is the pattern's business
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_calendar_date)
    return checker


# types-jsonschema leaves extend() unannotated; it returns a Draft202012Validator-like class.
_ContractValidator: type[Validator] = extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
        "maximum": _maximum,
    },
)


@cache
def _validator(definition: str | None) -> Validator:
    """A validator for the whole body (``None``) or for one ``$defs`` entry (e.g. ``"Event"``)."""
    schema = _schema()
    base = str(schema["$id"])
    registry: Registry[Any] = Registry().with_resource(base, Resource.from_contents(schema))
    # The root is validated as itself: a {"$ref"} to a resource that declares "$schema" would
    # switch to jsonschema's own validator class for that dialect, without this module's keywords.
    entry = schema if definition is None else {"$ref": f"{base}#/$defs/{definition}"}
    validator: Validator = _ContractValidator(
        entry, registry=registry, format_checker=_format_checker()
    )
    return validator


# --------------------------------------------------------------------------- public API


def validate_event(obj: object) -> list[str]:
    """Check one decoded event against the schema's ``Event`` definition.

    Args:
        obj: a decoded JSON value (``json.loads`` output) meant to be one event.

    Returns:
        Human-readable problems, each naming its field and, for a value, what it was, e.g.
        ``"session_id is required (missing)"``, ``"extra is not allowed (unknown key)"``,
        ``"event_data.value must be a number, got '49.99'"``,
        ``"event_data.currency must be 3 uppercase letters, got 'usd'"``.  At most one problem
        per field, in the schema's order.  An empty list means the event is valid.

    Raises:
        Nothing for any input; OSError only when the installed package lacks its schema file.

    The rules are those of ``aae_tracking_plugins/core/schema/events.schema.json`` (rendered in
    docs/events.md, "Event reference"), read as this module's docstring says.
    """
    return problems(_validator("Event").iter_errors(cast(Any, obj)), "event")


def validate_payload(obj: object) -> list[str]:
    """Check one decoded request body: a single event, or a batch ``{"events": [...]}``.

    Args:
        obj: the decoded JSON body.  A JSON object with an ``events`` key is a batch (no other
            key, 1-100 events); anything else is checked as one event (:func:`validate_event`).

    Returns:
        Human-readable problems (empty list = valid).  A batch event's problems carry its index,
        e.g. ``"events[2].event_id is required (missing)"``; batch-level ones name ``events``
        (``"events must hold 1-100 events, got 0"``) or the unknown key.  A batch with any
        problem is refused whole by the collector.

    Raises:
        Nothing for any input; OSError only when the installed package lacks its schema file.

    The rules are those of the schema's root (``Batch`` or ``Event``).
    """
    return problems(_validator(None).iter_errors(cast(Any, obj)), "event")


def payload_problems(obj: object) -> list[tuple[str, str]]:
    """:func:`validate_payload`'s problems with the field each one names.

    Args:
        obj: the decoded JSON body.

    Returns:
        ``(field, message)`` pairs in :func:`validate_payload`'s order, e.g.
        ``("events[2].event_id", "events[2].event_id is required (missing)")``; the field is
        ``"event"`` for a problem of the whole body. Empty when valid.

    Raises:
        Nothing for any input; OSError only when the installed package lacks its schema file.
    """
    return field_problems(_validator(None).iter_errors(cast(Any, obj)), "event")


def event_type_problem(name: object) -> str | None:
    """Why ``name`` cannot be an ``event_type`` (standard or custom), or None when it can.

    Args:
        name: a candidate ``event_type`` value.

    Returns:
        None for the five standard types and for any custom event name the schema allows
        (``EventType``: ``^[A-Za-z][A-Za-z0-9_]{0,49}$``); otherwise a message such as
        ``"event_type must be one of 'PageView', ... , got 'no such'"``.

    Raises:
        Nothing.
    """
    found = problems(_validator("EventType").iter_errors(cast(Any, name)), "event_type")
    return found[0] if found else None
