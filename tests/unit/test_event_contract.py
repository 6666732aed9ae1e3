"""The event contract: core/schema/events.schema.json and its readable validation.

Every rule of the contract has a valid and an invalid example here, checked twice: with
aae_tracking_plugins.core.contract (the collector's path, whose messages name the field) and
plain ``jsonschema`` against the shipped file (so the schema itself carries the rule).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from aae_tracking_plugins.collector import EventCollector, validate_event, validate_payload
from aae_tracking_plugins.core import contract, plan, values
from tests.conftest import SCHEMA_FILE, schema_problems
from tests.sites import ROOT

RENDER = ROOT / "scripts" / "render_event_reference.py"
DOCS = ROOT / "docs" / "events.md"
TS = "2026-03-02T09:15:04.120Z"
URL = "https://desk.example.com/?utm_source=newsletter"

SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text("utf-8"))
PLAIN = Draft202012Validator(SCHEMA)  # jsonschema alone, without contract.py's reading

DATA: dict[str, dict[str, Any]] = {
    "PageView": {"url": URL, "referrer": "", "timestamp": TS},
    "AddToCart": {"button_text": "Reserve yours", "button_id": None, "timestamp": TS},
    "Purchase": {"value": 399, "currency": "EUR", "order_id": "ORD-1001", "timestamp": TS},
    "Engagement": {"url": URL, "timestamp": TS, "engaged_ms": 15320, "scroll_depth": 75},
    "WebVitals": {
        "url": URL,
        "timestamp": TS,
        **{"lcp": 1840.5, "lcp_rating": "good", "cls": 0.12, "cls_rating": "needs-improvement"},
        **{"inp": 520, "inp_rating": "poor", "fcp": 900, "fcp_rating": "good"},
        **{"ttfb": 0, "ttfb_rating": "good"},
    },
    "Lead": {"url": URL, "timestamp": TS, "plan": "pro", "seats": 3},
}
TYPES = list(DATA)


def event(kind: str = "PageView", /, **data: Any) -> dict[str, Any]:
    """A valid event of ``kind`` (a custom name gets the Lead data); ``data`` changes
    ``event_data`` (a value of ``...`` deletes the key)."""
    event_data = copy.deepcopy(DATA.get(kind, DATA["Lead"]))
    for key, value in data.items():
        if value is ...:
            del event_data[key]
        else:
            event_data[key] = value
    return {
        "event_type": kind,
        "event_id": "3b0c6f0e-8f5d-4f7e-9d61-0c2a51a3c9b4",
        "landing_page_id": "lp_spring_desk",
        "campaign_id": "camp_spring_2026",
        "session_id": "sess_1772442904120_k3v9q0m2a7c1d8e4",
        "event_data": event_data,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "screen_resolution": "1920x1080",
        "timestamp": TS,
    }


def props(n: int) -> dict[str, Any]:
    """``n`` props for :func:`event` ("Lead", ...), replacing the example's own two."""
    return {"plan": ..., "seats": ..., **{f"p{i}": i for i in range(n)}}


def assert_valid(body: Any) -> None:
    assert validate_payload(body) == []
    assert PLAIN.is_valid(body)


def assert_invalid(body: Any, expected: str, *, plain: bool = True) -> list[str]:
    """``body`` is refused, with a problem containing ``expected`` (which names the field); by
    plain jsonschema too unless ``plain`` is false (a rule only contract.py reads into the
    schema: ECMA-262 ``$``, NaN, calendar dates)."""
    problems = validate_payload(body)
    assert any(expected in problem for problem in problems), problems
    assert PLAIN.is_valid(body) is not plain
    return problems


# --------------------------------------------------------------------------- the schema itself


def test_schema_is_a_valid_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_the_package_loads_the_shipped_file() -> None:
    assert contract.schema_text() == SCHEMA_FILE.read_text("utf-8")
    assert contract.load_schema() == SCHEMA
    copy_ = contract.load_schema()
    copy_["$defs"].clear()  # a caller's copy is its own
    assert contract.load_schema() == SCHEMA


