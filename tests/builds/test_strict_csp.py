"""Strict Content-Security-Policy: ``inline_script: false`` in real builds and in real Chromium.

The external mode writes the stub and the tracker as hashed files under ``<site>/aae-tracking/``
and loads them with ``src`` (relative to each page) and ``integrity``; nothing of ours is inline.
The inline mode's scripts are allowed by the hashes ``aae-tracking csp-hashes`` prints.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import posixpath
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE
from aae_tracking_plugins.core.tags import SCRIPT_DIR, script_file
from tests.sites import (
    MKDOCS_SITE,
    PELICAN_SITE,
    build_mkdocs,
    build_pelican,
    copy_site,
    html_files,
    run,
)
from tests.static_server import StaticServer, StaticSiteHandler, free_port

if TYPE_CHECKING:
    from lxml.html import HtmlElement

    from tests.conftest import BrowserPage

API = "http://127.0.0.1:8765"
AAE_TRACKING = str(Path(sys.executable).parent / "aae-tracking")
PLUGIN_LINE = "  - aae-tracking:\n"


# --------------------------------------------------------------------------- helpers


def our_scripts(page: Path) -> list[HtmlElement]:
    root = lxml_html.document_fromstring(page.read_bytes())
    return list(root.xpath(f"//script[@{MARKER_ATTRIBUTE}]"))


def page_markers(page: Path) -> list[dict[str, str]]:
    root = lxml_html.document_fromstring(page.read_bytes())
    return [dict(element.attrib) for element in root.xpath("//span[@data-aae-page]")]


def sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def url_path_of(name: str) -> str:
    """The URL path a static host serves the built file ``name`` at."""
    if name == "index.html":
        return "/"
    if name.endswith("/index.html"):
        return "/" + name.removesuffix("index.html")
    return "/" + name


def assert_external_tags(site: Path, name: str, *, batch: bool = False) -> list[HtmlElement]:
    """The page's tags load the hashed files (which exist, with matching SRI), nothing inline."""
    scripts = our_scripts(site / name)
    assert [s.get(MARKER_ATTRIBUTE) for s in scripts] == ["stub", "tracker"], name
    expected = [script_file("stub"), script_file("tracker.batch" if batch else "tracker")]
    for element, file in zip(scripts, expected, strict=True):
        assert not (element.text or "").strip(), f"{name}: inline code in our tag"
        src = element.get("src")
        assert src is not None
        assert posixpath.basename(src) == file.name
        # Resolve like a browser, from the URL the page is served at.
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(url_path_of(name)), src))
        target = site / resolved.lstrip("/")
        assert target.is_file(), f"{name}: {src} -> {resolved} is missing"
        assert element.get("integrity") == sha384(target.read_bytes())
    assert scripts[1].get("defer") is not None
    assert scripts[0].get("defer") is None
    return scripts


def mkdocs_site(tmp_path: Path, options: str, extra_config: str = "") -> Path:
    source = copy_site(MKDOCS_SITE, tmp_path / "src")
    config = (source / "mkdocs.yml").read_text("utf-8")
    assert PLUGIN_LINE in config
    config = config.replace(PLUGIN_LINE, PLUGIN_LINE + options) + extra_config
    (source / "mkdocs.yml").write_text(config, "utf-8")
    return source


def build(source: Path, dest: Path, api: str = API) -> Path:
    result = build_mkdocs(source, dest, api)
    assert result.returncode == 0, result.stderr
    return dest


STRICT = "      inline_script: false\n      track_automation: true\n"


# --------------------------------------------------------------------------- MkDocs


@pytest.fixture(scope="module")
def strict_mkdocs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("strict-mkdocs")
    return build(mkdocs_site(tmp, STRICT), tmp / "site")


