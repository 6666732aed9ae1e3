"""The event contract as pydantic models: the stored collector's fast check, and types to build on.

The one definition of an event is the JSON Schema ``core/schema/events.schema.json``
(:mod:`aae_tracking_plugins.core.contract` validates with it and names each bad field). Python's
``jsonschema`` takes about 1.5 ms per event with it, too slow for a collector's hot path, so
these models mirror the schema: the same fields, the same required keys, no other keys, and the
patterns, lengths, bounds and enums read from the schema file at import, matched with the same
regular expressions as :mod:`~aae_tracking_plugins.core.contract` (a strict end: ``$`` is
``\\Z``). They validate an event in tens of microseconds.

How the collector uses them (:mod:`.intake`): an event these models accept is accepted; anything
they refuse goes to :func:`~aae_tracking_plugins.core.contract.validate_payload`, which has the
last word and names each bad field. tests/collector/test_models.py checks that both agree: the
fields and required keys of every definition, and a hypothesis property over valid and broken
events. A change to the schema that the models do not follow fails that test.

Numbers follow JSON Schema, not Python: ``number`` is any int or float but not a bool;
``integer`` is an int or a float without a fraction (``1000.0``); the schema's
``maximum: 1.7976931348623157e+308`` means "finite".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aae_tracking_plugins.core.contract import STANDARD_EVENT_TYPES, load_schema
from aae_tracking_plugins.core.contract_messages import DBL_MAX, compiled_pattern

__all__ = [
    "DATA_MODELS",
    "AddToCartData",
    "Batch",
    "CustomEventData",
    "EngagementData",
    "Event",
    "EventData",
    "PageViewData",
    "PurchaseData",
    "WebVitalsData",
    "valid_events",
]

_DEFS: Final[Mapping[str, Any]] = load_schema()["$defs"]
_EVENT_PROPS: Final[Mapping[str, Any]] = _DEFS["Event"]["properties"]


# --------------------------------------------------------------------------- value checks
# Plain validators: pydantic calls them with the decoded JSON value and they decide alone, so
# no coercion of pydantic's can differ from JSON Schema's rules. Absent optional keys keep the
# field's default (None) without a call; an explicit null reaches the check and is refused.


def _string(min_length: int = 0, max_length: int | None = None, pattern: str | None = None) -> Any:
    """A str field with the schema's ``minLength`` / ``maxLength`` / ``pattern``."""
    compiled = compiled_pattern(pattern) if pattern is not None else None

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if len(value) < min_length or (max_length is not None and len(value) > max_length):
            raise ValueError("wrong length")
        if compiled is not None and not compiled.search(value):
            raise ValueError("does not match the pattern")
        return value

    return PlainValidator(check)