def _properties(node: Any, where: str = "") -> list[tuple[str, Any]]:
    found = []
    if isinstance(node, dict):
        for kind in ("properties", "patternProperties"):
            for name, sub in node.get(kind, {}).items():
                found.append((f"{where}/{kind}/{name}", sub))
        for key, value in node.items():
            found.extend(_properties(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_properties(value, f"{where}/{index}"))
    return found


def test_every_property_and_definition_has_a_description() -> None:
    named = [
        (where, sub)
        for where, sub in _properties(SCHEMA)
        if "/if/" not in where and "/then/" not in where  # dispatch, not documentation
    ]
    assert len(named) > 50
    missing = [where for where, sub in named if not sub.get("description")]
    assert missing == []
    assert [name for name, sub in SCHEMA["$defs"].items() if not sub.get("description")] == []


def test_standard_types_come_from_the_schema_and_agree_with_the_settings() -> None:
    assert tuple(TYPES[:5]) == contract.STANDARD_EVENT_TYPES
    defs = SCHEMA["$defs"]
    assert tuple(defs["StandardEventType"]["enum"]) == plan.STANDARD_EVENTS
    # the build-time checks of a tracking plan (core/plan.py) and the wire agree on names and props
    assert defs["CustomEventName"]["pattern"] == f"^{plan.EVENT_NAME_PATTERN.pattern}$"
    custom = defs["CustomEventData"]
    (prop_pattern, prop) = next(iter(custom["patternProperties"].items()))
    reserved = "|".join(plan.RESERVED_PROP_KEYS)
    assert prop_pattern == f"^(?!(?:{reserved})$){plan.PROP_KEY_PATTERN.pattern}$"
    assert prop["maxLength"] == plan.MAX_PROP_TEXT
    assert set(custom["properties"]) == set(plan.RESERVED_PROP_KEYS)
    assert {
        b["then"]["maxProperties"] - 2 - len(b["if"].get("required", [])) for b in custom["allOf"]
    } == {plan.MAX_PROPS}
    assert defs["Id"]["pattern"] == f"^{values.ID_PATTERN.pattern}$"
    assert defs["Variant"]["pattern"] == defs["Id"]["pattern"]


# --------------------------------------------------------------------------- every type


@pytest.mark.parametrize("kind", TYPES)
def test_each_event_type_is_valid(kind: str) -> None:
    assert_valid(event(kind))
    assert_valid({"events": [event(kind)]})


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize(
    "optional",
    [
        {"variant": "B"},
        {"fbp": "fb.1.1596403881668.1116446470"},
        {"fbc": "fb.1.1554763741205.AbCdEfGh"},
        {"variant": "spring.v2:b-1", "fbp": "x" * 500, "fbc": "y"},
    ],
    ids=["variant", "fbp", "fbc", "all"],
)
def test_variant_fbp_fbc_are_optional_on_every_type(kind: str, optional: dict[str, Any]) -> None:
    assert_valid(event(kind, **optional))


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("variant", "", "event_data.variant must match"),
        ("variant", "B variant", "event_data.variant must match"),
        ("variant", "v" * 65, "event_data.variant must match"),
        ("variant", None, "event_data.variant must be a string, got None"),
        ("fbp", "", "event_data.fbp must be 1-500 characters, got 0"),
        ("fbc", "x" * 501, "event_data.fbc must be 1-500 characters, got 501"),
        ("unknown", 1, "event_data.unknown is not allowed (unknown key"),
    ],
)
def test_optional_keys_keep_their_rules_on_every_type(
    kind: str, key: str, value: Any, expected: str
) -> None:
    if key == "unknown" and kind == "Lead":
        value = [1]  # a custom event takes any lowercase key as a prop: make it a bad value
        expected = "event_data.unknown must be a string or a number, got array"
    assert_invalid(event(kind, **{key: value}), expected)


@pytest.mark.parametrize("kind", TYPES)
def test_every_required_event_data_key_is_required(kind: str) -> None:
    required = SCHEMA["$defs"][f"{kind}Data" if kind != "Lead" else "CustomEventData"]["required"]
    assert "timestamp" in required
    for key in required:
        assert_invalid(event(kind, **{key: ...}), f"event_data.{key} is required (missing)")


