"""query_params in real MkDocs and Pelican builds: the keys reach every page's tracker tag, and
a bad value stops the build with one line naming the option and the entry, no traceback. The
setting itself: tests/unit/test_query_params_settings.py; what the tracker does with it:
tests/browser/test_attribution.py.
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
    tracker_of,
    write_mkdocs_site,
    write_pelican_site,
)

API = "https://api.aae.com"
BASE = f"      landing_page_id: lp_1\n      api_base_url: {API}\n"


def test_mkdocs_option_reaches_every_page(tmp_path: Path) -> None:
    pages = {"index.md": "# Home\n", "b.md": "# B\n"}
    source = write_mkdocs_site(tmp_path, BASE + "      query_params: [ref, plan]\n", pages)
    site = tmp_path / "site"
    result = build_mkdocs(source, site, API)
    assert result.returncode == 0, result.stderr
    for name in ("index.html", "b/index.html", "404.html"):
        assert tracker_of((site / name).read_text("utf-8"))["data-query-params"] == "ref plan"


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ("      query_params: ref\n", ["plugin option query_params", "must be a list", "'ref'"]),
        (
            "      query_params: [ref, email]\n",
            ["plugin option query_params[1]", "'email' would send personal data"],
        ),
        ("      query_params: [ref, 'a b']\n", ["query_params[1]", "got 'a b'"]),
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
    settings = {"landing_page_id": "lp_1", "api_base_url": API}
    return SETTINGS_HEAD + f"AAE_TRACKING = { ({**settings, **extra})!r}\n"


@pytest.mark.pelican
def test_pelican_setting_reaches_every_page(tmp_path: Path) -> None:
    source = write_pelican_site(tmp_path, pelican_settings(query_params=["ref", "plan"]))
    out = tmp_path / "out"
    result = build_pelican(source, out, API)
    assert result.returncode == 0, result.stderr + result.stdout
    for name in ("hello.html", "index.html"):
        assert tracker_of((out / name).read_text("utf-8"))["data-query-params"] == "ref plan"


@pytest.mark.pelican
@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"query_params": "ref"}, ["AAE_TRACKING['query_params']", "must be a list"]),
        ({"query_params": ["token"]}, ["AAE_TRACKING['query_params[0]']", "'token' would send"]),
    ],
)
def test_pelican_bad_setting_stops_the_build_with_one_line(
    tmp_path: Path, extra: dict[str, object], fragments: list[str]
) -> None:
    source = write_pelican_site(tmp_path, pelican_settings(**extra))
    out = tmp_path / "out"
    assert_one_clear_line(build_pelican(source, out, API), *fragments)
    assert not (out / "hello.html").exists()