def test_mkdocs_pages_load_the_hashed_files(strict_mkdocs: Path) -> None:
    files = sorted(p.name for p in (strict_mkdocs / SCRIPT_DIR).iterdir())
    assert files == sorted([script_file("stub").name, script_file("tracker").name])
    pages = html_files(strict_mkdocs)
    assert {"index.html", "offer/index.html", "thank-you/index.html", "404.html"} <= set(pages)
    for name in pages:
        if name == "privacy/index.html":
            assert our_scripts(strict_mkdocs / name) == []
            continue
        scripts = assert_external_tags(strict_mkdocs, name)
        assert scripts[1].get("data-track-automation") == "true"
        assert scripts[1].get("data-landing-page-id") == "lp_spring_desk"
    offer = our_scripts(strict_mkdocs / "offer/index.html")
    assert offer[0].get("src", "").startswith("../aae-tracking/")
    assert offer[1].get("data-campaign-id") == "camp_spring_offer"
    # 404.html is served at any depth: an absolute path from the site root.
    assert our_scripts(strict_mkdocs / "404.html")[0].get("src", "").startswith("/aae-tracking/")


def test_mkdocs_pages_carry_their_settings_marker(strict_mkdocs: Path) -> None:
    assert page_markers(strict_mkdocs / "offer/index.html") == [
        {
            "hidden": "",
            "data-aae-page": "",
            "data-landing-page-id": "lp_spring_desk",
            "data-campaign-id": "camp_spring_offer",
        }
    ]
    assert page_markers(strict_mkdocs / "index.html")[0]["data-campaign-id"] == "camp_spring_2026"
    assert page_markers(strict_mkdocs / "privacy/index.html") == [
        {"hidden": "", "data-aae-page": "off"}
    ]
    # Inside the content Material swaps on instant navigation.
    root = lxml_html.document_fromstring((strict_mkdocs / "offer/index.html").read_bytes())
    assert root.xpath("//*[@data-md-component='container']//span[@data-aae-page]")


def test_check_accepts_the_external_tags(strict_mkdocs: Path) -> None:
    result = run([AAE_TRACKING, "check", strict_mkdocs, "--ignore", "privacy/*"], cwd=strict_mkdocs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: every page is tracked" in result.stdout
    assert "4 tracked (0 outdated), 1 untracked" in result.stdout  # the opted-out page
    assert result.stdout.startswith("privacy/index.html: untracked (ignored)")


def test_mkdocs_without_directory_urls_and_under_a_sub_path(tmp_path: Path) -> None:
    extra = "site_url: https://desk.example.com/spring/\n"
    source = mkdocs_site(tmp_path, STRICT, extra)
    config = (source / "mkdocs.yml").read_text("utf-8")
    (source / "mkdocs.yml").write_text(
        config.replace("use_directory_urls: true", "use_directory_urls: false"), "utf-8"
    )
    (source / "docs" / "guide").mkdir()
    (source / "docs" / "guide" / "setup.md").write_text("# Setup\n", "utf-8")
    site = build(source, tmp_path / "site")
    assert our_scripts(site / "offer.html")[0].get("src", "").startswith("aae-tracking/")
    assert our_scripts(site / "guide/setup.html")[0].get("src", "").startswith("../aae-tracking/")
    for name in ("index.html", "offer.html", "guide/setup.html"):
        assert_external_tags(site, name)
    # 404.html: absolute, from site_url's path.
    stub = our_scripts(site / "404.html")[0]
    assert stub.get("src") == f"/spring/{SCRIPT_DIR}/{script_file('stub').name}"


def test_instant_navigation_gives_opted_out_pages_the_site_tags(tmp_path: Path) -> None:
    source = mkdocs_site(tmp_path, "      batch: true\n")
    config = (source / "mkdocs.yml").read_text("utf-8")
    (source / "mkdocs.yml").write_text(
        config.replace("features: []", "features: [navigation.instant]"), "utf-8"
    )
    site = build(source, tmp_path / "site")
    scripts = our_scripts(site / "privacy/index.html")
    assert [s.get(MARKER_ATTRIBUTE) for s in scripts] == ["stub", "tracker"]
    assert scripts[1].get("data-campaign-id") == "camp_spring_2026"  # site settings
    assert scripts[1].get("data-batch") == "true"
    assert page_markers(site / "privacy/index.html") == [{"hidden": "", "data-aae-page": "off"}]


def test_mkdocs_serve_serves_the_script_files(tmp_path: Path) -> None:
    """`mkdocs serve` builds into its own directory: the files must be written there too."""
    source = mkdocs_site(tmp_path, STRICT)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-q", "-a", f"127.0.0.1:{port}"],
        cwd=source,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "AAE_API_BASE_URL": API},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        page = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/offer/", timeout=5) as r:
                    page = r.read().decode("utf-8")
                break
            except OSError:
                time.sleep(0.3)
        match = re.search(r'data-aae-tracking="tracker" src="([^"]+)"', page)
        assert match, page[:500]
        url = f"http://127.0.0.1:{port}/offer/" + match.group(1)
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == script_file("tracker").data
    finally:
        process.terminate()
        process.wait(timeout=20)