# --------------------------------------------------------------------------- top level


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"event_id": ""}, "event_id must be a string of 1-256 characters without control"),
        ({"event_id": "e" * 257}, "event_id must be a string of 1-256"),
        ({"event_id": "a\x00"}, "event_id must be a string of 1-256"),
        ({"event_id": "a\x9f"}, "event_id must be a string of 1-256"),
        ({"event_id": "a\udc00b"}, "event_id must be a string of 1-256"),
        ({"landing_page_id": "_lp"}, "landing_page_id must match ^[A-Za-z0-9]"),
        ({"campaign_id": ""}, "campaign_id must match"),
        ({"campaign_id": 5}, "campaign_id must be a string or null, got 5"),
        ({"session_id": "sess_1_"}, "session_id must be like sess_<digits>_<a-z0-9>"),
        ({"screen_resolution": "1920x"}, "screen_resolution must be <width>x<height>"),
        ({"user_agent": None}, "user_agent must be a string, got None"),
        ({"timestamp": "2026-03-02 09:15:04Z"}, "timestamp must be an ISO-8601 UTC timestamp"),
        ({"timestamp": "2026-13-02T09:15:04Z"}, "timestamp must be an ISO-8601 UTC timestamp"),
        ({"timestamp": "2026-03-02T09:15:04-00:00"}, "timestamp must be in UTC"),
        ({"event_data": []}, "event_data must be a JSON object, got array"),
        ({"extra": 1}, "extra is not allowed (unknown key)"),
    ],
)
def test_top_level_rules(changes: dict[str, Any], expected: str) -> None:
    assert_invalid({**event(), **changes}, expected)


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "e" * 256},
        {"event_id": "Grüße 😀 #1"},
        {"campaign_id": None},
        {"timestamp": "2024-02-29T23:59:59+00:00"},
        {"timestamp": "2026-03-02T09:15:04.123456Z"},
    ],
)
def test_top_level_edge_cases_are_valid(changes: dict[str, Any]) -> None:
    assert_valid({**event(), **changes})


@pytest.mark.parametrize("key", list(event()))
def test_every_top_level_key_is_required(key: str) -> None:
    body = event()
    del body[key]
    assert_invalid(body, f"{key} is required (missing)")


def test_rules_plain_jsonschema_does_not_read_into_the_schema_are_applied() -> None:
    # ECMA-262 "$" is the end of the text; Python's re would allow a final newline.
    assert_invalid({**event(), "landing_page_id": "lp_1\n"}, "landing_page_id must", plain=False)
    assert_invalid({**event(), "event_id": "abc\n"}, "event_id must be a string", plain=False)
    assert_invalid(event("Lead", **{"plan\n": "x"}), "event_data.plan\n is not", plain=False)
    # format: date-time is asserted: a real calendar date
    assert_invalid(
        {**event(), "timestamp": "2026-02-29T10:00:00Z"}, "timestamp must be an ISO", plain=False
    )
    # NaN is no JSON number, but a Python caller can pass one
    problems = validate_event(event("Purchase", value=float("nan")))
    assert problems == ["event_data.value must be a finite number, got nan"]


# --------------------------------------------------------------------------- standard types


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        (
            "PageView",
            {"url": "/landing/"},
            "event_data.url must be an http(s) URL, got '/landing/'",
        ),
        ("PageView", {"url": "ftp://x.example/"}, "event_data.url must be an http(s) URL"),
        ("PageView", {"url": "https://"}, "event_data.url must be an http(s) URL"),
        ("PageView", {"url": "https:///path"}, "event_data.url must be an http(s) URL"),
        ("PageView", {"url": "https://a.example/a b"}, "event_data.url must be an http(s) URL"),
        ("PageView", {"url": "https://a.example/\x85"}, "event_data.url must be an http(s) URL"),
        ("PageView", {"referrer": None}, "event_data.referrer must be a string, got None"),
        ("AddToCart", {"button_text": 5}, "event_data.button_text must be a string, got 5"),
        ("AddToCart", {"button_id": 5}, "event_data.button_id must be a string or null, got 5"),
        ("Purchase", {"value": "49.9"}, "event_data.value must be a number, got '49.9'"),
        ("Purchase", {"value": False}, "event_data.value must be a number, got False"),
        ("Purchase", {"value": -0.01}, "event_data.value must be >= 0, got -0.01"),
        ("Purchase", {"value": float("inf")}, "event_data.value must be a finite number, got inf"),
        ("Purchase", {"currency": "usd"}, "event_data.currency must be 3 uppercase letters"),
        ("Purchase", {"order_id": 1001}, "event_data.order_id must be a string or null"),
        ("Purchase", {"url": URL}, "event_data.url is not allowed (unknown key)"),
    ],
)
def test_pageview_addtocart_purchase_rules(
    kind: str, changes: dict[str, Any], expected: str
) -> None:
    assert_invalid(event(kind, **changes), expected)


def test_url_accepts_any_scheme_case_query_and_port() -> None:
    for url in ("HTTPS://Desk.Example.com/", "http://localhost:8000/a?b=c", "http://[::1]:8/"):
        assert_valid(event("PageView", url=url))


