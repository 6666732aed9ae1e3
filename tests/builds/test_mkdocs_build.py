"""Real `mkdocs build` runs of the sample site and of broken variants of it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aae_tracking_plugins.core.engine.inject import remove_tracker
from tests.sites import (
    MKDOCS_SITE,
    assert_one_clear_error,
    build_mkdocs,
    copy_site,
    html_files,
    run,
    stub_in_head,
    tracker_tags,
    write_mkdocs_site,
)
from tests.static_server import free_port

PAGE_MARKER = re.compile(r"<span hidden data-aae-page[^>]*></span>")
API = "http://127.0.0.1:8765"
ENDPOINT = API + "/api/v1/landing-pages/events"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("mkdocs") / "site"
    result = build_mkdocs(MKDOCS_SITE, dest, API)
    assert result.returncode == 0, result.stderr
    return dest


def test_every_html_output_is_tracked_once_except_the_opted_out_page(built: Path) -> None:
    pages = html_files(built)
    assert {"index.html", "offer/index.html", "thank-you/index.html", "404.html"} <= set(pages)
    for name, path in pages.items():
        tags = tracker_tags(path)
        if name == "privacy/index.html":
            assert tags == [], name
            assert "data-aae-tracking" not in path.read_text("utf-8")
        else:
            assert len(tags) == 1, name
            assert tags[0].landing_page_id == "lp_spring_desk"
            assert tags[0].endpoint == ENDPOINT  # api_base_url came from !ENV
            assert stub_in_head(path), name


def test_front_matter_overrides_the_campaign(built: Path) -> None:
    assert tracker_tags(built / "offer/index.html")[0].campaign_id == "camp_spring_offer"
    assert tracker_tags(built / "index.html")[0].campaign_id == "camp_spring_2026"
    assert tracker_tags(built / "404.html")[0].campaign_id == "camp_spring_2026"


def test_non_html_outputs_are_untouched(built: Path) -> None:
    sitemap = (built / "sitemap.xml").read_text("utf-8")
    assert "aae-tracking" not in sitemap
    assert sitemap.lstrip().startswith("<?xml")


def test_only_insertions_compared_with_a_build_without_the_plugin(
    built: Path, tmp_path: Path
) -> None:
    source = copy_site(MKDOCS_SITE, tmp_path / "src")
    config = (source / "mkdocs.yml").read_text("utf-8")
    (source / "mkdocs.yml").write_text(
        config.replace("  - aae-tracking:", "  - aae-tracking:\n      enabled: false"), "utf-8"
    )
    plain = tmp_path / "plain"
    result = build_mkdocs(source, plain, API)
    assert result.returncode == 0, result.stderr
    for name, path in html_files(plain).items():
        tracked = (built / name).read_text("utf-8")
        # Besides the tags, every page's content carries its hidden per-page settings marker.
        tracked = PAGE_MARKER.sub("", tracked)
        assert remove_tracker(tracked) == path.read_text("utf-8"), name


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (
            "      landing_page_id: lp_1\n      api_base_url: http://api.aae.com\n",
            ["api_base_url", "must use https://", "'http://api.aae.com'"],
        ),
        (
            "      landing_page_id: 'lp 1'\n      api_base_url: https://api.aae.com\n",
            ["landing_page_id", "short identifier", "'lp 1'"],
        ),
        ("      api_base_url: https://api.aae.com\n", ["landing_page_id", "is required"]),
        ("      landing_page_id: lp_1\n", ["api_base_url", "is required"]),
        (
            "      landing_page_id: lp_1\n      campaign_id: '</script>'\n"
            "      api_base_url: https://api.aae.com\n",
            ["campaign_id", "'</script>'"],
        ),
    ],
)
def test_bad_config_stops_the_build_with_one_clear_line(
    tmp_path: Path, options: str, fragments: list[str]
) -> None:
    source = write_mkdocs_site(tmp_path, options)
    result = build_mkdocs(source, tmp_path / "site", API)
    line = assert_one_clear_error(result, "aae-tracking", *fragments)
    assert not (tmp_path / "site" / "index.html").exists(), line


@pytest.mark.parametrize(
    ("front_matter", "fragments"),
    [
        ("aae_tracking: maybe", ["index.md", "must be false", "'maybe'"]),
        ("aae_tracking:\n  campain_id: x", ["index.md", "unknown key 'campain_id'"]),
        ("aae_tracking:\n  campaign_id: 'bad id'", ["index.md", "campaign_id", "'bad id'"]),
    ],
)
def test_bad_front_matter_names_the_page(
    tmp_path: Path, front_matter: str, fragments: list[str]
) -> None:
    options = "      landing_page_id: lp_1\n      api_base_url: https://api.aae.com\n"
    source = write_mkdocs_site(
        tmp_path, options, {"index.md": f"---\n{front_matter}\n---\n# Home\n"}
    )
    assert_one_clear_error(build_mkdocs(source, tmp_path / "site", API), *fragments)


def test_landing_page_override_and_static_html_files(tmp_path: Path) -> None:
    options = "      landing_page_id: lp_site\n      api_base_url: https://api.aae.com/\n"
    source = write_mkdocs_site(
        tmp_path,
        options,
        {
            "index.md": "---\naae_tracking:\n  landing_page_id: lp_page\n---\n# Home\n",
            "hand-written.html": "<!doctype html><html><head></head><body>Hi</body></html>\r\n",
            "google1234.html": "google-site-verification: google1234.html",
        },
    )
    result = build_mkdocs(source, tmp_path / "site", API)
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    assert tracker_tags(site / "index.html")[0].landing_page_id == "lp_page"
    static = tracker_tags(site / "hand-written.html")
    assert [tag.landing_page_id for tag in static] == ["lp_site"]
    assert static[0].endpoint == "https://api.aae.com/api/v1/landing-pages/events"
    assert (site / "hand-written.html").read_bytes().endswith(b"</html>\r\n")
    # A verification file is not a page: left byte-for-byte as it was.
    assert (site / "google1234.html").read_text() == "google-site-verification: google1234.html"


def test_disabled_plugin_tracks_nothing(tmp_path: Path) -> None:
    options = "      enabled: false\n"
    source = write_mkdocs_site(tmp_path, options)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert result.returncode == 0, result.stderr
    assert all(tracker_tags(path) == [] for path in html_files(tmp_path / "site").values())


def test_mkdocs_serve_serves_tracked_pages() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "--no-livereload", "-a", f"127.0.0.1:{port}"],
        cwd=MKDOCS_SITE,
        env={**__import__("os").environ, "AAE_API_BASE_URL": API, "NO_MKDOCS_2_WARNING": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/offer/", timeout=5) as reply:
                    body = reply.read().decode("utf-8")
                break
            except OSError:
                time.sleep(0.3)
        assert body, "mkdocs serve did not answer within 60 s"
        assert len(re.findall(r'data-aae-tracking="tracker"', body)) == 1
        assert 'data-campaign-id="camp_spring_offer"' in body
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_run_helper_is_used_for_subprocesses() -> None:
    # mkdocs must be importable from this interpreter, the same one `make test` installed.
    result = run([sys.executable, "-m", "mkdocs", "--version"], cwd=MKDOCS_SITE)
    assert result.returncode == 0
    assert re.search(r"version 1\.\d+", result.stdout)


HAND_WRITTEN = "<!doctype html><html><head><title>{0}</title></head><body>{0}</body></html>\n"


def inclusion_site(tmp_path: Path) -> Path:
    """Hand-written .html files that MkDocs copies, excludes, or copies only as drafts."""
    options = "      landing_page_id: lp_site\n      api_base_url: https://api.aae.com\n"
    pages = {"index.md": "# Home\n"}
    for name in ("kept.html", "excluded.html", "secret.htm", "draft.html", "not-in-nav.html"):
        pages[name] = HAND_WRITTEN.format(name)
    source = write_mkdocs_site(tmp_path, options, pages)
    (source / "docs" / "drafts").mkdir()
    (source / "docs" / "drafts" / "wip.html").write_text(HAND_WRITTEN.format("wip"), "utf-8")
    (source / "docs" / ".hidden.html").write_text(HAND_WRITTEN.format("hidden"), "utf-8")
    config = source / "mkdocs.yml"
    config.write_text(
        config.read_text("utf-8")
        + "exclude_docs: |\n  excluded.html\n  *.htm\n"
        + "draft_docs: |\n  draft.html\n  drafts/\n"
        + "not_in_nav: |\n  not-in-nav.html\n",
        "utf-8",
    )
    return source


def test_strict_build_follows_exclude_docs_and_draft_docs(tmp_path: Path) -> None:
    source = inclusion_site(tmp_path)
    site = tmp_path / "site"
    result = run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", site], cwd=source, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "aae-tracking" not in result.stderr  # no "cannot read it" warning for any file
    assert set(html_files(site)) >= {"kept.html", "not-in-nav.html"}
    for absent in ("excluded.html", "secret.htm", "draft.html", "drafts/wip.html", ".hidden.html"):
        assert not (site / absent).exists(), absent
    for name in ("kept.html", "not-in-nav.html"):
        assert [tag.landing_page_id for tag in tracker_tags(site / name)] == ["lp_site"], name


def test_mkdocs_serve_tracks_drafts_and_never_excluded_files(tmp_path: Path) -> None:
    source = inclusion_site(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "serve",
            "--strict",
            "--no-livereload",
            "-a",
            f"127.0.0.1:{port}",
        ],
        cwd=source,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def fetch(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=5) as reply:
                return reply.status, reply.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                fetch("")
                break
            except OSError:
                time.sleep(0.3)
        for draft in ("draft.html", "drafts/wip.html", "kept.html"):
            status, body = fetch(draft)
            assert status == 200, draft
            assert len(re.findall(r'data-aae-tracking="tracker"', body)) == 1, draft
        for excluded in ("excluded.html", "secret.htm"):
            assert fetch(excluded)[0] == 404, excluded
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "aae-tracking" not in stderr, stderr
