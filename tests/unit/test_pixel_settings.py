"""The ``facebook_pixel_id`` setting on the Python side (docs/facebook-pixel.md).

Validation in every front end (one line naming the setting), the tags it renders (and that a page
without it carries no Pixel bytes at all), the per-page override in real MkDocs and Pelican
builds, the engine treating the Pixel's ``<noscript>`` as one of our tags, ``check`` and
``csp-hashes``, and the collector's optional ``fbp`` / ``fbc`` keys. The browser side is tested
in tests/browser/test_pixel.py.
"""

from __future__ import annotations

import copy
from pathlib import Path

import html5lib
import pytest

from aae_tracking_plugins import cli
from aae_tracking_plugins.collector import validate_event
from aae_tracking_plugins.core.engine.inject import find_tracker_tags, inject, inject_bytes
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import (
    SCRIPT_DIR,
    browser_script,
    csp_hashes,
    render_page_marker,
    render_snippet,
    script_file,
    tracker_build,
)
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import cli_executable, small_site
from tests.events import make_event
from tests.sites import (
    HTML_NS,
    SETTINGS_HEAD,
    TESTS,
    assert_one_clear_error,
    assert_one_clear_line,
    build_mkdocs,
    build_pelican,
    elements,
    run,
    tracker_of,
    write_mkdocs_site,
    write_pelican_site,
)

API = "https://api.aae.com"
PIXEL = "1234567890123456"
OTHER_PIXEL = "98765"
IMAGE = "https://www.facebook.com/tr?id={}&ev=PageView&noscript=1"
PAGE = "<!doctype html><html><head><title>T</title></head><body><p>Hi</p></body></html>"


def make(**settings: object) -> TrackingConfig:
    return TrackingConfig.from_mapping({"landing_page_id": "lp_1", "api_base_url": API, **settings})


def pixel_fallbacks(page: str) -> list[list[dict[str, str]]]:
    """The images in our Pixel ``<noscript>`` elements, as a browser without scripting parses
    them (html5lib's default), each as its attributes."""
    tree = html5lib.parse(page, treebuilder="etree")
    return [
        [dict(image.attrib) for image in element.iter(f"{HTML_NS}img")]
        for element in tree.iter(f"{HTML_NS}noscript")
        if element.get("data-aae-tracking") == "pixel"
    ]


def assert_pixel(page: str, pixel_id: str | None) -> None:
    """``page`` carries the Pixel of ``pixel_id``, or (``None``) no Pixel byte at all."""
    tracker = tracker_of(page)
    if pixel_id is None:
        assert "facebook" not in page.lower()
        assert "data-facebook-pixel-id" not in tracker
        assert pixel_fallbacks(page) == []
        return
    assert tracker["data-facebook-pixel-id"] == pixel_id
    image = {"height": "1", "width": "1", "style": "display:none", "alt": ""}
    assert pixel_fallbacks(page) == [[{**image, "src": IMAGE.format(pixel_id)}]]
    escaped = IMAGE.format(pixel_id).replace("&", "&amp;")
    assert f'<img height="1" width="1" style="display:none" alt="" src="{escaped}">' in page


# --------------------------------------------------------------------------- TrackingConfig


def test_the_setting_is_known_everywhere() -> None:
    assert "facebook_pixel_id" in SETTING_NAMES
    assert make().facebook_pixel_id is None
    assert make(facebook_pixel_id="").facebook_pixel_id is None
    assert make(facebook_pixel_id=PIXEL).facebook_pixel_id == PIXEL
    # YAML and TOML read an unquoted id as a number.
    assert make(facebook_pixel_id=int(PIXEL)).facebook_pixel_id == PIXEL