def test_engagement_rules() -> None:
    for engaged_ms, depth in ((1000, 0), (3_600_000, 100), (1000.0, 50)):
        assert_valid(event("Engagement", engaged_ms=engaged_ms, scroll_depth=depth))
    cases = [
        ({"engaged_ms": 999}, "event_data.engaged_ms must be >= 1000, got 999"),
        ({"engaged_ms": 0}, "event_data.engaged_ms must be >= 1000, got 0"),
        ({"engaged_ms": 1500.5}, "event_data.engaged_ms must be an integer, got 1500.5"),
        ({"engaged_ms": "1500"}, "event_data.engaged_ms must be an integer, got '1500'"),
        ({"scroll_depth": -1}, "event_data.scroll_depth must be >= 0, got -1"),
        ({"scroll_depth": 101}, "event_data.scroll_depth must be <= 100, got 101"),
        ({"scroll_depth": 50.5}, "event_data.scroll_depth must be an integer, got 50.5"),
        ({"scroll_depth": True}, "event_data.scroll_depth must be an integer, got True"),
        ({"url": "about:blank"}, "event_data.url must be an http(s) URL"),
        ({"referrer": ""}, "event_data.referrer is not allowed (unknown key)"),
    ]
    for changes, expected in cases:
        assert_invalid(event("Engagement", **changes), expected)


METRICS = ("lcp", "cls", "inp", "fcp", "ttfb")


def _vitals(**metrics: Any) -> dict[str, Any]:
    body = event("WebVitals")
    body["event_data"] = {"url": URL, "timestamp": TS, **metrics}
    return body


@pytest.mark.parametrize("metric", METRICS)
def test_web_vitals_one_metric_with_its_rating_is_enough(metric: str) -> None:
    for rating in ("good", "needs-improvement", "poor"):
        assert_valid(_vitals(**{metric: 0.05, f"{metric}_rating": rating}))


@pytest.mark.parametrize("metric", METRICS)
def test_web_vitals_metric_and_rating_come_together(metric: str) -> None:
    other = "fcp" if metric != "fcp" else "lcp"
    pair = {other: 1, f"{other}_rating": "good"}
    assert_invalid(
        _vitals(**pair, **{metric: 1}),
        f"event_data.{metric}_rating is required when event_data.{metric} is present",
    )
    assert_invalid(
        _vitals(**pair, **{f"{metric}_rating": "good"}),
        f"event_data.{metric} is required when event_data.{metric}_rating is present",
    )
    assert_invalid(
        _vitals(**{metric: 1, f"{metric}_rating": "fine"}),
        f"{metric}_rating must be one of 'good', 'needs-improvement', 'poor', got 'fine'",
    )
    assert_invalid(
        _vitals(**{metric: -1, f"{metric}_rating": "good"}),
        f"event_data.{metric} must be >= 0, got -1",
    )
    assert_invalid(
        _vitals(**{metric: "1", f"{metric}_rating": "good"}),
        f"event_data.{metric} must be a number, got '1'",
    )


def test_web_vitals_needs_at_least_one_metric() -> None:
    problems = assert_invalid(_vitals(), "event_data must have at least one metric")
    assert problems == ["event_data must have at least one metric: lcp, cls, inp, fcp or ttfb"]
    assert_invalid(_vitals(lcp=1, lcp_rating="good", fid=3), "event_data.fid is not allowed")


# --------------------------------------------------------------------------- custom events


@pytest.mark.parametrize(
    "name", ["Lead", "SignUp", "InitiateCheckout", "video_play", "x", "A" + "b" * 49, "pageview"]
)
def test_custom_event_names(name: str) -> None:
    assert_valid(event(name))


@pytest.mark.parametrize("name", ["", "9lives", "_lead", "Sign up", "Lead!", "A" + "b" * 50, "Lé"])
def test_custom_event_name_pattern(name: str) -> None:
    assert_invalid(event(name), "event_type must be one of 'PageView', 'AddToCart'")


