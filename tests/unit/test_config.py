"""TrackingConfig: the one place that decides what a valid setting is."""

from __future__ import annotations

import pytest

from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.values import ConfigError


def make(**settings: object) -> TrackingConfig:
    base: dict[str, object] = {"landing_page_id": "lp_123", "api_base_url": "https://api.aae.com"}
    base.update(settings)
    return TrackingConfig.from_mapping(base)


def error_of(**settings: object) -> str:
    with pytest.raises(ConfigError) as info:
        make(**settings)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_settings_are_normalised() -> None:
    config = make(campaign_id="camp_456", api_base_url="https://api.aae.com/")
    assert config == TrackingConfig("lp_123", "https://api.aae.com", "camp_456")
    assert config.events_url == "https://api.aae.com/api/v1/landing-pages/events"


def test_whole_number_ids_from_yaml_become_text() -> None:
    config = make(landing_page_id=123, campaign_id=456)
    assert (config.landing_page_id, config.campaign_id) == ("123", "456")


def test_empty_campaign_means_none() -> None:
    assert make(campaign_id="").campaign_id is None
    assert make(campaign_id=None).campaign_id is None


@pytest.mark.parametrize(
    "bad",
    ["lp 123", "lp_123<script>", "", "-leading-dash", "x" * 65, "lp\n1", "é", "a/b", '"q"'],
)
def test_bad_landing_page_id_names_the_setting_and_shows_the_value(bad: str) -> None:
    message = error_of(landing_page_id=bad) if bad else error_of(landing_page_id=None)
    assert message.startswith("landing_page_id:")
    if bad:
        assert repr(bad)[:40] in message


@pytest.mark.parametrize("bad", [True, 1.5, ["lp"], {"a": 1}])
def test_non_text_ids_are_rejected(bad: object) -> None:
    assert error_of(campaign_id=bad).startswith("campaign_id: must be a text identifier")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://[::1]:8765", "http://[::1]:8765"),
        ("https://collector.example.com/tracking/", "https://collector.example.com/tracking"),
    ],
)
def test_allowed_urls(url: str, expected: str) -> None:
    assert make(api_base_url=url).api_base_url == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.aae.com", "must use https://"),
        ("http://localhost.evil.com", "must use https://"),
        ("ftp://api.aae.com", "absolute https:// URL"),
        ("api.aae.com", "absolute https:// URL"),
        ("javascript:alert(1)", "absolute https:// URL"),
        ("https://user:pw@api.aae.com", "user name or password"),
        ("https://api.aae.com/?x=1", "query string or fragment"),
        ("https://api.aae.com/#x", "query string or fragment"),
        ("https://api.aae.com/a b", "spaces or control characters"),
        (' https://api.aae.com"><script>', "spaces or control characters"),
        ("https://api.aae.com:99999", "not a valid URL"),
        ("", "is required"),
    ],
)
def test_bad_urls(url: str, fragment: str) -> None:
    message = error_of(api_base_url=url)
    assert message.startswith("api_base_url:")
    assert fragment in message


def test_missing_and_unknown_settings() -> None:
    with pytest.raises(ConfigError, match=r"^landing_page_id: is required"):
        TrackingConfig.from_mapping({"api_base_url": "https://api.aae.com"})
    with pytest.raises(ConfigError, match=r"^AAE_TRACKING\['campagin_id'\]: unknown setting"):
        TrackingConfig.from_mapping(
            {"landing_page_id": "lp", "api_base_url": "https://a.b", "campagin_id": "x"},
            where="AAE_TRACKING",
        )


def test_error_prefix_names_where_the_setting_lives() -> None:
    with pytest.raises(ConfigError) as info:
        TrackingConfig.from_mapping(
            {"landing_page_id": "lp 1", "api_base_url": "https://a.b"}, where="AAE_TRACKING"
        )
    assert str(info.value).startswith("AAE_TRACKING['landing_page_id']: must be a short identifier")


def test_overrides() -> None:
    config = make(campaign_id="camp_site")
    assert config.with_overrides() is config
    page = config.with_overrides(campaign_id="camp_page")
    assert (page.landing_page_id, page.campaign_id) == ("lp_123", "camp_page")
    assert config.with_overrides(campaign_id="").campaign_id is None
    with pytest.raises(ConfigError, match=r"^offer.md: campaign_id: must be a short identifier"):
        config.with_overrides(campaign_id="bad id", where="offer.md")


def test_a_huge_bad_value_stays_one_short_line() -> None:
    message = error_of(landing_page_id="x" * 10_000)
    assert len(message) < 300