# --------------------------------------------------------------------------- Pelican


@pytest.mark.pelican
def test_pelican_pages_load_the_hashed_files(tmp_path: Path) -> None:
    setting = (
        '{"landing_page_id": "lp_spring_desk", "campaign_id": "camp_spring_2026", '
        f'"api_base_url": "{API}", "inline_script": false, "batch": true}}'
    )
    dest = tmp_path / "output"
    result = build_pelican(PELICAN_SITE, dest, API, "-e", f"AAE_TRACKING={setting}")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (dest / SCRIPT_DIR).iterdir())
    assert files == sorted([script_file("stub").name, script_file("tracker.batch").name])
    pages = html_files(dest)
    assert {"index.html", "pages/offer.html", "posts/2026/03/index.html"} <= set(pages)
    for name in pages:
        if name == "pages/privacy.html":
            assert our_scripts(dest / name) == []
            continue
        scripts = assert_external_tags(dest, name, batch=True)
        assert scripts[1].get("data-batch") == "true"
    deep = our_scripts(dest / "posts/2026/03/index.html")[0].get("src", "")
    assert deep.startswith("../../../aae-tracking/")
    offer = our_scripts(dest / "pages/offer.html")[1]
    assert offer.get("data-campaign-id") == "camp_spring_offer"


# --------------------------------------------------------------------------- CLI


