"""The consent, gpc and cookieless settings on the Python side: validation (one line naming the
setting), the tracker tag attributes they become, the Pixel ``<noscript>`` fallback left out when
consent is asked, the same tracker build (and CSP hashes) whatever they say, and the CLI's flags
and ``--config`` file through ``inject`` and ``check``. MkDocs and Pelican builds:
tests/builds/test_consent_builds.py; the browser side: tests/browser/test_consent.py,
test_gpc.py, test_cookieless.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import csp_hashes, render_snippet, tracker_build
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import one_error_line, run_cli, small_site
from tests.sites import elements, tracker_of

API = "https://api.aae.com"
PIXEL = "1234567890123"
ATTRIBUTES = ("data-consent", "data-gpc", "data-cookieless")


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


def test_the_settings_are_known_with_their_defaults() -> None:
    assert {"consent", "gpc", "cookieless"} <= set(SETTING_NAMES)
    config = make()
    assert (config.consent, config.gpc, config.cookieless) == ("none", "opt-out", False)
    # Unset (None, as MkDocs passes every option) keeps the defaults.
    assert make(consent=None, gpc=None, cookieless=None) == config


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"consent": "yes"}, "consent: must be one of 'none', 'opt-in', 'opt-out', got 'yes'"),
        # YAML reads `consent: no` as false: no mode is a boolean.
        ({"consent": False}, "consent: must be one of 'none', 'opt-in', 'opt-out', got False"),
        (
            {"consent": "Opt-In"},
            "consent: must be one of 'none', 'opt-in', 'opt-out', got 'Opt-In'",
        ),
        ({"gpc": "off"}, "gpc: must be one of 'opt-out', 'first-party', got 'off'"),
        ({"gpc": True}, "gpc: must be one of 'opt-out', 'first-party', got True"),
        ({"cookieless": "true"}, "cookieless: must be a boolean (true or false, not text"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(
    settings: dict[str, object], expected: str
) -> None:
    assert error_of(**settings).startswith(expected)
    # Where the setting lives is named too (Pelican's AAE_TRACKING).
    (key,) = settings
    assert error_of("AAE_TRACKING", **settings).startswith(f"AAE_TRACKING[{key!r}]: ")


def test_default_tags_carry_none_of_the_attributes() -> None:
    tracker = tracker_of(render_snippet(make()).body)
    assert not set(ATTRIBUTES) & set(tracker)


@pytest.mark.parametrize(
    ("settings", "attributes"),
    [
        ({"consent": "opt-in"}, {"data-consent": "opt-in"}),
        ({"consent": "opt-out"}, {"data-consent": "opt-out"}),
        ({"gpc": "first-party"}, {"data-gpc": "first-party"}),
        ({"cookieless": True}, {"data-cookieless": "true"}),
        (
            {"consent": "opt-in", "gpc": "first-party", "cookieless": True},
            {"data-consent": "opt-in", "data-gpc": "first-party", "data-cookieless": "true"},
        ),
    ],
)
def test_the_settings_become_tracker_tag_attributes(
    settings: dict[str, object], attributes: dict[str, str]
) -> None:
    config = make(**settings)
    tracker = tracker_of(render_snippet(config).body)
    assert {key: tracker.get(key) for key in ATTRIBUTES if key in tracker} == attributes
    # Read by the tracker at run time: the same build, so the same CSP hashes.
    assert tracker_build(config) == "tracker"
    assert csp_hashes(config) == csp_hashes(make())


@pytest.mark.parametrize(("consent", "noscript"), [("none", 1), ("opt-in", 0), ("opt-out", 0)])
def test_the_pixel_noscript_fallback_only_when_consent_is_not_asked(
    consent: str, noscript: int
) -> None:
    body = render_snippet(make(facebook_pixel_id=PIXEL, consent=consent)).body
    assert len(elements(body, "noscript")) == noscript


# --------------------------------------------------------------------------- CLI


def test_cli_flags_reach_the_pages_and_check_reads_them_back(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API, "--facebook-pixel-id", PIXEL]
    modes = ["--consent", "opt-in", "--gpc", "first-party", "--cookieless"]
    result = run_cli("inject", site, *flags, *modes)
    assert result.returncode == 0, result.stderr
    page = (site / "index.html").read_text("utf-8")
    tracker = tracker_of(page)
    assert (tracker["data-consent"], tracker["data-gpc"]) == ("opt-in", "first-party")
    assert tracker["data-cookieless"] == "true"
    assert elements(page, "noscript") == []
    # check recognises the pages as up to date with these settings ...
    checked = run_cli("check", site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 tracked (0 outdated)" in checked.stdout
    # ... and inject again leaves them alone.
    again = run_cli("inject", site, *flags, *modes)
    assert "0 updated, 2 already up to date" in again.stdout
    # Back to no consent: the noscript fallback comes back, the attributes go.
    result = run_cli("inject", site, *flags)
    page = (site / "index.html").read_text("utf-8")
    assert not set(ATTRIBUTES) & set(tracker_of(page))
    assert len(elements(page, "noscript")) == 1


def test_cli_config_file_sets_them_and_flags_override(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    config = tmp_path / "tracking.toml"
    config.write_text(
        f'landing_page_id = "lp_1"\napi_base_url = "{API}"\n'
        'consent = "opt-out"\ngpc = "first-party"\ncookieless = true\n'
    )
    result = run_cli("inject", site, "--config", config, "--consent", "opt-in", "--no-cookieless")
    assert result.returncode == 0, result.stderr
    tracker = tracker_of((site / "index.html").read_text("utf-8"))
    assert (tracker["data-consent"], tracker["data-gpc"]) == ("opt-in", "first-party")
    assert "data-cookieless" not in tracker


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--consent", "yes"],
            "aae-tracking: error: --consent: must be one of 'none', 'opt-in', 'opt-out', got 'yes'",
        ),
        (
            ["--gpc", "ignore"],
            "aae-tracking: error: --gpc: must be one of 'opt-out', 'first-party', got 'ignore'",
        ),
    ],
)
def test_cli_bad_flag_exits_2_with_one_line(tmp_path: Path, args: list[str], line: str) -> None:
    site = small_site(tmp_path / "site")
    before = (site / "index.html").read_bytes()
    result = run_cli("inject", site, "--landing-page-id", "lp_1", "--api-base-url", API, *args)
    assert one_error_line(result) == line
    assert (site / "index.html").read_bytes() == before


def test_cli_bad_config_value_names_the_file_and_key(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    config = tmp_path / "tracking.toml"
    config.write_text(f'landing_page_id = "lp_1"\napi_base_url = "{API}"\nconsent = false\n')
    line = one_error_line(run_cli("inject", site, "--config", config))
    assert line == (
        f"aae-tracking: error: {config}: consent: must be one of 'none', 'opt-in', 'opt-out', "
        "got False"
    )
