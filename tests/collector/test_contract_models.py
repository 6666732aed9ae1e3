"""The pydantic models of the stored collector (aae_tracking_plugins/collector/models.py) against
the one event contract, core/schema/events.schema.json: the same fields and required keys in every
definition, and, as a hypothesis property over valid and broken events, the same verdict as
aae_tracking_plugins.core.contract for every body."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from aae_tracking_plugins.collector.models import (
    DATA_MODELS,
    Batch,
    CustomEventData,
    Event,
    valid_events,
)
from aae_tracking_plugins.core.contract import (
    STANDARD_EVENT_TYPES,
    load_schema,
    validate_payload,
)
from tests.collector_helpers import fuzz_settings
from tests.events import TS, make_event

SCHEMA = load_schema()
DEFS = SCHEMA["$defs"]


def ref_name(subschema: dict[str, Any]) -> str:
    return str(subschema["$ref"]).rsplit("/", 1)[1]


def required_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, info in model.model_fields.items() if info.is_required()}


MODELS_BY_DEFINITION: dict[str, type[BaseModel]] = {
    "Event": Event,
    "Batch": Batch,
    **{model.__name__: model for model in DATA_MODELS.values()},
    "CustomEventData": CustomEventData,
}


@pytest.mark.parametrize("definition", sorted(MODELS_BY_DEFINITION))
def test_each_model_has_the_fields_and_required_keys_of_its_definition(definition: str) -> None:
    model = MODELS_BY_DEFINITION[definition]
    schema = DEFS[definition]
    assert set(model.model_fields) == set(schema["properties"])
    assert required_fields(model) == set(schema["required"])
    assert schema["additionalProperties"] is False
    expected_extra = "allow" if "patternProperties" in schema else "forbid"
    assert model.model_config.get("extra") == expected_extra


def test_the_event_type_selects_the_data_model_the_schema_names() -> None:
    selected = {}
    for rule in DEFS["Event"]["allOf"]:
        condition = rule["if"]["properties"]["event_type"]
        target = ref_name(rule["then"]["properties"]["event_data"])
        selected[condition.get("const", "custom")] = target
    assert {kind: model.__name__ for kind, model in DATA_MODELS.items()} == {
        kind: name for kind, name in selected.items() if kind != "custom"
    }
    assert selected["custom"] == CustomEventData.__name__
    assert tuple(DATA_MODELS) == STANDARD_EVENT_TYPES


# ----------------------------------------------------------------------- the same verdict

STRINGS = [
    "", "a", "a\n", "\n", " ", "lp_1", "LP-1.x:y", "x" * 64, "x" * 65, "é", "١٢٣", "sess_1_a",
    "sess_1_A", "sess__a", "sess_1_a\n", "1920x1080", "1920X1080", "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z", "2024-11-30T10:00:00.000+00:00", "2024-11-30T10:00:00+01:00",
    "2024-11-30T24:00:00Z", "2024-11-30T10:00:00.1234567891Z", "2024-11-30T10:00:00", TS,
    "https://x.test/", "HTTP://x", "https:///x", "https://x y", "https://x\u0085y", "usd", "USD",
    "good", "poor", "bad", "Lead", "PageView", "a" * 201, "a" * 256, "a" * 257, "\x7f", "\u00a0",
]  # fmt: skip
NUMBERS = [0, -0.0, -1, 1, 99, 100, 101, 999, 1000, 1000.0, 1000.5, 1e308, 2**70, 0.1, -1e308]
OTHERS = [True, False, None, {}, [], {"a": 1}, ["x"]]
VALUES = st.one_of(
    st.sampled_from(STRINGS),
    st.sampled_from(NUMBERS),
    st.sampled_from(OTHERS),
    st.text(max_size=4),
    st.integers(-5, 2000),
    st.floats(allow_nan=False, allow_infinity=False),
)
VITALS = ["lcp", "cls", "inp", "fcp", "ttfb"]


def base_event(kind: str) -> dict[str, Any]:
    """A valid event of ``kind`` (a standard type or a custom name, then with custom data)."""
    if kind in ("PageView", "AddToCart", "Purchase"):
        return make_event(kind)
    event = make_event("PageView", event_type=kind)
    if kind == "Engagement":
        event["event_data"] = {"url": "https://x.test/", "timestamp": TS, "engaged_ms": 1500,
                               "scroll_depth": 40}  # fmt: skip
    elif kind == "WebVitals":
        event["event_data"] = {"url": "https://x.test/", "timestamp": TS, "lcp": 1200.5,
                               "lcp_rating": "good"}  # fmt: skip
    else:
        event["event_data"] = {"url": "https://x.test/", "timestamp": TS}
    return event


GOOD_NAMES = ["Lead", "video_play", "PageView2", "a" * 50]
BAD_NAMES = ["1bad", "", "a" * 51, "Sign-Up"]
GOOD_PROP_KEYS = ["a", "plan", "url2", "x" * 40, "a1_2"]
BAD_PROP_KEYS = ["Bad", "x" * 41, "_a", "a-b", "é", "url", "variant"]
TIMESTAMPS = [TS, "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
              "2024-11-30T10:00:00.000+00:00", "2024-11-30T10:00:00+01:00", "2024-11-30T10:00:00",
              "2024-11-30T24:00:00Z", "2024-11-30T10:00:00.1234567891Z", "2024-11-30T10:00:00Z\n",
              "2024-13-01T00:00:00Z", "2024-11-30T10:00:60Z"]  # fmt: skip
IDS = ["lp_1", "LP-1.x:y", "x" * 64, "x" * 65, "-a", "a b", "a\n", "é", "", None]
NUMBERS_AT_EDGES = [0, -0.0, -1, 99, 100, 101, 999, 1000, 1000.0, 1000.5, 1e308, 2**70, 0.1,
                    -1e308, True, "1000", None]  # fmt: skip
#: Values to put in a field, by its name: the edges of its rule (the rest: :data:`VALUES`).
FIELD_VALUES: dict[str, list[Any]] = {
    "timestamp": TIMESTAMPS,
    "event_id": ["", "a", "a" * 256, "a" * 257, "a\n", "x\x7f", "x\u0085", "x\u00a0", 5],
    "landing_page_id": IDS, "campaign_id": IDS, "variant": IDS,
    "session_id": ["sess_1_a", "sess_1_A", "sess__a", "sess_1_a\n", "sess_\u0661_a", "sess_1_"],
    "screen_resolution": ["1x1", "1920X1080", "x1", "1920x1080\n", "\u0661x1"],
    "url": ["https://x.test/", "HTTP://x", "https:///x", "https://x y", "https://x\u0085y",
            "ftp://x", "https://", "https://x\u2028"],
    "event_type": [*STANDARD_EVENT_TYPES, *GOOD_NAMES, *BAD_NAMES, "pageview"],
    "currency": ["USD", "usd", "US", "USDD", "ÜSD", "USD\n"],
    "fbp": ["", "f", "x" * 500, "x" * 501], "fbc": ["", "f", "x" * 500, "x" * 501],
    "button_id": [None, "", "x", 1], "order_id": [None, "", "x", 1], "button_text": ["", 1, None],
    "referrer": ["", "x", None], "user_agent": ["", "x", None, 1],
    "event_data": [{}, [], "x", None],
    **{name: NUMBERS_AT_EDGES for name in
       ("value", "engaged_ms", "scroll_depth", "lcp", "cls", "inp", "fcp", "ttfb")},
    **{f"{name}_rating": ["good", "poor", "needs-improvement", "bad", None] for name in VITALS},
}  # fmt: skip


def change_fields(draw: st.DrawFn, event: dict[str, Any], count: int) -> None:
    """Change, remove or add ``count`` fields of ``event`` or of its ``event_data``."""
    for _ in range(count):
        target = event if draw(st.booleans()) else event.get("event_data")
        if not isinstance(target, dict):
            return
        key = draw(st.sampled_from([*target, "extra", "Bad Key", "p_new", "lcp_rating", "value"]))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        # Copies: a drawn {} that becomes event_data is changed later in this loop, and the
        # module's sample lists must stay as they are for the next example (else Hypothesis
        # sees a strategy that draws differently each time: FlakyStrategyDefinition).
        elif key in FIELD_VALUES and draw(st.integers(0, 4)):
            target[key] = copy.deepcopy(draw(st.sampled_from(FIELD_VALUES[key])))
        else:
            target[key] = copy.deepcopy(draw(VALUES))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Events near the contract's edges. Half are drawn ``careful``: valid choices only (but
    for 21 props or a metric without its rating, now and then), then at most one field
    changed; the others from valid and invalid choices alike, up to three fields changed."""
    careful = draw(st.booleans())

    def pick(good: list[Any], bad: list[Any]) -> Any:
        return draw(st.sampled_from(good if careful else good + bad))

    kind = pick([*STANDARD_EVENT_TYPES, *GOOD_NAMES], BAD_NAMES)
    event = base_event(kind)
    data = event["event_data"]
    for key in draw(st.sets(st.sampled_from(["variant", "fbp", "fbc"]))):
        data[key] = pick(["b", "x" * 64] if key == "variant" else ["f", "x" * 500], ["", None, 1])
    if kind == "WebVitals":
        for name in draw(st.sets(st.sampled_from(VITALS))):
            data[name] = pick([0, 12.5, 1e308, 3], [-1, "1", None])
            if draw(st.integers(0, 19)) == 0:
                continue  # a metric without its rating
            data[f"{name}_rating"] = pick(["good", "poor", "needs-improvement"], ["bad", None])
    elif kind not in STANDARD_EVENT_TYPES:
        count = draw(st.sampled_from([0, 1, 3, 20, 20, 21]))
        for index in range(count):
            key = pick(GOOD_PROP_KEYS, BAD_PROP_KEYS) if index < 3 else f"p{index}"
            data[key] = pick(["v", "v" * 200, 0, -1.5, 1e308, 2**70], ["v" * 201, True, None, []])
    change_fields(draw, event, draw(st.sampled_from([0, 1]) if careful else st.integers(0, 3)))
    return event


