"""Readable messages for the event contract's JSON Schema errors: one line per field.

:func:`problems` turns ``jsonschema`` validation errors into messages that name the field and,
for a value, what it was (``"event_data.currency must be 3 uppercase letters, got 'usd'"``),
using a subschema's ``x-error`` text where the schema gives one. Used by
:mod:`aae_tracking_plugins.core.contract`, whose docstring describes how the schema is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Final

from jsonschema.exceptions import ValidationError, best_match

#: The largest finite double: the schema spells "finite number" as this ``maximum``.
DBL_MAX: Final = 1.7976931348623157e308
_TYPE_WORDS: Final[Mapping[str, str]] = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
    "object": "a JSON object",
    "array": "an array",
}


def _strict_end(pattern: str) -> str:
    """``pattern`` with an unescaped trailing ``$`` turned into ``\\Z`` (the ECMA-262 meaning)."""
    if pattern.endswith("$"):
        backslashes = len(pattern) - 1 - len(pattern[:-1].rstrip("\\"))
        if backslashes % 2 == 0:
            return pattern[:-1] + r"\Z"
    return pattern


@lru_cache(maxsize=256)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` (ECMA-262, as the schema writes it) compiled with a strict end (\\Z)."""
    return re.compile(_strict_end(pattern))


def unknown_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties`` name."""
    known = schema.get("properties", {})
    patterns = [compiled_pattern(pattern) for pattern in schema.get("patternProperties", {})]
    return [
        key
        for key in instance
        if key not in known and not any(pattern.search(key) for pattern in patterns)
    ]


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
    if (keyword, value) in (("maximum", DBL_MAX), ("minimum", -DBL_MAX)):
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
        for key in unknown_keys(instance, schema):
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


def field_problems(errors: Iterable[ValidationError], root: str) -> list[tuple[str, str]]:
    """``(field, message)`` for each field, in the schema's order (required keys first, then
    each field); ``field`` is the path the message starts with (``root`` for the instance)."""
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for error in errors:
        for field, message in _describe(error, root):
            if field not in seen:
                seen.add(field)
                found.append((field, message))
    return found


def problems(errors: Iterable[ValidationError], root: str) -> list[str]:
    """One message per field, in the schema's order (required keys first, then each field)."""
    return [message for _, message in field_problems(errors, root)]
