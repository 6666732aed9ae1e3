"""consent, gpc and cookieless in real MkDocs and Pelican builds: the options reach every page's
tracker tag (and take the Pixel's ``<noscript>`` fallback out when consent is asked), and a bad
value stops the build with one line naming the option, no traceback. The settings themselves:
tests/unit/test_consent_settings.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sites import (
    SETTINGS_HEAD,
    assert_one_clear_error,
    assert_one_clear_line,
    build_mkdocs,
    build_pelican,
    elements,
    tracker_of,
    write_mkdocs_site,
    write_pelican_site,
)

API = "https://api.aae.com"
PIXEL = "1234567890123"
BASE = (
    f"      landing_page_id: lp_1\n      api_base_url: {API}\n      facebook_pixel_id: '{PIXEL}'\n"
)


def assert_consent_tag(page: str) -> None:
    tracker = tracker_of(page)
    assert tracker["data-consent"] == "opt-in"
    assert tracker["data-gpc"] == "first-party"
    assert tracker["data-cookieless"] == "true"
    assert elements(page, "noscript") == []


def test_mkdocs_options_reach_every_page(tmp_path: Path) -> None:
    options = BASE + "      consent: opt-in\n      gpc: first-party\n      cookieless: true\n"
    pages = {"index.md": "# Home\n", "b.md": "# B\n"}
    source = write_mkdocs_site(tmp_path, options, pages)
    site = tmp_path / "site"
    result = build_mkdocs(source, site, API)
    assert result.returncode == 0, result.stderr
    for name in ("index.html", "b/index.html", "404.html"):
        assert_consent_tag((site / name).read_text("utf-8"))


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ("      consent: yes\n", ["plugin option consent", "'none', 'opt-in', 'opt-out'", "True"]),
        ("      consent: optin\n", ["plugin option consent", "got 'optin'"]),
        ("      gpc: off\n", ["plugin option gpc", "'opt-out', 'first-party'", "got False"]),
        ("      cookieless: 'yes'\n", ["plugin option cookieless", "must be a boolean"]),
    ],
)
def test_mkdocs_bad_option_stops_the_build_with_one_line(
    tmp_path: Path, options: str, fragments: list[str]
) -> None:
    source = write_mkdocs_site(tmp_path, BASE + options)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "aae-tracking:", *fragments)
    assert not (tmp_path / "site" / "index.html").exists()


def pelican_settings(**extra: object) -> str:
    settings = {"landing_page_id": "lp_1", "api_base_url": API, "facebook_pixel_id": PIXEL}
    return SETTINGS_HEAD + f"AAE_TRACKING = { ({**settings, **extra})!r}\n"


@pytest.mark.pelican
def test_pelican_settings_reach_every_page(tmp_path: Path) -> None:
    settings = pelican_settings(consent="opt-in", gpc="first-party", cookieless=True)
    source = write_pelican_site(tmp_path, settings)
    out = tmp_path / "out"
    result = build_pelican(source, out, API)
    assert result.returncode == 0, result.stderr + result.stdout
    for name in ("hello.html", "index.html"):
        assert_consent_tag((out / name).read_text("utf-8"))


@pytest.mark.pelican
@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"consent": "always"}, ["AAE_TRACKING['consent']", "'opt-in'", "got 'always'"]),
        ({"gpc": None, "consent": 1}, ["AAE_TRACKING['consent']", "got 1"]),
        ({"gpc": "honour"}, ["AAE_TRACKING['gpc']", "'first-party'", "got 'honour'"]),
        ({"cookieless": "true"}, ["AAE_TRACKING['cookieless']", "must be a boolean"]),
    ],
)
def test_pelican_bad_setting_stops_the_build_with_one_line(
    tmp_path: Path, extra: dict[str, object], fragments: list[str]
) -> None:
    source = write_pelican_site(tmp_path, pelican_settings(**extra))
    out = tmp_path / "out"
    assert_one_clear_line(build_pelican(source, out, API), *fragments)
    assert not (out / "hello.html").exists()