def _string_def(definition: Mapping[str, Any]) -> Any:
    """:func:`_string` with the constraints of a schema definition of type string."""
    return _string(
        definition.get("minLength", 0), definition.get("maxLength"), definition.get("pattern")
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(minimum: float = -math.inf, *, integer: bool = False, maximum: float = DBL_MAX) -> Any:
    """A JSON number (or integer) field ``minimum <= value <= maximum``; NaN never passes."""

    def check(value: object) -> float:
        if not _is_number(value):
            raise ValueError("must be a number")
        assert isinstance(value, (int, float))
        if integer and isinstance(value, float) and not value.is_integer():
            raise ValueError("must be an integer")
        if not minimum <= value <= maximum:  # False for NaN
            raise ValueError("out of range")
        return value

    return PlainValidator(check)


def _nullable(check: Any) -> Any:
    """``check`` that also lets null through (``"type": ["string", "null"]``)."""
    function: Callable[[object], object] = check.func

    def nullable(value: object) -> object:
        return None if value is None else function(value)

    return PlainValidator(nullable)


def _enum(values: tuple[str, ...]) -> Any:
    def check(value: object) -> str:
        if not isinstance(value, str) or value not in values:
            raise ValueError(f"must be one of {values}")
        return value

    return PlainValidator(check)


_CALENDAR = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")


def _timestamp() -> Any:
    """The ``Timestamp`` definition: its pattern, its UTC pattern, a real calendar date."""
    definition = _DEFS["Timestamp"]
    patterns = [definition["pattern"], *(part["pattern"] for part in definition["allOf"])]
    check_string = _string(pattern=patterns[0]).func
    others = [compiled_pattern(pattern) for pattern in patterns[1:]]

    def check(value: object) -> str:
        text: str = check_string(value)
        if not all(pattern.search(text) for pattern in others):
            raise ValueError("must be in UTC")
        match = _CALENDAR.match(text)
        if match is not None:  # format: date-time (core.contract asserts it)
            year, month, day, hour, minute, second = (int(part) for part in match.groups())
            datetime(year, month, day, hour, minute, second)  # ValueError: no such date
        return text

    return PlainValidator(check)


_Id = _string_def(_DEFS["Id"])
_Variant = _string_def(_DEFS["Variant"])
_Url = _string_def(_DEFS["HttpUrl"])
_Timestamp = _timestamp()
_FacebookValue = _string_def(_DEFS["FacebookValue"])
_UtmValue = _string_def(_DEFS["UtmValue"])
_Measurement = _number(_DEFS["Measurement"]["minimum"])
_Rating = _enum(tuple(_DEFS["Rating"]["enum"]))
_AnyString = _string()
_NullableString = _nullable(_string())

Id = Annotated[str, _Id]
Url = Annotated[str, _Url]
Timestamp = Annotated[str, _Timestamp]
OptionalVariant = Annotated[str | None, _Variant]
OptionalFacebookValue = Annotated[str | None, _FacebookValue]
OptionalUtmValue = Annotated[str | None, _UtmValue]
OptionalMeasurement = Annotated[float | None, _Measurement]
OptionalRating = Annotated[str | None, _Rating]


# --------------------------------------------------------------------------- event_data


class _Data(BaseModel):
    """What every ``event_data`` has: ``timestamp``, and ``variant`` / ``fbp`` / ``fbc`` when
    set; no key the schema does not name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: Timestamp
    variant: OptionalVariant = None
    fbp: OptionalFacebookValue = None
    fbc: OptionalFacebookValue = None


class _Campaign(_Data):
    """A standard event's ``event_data``: also the session's UTM parameters when it has them
    (schema ``UtmValue``; a custom event carries them as props)."""

    utm_source: OptionalUtmValue = None
    utm_medium: OptionalUtmValue = None
    utm_campaign: OptionalUtmValue = None
    utm_term: OptionalUtmValue = None
    utm_content: OptionalUtmValue = None


class PageViewData(_Campaign):
    """``event_data`` of a PageView (schema ``PageViewData``)."""

    url: Url
    referrer: Annotated[str, _AnyString]


class AddToCartData(_Campaign):
    """``event_data`` of an AddToCart (schema ``AddToCartData``); ``button_id`` may be null."""

    button_text: Annotated[str, _AnyString]
    button_id: Annotated[str | None, _NullableString]


class PurchaseData(_Campaign):
    """``event_data`` of a Purchase (schema ``PurchaseData``): ``value`` in ``currency``."""

    value: Annotated[float, _number(_DEFS["PurchaseData"]["properties"]["value"]["minimum"])]
    currency: Annotated[str, _string_def(_DEFS["PurchaseData"]["properties"]["currency"])]
    order_id: Annotated[str | None, _NullableString]


_ENGAGEMENT: Final = _DEFS["EngagementData"]["properties"]


class EngagementData(_Campaign):
    """``event_data`` of an Engagement (schema ``EngagementData``)."""

    url: Url
    engaged_ms: Annotated[int, _number(_ENGAGEMENT["engaged_ms"]["minimum"], integer=True)]
    scroll_depth: Annotated[
        int,
        _number(
            _ENGAGEMENT["scroll_depth"]["minimum"],
            integer=True,
            maximum=_ENGAGEMENT["scroll_depth"]["maximum"],
        ),
    ]


#: The Web Vitals metrics, each with a ``<name>_rating`` (schema ``dependentRequired``).
WEB_VITALS: Final[tuple[str, ...]] = ("lcp", "cls", "inp", "fcp", "ttfb")


class WebVitalsData(_Campaign):
    """``event_data`` of a WebVitals event (schema ``WebVitalsData``): at least one metric, each
    with its rating and no rating without its metric."""

    url: Url
    lcp: OptionalMeasurement = None
    lcp_rating: OptionalRating = None
    cls: OptionalMeasurement = None
    cls_rating: OptionalRating = None
    inp: OptionalMeasurement = None
    inp_rating: OptionalRating = None
    fcp: OptionalMeasurement = None
    fcp_rating: OptionalRating = None
    ttfb: OptionalMeasurement = None
    ttfb_rating: OptionalRating = None

    @model_validator(mode="after")
    def _metrics_with_ratings(self) -> WebVitalsData:
        given = self.model_fields_set
        if not any(name in given for name in WEB_VITALS):
            raise ValueError("must have at least one metric")
        for name in WEB_VITALS:
            if (name in given) != (f"{name}_rating" in given):
                raise ValueError(f"{name} and {name}_rating go together")
        return self


_CUSTOM: Final = _DEFS["CustomEventData"]
((_PROP_KEY, _PROP),) = _CUSTOM["patternProperties"].items()
_PROP_KEY_PATTERN: Final = compiled_pattern(_PROP_KEY)
#: Most props a custom event carries (the schema's ``maxProperties`` minus its fixed keys).
MAX_PROPS: Final = 20


def _prop_value_ok(value: object) -> bool:
    if isinstance(value, str):
        return len(value) <= int(_PROP["maxLength"])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return bool(_PROP["minimum"] <= value <= _PROP["maximum"])


class CustomEventData(_Data):
    """``event_data`` of a custom event (schema ``CustomEventData``): ``url``, ``timestamp``
    and up to 20 props, each a key of its own (``model_extra``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    url: Url

    @model_validator(mode="after")
    def _props(self) -> CustomEventData:
        props = self.model_extra or {}
        if len(props) > MAX_PROPS:
            raise ValueError(f"at most {MAX_PROPS} props")
        for key, value in props.items():
            if not _PROP_KEY_PATTERN.search(key) or not _prop_value_ok(value):
                raise ValueError(f"bad prop {key!r}")
        return self


#: ``event_data`` by ``event_type``; any other (custom) type has :class:`CustomEventData`.
DATA_MODELS: Final[Mapping[str, type[_Data]]] = {
    "PageView": PageViewData,
    "AddToCart": AddToCartData,
    "Purchase": PurchaseData,
    "Engagement": EngagementData,
    "WebVitals": WebVitalsData,
}
assert tuple(DATA_MODELS) == STANDARD_EVENT_TYPES, "a standard event type without a model"

EventData = (
    PageViewData | AddToCartData | PurchaseData | EngagementData | WebVitalsData | CustomEventData
)


# --------------------------------------------------------------------------- events


class Event(BaseModel):
    """One event (schema ``Event``): the same top-level fields for every type, and the
    ``event_data`` model its ``event_type`` selects (:data:`DATA_MODELS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: Annotated[str, _string_def(_DEFS["EventType"])]
    event_id: Annotated[str, _string_def(_EVENT_PROPS["event_id"])]
    landing_page_id: Id
    campaign_id: Annotated[str | None, _nullable(_string_def(_EVENT_PROPS["campaign_id"]))]
    session_id: Annotated[str, _string_def(_EVENT_PROPS["session_id"])]
    event_data: EventData
    user_agent: Annotated[str, _AnyString]
    screen_resolution: Annotated[str, _string_def(_EVENT_PROPS["screen_resolution"])]
    timestamp: Timestamp

    @field_validator("event_data", mode="plain")
    @classmethod
    def _data_of_its_type(cls, value: object, info: ValidationInfo) -> _Data:
        event_type = info.data.get("event_type")
        if event_type is None:  # itself invalid: reported on its own
            raise ValueError("no valid event_type")
        return DATA_MODELS.get(event_type, CustomEventData).model_validate(value)


_BATCH_EVENTS: Final = _DEFS["Batch"]["properties"]["events"]


class Batch(BaseModel):
    """A batch body (schema ``Batch``): ``{"events": [...]}`` with 1-100 events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[Event]

    @field_validator("events", mode="after")
    @classmethod
    def _size(cls, events: list[Event]) -> list[Event]:
        if not _BATCH_EVENTS["minItems"] <= len(events) <= _BATCH_EVENTS["maxItems"]:
            raise ValueError("must hold 1-100 events")
        return events


def valid_events(body: object) -> list[Event] | None:
    """The events of a decoded request body when these models accept all of it, else None.

    Input: a decoded JSON body: an object with an ``events`` key is a :class:`Batch`, anything
    else one :class:`Event` (the schema's root ``if``/``then``/``else``). Output: the events in
    order, or None when the body breaks any rule (then ask
    :func:`~aae_tracking_plugins.core.contract.validate_payload` why). Never raises.
    """
    try:
        if isinstance(body, dict) and "events" in body:
            return Batch.model_validate(body).events
        return [Event.model_validate(body)]
    except (ValidationError, RecursionError):
        return None
