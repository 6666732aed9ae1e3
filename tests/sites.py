"""Build the sample sites with the real generators, and read what the plugin put in their pages."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import html5lib
from lxml import html as lxml_html

from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE

#: The tests folder (its data folders: corpus/, delivery_pages/, navigation_pages/, engine_site/).
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MKDOCS_SITE = ROOT / "sample_sites" / "mkdocs"
PELICAN_SITE = ROOT / "sample_sites" / "pelican"
# Pelican lives in its own environment: it pins pygments<2.20, mkdocs-material needs >=2.20.
PELICAN_BIN = ROOT / ".venv-pelican" / "bin" / "pelican"
PELICAN_PYTHON = ROOT / ".venv-pelican" / "bin" / "python"


def run(
    command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1", "COLUMNS": "300"}
    full_env.update(env or {})
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: The first lines of a test site's pelicanconf.py (the plugin loaded by its namespace name).
SETTINGS_HEAD = 'PATH = "content"\nRELATIVE_URLS = True\nPLUGINS = ["aae_tracking"]\n'


def write_mkdocs_site(
    tmp_path: Path, plugin_options: str, pages: dict[str, str] | None = None
) -> Path:
    """A MkDocs source tree in ``tmp_path/src``: ``plugin_options`` are the plugin's indented
    mkdocs.yml lines, ``pages`` maps docs/ file names to Markdown (one home page by default)."""
    source = tmp_path / "src"
    (source / "docs").mkdir(parents=True)
    (source / "mkdocs.yml").write_text(
        f"site_name: T\nplugins:\n  - aae-tracking:\n{plugin_options}", "utf-8"
    )
    for name, text in (pages or {"index.md": "# Home\n"}).items():
        (source / "docs" / name).write_text(text, "utf-8")
    return source


def write_pelican_site(tmp_path: Path, settings: str, pages: dict[str, str] | None = None) -> Path:
    """A Pelican source tree in ``tmp_path/src``: ``settings`` is pelicanconf.py's text (start it
    with :data:`SETTINGS_HEAD`), ``pages`` maps content/ file names to Markdown."""
    source = tmp_path / "src"
    (source / "content").mkdir(parents=True)
    (source / "pelicanconf.py").write_text(settings, "utf-8")
    for name, text in (pages or {"hello.md": "Title: Hello\nDate: 2026-01-01\n\nHi\n"}).items():
        (source / "content" / name).write_text(text, "utf-8")
    return source


def build_instant_material_site(
    tmp_path: Path,
    api: str,
    serve: Callable[[Path], str],
    plugin_options: str,
    pages: dict[str, str],
    extra_yaml: str = "",
) -> str:
    """Build a Material site with instant navigation into ``tmp_path/site``; return its base URL.

    The output directory is served before the build: Material's instant navigation only follows
    URLs of the sitemap, which is built from ``site_url``. ``plugin_options`` are the plugin's
    indented mkdocs.yml lines, ``extra_yaml`` more top-level mkdocs.yml lines (e.g. ``nav``).
    Fails the test if the build fails.
    """
    dest = tmp_path / "site"
    dest.mkdir()
    base = serve(dest)
    source = write_mkdocs_site(tmp_path, plugin_options, pages)
    with (source / "mkdocs.yml").open("a", encoding="utf-8") as config:
        config.write(
            f"site_url: {base}/\nmarkdown_extensions: [attr_list]\n"
            "theme:\n  name: material\n  font: false\n  features: [navigation.instant]\n"
            + extra_yaml
        )
    result = build_mkdocs(source, dest, api)
    assert result.returncode == 0, result.stderr
    return base


#: Resolves once Material's instant navigation has its sitemap. Material takes over a click only
#: when the sitemap (fetched after load) lists the link's URL; a click before it has arrived is
#: an ordinary page load (``combineLatestWith(sitemap$)`` in its ``integrations/instant``). The
#: body is parsed a task or two after its last byte, hence the two timer turns after it.
INSTANT_READY_JS = """() => new Promise((ready) => {
  const arrived = () => performance.getEntriesByType("resource")
    .some((entry) => entry.name.endsWith("/sitemap.xml") && entry.responseEnd > 0);
  const poll = () => arrived() ? setTimeout(() => setTimeout(ready, 50), 50) : setTimeout(poll, 20);
  poll();
})"""


def wait_until_instant_ready(page: Any) -> None:
    """Wait until Material's instant navigation on ``page`` (a Playwright ``Page``) takes clicks.

    Call it after a full page load and before the first click meant to be instant; without it a
    click on a busy machine can come before the sitemap and load the page for real.
    """
    page.evaluate(INSTANT_READY_JS)


#: Resolves once the tracker of a page loaded with a plain ``<script>`` tag has started (sends,
#: listens to ``online``, resends what earlier pages stored). The tracker starts in
#: ``later(boot)`` (util.js): an idle callback, or at the latest a 1 s timer asked for while the
#: document was parsed, before its load event. A timer this script asks for due 1 s after the
#: load event is due after that one, and timers run in order of their due time, so it runs after
#: the tracker's start however late a loaded machine gets to either. Not for a page under
#: Playwright's fake clock (``page.clock``), whose timers move only when the test moves them.
TRACKER_STARTED_JS = """() => new Promise((started) => {
  const after = () => {
    const loaded = performance.getEntriesByType("navigation")[0].loadEventEnd || performance.now();
    setTimeout(started, Math.max(0, loaded + 1000 - performance.now()) + 100);
  };
  if (document.readyState === "complete") after();
  else addEventListener("load", () => setTimeout(after), {once: true});
})"""


def wait_until_tracker_started(page: Any) -> None:
    """Wait until the tracker of ``page`` (a Playwright ``Page``) has started (see
    :data:`TRACKER_STARTED_JS`): it has sent its PageView, or holds it under a stored backoff,
    and answers ``online``. A fixed wait "past the idle-time start" was not enough on a loaded
    machine, where the page's 1 s timer can fire well after 1.2 s of the test's time."""
    page.evaluate(TRACKER_STARTED_JS)


def assert_one_clear_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The one ERROR line a failed MkDocs build printed for aae-tracking (no traceback)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # MkDocs may add its own context line ("Error building page 'index.md':"); ours is one line.
    errors = [line for line in result.stderr.splitlines() if "aae-tracking" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("ERROR"), errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A failed Pelican build printed exactly one aae-tracking line, holding ``fragments``."""
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "aae-tracking" in line]
    assert len(lines) == 1, output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def build_mkdocs(
    source: Path, dest: Path, api_base_url: str, config_file: str = "mkdocs.yml"
) -> subprocess.CompletedProcess[str]:
    return run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", config_file, "-d", dest],
        cwd=source,
        env={"AAE_API_BASE_URL": api_base_url},
    )


