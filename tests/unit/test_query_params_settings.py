"""The query_params setting on the Python side: validation (one line naming the setting and
the entry), the tracker tag attribute it becomes (the same build and CSP hashes), the CLI's flag
and ``--config`` file through ``inject`` and ``check``; and the event contract's UTM fields.
MkDocs and Pelican builds: tests/builds/test_query_params_builds.py; the browser side:
tests/browser/test_attribution.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aae_tracking_plugins.core.contract import validate_event
from aae_tracking_plugins.core.query import BUILT_IN_QUERY_KEYS, UTM_KEYS
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import csp_hashes, render_snippet, tracker_build
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import one_error_line, run_cli, small_site
from tests.sites import ROOT, tracker_of

API = "https://api.aae.com"
UTIL_JS = ROOT / "aae_tracking_plugins" / "js" / "util.js"


def make(**settings: object) -> TrackingConfig:
    return TrackingConfig.from_mapping({"landing_page_id": "lp_1", "api_base_url": API, **settings})


def error_of(where: str = "", **settings: object) -> str:
    with pytest.raises(ConfigError) as caught:
        TrackingConfig.from_mapping(
            {"landing_page_id": "lp_1", "api_base_url": API, **settings}, where=where
        )
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_known_with_no_keys_by_default() -> None:
    assert "query_params" in SETTING_NAMES
    assert make().query_params == ()
    assert make(query_params=None) == make()
    assert "data-query-params" not in tracker_of(render_snippet(make()).body)


def test_keys_kept_in_order_without_repeats_or_built_in_ones() -> None:
    config = make(query_params=["ref", "plan", "ref", "utm_source", "filter[size]", "a.b-c"])
    assert config.query_params == ("ref", "plan", "filter[size]", "a.b-c")
    assert TrackingConfig("lp_1", API, query_params=["ref"]).query_params == ("ref",)
    tracker = tracker_of(render_snippet(config).body)
    assert tracker["data-query-params"] == "ref plan filter[size] a.b-c"
    # Read by the tracker at run time: the same build, so the same CSP hashes.
    assert tracker_build(config) == "tracker"
    assert csp_hashes(config) == csp_hashes(make())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ref", "query_params: must be a list of query parameter names such as [ref, plan]"),
        ({"ref": 1}, "query_params: must be a list of query parameter names"),
        (["ref", "a b"], "query_params[1]: must be a query parameter name such as 'ref', got 'a"),
        ([""], "query_params[0]: must be a query parameter name such as 'ref', got ''"),
        ([5], "query_params[0]: must be a query parameter name such as 'ref', got 5"),
        (["x" * 65], "query_params[0]: must be a query parameter name such as 'ref'"),
        (["ref=1"], "query_params[0]: must be a query parameter name such as 'ref'"),
        (["email"], "query_params[0]: 'email' would send personal data or a secret with every URL"),
        (["plan", "Access-Token"], "query_params[1]: 'Access-Token' would send personal data"),
        (["code"], "query_params[0]: 'code' would send personal data or a secret"),
        ([f"k{n}" for n in range(21)], "query_params: must have at most 20 keys, got 21"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(value: Any, expected: str) -> None:
    assert error_of(query_params=value).startswith(expected)
    assert error_of("AAE_TRACKING", query_params=value).startswith("AAE_TRACKING[")


@pytest.mark.parametrize(
    "key",
    ["user_email", "customerEmail", "phone_number", "X-Amz-Signature", "reset-token", "jwt", "otp"],
)
def test_a_key_with_a_contact_or_secret_word_in_it_is_refused(key: str) -> None:
    # A newcomer's trial: user_email and phone_number passed, as only whole keys were compared.
    assert error_of(query_params=["ref", key]) == (
        f"query_params[1]: {key!r} would send personal data or a secret with every URL; "
        "not allowed (docs/security-privacy.md)"
    )


def test_a_site_key_that_only_resembles_a_refused_word_is_kept() -> None:
    # Ambiguous words are refused only as whole keys: a promo code or a plan name is harmless.
    keys = ("promo_code", "plan_name", "country_code", "mailing_list", "sigma", "mc_cid")
    assert make(query_params=list(keys)).query_params == keys


def test_the_built_in_list_is_the_trackers() -> None:
    """core/query.py documents the list js/util.js applies: the two must not drift."""
    found = re.search(r'export var KEEP = "([^"]+)"\.split', UTIL_JS.read_text("utf-8"))
    assert found is not None
    assert tuple(found.group(1).split()) == BUILT_IN_QUERY_KEYS


# --------------------------------------------------------------------------- CLI


def test_cli_flag_reaches_the_pages_and_check_reads_it_back(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API]
    result = run_cli("inject", site, *flags, "--query-params", "ref, plan")
    assert result.returncode == 0, result.stderr
    assert tracker_of((site / "index.html").read_text("utf-8"))["data-query-params"] == "ref plan"
    checked = run_cli("check", site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 tracked (0 outdated)" in checked.stdout
    again = run_cli("inject", site, *flags, "--query-params", "ref,plan")
    assert "0 updated, 2 already up to date" in again.stdout
    # Without the flag: the attribute goes.
    run_cli("inject", site, *flags)
    assert "data-query-params" not in tracker_of((site / "index.html").read_text("utf-8"))


def test_cli_config_file_sets_them_and_an_empty_flag_removes_them(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    config = tmp_path / "tracking.toml"
    config.write_text(
        f'landing_page_id = "lp_1"\napi_base_url = "{API}"\nquery_params = ["ref", "plan"]\n'
    )
    assert run_cli("inject", site, "--config", config).returncode == 0
    assert tracker_of((site / "index.html").read_text("utf-8"))["data-query-params"] == "ref plan"
    assert run_cli("inject", site, "--config", config, "--query-params", "").returncode == 0
    assert "data-query-params" not in tracker_of((site / "index.html").read_text("utf-8"))


def test_cli_bad_values_exit_2_with_one_line(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    before = (site / "index.html").read_bytes()
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API]
    line = one_error_line(run_cli("inject", site, *flags, "--query-params", "ref,e mail"))
    assert line == (
        "aae-tracking: error: --query-params: must be a query parameter name such as 'ref', "
        "got 'e mail'"
    )
    config = tmp_path / "tracking.toml"
    config.write_text(f'landing_page_id = "lp_1"\napi_base_url = "{API}"\nquery_params = "ref"\n')
    line = one_error_line(run_cli("inject", site, "--config", config))
    assert line.startswith(
        f"aae-tracking: error: {config}: query_params: must be a list of query parameter names"
    )
    assert (site / "index.html").read_bytes() == before


# --------------------------------------------------------------------------- event contract


def event(event_type: str, **data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"url": "https://lp.example/", "timestamp": "2026-11-30T10:00:00.000Z"}
    shapes: dict[str, dict[str, Any]] = {
        "PageView": {"referrer": ""},
        "AddToCart": {"button_text": "Buy", "button_id": None},
        "Purchase": {"value": 1, "currency": "EUR", "order_id": None},
        "Engagement": {"engaged_ms": 1000, "scroll_depth": 10},
        "WebVitals": {"lcp": 1, "lcp_rating": "good"},
    }
    base.update(shapes.get(event_type, {}))
    if event_type in ("AddToCart", "Purchase"):
        del base["url"]
    base.update(data)
    return {
        "event_type": event_type,
        "event_id": "e1",
        "landing_page_id": "lp_1",
        "campaign_id": None,
        "session_id": "sess_1_abc",
        "event_data": base,
        "user_agent": "UA",
        "screen_resolution": "1x1",
        "timestamp": "2026-11-30T10:00:00.000Z",
    }


ALL_UTM = {key: "x" for key in UTM_KEYS}


@pytest.mark.parametrize(
    "event_type", ["PageView", "AddToCart", "Purchase", "Engagement", "WebVitals", "Lead"]
)
def test_every_event_type_accepts_the_utm_fields(event_type: str) -> None:
    assert validate_event(event(event_type, **ALL_UTM)) == []
    assert validate_event(event(event_type, utm_campaign="é" * 200)) == []
    too_long = validate_event(event(event_type, utm_campaign="x" * 201))
    assert len(too_long) == 1
    assert too_long[0].startswith("event_data.utm_campaign must be")
    if event_type != "Lead":  # a custom event's unknown keys are props
        assert validate_event(event(event_type, utm_id="x")) == [
            "event_data.utm_id is not allowed (unknown key)"
        ]


def test_a_standard_events_utm_values_are_non_empty_text() -> None:
    assert validate_event(event("PageView", utm_source="")) != []
    assert validate_event(event("PageView", utm_source=5)) != []


def test_a_custom_events_utm_keys_count_toward_its_20_props() -> None:
    props = {f"p{n}": "v" for n in range(15)}
    assert validate_event(event("Lead", **props, **ALL_UTM)) == []
    too_many = validate_event(event("Lead", **props, p15="v", **ALL_UTM))
    assert len(too_many) == 1
    assert "must have at most 20 props" in too_many[0]


def test_a_gated_tag_with_query_params_stays_up_to_date(tmp_path: Path) -> None:
    """data-query-params is ours, not a consent manager's gating (core/engine/gating.py)."""
    site = small_site(tmp_path / "site")
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API, "--query-params", "ref"]
    assert run_cli("inject", site, *flags, "--consent-manager", "klaro").returncode == 0
    tracker = tracker_of((site / "index.html").read_text("utf-8"))
    assert (tracker["type"], tracker["data-query-params"]) == ("text/plain", "ref")
    checked = run_cli("check", site)
    assert "0 outdated), 2 gated by a consent manager" in checked.stdout, checked.stdout
    again = run_cli("inject", site, *flags)  # the gating is kept without the flag
    assert "0 updated, 2 already up to date" in again.stdout
    assert tracker_of((site / "index.html").read_text("utf-8"))["type"] == "text/plain"