def small_site(root: Path) -> Path:
    for name in ("index.html", "docs/index.html", "docs/deep/er/page.htm"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!doctype html><html><head></head><body><p>{name}</p></body></html>")
    return root


def test_cli_inject_writes_the_files_and_relative_tags(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API, "--no-inline-script"]
    result = run([AAE_TRACKING, "inject", site, *flags], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "tracked 3 pages (3 updated" in result.stdout
    for name in ("index.html", "docs/index.html", "docs/deep/er/page.htm"):
        assert_external_tags(site, name)
    assert our_scripts(site / "docs/deep/er/page.htm")[0].get("src", "").startswith("../../../")
    again = run([AAE_TRACKING, "inject", site, *flags], cwd=tmp_path)
    assert "(0 updated, 3 already up to date)" in again.stdout
    checked = run([AAE_TRACKING, "check", site], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert "3 tracked (0 outdated)" in checked.stdout
    # Back to inline: the tags are replaced, the pages carry the scripts again.
    inline = run([AAE_TRACKING, "inject", site, *flags[:-1]], cwd=tmp_path)
    assert inline.returncode == 0, inline.stderr
    assert all(s.get("src") is None for s in our_scripts(site / "docs/index.html"))


def test_cli_inject_cannot_write_the_files(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    (site / SCRIPT_DIR).write_text("a file where the directory should be")
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API, "--no-inline-script"]
    result = run([AAE_TRACKING, "inject", site, *flags], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("aae-tracking: warning: cannot write the script files")
    assert len(result.stderr.splitlines()) == 1
    assert our_scripts(site / "index.html") == []  # no page points at a missing file


@pytest.mark.parametrize("batch", [False, True])
def test_printed_hashes_are_those_of_the_scripts_in_a_built_page(
    tmp_path: Path, batch: bool
) -> None:
    site = build(mkdocs_site(tmp_path, f"      batch: {str(batch).lower()}\n"), tmp_path / "site")
    in_page = [sha256_source(s.text or "") for s in our_scripts(site / "offer/index.html")]
    assert len(in_page) == 2
    printed = run([AAE_TRACKING, "csp-hashes", *(["--batch"] if batch else [])], cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.split() == in_page
    config = tmp_path / "tracking.toml"
    config.write_text(f"[aae_tracking]\nbatch = {str(batch).lower()}\n")
    from_file = run([AAE_TRACKING, "csp-hashes", "--config", config], cwd=tmp_path)
    assert from_file.stdout.split() == in_page


def test_csp_hashes_bad_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "tracking.toml"
    config.write_text('batch = "yes"\n')
    result = run([AAE_TRACKING, "csp-hashes", "--config", config], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"aae-tracking: error: {config}: batch: must be a boolean (true or false, not text or "
        "a number), got 'yes'"
    ]


def test_csp_hashes_refuses_a_config_file_inject_would_refuse(tmp_path: Path) -> None:
    config = tmp_path / "tracking.toml"
    config.write_text("bacth = true\n")
    result = run([AAE_TRACKING, "csp-hashes", "--config", config], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"aae-tracking: error: {config}: bacth: unknown setting (known settings: "
        "landing_page_id, campaign_id, api_base_url, inline_script, track_automation, batch, "
        "debug, engagement, web_vitals, cookieless, consent, gpc, consent_manager, "
        "consent_category, facebook_pixel_id, variant, events, checkout_links, query_params)"
    ]


# --------------------------------------------------------------------------- real Chromium


class _CspHandler(StaticSiteHandler):
    policy = ""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.policy)
        super().end_headers()


@pytest.fixture
def serve_with_policy() -> Iterator[Callable[[Path, str], str]]:
    servers: list[StaticServer] = []

    def serve(directory: Path, policy: str) -> str:
        handler = type("Handler", (_CspHandler,), {"policy": policy})
        server = StaticServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.url

    yield serve
    for server in servers:
        server.stop()


WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


def others_inline_hashes(site: Path) -> set[str]:
    """Hashes of the theme's own inline scripts (Material has a few): ours must need none."""
    hashes = set()
    for path in html_files(site).values():
        root = lxml_html.document_fromstring(path.read_bytes())
        for element in root.xpath("//script[not(@src)]"):
            if element.get(MARKER_ATTRIBUTE) is None and element.get("type") != "application/json":
                hashes.add(sha256_source(element.text or ""))
    return hashes


def test_strict_csp_page_tracks_with_zero_violations(
    tmp_path: Path,
    collector: EventCollector,
    browser_page: BrowserPage,
    serve_with_policy: Callable[[Path, str], str],
) -> None:
    site = build(mkdocs_site(tmp_path, STRICT), tmp_path / "site", collector.url)
    policy = "script-src 'self' " + " ".join(sorted(others_inline_hashes(site)))
    # A control page: proves that an inline script is caught by this policy and listener.
    (site / "control.html").write_text(
        "<!doctype html><html><head></head><body><script>window.ran = 1</script></body></html>"
    )
    url = serve_with_policy(site, policy)
    page = browser_page.page
    page.add_init_script(WATCH_CSP)

    page.goto(url + "/control.html")
    assert page.evaluate("window.ran") is None
    assert page.evaluate("window.__csp.length") == 1
    browser_page.errors.clear()  # the control's own refusal message

    page.goto(url + "/")
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["landing_page_id"] == "lp_spring_desk"
    assert view["campaign_id"] == "camp_spring_2026"
    page.click("#sticky-cta")
    click = collector.wait_for_count(1, "AddToCart")[0]
    assert click["campaign_id"] == "camp_spring_2026"
    assert page.evaluate("window.__csp") == []

    page.goto(url + "/offer/")  # a nested page: src="../aae-tracking/..."
    offer_views = [
        e
        for e in collector.wait_for_count(2, "PageView")
        if urlsplit(str(e["event_data"].get("url"))).path == "/offer/"
    ]
    assert len(offer_views) == 1
    assert offer_views[0]["campaign_id"] == "camp_spring_offer"
    assert page.evaluate("window.__csp") == []
    assert browser_page.errors == []