def bodies() -> st.SearchStrategy[object]:
    """One event, a batch of 0-3 of them, or a batch with another key."""
    return st.one_of(
        events(),
        st.lists(events(), max_size=2).map(lambda items: {"events": items}),
        st.lists(events(), min_size=1, max_size=2).map(lambda items: {"events": items, "x": 1}),
        VALUES,
    )


@fuzz_settings(3000)
@given(bodies())
def test_the_models_and_the_contract_give_the_same_verdict(body: object) -> None:
    untouched = copy.deepcopy(body)
    by_contract = validate_payload(body)
    by_models = valid_events(body)
    assert (by_models is not None) == (by_contract == []), by_contract
    assert body == untouched  # neither changes what it checks


def test_every_edge_value_of_every_field_gets_the_same_verdict() -> None:
    """Each value of :data:`FIELD_VALUES` in each field of a valid event of each kind (and each
    field removed): the verdicts agree, case by case (the rare edges hypothesis may miss)."""
    disagreements = []
    cases = 0
    for kind in [*STANDARD_EVENT_TYPES, "Lead"]:
        base = base_event(kind)
        data_keys = [*base["event_data"], "variant", "fbp", "fbc", "lcp", "lcp_rating", "plan"]
        for where, keys in (("top", list(base)), ("data", data_keys)):
            for key in keys:
                for value in [*FIELD_VALUES.get(key, ["x", 1]), "<removed>"]:
                    event = copy.deepcopy(base)
                    target = event if where == "top" else event["event_data"]
                    if value == "<removed>":
                        target.pop(key, None)
                    else:
                        target[key] = value
                    cases += 1
                    by_contract = validate_payload(event)
                    if (valid_events(event) is not None) != (by_contract == []):
                        disagreements.append(f"{kind} {where}.{key}={value!r}: {by_contract}")
    assert cases > 500
    assert disagreements == []


@pytest.mark.parametrize("count", [1, 100, 101])
def test_the_batch_size_limits(count: int) -> None:
    body = {"events": [make_event("PageView") for _ in range(count)]}
    assert (valid_events(body) is not None) == (count <= 100) == (validate_payload(body) == [])
