"""The MkDocs plugin's parse on a worker thread gives the site the parse in line gives.

The plugin hands each page on with the tags at their first spots and confirms them on a worker
thread (``integrations/background.py``); pages whose first spots are not confirmed are rewritten
in ``on_post_build``. Each build here runs in this process, once with a worker thread and once
with the parse in line, and the two sites must be identical, byte for byte. MkDocs hooks
(``hooks:`` in mkdocs.yml) make the pages whose first spot is wrong: a ``</body>`` decoy in a
comment after the real one, a redirect, an AMP page, and a page another plugin changes after ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import BuildError

from aae_tracking_plugins.integrations import mkdocs as plugin_module
from tests.html_oracle import scripting_view
from tests.sites import html_files, tracker_tags, write_mkdocs_site

OPTIONS = "      landing_page_id: lp_bg\n      api_base_url: https://api.example.com\n"
REDIRECT = (
    '<!doctype html><html><head><meta http-equiv="refresh" content="0; url=../index.html">'
    "</head><body></body></html>"
)
AMP = "<!doctype html><html amp><head><title>AMP</title></head><body><p>amp</p></body></html>"
HOOKS = f"""
import pathlib
import mkdocs.plugins

SAVED = {{}}

def on_post_page(output, page, config):
    name = page.file.src_uri
    SAVED.setdefault("page", page)
    if name in ("decoy.md", "decoy-late.md"):
        return output + "<!-- </body> a comment after the page -->"
    if name == "redirect.md":
        return {REDIRECT!r}
    if name in ("amp.md", "amp-late.md"):
        return {AMP!r}
    return output

def _late(output, page, config):
    if page.file.src_uri in ("late.md", "decoy-late.md", "amp-late.md"):
        return output + "<!-- </body> added by a later plugin -->"
    return output

# -200: after aae-tracking's own on_post_page (-100)
on_post_page = mkdocs.plugins.CombinedEvent(
    on_post_page, mkdocs.plugins.event_priority(-200)(_late)
)

@mkdocs.plugins.event_priority(200)  # before aae-tracking settles the pages (100)
def _fail(config):
    if config.extra.get("fail_after_pages"):
        raise RuntimeError("a plugin failed after the pages were written")

def _translate(config):
    # Render one more page after the build, as i18n plugins do, with a decoy.
    page = SAVED["page"]
    html = "<!doctype html><html><head><title>fr</title></head><body><p>Bonjour</p>"
    html += "</body></html><!-- </body> -->"
    output = config.plugins.on_post_page(html, page=page, config=config)
    target = pathlib.Path(config.site_dir, "fr", "index.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(output, "utf-8")

on_post_build = mkdocs.plugins.CombinedEvent(_fail, _translate)
"""
PAGES = {
    "index.md": "# Home\n",
    "decoy.md": "# Decoy\n",
    "redirect.md": "# Moved\n",
    "amp.md": "# AMP\n",
    "late.md": "# Late\n",
    "decoy-late.md": "# Decoy, then changed\n",
    "amp-late.md": "# AMP, then changed\n",
    **{f"page-{n}.md": f"# Page {n}\n\nText {n}.\n" for n in range(12)},
}


def make_site(tmp_path: Path, *, fail: bool = False) -> Path:
    source = write_mkdocs_site(tmp_path, OPTIONS, PAGES)
    (source / "hooks.py").write_text(HOOKS, "utf-8")
    config = source / "mkdocs.yml"
    extra = "extra:\n  fail_after_pages: true\n" if fail else ""
    config.write_text(config.read_text("utf-8") + f"hooks:\n  - hooks.py\n{extra}", "utf-8")
    return config


def build_in_process(
    config_file: Path, site: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], int]:
    """Build with ``workers`` parse threads; the plugin's warnings and how many pages it
    handed to a worker thread."""
    speculated = [0]
    speculate = plugin_module.speculate

    def counting(*args: Any) -> Any:
        speculated[0] += 1
        return speculate(*args)

    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("mkdocs.plugins.aae-tracking")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the same build date in both
    monkeypatch.setattr(plugin_module, "worker_threads", lambda: workers)
    monkeypatch.setattr(plugin_module, "speculate", counting)
    logger.addHandler(handler)
    try:
        build(load_config(str(config_file), site_dir=str(site)))
    finally:
        logger.removeHandler(handler)
    return warnings, speculated[0]


def site_files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def runs_in_body(page: Path) -> bool:
    view = scripting_view(page.read_text("utf-8"))
    return view.tracker_runs_in_body and view.stub_runs


def test_worker_thread_and_in_line_parse_write_the_same_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_site(tmp_path)
    threaded, in_line = tmp_path / "threaded", tmp_path / "in_line"
    warned_threaded, handed_on = build_in_process(config, threaded, 1, monkeypatch)
    warned_in_line, not_handed_on = build_in_process(config, in_line, 0, monkeypatch)
    # Not vacuous: the first build parsed on the worker thread, the second in line.
    assert handed_on == len(PAGES)
    assert not_handed_on == 0
    assert site_files(threaded) == site_files(in_line)
    assert warned_threaded == warned_in_line
    assert [w for w in warned_threaded if "amp" in w.lower()], warned_threaded

    pages = html_files(threaded)
    # The decoy comment after the real </body> took the first spot; the settled page has
    # the tracker before the real one, once, running in the body.
    decoy = pages["decoy/index.html"]
    assert len(tracker_tags(decoy)) == 1
    assert runs_in_body(decoy)
    assert decoy.read_text("utf-8").endswith("<!-- </body> a comment after the page -->")
    # A later plugin's change is kept, and the tags are placed in what it wrote: also when
    # our first spots were wrong (the decoy), and not at all on an AMP page.
    for name in ("late/index.html", "decoy-late/index.html"):
        late = pages[name]
        assert len(tracker_tags(late)) == 1, name
        assert runs_in_body(late), name
        assert late.read_text("utf-8").endswith("<!-- </body> added by a later plugin -->")
    amp_late = pages["amp-late/index.html"].read_text("utf-8")
    assert amp_late == AMP + "<!-- </body> added by a later plugin -->"
    # A page rendered in another plugin's on_post_build is settled too.
    translated = pages["fr/index.html"]
    assert len(tracker_tags(translated)) == 1
    assert runs_in_body(translated)
    # A redirect and an AMP page are left exactly as the hook wrote them.
    assert pages["redirect/index.html"].read_text("utf-8") == REDIRECT
    assert pages["amp/index.html"].read_text("utf-8") == AMP
    for name in ("index.html", "page-3/index.html"):
        assert len(tracker_tags(pages[name])) == 1
        assert runs_in_body(pages[name])


def test_a_failed_build_leaves_no_page_with_unconfirmed_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin fails in on_post_build: the pages written so far are settled all the same."""
    config = make_site(tmp_path, fail=True)
    site = tmp_path / "site"
    failed: Callable[[], Any] = lambda: build_in_process(config, site, 1, monkeypatch)  # noqa: E731
    with pytest.raises((RuntimeError, BuildError), match="failed after the pages"):
        failed()
    pages = html_files(site)
    decoy = pages["decoy/index.html"]
    assert len(tracker_tags(decoy)) == 1
    assert runs_in_body(decoy)
    assert pages["redirect/index.html"].read_text("utf-8") == REDIRECT
