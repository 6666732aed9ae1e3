"""Real Pelican builds (from the Pelican environment) of the sample site and broken variants."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from aae_tracking_plugins.core.engine.inject import remove_tracker
from tests.sites import (
    PELICAN_BIN,
    PELICAN_PYTHON,
    PELICAN_SITE,
    SETTINGS_HEAD,
    assert_one_clear_line,
    build_pelican,
    copy_site,
    html_files,
    run,
    stub_in_head,
    tracker_tags,
    write_pelican_site,
)

pytestmark = pytest.mark.pelican

API = "http://127.0.0.1:8765"
ENDPOINT = API + "/api/v1/landing-pages/events"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("pelican") / "output"
    result = build_pelican(PELICAN_SITE, dest, API)
    assert result.returncode == 0, result.stderr + result.stdout
    return dest


def test_every_kind_of_rendered_page_is_tracked_once(built: Path) -> None:
    pages = html_files(built)
    expected_kinds = {
        "index.html",  # index
        "index2.html",  # its pagination
        "launch.html",  # article
        "pages/offer.html",  # page
        "tag/desk.html",
        "tags.html",
        "category/stories.html",
        "categories.html",
        "author/acme-marketing.html",
        "authors.html",
        "archives.html",
        "posts/2026/index.html",  # period archives
        "posts/2026/03/index.html",
    }
    assert expected_kinds <= set(pages)
    for name, path in pages.items():
        tags = tracker_tags(path)
        if name == "pages/privacy.html":
            assert tags == [], name
        else:
            assert len(tags) == 1, name
            assert tags[0].landing_page_id == "lp_spring_desk"
            assert tags[0].endpoint == ENDPOINT
            assert stub_in_head(path), name


def test_metadata_overrides_the_campaign(built: Path) -> None:
    assert tracker_tags(built / "pages/offer.html")[0].campaign_id == "camp_spring_offer"
    assert tracker_tags(built / "launch.html")[0].campaign_id == "camp_spring_2026"


def test_feeds_are_untouched(built: Path) -> None:
    feed = (built / "feeds/all.atom.xml").read_text("utf-8")
    assert "aae-tracking" not in feed


def test_only_insertions_compared_with_a_build_without_the_plugin(
    built: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    result = build_pelican(PELICAN_SITE, plain, API, "-e", "PLUGINS=[]")
    assert result.returncode == 0, result.stderr
    plain_pages = html_files(plain)
    assert plain_pages.keys() == html_files(built).keys()
    for name, path in plain_pages.items():
        assert remove_tracker((built / name).read_text("utf-8")) == path.read_text("utf-8"), name


def test_rebuilding_into_the_same_output_keeps_one_tracker(built: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    for _ in range(2):
        result = build_pelican(PELICAN_SITE, dest, API)
        assert result.returncode == 0, result.stderr
    assert all(len(tracker_tags(p)) <= 1 for p in html_files(dest).values())
    assert len(tracker_tags(dest / "index.html")) == 1


def test_a_file_written_twice_in_one_build_carries_one_tracker(tmp_path: Path) -> None:
    """Pelican's content_written fires again when a file is rewritten: still one tracker."""
    page = tmp_path / "page.html"
    page.write_text("<html><head></head><body>x</body></html>", "utf-8")
    script = f"""
from pelican.plugins.aae_tracking import register
from aae_tracking_plugins.integrations import pelican as plugin
class FakePelican:
    settings = {{"OUTPUT_PATH": {str(tmp_path)!r},
                "AAE_TRACKING": {{"landing_page_id": "lp_1", "api_base_url": {API!r}}}}}
plugin.on_initialized(FakePelican())
context = dict(FakePelican.settings)
plugin.on_content_written({str(page)!r}, context=context)
plugin.on_content_written({str(page)!r}, context=context)
"""
    result = run([PELICAN_PYTHON, "-c", script], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(tracker_tags(page)) == 1


@pytest.mark.parametrize(
    ("page", "encoding"),
    [
        # a page a plugin before ours re-encoded: its bytes stay windows-1252
        (
            '<html><head><meta charset="windows-1252"></head><body>Caf\u00e9 \u20ac5</body></html>',
            "cp1252",
        ),
        # a stray byte a minifier left: not UTF-8, and no traceback for it
        ("<html><head></head><body>x \udcff y</body></html>", "utf-8"),
    ],
    ids=["windows-1252", "stray-byte"],
)
def test_pages_are_read_as_bytes_in_their_own_encoding(
    tmp_path: Path, page: str, encoding: str
) -> None:
    """The Pelican path reads bytes like the MkDocs one: every original byte stays, plus tags."""
    path = tmp_path / "page.html"
    original = page.encode(encoding, "surrogateescape")
    path.write_bytes(original)
    script = f"""
from pelican.plugins.aae_tracking import register
from aae_tracking_plugins.integrations import pelican as plugin
class FakePelican:
    settings = {{"OUTPUT_PATH": {str(tmp_path)!r},
                "AAE_TRACKING": {{"landing_page_id": "lp_1", "api_base_url": {API!r}}}}}
plugin.on_initialized(FakePelican())
plugin.on_content_written({str(path)!r}, context=dict(FakePelican.settings))
"""
    result = run([PELICAN_PYTHON, "-c", script], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = path.read_bytes()
    assert len(tracker_tags(path)) == 1
    assert b"data-aae-tracking" in written
    # what is left once our two tags are cut out is the original, byte for byte
    head_tag = written.index(b"<script data-aae-tracking")
    head_end = written.index(b"</script>", head_tag) + len(b"</script>")
    body_tag = written.index(b"<script data-aae-tracking", head_end)
    body_end = written.index(b"</script>", body_tag) + len(b"</script>")
    assert written[:head_tag] + written[head_end:body_tag] + written[body_end:] == original


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        (
            '{"landing_page_id": "lp_1", "api_base_url": "http://api.aae.com"}',
            ["AAE_TRACKING['api_base_url']", "must use https://"],
        ),
        (
            '{"landing_page_id": "lp 1", "api_base_url": "https://api.aae.com"}',
            ["AAE_TRACKING['landing_page_id']", "'lp 1'"],
        ),
        ('{"api_base_url": "https://api.aae.com"}', ["landing_page_id", "is required"]),
        ('"lp_1"', ["AAE_TRACKING must be a dict"]),
        (
            '{"landing_page_id": "lp_1", "api_base_url": "https://a.b", "campain_id": "c"}',
            ["AAE_TRACKING['campain_id']", "unknown setting"],
        ),
    ],
)
def test_bad_settings_stop_the_build_with_one_clear_line(
    tmp_path: Path, setting: str, fragments: list[str]
) -> None:
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n")
    assert_one_clear_line(build_pelican(source, tmp_path / "out", API), *fragments)


