"""Bad input never takes the stored collector down: a hypothesis property throws malformed bodies
(broken encodings, lone surrogates and NUL in escapes, over-long text, deep nesting, sizes near and
over 64 KiB, wrong types, odd numbers, repeated keys, other content types) at a real server on
SQLite and on PostgreSQL. No answer is a 5xx; whatever is accepted reads back exactly as sent,
valid under the contract and made of storable text; nothing refused is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event as count_as
from hypothesis import given
from hypothesis import strategies as st

from aae_tracking_plugins.collector.intake import text_problems
from aae_tracking_plugins.core.contract import validate_payload
from tests.collector_helpers import InProcessCollector, fuzz_settings, listing, request
from tests.collector_helpers import running_collector as start_collector
from tests.events import TS, make_event

MARK = "@@MARK@@"
#: JSON text put in place of a string value (or key): escapes of lone surrogates and NUL, a
#: valid pair, a literal backslash-u, text at and over the length limit.
STRING_FRAGMENTS = [
    "\\ud800", "\\udfff", "\\u0000", "a\\u0000b", "\\ud83d\\ude00", "\\udfff\\ud800",
    "\\ud800\\u0041", "\\\\ud800", "\\u00e9\\u2028", "x" * 8192, "x" * 8193, "\\n\\t", "",
    "\\uD800", "é😀", "\\u0085",
]  # fmt: skip
#: JSON text put in place of a number.
NUMBER_FRAGMENTS = [
    "1e400", "-1e400", "1e308", "0.1e-400", "-0", "1E2", "9" * 5000, "NaN", "Infinity",
    "-Infinity", "01", "1.", ".5", "0x10", "49.99", "2e1",
]  # fmt: skip
#: Bytes put somewhere in the body: over-long forms, encoded surrogates, stray bytes, a code
#: point over U+10FFFF, a cut sequence, a byte order mark, NUL.
BYTE_FRAGMENTS = [
    b"\xc0\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xff", b"\xfe", b"\xf4\x90\x80\x80",
    b"\xe2\x82", b"\xef\xbb\xbf", b"\x00", b"\x80",
]  # fmt: skip
#: Mostly what the tracker and other clients send, sometimes what is refused.
GOOD_CONTENT_TYPES = ["text/plain;charset=UTF-8", "application/json", "text/plain"]
BAD_CONTENT_TYPES = [
    "application/json; charset=utf-16",
    "text/html",
    None,
    "text/plain;charset=latin-1",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["PageView", "AddToCart", "Purchase", "Lead"]))
    # A fresh random event_id (not hypothesis's: it repeats values across examples).
    event = make_event("PageView" if kind == "Lead" else kind)
    if kind == "Lead":
        event["event_type"] = "Lead"
        event["event_data"] = {"url": "https://shop.example/", "timestamp": TS, "plan": "pro"}
    return event


def mark_somewhere(draw: st.DrawFn, event: dict[str, Any]) -> str:
    """Put :data:`MARK` in a string, a key or a number of ``event``; return which kind."""
    where = draw(st.sampled_from(["string", "key", "number", "value"]))
    data = event["event_data"]
    if where == "string":
        key = draw(st.sampled_from(["user_agent", "event_id", "landing_page_id", "session_id"]))
        event[key] = MARK
    elif where == "key":
        data[MARK] = "v"
    elif where == "number":
        data["value" if event["event_type"] == "Purchase" else "count"] = MARK
    else:
        key = draw(st.sampled_from([*event, *(f"event_data.{k}" for k in data)]))
        target, name = (data, key[11:]) if key.startswith("event_data.") else (event, key)
        target[name] = draw(JSON_VALUES)
    return where


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A request body (bytes) and its Content-Type."""
    items = draw(st.lists(events(), min_size=1, max_size=3))
    if draw(st.integers(0, 9)) == 0:
        items[0]["user_agent"] = "u" * draw(st.sampled_from([8000, 8192, 8193, 70000]))
    where = mark_somewhere(draw, items[-1]) if draw(st.integers(0, 2)) == 0 else None
    body: object = items[0] if len(items) == 1 and draw(st.booleans()) else {"events": items}
    if draw(st.integers(0, 7)) == 0:
        body = {"events": [body]}  # a batch in a batch
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([0] * 12 + [1, 2, 50, 5000]))
    text = "[" * depth + text + "]" * depth
    if where is not None:
        fragments = NUMBER_FRAGMENTS if where == "number" else STRING_FRAGMENTS
        fragment = draw(st.sampled_from(fragments))
        text = text.replace(f'"{MARK}"', fragment if where == "number" else f'"{fragment}"', 1)
    if draw(st.integers(0, 7)) == 0:  # a repeated key
        text = text.replace('{"event_type":', '{"event_type": "Purchase", "event_type":', 1)
    data = text.encode("utf-8")
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(BYTE_FRAGMENTS)) + data[at:]
    if draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # cut short
    if draw(st.integers(0, 5)) == 0:
        return data, draw(st.sampled_from(BAD_CONTENT_TYPES))
    return data, draw(st.sampled_from(GOOD_CONTENT_TYPES))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_collector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessCollector]:
    """One collector (and database) for all the examples of this module, per database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('malformed') / 'events.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    with start_collector(url, echo=None) as running:
        yield running


def read_back(collector: InProcessCollector, count: int) -> list[dict[str, Any]]:
    """The newest ``count`` stored events, through the API (so: as JSON that decodes)."""
    answer = listing(collector.url, f"?limit={count}")
    assert answer.status == 200, answer
    return [item["event"] for item in answer.json()]


@fuzz_settings(400)
@given(bodies())
def test_malformed_bodies_are_refused_and_accepted_ones_read_back(
    shared_collector: InProcessCollector, sent: tuple[bytes, str | None]
) -> None:
    data, content_type = sent
    newest_before = read_back(shared_collector, 1)
    answer = request(shared_collector.url, "POST", body=data, content_type=content_type)
    count_as(f"status {answer.status}")
    assert answer.status in (200, 400, 413, 415, 422), answer
    if answer.status != 200:
        assert answer.body.isascii()
        assert "error" in answer.json()
        assert read_back(shared_collector, 1) == newest_before  # nothing stored
        return
    body = json.loads(data.decode("utf-8-sig"))
    assert validate_payload(body) == []
    assert text_problems(body) == []
    posted = body.get("events", [body])
    accepted = answer.json()["accepted"]
    unique: list[dict[str, Any]] = []
    for event in posted:
        if all(event["event_id"] != kept["event_id"] for kept in unique):
            unique.append(event)
    assert accepted + answer.json()["duplicates"] == len(posted)
    if accepted:
        assert accepted == len(unique)  # fresh uuids: nothing was stored before
        assert read_back(shared_collector, accepted) == unique[::-1]


def test_everything_stored_reads_back_valid(shared_collector: InProcessCollector) -> None:
    """After the examples (the same module-scoped database): every stored event decodes,
    passes the contract and holds only storable text."""
    stored = read_back(shared_collector, 1000)
    for event in stored:
        assert validate_payload(event) == []
        assert text_problems(event) == []
    assert len({event["event_id"] for event in stored}) == len(stored)