@pytest.mark.parametrize("name", TYPES[:5])
def test_standard_names_are_reserved_for_their_own_event_data(name: str) -> None:
    # a custom event cannot take a standard name: the body is checked as that standard type
    body = event(name)
    body["event_data"] = copy.deepcopy(DATA["Lead"])
    problems = validate_payload(body)
    assert any(p.startswith("event_data.plan is not allowed (unknown key)") for p in problems)
    assert not PLAIN.is_valid(body)
    custom_name = Draft202012Validator(
        {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": "#/$defs/CustomEventName"}
    )
    assert not custom_name.is_valid(name)
    assert custom_name.is_valid("Lead")


def test_custom_props_count() -> None:
    assert_valid(event("Lead", **props(20)))
    assert_valid(event("Click"))  # no props at all
    assert_valid(event("Lead", **props(20), variant="B", fbp="f", fbc="c"))
    expected = "event_data must have at most 20 props (keys besides url, timestamp, variant"
    assert_invalid(event("Lead", **props(21)), expected)
    for optional in ({"variant": "B"}, {"fbp": "f", "fbc": "c"}, {"variant": "B", "fbc": "c"}):
        assert_valid(event("Lead", **props(20), **optional))
        assert_invalid(event("Lead", **props(21), **optional), expected)


@pytest.mark.parametrize("key", ["plan", "a", "a" * 40, "utm_source", "x1_2"])
def test_custom_prop_keys_valid(key: str) -> None:
    assert_valid(event("Lead", **{key: "v"}))


@pytest.mark.parametrize("key", ["Plan", "1plan", "_plan", "a" * 41, "plan-type", "plan type", "é"])
def test_custom_prop_keys_invalid(key: str) -> None:
    problems = assert_invalid(event("Lead", **{key: "v"}), f"event_data.{key} is not allowed")
    assert problems == [
        f"event_data.{key} is not allowed (unknown key; a prop key is 1-40 characters: "
        "a lowercase letter, then lowercase letters, digits or _)"
    ]


def test_reserved_prop_keys_keep_their_own_rules() -> None:
    assert_invalid(event("Lead", url="not a url"), "event_data.url must be an http(s) URL")
    assert_invalid(event("Lead", timestamp="now"), "event_data.timestamp must be an ISO-8601")
    assert_invalid(event("Lead", variant=7), "event_data.variant must be a string, got 7")
    assert_invalid(event("Lead", fbp=""), "event_data.fbp must be 1-500 characters")
    # and only their own: a reserved key is no prop (fbp may be longer than a prop's 200)
    assert_valid(event("Lead", fbp="f" * 500, variant="B"))


@pytest.mark.parametrize("value", ["", "x" * 200, 0, -3, 2.5, 1e300])
def test_custom_prop_values_valid(value: Any) -> None:
    assert_valid(event("Lead", plan=value))


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("x" * 201, "'xxx"),
        (True, "True"),
        (None, "None"),
        ([1], "array"),
        ({"a": 1}, "object"),
    ],
)
def test_custom_prop_values_invalid(value: Any, got: str) -> None:
    problems = assert_invalid(event("Lead", plan=value), "event_data.plan must be a string")
    assert f", got {got}" in problems[0]


def test_custom_prop_value_must_be_finite() -> None:
    problems = validate_event(event("Lead", plan=float("-inf")))
    assert problems == [
        "event_data.plan must be a string of at most 200 characters or a finite number, got -inf"
    ]


# --------------------------------------------------------------------------- batches


def test_batch_sizes() -> None:
    assert_valid({"events": [event(kind) for kind in TYPES]})
    assert_valid({"events": [event() for _ in range(100)]})
    assert validate_payload({"events": []}) == ["events must hold 1-100 events, got 0"]
    assert validate_payload({"events": [event()] * 101}) == [
        "events must hold 1-100 events, got 101"
    ]
    assert not PLAIN.is_valid({"events": []})
    assert not PLAIN.is_valid({"events": [event()] * 101})


def test_batch_has_no_other_key_and_names_each_index() -> None:
    assert_invalid({"events": [event()], "sent_at": TS}, "sent_at is not allowed (unknown key)")
    assert_invalid({"events": {}}, "events must be an array, got object")
    bad = event("Purchase", currency="eur")
    problems = assert_invalid(
        {"events": [event(), bad, event("Engagement", engaged_ms=10)]}, "events[1]"
    )
    assert problems == [
        "events[1].event_data.currency must be 3 uppercase letters, got 'eur'",
        "events[2].event_data.engaged_ms must be >= 1000, got 10",
    ]


def test_single_event_validation_never_takes_a_batch() -> None:
    assert validate_event({"events": [event()]})[0] == "event_type is required (missing)"
    assert validate_event([event()]) == ["event must be a JSON object, got array"]
    assert validate_payload("x") == ["event must be a JSON object, got string"]


# --------------------------------------------------------------------------- readable messages


