"""The plugin in every MkDocs-family generator: real builds of the sample site with MkDocs 1.5,
MkDocs 1.6 and ProperDocs (the MkDocs 1.6 fork, which loads ``mkdocs.plugins`` entry points),
each loaded in Chromium with its PageView checked at a real collector (docs/generators.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from aae_tracking_plugins.collector import EventCollector
from tests.conftest import BrowserPage
from tests.generators import (
    MKDOCS15,
    OFFER_CAMPAIGN,
    assert_pageview_arrives,
    assert_tracked_once_each,
    executable,
)
from tests.sites import MKDOCS_SITE, copy_site, run
from tests.static_server import free_port

#: The generator's command line before ``build``/``serve``, and what Material writes in the
#: generator meta tag of every page, which tells which generator really built it.
MATERIAL = r", mkdocs-material-9\.\d+\.\d+"
GENERATORS = {
    "mkdocs-1.5": ([MKDOCS15], r"mkdocs-1\.5\.\d+" + MATERIAL),
    "mkdocs-1.6": ([Path(sys.executable), "-m", "mkdocs"], r"mkdocs-1\.6\.\d+" + MATERIAL),
    "properdocs": (["properdocs"], r"mkdocs-ProperDocs 1\.6\.\d+" + MATERIAL),
}
#: A hand-written page MkDocs copies as it is: the plugin tracks it at the end of the build.
HAND_WRITTEN = "<!doctype html><html><head><title>Hi</title></head><body>Hi</body></html>\n"


def command(generator: str) -> list[str]:
    """The command that runs ``generator`` (fails the test when it is not installed)."""
    parts = GENERATORS[generator][0]
    return [executable(parts[0]), *map(str, parts[1:])]


def build(
    generator: str, tmp_path: Path, api: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The sample site plus one hand-written page, built by ``generator`` into tmp_path/site."""
    source = copy_site(MKDOCS_SITE, tmp_path / "src")
    (source / "docs" / "hand-written.html").write_text(HAND_WRITTEN, "utf-8")
    site = tmp_path / "site"
    # -f: ProperDocs looks for properdocs.yml first and asks for mkdocs.yml to be named.
    result = run(
        [*command(generator), "build", "-f", "mkdocs.yml", "-d", site],
        cwd=source,
        env={"AAE_API_BASE_URL": api},
    )
    return site, result


@pytest.mark.parametrize("generator", list(GENERATORS))
def test_each_generator_builds_the_sample_site_and_its_pages_report(
    generator: str,
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[Path], str],
    browser_page: BrowserPage,
) -> None:
    site, result = build(generator, tmp_path, collector.url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "aae-tracking" not in result.stderr  # no page left untracked, no warning
    meta = re.search(r'<meta name="generator" content="([^"]*)"', (site / "index.html").read_text())
    assert meta is not None
    assert re.fullmatch(GENERATORS[generator][1], meta.group(1)), meta.group(1)

    pages = assert_tracked_once_each(site, campaigns={"offer/index.html": OFFER_CAMPAIGN})
    assert "hand-written.html" in pages  # tracked at the end of the build, as in MkDocs 1.6

    base = serve_dir(site)
    assert_pageview_arrives(browser_page, collector, f"{base}/offer/", OFFER_CAMPAIGN)


def test_mkdocs_15_serve_tracks_excluded_files_it_serves(tmp_path: Path) -> None:
    """MkDocs 1.5 has no draft_docs: ``mkdocs serve`` serves the ``exclude_docs`` files too
    (its build uses InclusionLevel.all), so the plugin tracks them there, never in a build."""
    mkdocs = command("mkdocs-1.5")
    source = copy_site(MKDOCS_SITE, tmp_path / "src")
    (source / "docs" / "excluded.html").write_text(HAND_WRITTEN, "utf-8")
    with (source / "mkdocs.yml").open("a", encoding="utf-8") as config:
        config.write("exclude_docs: |\n  excluded.html\n")
    env = {"AAE_API_BASE_URL": "https://api.aae.com"}
    built = tmp_path / "site"
    result = run([*mkdocs, "build", "-q", "-d", built], cwd=source, env=env)
    assert result.returncode == 0, result.stderr
    assert not (built / "excluded.html").exists()

    port = free_port()
    process = subprocess.Popen(
        [*mkdocs, "serve", "--no-livereload", "-a", f"127.0.0.1:{port}"],
        cwd=source,
        env={**os.environ, **env, "NO_MKDOCS_2_WARNING": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = _fetch_when_up(f"http://127.0.0.1:{port}/excluded.html", deadline=60)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert len(re.findall(r'data-aae-tracking="tracker"', body)) == 1, body
    assert "Traceback" not in stderr, stderr
    assert "aae-tracking" not in stderr, stderr


def _fetch_when_up(url: str, deadline: float) -> str:
    """The body of ``url`` once the server answers it with 200 (within ``deadline`` s)."""
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return str(reply.read().decode("utf-8"))
        except (OSError, urllib.error.HTTPError):
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


def test_under_properdocs_the_plugin_uses_properdocs_classes(tmp_path: Path) -> None:
    """ProperDocs redirects ``mkdocs.*`` imports to ``properdocs.*``: the plugin's MkDocs classes
    are ProperDocs' own (the mkdocs package Material pulls in is never imported)."""
    probe = (
        "import properdocs.replacement, sys\n"
        "from aae_tracking_plugins.integrations import mkdocs as ours\n"
        "print(ours.BasePlugin.__module__, ours.PluginError.__module__,"
        " sys.modules['mkdocs'].__name__)\n"
    )
    result = run([executable("python"), "-c", probe], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["properdocs.plugins", "properdocs.exceptions", "properdocs"]