@pytest.mark.parametrize(
    ("metadata", "fragments"),
    [
        ("aae_tracking: maybe", ["hello.md", "'aae_tracking' must be 'off'", "'maybe'"]),
        ("aae_tracking_campaign_id: bad id", ["hello.md", "aae_tracking_campaign_id", "'bad id'"]),
    ],
)
def test_bad_page_metadata_names_the_file(
    tmp_path: Path, metadata: str, fragments: list[str]
) -> None:
    settings = (
        SETTINGS_HEAD
        + 'AAE_TRACKING = {"landing_page_id": "lp_1", "api_base_url": "https://a.b"}\n'
    )
    source = write_pelican_site(
        tmp_path, settings, {"hello.md": f"Title: Hello\nDate: 2026-01-01\n{metadata}\n\nHi\n"}
    )
    assert_one_clear_line(build_pelican(source, tmp_path / "out", API), *fragments)


def test_installed_but_unconfigured_only_warns(tmp_path: Path) -> None:
    # No PLUGINS: Pelican loads every installed namespace plugin, ours included.
    source = write_pelican_site(tmp_path, 'PATH = "content"\n')
    result = build_pelican(source, tmp_path / "out", API)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "AAE_TRACKING is not set" in output
    assert all(tracker_tags(p) == [] for p in html_files(tmp_path / "out").values())


def test_landing_page_override(tmp_path: Path) -> None:
    settings = (
        SETTINGS_HEAD
        + 'AAE_TRACKING = {"landing_page_id": "lp_1", "api_base_url": "https://a.b"}\n'
    )
    page = "Title: Hello\nDate: 2026-01-01\naae_tracking_landing_page_id: lp_other\n\nHi\n"
    source = write_pelican_site(tmp_path, settings, {"hello.md": page})
    result = build_pelican(source, tmp_path / "out", API)
    assert result.returncode == 0, result.stderr
    assert tracker_tags(tmp_path / "out" / "hello.html")[0].landing_page_id == "lp_other"
    assert tracker_tags(tmp_path / "out" / "index.html")[0].landing_page_id == "lp_1"


def test_autoreload_tracks_regenerated_pages(tmp_path: Path) -> None:
    source = copy_site(PELICAN_SITE, tmp_path / "src")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [str(PELICAN_BIN), "--autoreload", "content", "-s", "pelicanconf.py", "-o", str(out)],
        cwd=source,
        env={**os.environ, "AAE_API_BASE_URL": API},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    page = out / "launch.html"
    try:
        wait_until(lambda: page.exists() and len(tracker_tags(page)) == 1, "first build")
        article = source / "content" / "launch.md"
        original = article.read_text("utf-8")

        def edited_and_rebuilt() -> bool:
            # Re-save on every poll: the watcher starts only after the first build finished.
            article.write_text(original + f"\nEdited while autoreloading {time.time()}.\n", "utf-8")
            time.sleep(1.5)
            return "Edited while autoreloading" in page.read_text("utf-8")

        wait_until(edited_and_rebuilt, "rebuild")
        wait_until(lambda: len(tracker_tags(page)) == 1, "tracked rebuild")
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except (OSError, ValueError):
            pass  # a file caught mid-write
        time.sleep(0.3)
    raise AssertionError(f"pelican --autoreload: no {what} within {timeout} s")


def test_pelican_environment_exists() -> None:
    assert PELICAN_BIN.exists(), "run `make test`: it creates .venv-pelican"