def test_messages_for_the_common_failures_name_the_field() -> None:
    body = event("Purchase", currency="usd", value="1", order_id=...)
    body["session_id"] = 7
    body["utm"] = "x"
    del body["user_agent"]
    assert validate_event(body) == [
        "user_agent is required (missing)",
        "session_id must be a string, got 7",
        "utm is not allowed (unknown key)",
        "event_data.order_id is required (missing)",
        "event_data.value must be a number, got '1'",
        "event_data.currency must be 3 uppercase letters, got 'usd'",
    ]


def test_one_message_per_field() -> None:
    # "yesterday" breaks the ISO pattern and the UTC pattern: one message says so
    assert validate_event({**event(), "timestamp": "yesterday"}) == [
        "timestamp must be an ISO-8601 UTC timestamp, got 'yesterday'"
    ]
    # an event_data that is no object is not also checked against each key
    assert validate_event({**event("WebVitals"), "event_data": 5}) == [
        "event_data must be a JSON object, got number"
    ]


def test_event_type_problem() -> None:
    assert contract.event_type_problem("PageView") is None
    assert contract.event_type_problem("video_play") is None
    problem = contract.event_type_problem("video play")
    assert problem is not None
    assert problem.startswith("event_type must be one of 'PageView',")
    assert problem.endswith("got 'video play'")


def test_collector_takes_every_type_and_refuses_with_the_schema_s_messages() -> None:
    import urllib.error
    import urllib.request

    def post(body: Any) -> tuple[int, Any]:
        data = json.dumps(body).encode()
        req = urllib.request.Request(collector.events_url, data=data, method="POST")
        req.add_header("Content-Type", "text/plain;charset=UTF-8")
        try:
            with urllib.request.urlopen(req, timeout=10) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    with EventCollector() as collector:
        batch = [{**event(kind), "event_id": f"id-{kind}"} for kind in TYPES]
        assert post({"events": batch}) == (200, {"accepted": 6, "duplicates": 0})
        assert [e["event_type"] for e in collector.events] == TYPES
        assert (
            collector.wait_for_count(1, "Engagement", timeout=1)[0]["event_id"] == "id-Engagement"
        )
        status, reply = post({"events": [event("Lead", **props(21))]})
        assert status == 422
        assert reply == {"errors": [validate_payload({"events": [event("Lead", **props(21))]})[0]]}
        assert len(collector.events) == 6


# --------------------------------------------------------------------------- the conftest check


def test_the_stored_event_check_catches_what_the_schema_refuses() -> None:
    assert schema_problems([event(kind) for kind in TYPES]) == []
    problems = schema_problems([event("Purchase", currency="eur"), event(), event("Lead", Bad=1)])
    assert len(problems) == 2
    assert problems[0].startswith("Purchase 3b0c6f0e-8f5d-4f7e-9d61-0c2a51a3c9b4: ")
    assert "event_data/currency" in problems[0]
    assert problems[1].startswith("Lead ")


# --------------------------------------------------------------------------- the docs


def _render_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_event_reference", RENDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_event_reference_is_rendered_from_the_schema() -> None:
    render = _render_module()
    text = DOCS.read_text("utf-8")
    section = render.render(contract.load_schema())
    assert section in text, (
        "docs/events.md's event reference differs from the schema: run "
        ".venv/bin/python scripts/render_event_reference.py"
    )
    # every type's table and every description of the schema are in it
    for kind in (*TYPES[:5], "Custom events", "Batch body"):
        assert re.search(rf"^### .*{kind}", section, re.MULTILINE), kind
    for where, sub in _properties(SCHEMA["$defs"]):
        if "/if/" not in where and "/then/" not in where and "/StandardEventType" not in where:
            assert render._cell(sub["description"]) in section, where


def test_render_check_reports_drift_and_rewrites(tmp_path: Path) -> None:
    render = _render_module()
    docs = tmp_path / "events.md"
    docs.write_text(f"# Events\n\nprose\n\n{render.BEGIN}\nstale\n{render.END}\n\nmore\n", "utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(RENDER), "--docs", str(docs), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    drifted = run("--check")
    assert drifted.returncode == 1
    assert "differs from the schema" in drifted.stderr
    assert "stale" in docs.read_text("utf-8")
    assert run().returncode == 0
    text = docs.read_text("utf-8")
    assert "stale" not in text
    assert text.startswith("# Events\n\nprose\n\n")
    assert text.endswith(f"{render.END}\n\nmore\n")
    assert run("--check").returncode == 0
    docs.write_text("no markers\n", "utf-8")
    assert run("--check").returncode == 2
