"""What goes into pages: config values stay data, whatever they contain."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import SimpleNamespace

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aae_tracking_plugins import ConfigError, EventTracker
from aae_tracking_plugins.core.tags import _render, browser_script, render_purchase_call

HTML_NS = "{http://www.w3.org/1999/xhtml}"
HOSTILE = [
    '"><script>alert(1)</script>',
    "</script><script>alert(1)</script>",
    "'; alert(1); '",
    "<!--",
    "\u2028\u2029",
    "&quot;&amp;",
    "</SCRIPT ",
]


def scripts_in(page: str) -> list[dict[str, str | None]]:
    # xml.etree, not lxml: lxml cannot hold the control characters hypothesis generates.
    tree = html5lib.parse(f"<!doctype html><body>{page}</body>", treebuilder="etree")
    return [
        {"text": element.text, **dict(element.attrib)} for element in tree.iter(f"{HTML_NS}script")
    ]


def tracker_tag_with(landing: str, campaign: str, endpoint: str) -> str:
    """Render the template with raw values, skipping TrackingConfig's validation on purpose."""
    config = SimpleNamespace(
        landing_page_id=landing,
        campaign_id=campaign,
        events_url=endpoint,
        track_automation=False,
        batch=False,
        # The Pixel id and variant attributes get the same escaping: the landing page id's raw
        # value; the JSON attributes (tracking plan, checkout links) the campaign's and endpoint's.
        facebook_pixel_id=landing,
        variant=landing,
        debug=False,
        engagement=True,
        web_vitals=False,
        events=True,
        events_json=campaign,
        checkout_links=True,
        checkout_json=endpoint,
        # The consent and gpc modes: the landing page id's and the campaign's raw values.
        consent=landing,
        gpc=campaign,
        cookieless=False,
        # A consent manager's category and Material's cookie id: the landing page id's value.
        gating=(("type", "text/plain"), ("data-category", landing)),
        material_consent=landing,
        # The site's query keys: the endpoint's raw value.
        query_params=True,
        query_params_text=endpoint,
    )
    return _render(
        "tracker_tag.html.j2", config=config, tracker_js=browser_script("tracker"), src=None
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_come_back_as_the_same_attribute_values(value: str) -> None:
    found = scripts_in(tracker_tag_with(value, value, value))
    assert len(found) == 1
    assert found[0]["data-landing-page-id"] == value
    assert found[0]["data-campaign-id"] == value
    assert found[0]["data-endpoint"] == value
    assert found[0]["data-facebook-pixel-id"] == value
    assert found[0]["data-variant"] == value
    assert found[0]["data-events"] == value
    assert found[0]["data-checkout"] == value
    assert found[0]["data-consent"] == value
    assert found[0]["data-gpc"] == value
    assert found[0]["data-category"] == value
    assert found[0]["data-material-consent"] == value
    assert found[0]["data-query-params"] == value
    assert found[0]["text"] == str(browser_script("tracker"))


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text())
def test_any_text_stays_inside_its_attribute(landing: str, campaign: str, endpoint: str) -> None:
    # Browsers normalise NUL and lone CR in attribute values; the rest must round-trip exactly.
    def as_parsed(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")

    found = scripts_in(tracker_tag_with(landing, campaign, endpoint))
    assert len(found) == 1
    assert found[0]["data-landing-page-id"] == as_parsed(landing)
    assert found[0]["data-endpoint"] == as_parsed(endpoint)
    assert found[0]["data-events"] == as_parsed(campaign)
    assert found[0]["data-checkout"] == as_parsed(endpoint)
    assert found[0]["data-query-params"] == as_parsed(endpoint)
    assert found[0]["text"] == str(browser_script("tracker"))


def test_validation_refuses_hostile_ids_before_they_reach_a_page() -> None:
    tracker = EventTracker("https://api.aae.com")
    for value in HOSTILE:
        with pytest.raises(ConfigError):
            tracker.generate_tracking_script(value)
        with pytest.raises(ConfigError):
            tracker.generate_tracking_script("lp_1", campaign_id=value)


def run_in_node(script_text: str) -> object:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required (make test installs it)")
    program = (
        "const window = globalThis;\n"
        # What the stub may read of the page it runs in.
        "globalThis.location = {href: 'https://example.com/'};\n"
        "globalThis.document = {referrer: ''};\n" + script_text + "\n"
        "process.stdout.write(JSON.stringify(window.AAE_TRACKING.q));"
    )
    result = subprocess.run([node, "-e", program], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("order_id", [*HOSTILE, "ORD-1001", 1001])
def test_purchase_call_passes_the_order_id_as_data(order_id: str | int) -> None:
    html = render_purchase_call(19.99, "eur", order_id)
    found = scripts_in(html)
    assert len(found) == 1
    queued = run_in_node(str(found[0]["text"]))
    assert queued == [
        ["trackPurchase", [{"currency": "EUR", "order_id": str(order_id), "value": 19.99}]]
    ]


def test_seed_api_shapes() -> None:
    tracker = EventTracker(api_base_url="https://api.aae.com/")
    assert tracker.api_base_url == "https://api.aae.com"
    script = tracker.generate_tracking_script("lp_123", "camp_456")
    found = scripts_in(script)
    assert [s["data-aae-tracking"] for s in found] == ["stub", "tracker"]
    assert found[1]["data-endpoint"] == "https://api.aae.com/api/v1/landing-pages/events"
    assert found[1]["data-campaign-id"] == "camp_456"
    assert "data-campaign-id" not in scripts_in(tracker.generate_tracking_script("lp_123"))[1]
    call = tracker.generate_purchase_tracking_call(199.99, "USD", "ORD123")
    assert run_in_node(str(scripts_in(call)[0]["text"])) == [
        ["trackPurchase", [{"currency": "USD", "order_id": "ORD123", "value": 199.99}]]
    ]
    assert scripts_in(tracker.generate_purchase_tracking_call(5, "usd"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, "USD"), "order_value must be a finite number >= 0"),
        ((float("nan"), "USD"), "order_value must be a finite number >= 0"),
        ((True, "USD"), "order_value must be a number"),
        (("12", "USD"), "order_value must be a number"),
        ((1, "US"), "currency must be a 3-letter"),
        ((1, "USD", ""), "order_id must be 1-128 characters"),
        ((1, "USD", 1.5), "order_id must be text or a whole number"),
    ],
)
def test_purchase_call_rejects_bad_input(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_purchase_call(*args)  # type: ignore[arg-type]


def test_event_tracker_rejects_an_insecure_api_url() -> None:
    with pytest.raises(ConfigError, match="must use https://"):
        EventTracker("http://api.aae.com")
