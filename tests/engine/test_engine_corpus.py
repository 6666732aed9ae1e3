"""Real pages (tests/corpus/): every one is injected, byte-faithfully, idempotently, and runs.

The corpus holds generator output (MkDocs ``mkdocs`` and ``readthedocs`` themes, mkdocs-material,
Pelican ``notmyidea`` and ``simple``; rebuilt by ``scripts/make_corpus.py``) and hand-written
landing pages in several encodings (tests/corpus/README.md). These are ordinary pages: a page the
engine leaves alone is a failure here, not an acceptable outcome; the few it refuses today are
strict xfails (``REFUSED``), so both a fix and a new refusal are noticed.
"""

from __future__ import annotations

import pytest

from aae_tracking_plugins.core.engine.inject import Speculation, inject, inject_bytes, speculate
from tests.engine_helpers import CORPUS, OTHER_SNIPPET, PAGES, SNIPPET, corpus_params
from tests.html_oracle import browser_view, scripting_view

# html5lib warns about names it coerces for its lxml tree; that does not matter here.
pytestmark = pytest.mark.filterwarnings("ignore::html5lib.constants.DataLossWarning")

SOURCES = ["mkdocs", "readthedocs", "material", "pelican-notmyidea", "pelican-simple"]

#: The encoding each hand-written page is in (as ``charset.detect`` names the codec).
HANDWRITTEN_ENCODINGS = {
    "handwritten/landing-inline-svg.html": "utf-8",
    "handwritten/video-embed.html": "utf-8",
    "handwritten/tag-manager.html": "utf-8",
    "handwritten/xhtml-strict.html": "utf-8",
    "handwritten/legacy-crlf-uppercase.html": "cp1252",  # declares iso-8859-1
    "handwritten/windows-1252.html": "cp1252",
    "handwritten/shift_jis.html": "cp932",
    "handwritten/utf16-bom.html": "utf-16-le",
    "handwritten/svg-linked-chart.html": "utf-8",
    "handwritten/inkscape-logo.html": "utf-8",
    "handwritten/drawio-diagram.html": "utf-8",
}


def test_the_corpus_is_complete_and_small() -> None:
    for source in SOURCES:
        assert len([page for page in PAGES if page.startswith(f"{source}/")]) >= 4, source
    assert set(HANDWRITTEN_ENCODINGS) == {p for p in PAGES if p.startswith("handwritten/")}
    total = sum(path.stat().st_size for path in CORPUS.rglob("*") if path.is_file())
    assert total < 2_000_000


def test_line_endings_survive_checkout() -> None:
    """tests/corpus/.gitattributes keeps git from normalising the CRLF page (or any other)."""
    data = (CORPUS / "handwritten" / "legacy-crlf-uppercase.html").read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") > 10


@pytest.mark.parametrize("name", corpus_params())
def test_corpus_page_is_injected_byte_faithfully(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    result = inject_bytes(data, SNIPPET)
    assert result.injected, f"an ordinary page was left alone: {result.skipped_reason}"
    if name in HANDWRITTEN_ENCODINGS:
        assert result.encoding == HANDWRITTEN_ENCODINGS[name]
    head = SNIPPET.head.encode(result.encoding)
    body = SNIPPET.body.encode(result.encoding)
    assert result.data.count(head) == 1
    assert result.data.count(body) == 1
    assert result.data.index(head) < result.data.index(body)
    # Removing the two inserted byte strings gives back the original bytes.
    assert result.data.replace(head, b"", 1).replace(body, b"", 1) == data

    again = inject_bytes(result.data, SNIPPET)
    assert again.injected
    assert again.data == result.data, "injecting twice must give the page injecting once gives"

    other = inject_bytes(result.data, OTHER_SNIPPET)
    assert other.data == inject_bytes(data, OTHER_SNIPPET).data, "other ids replace ours"


@pytest.mark.parametrize("name", corpus_params())
def test_corpus_page_runs_the_tracker_in_body(name: str) -> None:
    result = inject_bytes((CORPUS / name).read_bytes(), SNIPPET)
    assert result.injected, result.skipped_reason
    text = result.data.decode(result.encoding, "surrogateescape")
    view = scripting_view(text)
    assert view.kinds == ["stub", "tracker"], view
    assert view.tracker_runs_in_body, view
    assert view.stub_runs, view
    legacy = browser_view(text)  # the project's oracle agrees (these pages have no such traps)
    assert legacy.kinds == ["stub", "tracker"]
    assert legacy.tracker_runs_in_body
    if b"<head" in result.data.lower() or "utf-16" in result.encoding:
        assert legacy.stub_in_head


@pytest.mark.parametrize(
    "name", [n for n in corpus_params() if HANDWRITTEN_ENCODINGS.get(n, "utf-8") == "utf-8"]
)
def test_first_spots_are_confirmed_on_every_utf8_corpus_page(name: str) -> None:
    """Generator output takes the fast path: the tags' first spots are the ones the parse
    confirms, so the MkDocs plugin rewrites no page at the end of a build."""
    text = (CORPUS / name).read_bytes().decode("utf-8", "surrogateescape")
    guess = speculate(text, SNIPPET)
    assert isinstance(guess, Speculation)
    assert guess.output == inject(text, SNIPPET).html
    assert guess.settle().html is guess.output
