"""The intake's fast path (orjson, aae_tracking_plugins/collector/intake.py ``_canonical_json``)
agrees with the strict decoder: whatever it accepts decodes to the same value, and every body
the strict decoder refuses (repeated keys, NaN, huge numbers, bad UTF-8, surrogates) or that
has spaces or escapes goes the strict way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aae_tracking_plugins.collector.intake import (
    Refusal,
    _canonical_json,
    decode_json,
    read_events,
)
from tests.collector_helpers import fuzz_settings
from tests.events import make_event

pytestmark = pytest.mark.collector


def compact(value: object) -> bytes:
    """As the tracker's ``JSON.stringify`` encodes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@fuzz_settings(400)
@given(json_values)
def test_what_the_fast_path_accepts_the_strict_decoder_reads_the_same(value: Any) -> None:
    for body in (compact(value), json.dumps(value).encode()):
        fast = _canonical_json(body)
        if fast is not None:
            assert fast == decode_json(body)
            assert type(fast) is type(decode_json(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1,"a":2}',  # a repeated key: orjson keeps the last one silently
        b'{"a":NaN}',
        b'{"a":1e400}',
        b'{"a":123456789012345678901234567890}',  # beyond 64 bits: a float for orjson
        b'{"a":"\\ud800"}',
        b'{"a":"\xff"}',
        b'\xef\xbb\xbf{"a":1}',  # a byte order mark: the strict decoder allows it
        b'{"a": 1}',  # spaces
        b'{"a":"\\u00e9"}',  # an escape the re-encoding would not write
    ],
)
def test_bodies_that_are_not_canonical_take_the_strict_path(body: bytes) -> None:
    assert _canonical_json(body) is None


def test_a_tracker_batch_takes_the_fast_path_and_reads_as_the_strict_path() -> None:
    batch = {"events": [make_event("Purchase"), make_event("PageView", user_agent="Müller ✓")]}
    body = compact(batch)
    assert _canonical_json(body) == decode_json(body) == batch
    assert read_events(body, "text/plain;charset=UTF-8") == batch["events"]


def test_a_compact_body_with_a_repeated_key_is_still_refused() -> None:
    event = compact(make_event("PageView"))
    body = event[:-1] + b',"event_id":"again"}'
    assert _canonical_json(body) is None
    with pytest.raises(Refusal, match="repeated key 'event_id'") as refused:
        read_events(body, "text/plain")
    assert refused.value.status == 400


def test_a_compact_body_with_an_escaped_nul_is_still_refused() -> None:
    body = compact(make_event("PageView", user_agent="a\x00b"))
    assert b"\\u0000" in body  # orjson would take it: the bad-text check sends it the strict way
    with pytest.raises(Refusal, match="ill-formed text") as refused:
        read_events(body, "text/plain")
    assert refused.value.status == 400
    assert "NUL" in refused.value.problems[0].message