@pytest.mark.parametrize(
    "value", ["1234", "1" * 21, "12345a", " 12345", "12345\n", "١٢٣٤٥", True, 1.5, [12345], -12345]
)
def test_a_bad_pixel_id_is_one_line_naming_the_setting(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        make(facebook_pixel_id=value)
    message = str(caught.value)
    assert message.startswith("facebook_pixel_id: must be a Meta Pixel id (5-20 digits")
    assert "\n" not in message


def test_overrides_set_change_and_remove_the_pixel() -> None:
    site = make(campaign_id="c1")
    assert site.with_overrides() is site
    assert site.with_overrides(facebook_pixel_id=PIXEL).facebook_pixel_id == PIXEL
    with_pixel = make(facebook_pixel_id=PIXEL)
    assert with_pixel.with_overrides(facebook_pixel_id=PIXEL) is with_pixel
    assert with_pixel.with_overrides(facebook_pixel_id=98765).facebook_pixel_id == "98765"
    removed = with_pixel.with_overrides(facebook_pixel_id="")
    assert removed.facebook_pixel_id is None
    assert removed == make()
    # The existing overrides behave as before, and keep the Pixel.
    assert with_pixel.with_overrides(campaign_id="").campaign_id is None
    assert with_pixel.with_overrides(campaign_id="").facebook_pixel_id == PIXEL
    with pytest.raises(ConfigError, match=r"^page\.md: facebook_pixel_id: must be a Meta Pixel"):
        site.with_overrides(facebook_pixel_id="abc", where="page.md")


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("inline", [True, False])
def test_rendering_with_and_without_the_pixel(batch: bool, inline: bool) -> None:
    plain = make(batch=batch, inline_script=inline)
    pixel = make(batch=batch, inline_script=inline, facebook_pixel_id=PIXEL)
    assert tracker_build(plain) == ("tracker.batch" if batch else "tracker")
    assert tracker_build(pixel) == tracker_build(plain) + ".pixel"

    page = inject(PAGE, render_snippet(plain)).html
    assert_pixel(page, None)
    page = inject(PAGE, render_snippet(pixel)).html
    assert_pixel(page, PIXEL)
    tracker = tracker_of(page)
    if inline:
        assert tracker["text"] == str(browser_script(tracker_build(pixel)))
    else:
        assert tracker["src"] == f"{SCRIPT_DIR}/{script_file(tracker_build(pixel)).name}"
    # The fallback follows the tracker directly, at the end of the body.
    body = render_snippet(pixel).body
    assert body.index('</script><noscript data-aae-tracking="pixel">') > 0
    assert page.index(body) < page.index("</body>")


def test_the_page_marker_carries_the_page_pixel() -> None:
    assert "facebook" not in render_page_marker(make())
    (span,) = elements(render_page_marker(make(facebook_pixel_id=PIXEL)), "span")
    assert span["data-facebook-pixel-id"] == PIXEL


def test_csp_hashes_follow_the_pixel_variant() -> None:
    plain, pixel = csp_hashes(make()), csp_hashes(make(facebook_pixel_id=PIXEL))
    assert plain[0] == pixel[0]  # the stub is the same
    assert pixel[1][0] == "tracker.pixel"
    assert csp_hashes(make(facebook_pixel_id=OTHER_PIXEL)) == pixel  # the id is an attribute


# --------------------------------------------------------------------------- engine


@pytest.mark.parametrize(
    "page",
    [
        PAGE,
        "<p>No head, no body",  # checked by lxml too
        "<html><body><noscript><p>theirs</p></noscript><p>x</p></body></html>",
    ],
)
def test_inject_replaces_the_fallback_and_is_idempotent(page: str) -> None:
    with_pixel = render_snippet(make(facebook_pixel_id=PIXEL))
    once = inject(page, with_pixel)
    assert once.injected, once.skipped_reason
    assert inject(once.html, with_pixel).html == once.html
    tags = find_tracker_tags(once.html)
    assert [tag.name for tag, _end in tags] == ["script", "script", "noscript"]

    changed = inject(once.html, render_snippet(make(facebook_pixel_id=OTHER_PIXEL))).html
    assert changed == inject(page, render_snippet(make(facebook_pixel_id=OTHER_PIXEL))).html
    assert PIXEL not in changed
    assert len(pixel_fallbacks(changed)) == 1

    removed = inject(once.html, render_snippet(make())).html
    assert removed == inject(page, render_snippet(make())).html
    assert "facebook" not in removed
    # The page's own <noscript> is not ours and stays.
    if "theirs" in page:
        assert "<noscript><p>theirs</p></noscript>" in removed


CORPUS = TESTS / "corpus"


@pytest.mark.parametrize(
    "name", sorted(path.relative_to(CORPUS).as_posix() for path in CORPUS.rglob("*.html"))
)
def test_every_corpus_page_takes_the_fallback_idempotently(name: str) -> None:
    original = (CORPUS / name).read_bytes()
    pixel = inject_bytes(original, render_snippet(make(facebook_pixel_id=PIXEL)))
    assert pixel.injected, pixel.skipped_reason
    assert inject_bytes(pixel.data, render_snippet(make(facebook_pixel_id=PIXEL))) == pixel
    other = render_snippet(make(facebook_pixel_id=OTHER_PIXEL))
    assert inject_bytes(pixel.data, other).data == inject_bytes(original, other).data
    plain = render_snippet(make())
    assert inject_bytes(pixel.data, plain).data == inject_bytes(original, plain).data
    text = pixel.data.decode(pixel.encoding)
    assert text.count('<noscript data-aae-tracking="pixel">') == 1


def test_a_noscript_of_the_page_is_never_taken_for_ours() -> None:
    page = '<html><body><noscript data-aae-trackingx="pixel">x</noscript></body></html>'
    assert find_tracker_tags(page) == []


# --------------------------------------------------------------------------- CLI


def test_cli_flag_and_config_file_set_the_pixel(tmp_path: Path) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(
        f'[aae_tracking]\nlanding_page_id = "lp_1"\napi_base_url = "{API}"\n'
        f"facebook_pixel_id = {PIXEL}\n"  # a TOML integer
    )
    site = small_site(tmp_path / "site")
    assert cli.main(["inject", str(site), "-q", "--config", str(config_file)]) == 0
    assert_pixel((site / "index.html").read_text(), PIXEL)
    argv = ["inject", str(site), "-q", "--config", str(config_file)]
    assert cli.main([*argv, "--facebook-pixel-id", OTHER_PIXEL]) == 0
    assert_pixel((site / "docs" / "index.html").read_text(), OTHER_PIXEL)
    assert cli.main([*argv, "--facebook-pixel-id", ""]) == 0  # empty: no Pixel
    assert_pixel((site / "index.html").read_text(), None)


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("flag", "aae-tracking: error: --facebook-pixel-id: must be a Meta Pixel id"),
        ("file", "tracking.toml: facebook_pixel_id: must be a Meta Pixel id"),
    ],
)
def test_cli_bad_pixel_id_exits_2_with_one_line(tmp_path: Path, where: str, fragment: str) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(
        f'landing_page_id = "lp_1"\napi_base_url = "{API}"\n'
        + ('facebook_pixel_id = "fb-123"\n' if where == "file" else "")
    )
    site = small_site(tmp_path / "site")
    command = [cli_executable(), "inject", str(site), "--config", str(config_file)]
    if where == "flag":
        command += ["--facebook-pixel-id", "fb-123"]
    result = run(command, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "'fb-123'" in lines[0]
    assert "data-aae-tracking" not in (site / "index.html").read_text()


def test_cli_help_documents_the_flag() -> None:
    result = run([cli_executable(), "inject", "--help"], cwd=Path.cwd())
    assert "--facebook-pixel-id ID" in result.stdout
    assert "facebook_pixel_id" in result.stdout
    result = run([cli_executable(), "csp-hashes", "--help"], cwd=Path.cwd())
    assert "--facebook-pixel-id ID" in result.stdout


def test_check_reports_pixel_pages_tracked_and_stale_fallbacks_outdated(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    assert cli.main(["inject", str(site), "-q", "--landing-page-id", "lp_1",
                     "--api-base-url", API, "--facebook-pixel-id", PIXEL]) == 0  # fmt: skip
    context = cli.check_context()
    assert cli.check_file(str(site), "index.html", context).status == cli.TRACKED
    page = site / "index.html"
    text = page.read_text()

    page.write_text(text.replace(f"id={PIXEL}&amp;", f"id={OTHER_PIXEL}&amp;"))
    report = cli.check_file(str(site), "index.html", context)
    assert report.status == cli.OUTDATED
    assert "Pixel <noscript> fallback loads" in report.reason

    page.write_text(text.replace(f'data-facebook-pixel-id="{PIXEL}"', ""))
    report = cli.check_file(str(site), "index.html", context)
    assert report.status == cli.OUTDATED
    assert "tracker tag has no Pixel id" in report.reason

    start = text.index("<noscript data-aae-tracking")
    page.write_text(text[:start] + text[text.index("</noscript>") + len("</noscript>") :])
    report = cli.check_file(str(site), "index.html", context)
    assert report.status == cli.OUTDATED
    assert "no Pixel <noscript> fallback" in report.reason


def test_check_sees_the_pixel_variant_file_of_the_external_mode(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    base = ["inject", str(site), "-q", "--landing-page-id", "lp_1", "--api-base-url", API]
    assert cli.main([*base, "--no-inline-script", "--facebook-pixel-id", PIXEL]) == 0
    name = script_file("tracker.pixel").name
    assert (site / SCRIPT_DIR / name).is_file()
    assert not (site / SCRIPT_DIR / script_file("tracker").name).exists()
    context = cli.check_context()
    assert cli.check_file(str(site), "docs/index.html", context).status == cli.TRACKED
    page = site / "index.html"
    page.write_text(page.read_text().replace(name, script_file("tracker").name))
    report = cli.check_file(str(site), "index.html", context)
    assert report.status == cli.OUTDATED
    assert "src" in report.reason


def test_csp_hashes_command_reads_the_pixel(tmp_path: Path) -> None:
    def hashes(*args: str) -> str:
        result = run([cli_executable(), "csp-hashes", *args], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    expected = " ".join(h for _s, h in csp_hashes(make(facebook_pixel_id=PIXEL)))
    assert hashes("--facebook-pixel-id", PIXEL) == expected
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(f'facebook_pixel_id = "{PIXEL}"\n')
    assert hashes("--config", str(config_file)) == expected
    assert hashes() == " ".join(h for _s, h in csp_hashes(make()))
    bad = run([cli_executable(), "csp-hashes", "--facebook-pixel-id", "x"], cwd=tmp_path)
    assert bad.returncode == 2
    assert "--facebook-pixel-id: must be a Meta Pixel id" in bad.stderr


# --------------------------------------------------------------------------- MkDocs


MKDOCS_BASE = f"      landing_page_id: lp_1\n      api_base_url: {API}\n"


def test_mkdocs_bad_pixel_id_stops_the_build_with_one_line(tmp_path: Path) -> None:
    source = write_mkdocs_site(tmp_path, MKDOCS_BASE + "      facebook_pixel_id: 'fb 1'\n")
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "plugin option facebook_pixel_id", "Meta Pixel id", "'fb 1'")


def test_mkdocs_bad_front_matter_pixel_id_names_the_page(tmp_path: Path) -> None:
    pages = {"index.md": "---\naae_tracking:\n  facebook_pixel_id: nope\n---\n# Home\n"}
    source = write_mkdocs_site(tmp_path, MKDOCS_BASE, pages)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "index.md", "facebook_pixel_id", "Meta Pixel id", "'nope'")


@pytest.mark.parametrize("inline", [True, False])
def test_mkdocs_site_pixel_and_per_page_override(tmp_path: Path, inline: bool) -> None:
    options = MKDOCS_BASE + f"      facebook_pixel_id: {PIXEL}\n"  # unquoted: a YAML int
    if not inline:
        options += "      inline_script: false\n"
    pages = {
        "index.md": "# Home\n",
        "other.md": f"---\naae_tracking:\n  facebook_pixel_id: '{OTHER_PIXEL}'\n---\n# Other\n",
        "none.md": "---\naae_tracking:\n  facebook_pixel_id: ''\n---\n# None\n",
    }
    source = write_mkdocs_site(tmp_path, options, pages)
    site = tmp_path / "site"
    result = build_mkdocs(source, site, API)
    assert result.returncode == 0, result.stderr
    for page, pixel in (("index.html", PIXEL), ("other/index.html", OTHER_PIXEL)):
        text = (site / page).read_text("utf-8")
        assert_pixel(text, pixel)
        (marker,) = [e for e in elements(text, "span") if "data-aae-page" in e]
        assert marker["data-facebook-pixel-id"] == pixel
    text = (site / "none" / "index.html").read_text("utf-8")
    assert_pixel(text, None)
    (marker,) = [e for e in elements(text, "span") if "data-aae-page" in e]
    assert "data-facebook-pixel-id" not in marker
    if not inline:  # both variants are written: the site's and the page's
        files = sorted(path.name for path in (site / SCRIPT_DIR).iterdir())
        expected = [script_file(name).name for name in ("stub", "tracker", "tracker.pixel")]
        assert files == sorted(expected)


def test_mkdocs_site_without_pixel_ships_no_pixel_bytes(tmp_path: Path) -> None:
    source = write_mkdocs_site(tmp_path, MKDOCS_BASE + "      inline_script: false\n")
    site = tmp_path / "site"
    result = build_mkdocs(source, site, API)
    assert result.returncode == 0, result.stderr
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js"):
            assert b"facebook" not in path.read_bytes().lower(), path
            assert "pixel" not in path.name


# --------------------------------------------------------------------------- Pelican


@pytest.mark.pelican
def test_pelican_bad_pixel_id_stops_the_build_with_one_line(tmp_path: Path) -> None:
    setting = f'{{"landing_page_id": "lp_1", "api_base_url": "{API}", "facebook_pixel_id": "x"}}'
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n")
    result = build_pelican(source, tmp_path / "out", API)
    assert_one_clear_line(result, "AAE_TRACKING['facebook_pixel_id']", "Meta Pixel id", "'x'")


@pytest.mark.pelican
def test_pelican_bad_metadata_pixel_id_names_the_file(tmp_path: Path) -> None:
    setting = f'{{"landing_page_id": "lp_1", "api_base_url": "{API}"}}'
    page = "Title: Hello\nDate: 2026-01-01\naae_tracking_facebook_pixel_id: 12ab\n\nHi\n"
    source = write_pelican_site(
        tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n", {"hello.md": page}
    )
    result = build_pelican(source, tmp_path / "out", API)
    assert_one_clear_line(result, "hello.md", "metadata 'aae_tracking_facebook_pixel_id'", "'12ab'")


@pytest.mark.pelican
@pytest.mark.parametrize("inline", [True, False])
def test_pelican_per_page_override(tmp_path: Path, inline: bool) -> None:
    setting = f'{{"landing_page_id": "lp_1", "api_base_url": "{API}", "inline_script": {inline}}}'
    pages = {
        "hello.md": "Title: Hello\nDate: 2026-01-01\n"
        f"aae_tracking_facebook_pixel_id: {PIXEL}\n\nHi\n",
        "plain.md": "Title: Plain\nDate: 2026-01-02\n\nNo pixel\n",
    }
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n", pages)
    out = tmp_path / "out"
    result = build_pelican(source, out, API)
    assert result.returncode == 0, result.stderr
    assert_pixel((out / "hello.html").read_text("utf-8"), PIXEL)
    assert_pixel((out / "plain.html").read_text("utf-8"), None)
    # The index lists the article's summary, but is no article page: the site has no Pixel.
    assert "data-facebook-pixel-id" not in tracker_of((out / "index.html").read_text("utf-8"))
    if not inline:
        files = sorted(path.name for path in (out / SCRIPT_DIR).iterdir())
        expected = [script_file(name).name for name in ("stub", "tracker", "tracker.pixel")]
        assert files == sorted(expected)


@pytest.mark.pelican
def test_pelican_site_pixel_removed_on_one_page(tmp_path: Path) -> None:
    setting = (
        f'{{"landing_page_id": "lp_1", "api_base_url": "{API}", '
        f'"facebook_pixel_id": "{PIXEL}", "batch": True}}'
    )
    pages = {
        "hello.md": "Title: Hello\nDate: 2026-01-01\naae_tracking_facebook_pixel_id:\n\nHi\n",
        "other.md": "Title: Other\nDate: 2026-01-02\n"
        f"aae_tracking_facebook_pixel_id: {OTHER_PIXEL}\n\nYo\n",
    }
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n", pages)
    out = tmp_path / "out"
    result = build_pelican(source, out, API)
    assert result.returncode == 0, result.stderr
    assert_pixel((out / "hello.html").read_text("utf-8"), None)
    assert_pixel((out / "other.html").read_text("utf-8"), OTHER_PIXEL)
    index = (out / "index.html").read_text("utf-8")
    assert_pixel(index, PIXEL)
    assert tracker_of(index)["text"] == str(browser_script("tracker.batch.pixel"))


# --------------------------------------------------------------------------- collector


FBP = "fb.1.1596403881668.1116446470"
FBC = "fb.1.1554763741205.AbCdEfGh"


@pytest.mark.parametrize("kind", ["PageView", "AddToCart", "Purchase"])
def test_collector_accepts_fbp_and_fbc_on_every_event_type(kind: str) -> None:
    event = make_event(kind)
    assert validate_event(event) == []
    for data in ({"fbp": FBP}, {"fbc": FBC}, {"fbp": FBP, "fbc": FBC}, {"fbp": "x" * 500}):
        changed = copy.deepcopy(event)
        changed["event_data"].update(data)
        assert validate_event(changed) == [], data


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "event_data.fbp must be a string, got None"),
        (123, "event_data.fbp must be a string, got 123"),
        ("", "event_data.fbp must be 1-500 characters, got 0"),
        ("x" * 501, "event_data.fbp must be 1-500 characters, got 501"),
    ],
)
def test_collector_rejects_bad_fbp(value: object, problem: str) -> None:
    event = make_event("PageView")
    event["event_data"]["fbp"] = value
    assert validate_event(event) == [problem]
    event = make_event("Purchase")
    event["event_data"]["fbc"] = value
    assert validate_event(event) == [problem.replace("fbp", "fbc")]


def test_collector_still_refuses_other_unknown_keys() -> None:
    event = make_event("AddToCart")
    event["event_data"]["fbq"] = FBP
    assert validate_event(event) == ["event_data.fbq is not allowed (unknown key)"]
