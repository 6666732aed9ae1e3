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
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from referencing import Registry, Resource

__all__ = [
    "SCHEMA_RESOURCE",
    "STANDARD_EVENT_TYPES",
    "event_type_problem",
    "load_schema",
    "schema_text",
    "validate_event",
    "validate_payload",
]

#: Where the schema is, relative to the ``aae_tracking_plugins`` package directory.
SCHEMA_RESOURCE: Final = "schema/events.schema.json"

_DBL_MAX: Final = 1.7976931348623157e308
_TYPE_WORDS: Final[Mapping[str, str]] = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
    "object": "a JSON object",
    "array": "an array",
}
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


def _strict_end(pattern: str) -> str:
    """``pattern`` with an unescaped trailing ``$`` turned into ``\\Z`` (the ECMA-262 meaning)."""
    if pattern.endswith("$"):
        backslashes = len(pattern) - 1 - len(pattern[:-1].rstrip("\\"))
        if backslashes % 2 == 0:
            return pattern[:-1] + r"\Z"
    return pattern


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_strict_end(pattern))


# Keyword callbacks get the running validator (a class made by ``extend``, typed Any here).


def _pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _compiled(pattern).search(instance):
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
            if _compiled(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _unknown_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties`` name."""
    known = schema.get("properties", {})
    patterns = [_compiled(pattern) for pattern in schema.get("patternProperties", {})]
    return [
        key
        for key in instance
        if key not in known and not any(pattern.search(key) for pattern in patterns)
    ]


def _additional_properties(
    validator: Any, additional: Any, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    extras = _unknown_keys(instance, schema)
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


# --------------------------------------------------------------------------- messages


def _show(value: object, limit: int = 80) -> str:
    """``repr`` of a value, shortened for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    """The JSON name of a decoded JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _where(error: ValidationError, root: str) -> str:
    where = ""
    for key in error.absolute_path:
        where = _join(where, key)
    return where or root


def _number(value: object) -> str:
    return repr(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)


def _generic_rule(keyword: str, value: Any, schema: Mapping[str, Any]) -> str | None:
    """``must ...`` for a keyword without an ``x-error``; None when there is no short wording."""
    if keyword in ("minLength", "maxLength"):
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None and high is not None:
            return f"must be {low}-{high} characters"
        if high is None:
            return f"must be at least {low} characters"
        return f"must be at most {high} characters"
    if (keyword, value) in (("maximum", _DBL_MAX), ("minimum", -_DBL_MAX)):
        return "must be a finite number"
    rules = {
        "minimum": lambda: f"must be >= {_number(value)}",
        "maximum": lambda: f"must be <= {_number(value)}",
        "exclusiveMinimum": lambda: f"must be > {_number(value)}",
        "exclusiveMaximum": lambda: f"must be < {_number(value)}",
        "pattern": lambda: f"must match {value}",
        "enum": lambda: "must be one of " + ", ".join(_show(item) for item in value),
        "const": lambda: f"must be {_show(value)}",
        "minItems": lambda: f"must hold at least {value} items",
        "maxItems": lambda: f"must hold at most {value} items",
        "minProperties": lambda: f"must have at least {value} keys",
        "maxProperties": lambda: f"must have at most {value} keys",
        "format": lambda: f"must be a valid {value}",
    }
    rule = rules.get(keyword)
    return rule() if rule is not None else None


def _got(keyword: str, instance: object, custom_rule: bool) -> str | None:
    """What the message says the instance was (None: nothing worth showing)."""
    if keyword in ("minItems", "maxItems") and isinstance(instance, list):
        return str(len(instance))
    if keyword in ("minProperties", "maxProperties") and isinstance(instance, dict):
        return f"{len(instance)} keys"
    if keyword in ("minLength", "maxLength") and isinstance(instance, str) and not custom_rule:
        return str(len(instance))
    if isinstance(instance, dict):
        return None
    if isinstance(instance, list):
        return f"an array of {len(instance)}"
    return _show(instance)


def _describe(error: ValidationError, root: str) -> Iterator[tuple[str, str]]:
    """``(field, message)`` pairs for one error (object keywords name each key they concern)."""
    where = _where(error, root)
    keyword, instance = str(error.validator), error.instance
    value: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    base = "" if where == root else where

    if keyword == "required" and isinstance(instance, dict):
        for key in value:
            if key not in instance:
                field = _join(base, key)
                yield field, f"{field} is required (missing)"
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        why = schema.get("x-error")
        hint = f"; {why}" if isinstance(why, str) else ""
        for key in _unknown_keys(instance, schema):
            field = _join(base, key)
            yield field, f"{field} is not allowed (unknown key{hint})"
        return
    if keyword == "dependentRequired" and isinstance(instance, dict):
        for key, needed in value.items():
            for other in needed:
                if key in instance and other not in instance:
                    field = _join(base, other)
                    yield field, f"{field} is required when {_join(base, key)} is present"
        return

    custom = schema.get("x-error")
    if keyword == "type":
        types = [value] if isinstance(value, str) else list(value)
        words = " or ".join(_TYPE_WORDS.get(name, name) for name in types)
        container = "object" in types or "array" in types or isinstance(instance, (dict, list))
        got = _type_name(instance) if container else _show(instance)
        yield where, f"{where} must be {words}, got {got}"
        return
    rule = custom if isinstance(custom, str) else _generic_rule(keyword, value, schema)
    if rule is None and error.context:  # anyOf / oneOf without an x-error: the likeliest branch
        best = best_match(error.context)
        if best is not None:
            yield from _describe(best, root)
            return
    shown = _got(keyword, instance, custom_rule=isinstance(custom, str))
    text = f"{where} {rule or error.message}"
    yield where, text if shown is None else f"{text}, got {shown}"


def _problems(errors: Iterable[ValidationError], root: str) -> list[str]:
    """One message per field, in the schema's order (required keys first, then each field)."""
    seen: set[str] = set()
    problems: list[str] = []
    for error in errors:
        for field, message in _describe(error, root):
            if field not in seen:
                seen.add(field)
                problems.append(message)
    return problems


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
    return _problems(_validator("Event").iter_errors(cast(Any, obj)), "event")


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
    return _problems(_validator(None).iter_errors(cast(Any, obj)), "event")


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
    problems = _problems(_validator("EventType").iter_errors(cast(Any, name)), "event_type")
    return problems[0] if problems else None