def build_pelican(
    source: Path, dest: Path, api_base_url: str, *extra: str, settings: str = "pelicanconf.py"
) -> subprocess.CompletedProcess[str]:
    if not PELICAN_BIN.exists():
        raise RuntimeError(f"{PELICAN_BIN} is missing: run `make test`, which creates it")
    return run(
        [PELICAN_BIN, "content", "-s", settings, "-o", dest, *extra],
        cwd=source,
        env={"AAE_API_BASE_URL": api_base_url},
    )


def build_one_page_site(
    generator: str,
    tmp_path: Path,
    api: str,
    *,
    settings: Callable[[str], dict[str, Any]],
    markdown: str,
    yaml: dict[str, str] | None = None,
) -> tuple[Path, str]:
    """Build a one-page site for real with ``generator`` (``"mkdocs"``: Material without web
    fonts, whose CDN cannot be reached here, and ``attr_list``; ``"pelican"``: one article),
    the plugin configured with ``settings(api)`` and the page's body ``markdown``. ``yaml`` gives
    the mkdocs.yml lines of some settings as a user writes them (else their JSON form is used).

    Returns the output directory and the page's URL path. Fails the test if the build fails.
    """
    options = settings(api)
    if generator == "mkdocs":
        # JSON is YAML: each setting as one line of the plugin's options.
        lines = "".join(
            (yaml or {}).get(key, f"      {key}: {json.dumps(value)}\n")
            for key, value in options.items()
        )
        source = write_mkdocs_site(tmp_path, lines, {"index.md": "# Desk\n\n" + markdown})
        with (source / "mkdocs.yml").open("a", encoding="utf-8") as config:
            config.write(
                "theme:\n  name: material\n  font: false\nmarkdown_extensions:\n  - attr_list\n"
            )
        out, path = tmp_path / "site", "/index.html"
        result = build_mkdocs(source, out, api)
    else:
        page = "Title: Desk\nDate: 2026-01-01\nSlug: desk\n\n" + markdown
        conf = SETTINGS_HEAD + f"AAE_TRACKING = {options!r}\n"
        source = write_pelican_site(tmp_path, conf, {"desk.md": page})
        out, path = tmp_path / "out", "/desk.html"
        result = build_pelican(source, out, api)
    assert result.returncode == 0, result.stderr + result.stdout
    return out, path


def one_page_builds(
    settings: Callable[[str], dict[str, Any]], markdown: str, yaml: dict[str, str] | None = None
) -> list[Any]:
    """``pytest.param`` s of ``build(tmp_path, api) -> (site, path)`` for a MkDocs and a Pelican
    one-page site (:func:`build_one_page_site`), with ids ``mkdocs`` and ``pelican``."""
    import pytest

    return [
        pytest.param(
            functools.partial(
                build_one_page_site, generator, settings=settings, markdown=markdown, yaml=yaml
            ),
            id=generator,
        )
        for generator in ("mkdocs", "pelican")
    ]


def copy_site(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("site", "output", "__pycache__"))
    return dest


@dataclass(frozen=True)
class TrackerTag:
    landing_page_id: str | None
    campaign_id: str | None
    endpoint: str | None


def tracker_tags(page: Path) -> list[TrackerTag]:
    """The tracker tags lxml finds in a built page (an independent read, not our scanner)."""
    root = lxml_html.document_fromstring(page.read_bytes())
    return [
        TrackerTag(
            element.get("data-landing-page-id"),
            element.get("data-campaign-id"),
            element.get("data-endpoint"),
        )
        for element in root.xpath(f"//script[@{MARKER_ATTRIBUTE}='tracker']")
    ]


def stub_in_head(page: Path) -> bool:
    root = lxml_html.document_fromstring(page.read_bytes())
    return bool(root.xpath(f"//head/script[@{MARKER_ATTRIBUTE}='stub']"))


def html_files(site: Path) -> dict[str, Path]:
    return {
        path.relative_to(site).as_posix(): path
        for path in sorted(site.rglob("*"))
        if path.suffix in (".html", ".htm")
    }


#: The namespace html5lib's etree tree builder puts HTML elements in.
HTML_NS = "{http://www.w3.org/1999/xhtml}"


def elements(page: str, name: str) -> list[dict[str, str | None]]:
    tree = html5lib.parse(page, treebuilder="etree")
    return [{"text": e.text, **dict(e.attrib)} for e in tree.iter(f"{HTML_NS}{name}")]


def tracker_of(page: str) -> dict[str, str | None]:
    (tracker,) = [e for e in elements(page, "script") if e.get("data-aae-tracking") == "tracker"]
    return tracker
