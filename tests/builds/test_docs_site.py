"""The documentation site (mkdocs.yml, docs/contributing.md): a real strict MkDocs build of the
repository's docs/, which tracks itself with our plugin, and whose two reference pages are
generated from the code at build time (scripts/docs_hooks.py)."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

import pytest
from lxml import html as lxml_html

from aae_tracking_plugins.core.contract import load_schema, validate_payload
from aae_tracking_plugins.core.settings import CHOICE_SETTINGS, SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.integrations.mkdocs import (
    _OVERRIDABLE,
    FRONT_MATTER_KEY,
    AaeTrackingConfig,
)
from tests.docs_site import DEFAULT_ENDPOINT, REFERENCES, build_docs, copy_docs
from tests.sites import ROOT, html_files, run, tracker_tags


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The repository's docs, built strictly, with the default api_base_url."""
    return build_docs(ROOT, tmp_path_factory.mktemp("docs") / "site")


def _page(site: Path, path: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring((site / path).read_bytes())


def _text(element: lxml_html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _plain(markdown: str) -> str:
    """The text a Markdown sentence shows once rendered (code spans lose their backquotes)."""
    return " ".join(markdown.replace("`", "").split())


def test_strict_build_passes_and_every_page_tracks_itself(docs_site: tuple[Path, str]) -> None:
    site, stderr = docs_site
    assert "WARNING" not in stderr, stderr
    assert "aae-tracking" not in stderr  # no page left untracked
    pages = html_files(site)
    sources = {p.relative_to(ROOT / "docs").with_suffix("") for p in (ROOT / "docs").rglob("*.md")}
    assert len(pages) >= len(sources) + len(REFERENCES)
    for path in (
        *REFERENCES,
        "index.html",
        "getting-started/index.html",
        "troubleshooting/index.html",
        "generators/hugo/index.html",
    ):
        assert path in pages, path
    for path, page in pages.items():
        assert tracker_tags(page) == [tracker_tags(pages["index.html"])[0]], (
            path
        )  # one tracker per page, the same settings everywhere
    (tag,) = tracker_tags(pages["index.html"])
    assert (tag.landing_page_id, tag.campaign_id, tag.endpoint) == (
        "lp_docs",
        "camp_docs",
        DEFAULT_ENDPOINT,
    )
    # our own checker agrees, page by page
    check = run(
        [Path(sys.executable).with_name("aae-tracking"), "check", "--quiet", site], cwd=site
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"lp_docs / camp_docs -> {DEFAULT_ENDPOINT}: {len(pages)} pages" in check.stdout


def test_options_reference_lists_every_option_of_the_config_classes(
    docs_site: tuple[Path, str],
) -> None:
    page = _page(docs_site[0], REFERENCES[0])
    fields = {field.name: field for field in dataclasses.fields(TrackingConfig)}
    mkdocs_options = dict(AaeTrackingConfig._schema)
    names = [*SETTING_NAMES, *(name for name in mkdocs_options if name not in SETTING_NAMES)]
    assert {"enabled", "static_html"} <= set(names)
    for name in names:
        section = _section(page, name)
        default = fields[name].default if name in fields else mkdocs_options[name].default
        if default is dataclasses.MISSING:
            assert "Default: required" in section, section
        elif isinstance(default, bool):
            assert f"Default: {str(default).lower()} " in section, section
        elif isinstance(default, str):
            assert f"Default: {default} " in section, section
        for mode in CHOICE_SETTINGS.get(name, ()):
            assert mode in section.split("Allowed values:")[1], (name, mode)
    # the description is the field's own `#:` comment, e.g.
    assert "Global Privacy Control stops all tracking; first-party: the Pixel only" in _section(
        page, "gpc"
    )
    summary = page.xpath("//article//table")[0]
    assert [_text(a) for a in summary.xpath(".//a")] == list(SETTING_NAMES)
    # per page: the front-matter keys of the MkDocs plugin and the Pelican metadata keys
    per_page = _text(page.xpath("//article//table")[-1])
    for name in _OVERRIDABLE:
        assert f"{FRONT_MATTER_KEY}: {{{name}: ...}}" in per_page, name
        assert f"aae_tracking_{name}: ..." in per_page, name


def _section(page: lxml_html.HtmlElement, name: str) -> str:
    """The text of the option's section: its heading (id ``name``) up to the next heading."""
    (heading,) = page.xpath(f"//article//h3[@id='{name}']")
    assert _text(heading).startswith(name)
    parts = []
    for sibling in heading.itersiblings():
        if sibling.tag in ("h2", "h3"):
            break
        parts.append(_text(sibling))
    return " ".join(parts) + " "


def _schema_fields() -> dict[str, list[str]]:
    """``{$defs name: [field, ...]}`` of every object of the contract with properties."""
    defs = load_schema()["$defs"]
    return {name: list(d["properties"]) for name, d in defs.items() if "properties" in d}


def test_event_reference_lists_every_event_type_and_field_with_valid_examples(
    docs_site: tuple[Path, str],
) -> None:
    page = _page(docs_site[0], REFERENCES[1])
    schema = load_schema()
    headings = {_text(h2).rstrip("¶").strip(): h2 for h2 in page.xpath("//article//h2")}
    standard = schema["$defs"]["StandardEventType"]["enum"]
    assert set(standard) | {"Custom events", "Batch body"} <= set(headings), sorted(headings)
    cells = {_text(code) for code in page.xpath("//table//td[1]/code")}
    for definition, names in _schema_fields().items():
        for name in names:
            assert name in cells, (definition, name)
    descriptions = _text(page.xpath("//article")[0])
    for definition in ("Event", "PurchaseData", "WebVitalsData"):
        for name, sub in schema["$defs"][definition]["properties"].items():
            assert _plain(sub["description"]) in descriptions, (definition, name)
    examples = [
        json.loads(block.text_content())
        for block in page.xpath("//pre/code")
        if block.text_content().lstrip().startswith('{\n  "event_type"')
    ]
    assert [event["event_type"] for event in examples] == [*standard, "Lead"]
    for event in examples:
        assert validate_payload(event) == [], event
    # The site shows the tables once: docs/events.md's checked-in copy (for readers of the
    # repository) is left out of its page, which links to this one.
    events_page = _page(docs_site[0], "events/index.html")
    shown = _text(events_page.xpath("//article")[0])
    assert "Every event: top-level fields" not in shown
    assert "Batch body" not in shown
    assert events_page.xpath("//article//a[@href='../reference/events/']")


def test_the_references_need_no_hand_written_page(
    docs_site: tuple[Path, str], tmp_path: Path
) -> None:
    """With the hand-written option tables and the events.md section gone, the strict build
    still passes and the reference pages say exactly the same."""
    source = copy_docs(tmp_path / "src")
    docs = source / "docs"
    events = docs / "events.md"
    events.write_text(
        re.sub(
            r"<!-- BEGIN event-reference.*<!-- END event-reference -->",
            "",
            events.read_text("utf-8"),
            flags=re.DOTALL,
        ),
        "utf-8",
    )
    for name in ("configure-mkdocs.md", "configure-pelican.md"):
        text = (docs / name).read_text("utf-8")
        stripped = re.sub(r"(?m)^\| `[a-z_]+` \|.*\n", "", text)
        assert len(stripped) < len(text) - 2000, name  # the option tables are gone
        (docs / name).write_text(stripped, "utf-8")
    site, _ = build_docs(source, tmp_path / "site")
    for path in REFERENCES:
        ours = _page(site, path).xpath("//article")[0]
        theirs = _page(docs_site[0], path).xpath("//article")[0]
        assert lxml_html.tostring(ours) == lxml_html.tostring(theirs), path


def test_a_broken_anchor_fails_the_strict_build(tmp_path: Path) -> None:
    source = copy_docs(tmp_path / "src")
    with (source / "docs" / "troubleshooting.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [the rules](events.md#no-such-heading).\n")
    result = run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "-f",
            source / "mkdocs.yml",
            "-d",
            tmp_path / "site",
        ],
        cwd=source,
        timeout=300,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert (
        "Doc file 'troubleshooting.md' contains a link 'events.md#no-such-heading', but the doc "
        "'events.md' does not contain an anchor '#no-such-heading'." in output
    )
    assert "Aborted with 1 warnings in strict mode" in output
