"""The stub never pushes a charset declaration out of the first 1024 bytes.

Browsers look for ``<meta charset>`` (or ``http-equiv="content-type"``) only in the first 1024
bytes of a page (HTML standard, "prescan a byte stream to determine its encoding"; Firefox decodes
a page whose declaration moved further in the wrong encoding). The stub goes after such a
declaration in the head, with or without a ``<head>`` tag; where it cannot (a declaration after
the body started), it goes right before the tracker; where even the tracker comes first, the page
is left alone. Byte offsets are counted in the page's own encoding.
"""

from __future__ import annotations

import pytest
from html5lib._inputstream import EncodingParser

from aae_tracking_plugins.core.engine.charset import declared_encoding
from aae_tracking_plugins.core.engine.inject import (
    CHARSET_PUSHED,
    inject,
    inject_bytes,
    remove_tracker,
)
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.html_oracle import browser_view

SNIPPET = render_snippet(TrackingConfig("lp_1", "https://api.aae.com", "camp_1"))
BODY = "<p>Caf\xe9 cr\xe8me, 5 \u20ac, na\xefve</p>"


def pad_to(prefix: str, declaration: str, end: int, encoding: str) -> str:
    """``prefix`` + a comment that makes ``declaration`` end at byte ``end`` + ``declaration``."""
    used = len(prefix.encode(encoding)) + len(declaration.encode(encoding)) + len("<!--  -->")
    filler = "x" * (end - used)
    return f"{prefix}<!-- {filler} -->{declaration}"


def prescan(data: bytes) -> str | None:
    """html5lib's implementation of the standard's prescan (it reads the first 1024 bytes)."""
    found = EncodingParser(data[:1024]).getEncoding()
    return None if found is None else found.name


def declaration_end(data: bytes, declaration: str, encoding: str) -> int:
    return data.index(declaration.encode(encoding)) + len(declaration.encode(encoding))


#: Pages without a <head> tag whose declaration ends near byte 1000: (prefix, declaration).
NO_HEAD_TAG = {
    "html tag, meta charset": ("<!DOCTYPE html><html lang=fr>", "<meta charset=windows-1252>"),
    "doctype only, http-equiv": (
        "<!DOCTYPE html>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
    ),
    "no doctype, title first": ("<title>Caf\xe9</title>", '<meta charset="windows-1252">'),
    "after </head> (still the head)": (
        "<html><head><title>t</title></head>",
        "<meta charset=windows-1252>",
    ),
}


@pytest.mark.parametrize("name", NO_HEAD_TAG)
@pytest.mark.parametrize("end", [1000, 1024 - len(SNIPPET.head) + 1, 1024])
def test_a_late_declaration_stays_in_the_first_1024_bytes(name: str, end: int) -> None:
    prefix, declaration = NO_HEAD_TAG[name]
    page = pad_to(prefix, declaration, end, "cp1252") + f"<title>x</title>{BODY}"
    data = page.encode("cp1252")
    assert declaration_end(data, declaration, "cp1252") == end
    assert prescan(data) == "windows-1252"

    result = inject_bytes(data, SNIPPET)

    assert result.injected, result.skipped_reason
    assert result.encoding == "cp1252"
    assert declaration_end(result.data, declaration, "cp1252") <= 1024
    assert prescan(result.data) == "windows-1252"
    assert declared_encoding(result.data) == "cp1252"
    output = result.data.decode("cp1252")
    assert remove_tracker(output) == page
    assert BODY in output
    view = browser_view(output)
    assert view.kinds == ["stub", "tracker"]
    assert view.tracker_runs_in_body


def test_the_stub_stays_early_when_the_declaration_has_room() -> None:
    page = "<!DOCTYPE html><html><title>t</title><meta charset=utf-8><p>x</p></html>"
    output = inject(page, SNIPPET).html
    assert output.index("<meta charset=utf-8>") < output.index(SNIPPET.head)
    assert output.index(SNIPPET.head) < output.index("<p>x</p>")
    assert browser_view(output).stub_in_head


def test_utf8_bytes_count_not_characters() -> None:
    """Two-byte characters before the declaration: counted in characters it would have room."""
    prefix = "<!DOCTYPE html><html><title>" + "\xe9" * 400 + "</title>"
    declaration = "<meta charset=utf-8>"
    page = prefix + pad_to("", declaration, 1000 - len(prefix.encode()), "utf-8") + BODY
    data = page.encode("utf-8")
    assert declaration_end(data, declaration, "utf-8") == 1000
    assert page.index(declaration) + len(declaration) + len(SNIPPET.head) < 1024
    for output in (inject(page, SNIPPET).html.encode("utf-8"), inject_bytes(data, SNIPPET).data):
        assert declaration_end(output, declaration, "utf-8") <= 1024
        assert prescan(output) == "utf-8"


def test_a_declaration_in_the_body_keeps_its_place_with_the_stub_before_the_tracker() -> None:
    declaration = "<meta charset=windows-1252>"
    page = pad_to("<html><body><p>Intro</p>", declaration, 1000, "cp1252") + BODY + "</body>"
    data = page.encode("cp1252")
    result = inject_bytes(data, SNIPPET)
    assert result.injected, result.skipped_reason
    assert declaration_end(result.data, declaration, "cp1252") == 1000
    assert prescan(result.data) == "windows-1252"
    output = result.data.decode("cp1252")
    assert output.index(SNIPPET.head) + len(SNIPPET.head) == output.index(SNIPPET.body)
    view = browser_view(output)
    assert view.kinds == ["stub", "tracker"]
    assert view.tracker_runs_in_body


def test_a_declaration_after_the_body_end_gets_the_tags_after_it() -> None:
    """Before the last </body> the tracker would push the declaration out; right before
    </html>, after the declaration, it still runs in the body (the parser confirms it), with
    the stub right before it (refused before the engine was rebuilt on an HTML5 parser)."""
    declaration = "<meta charset=windows-1252>"
    page = pad_to("<html><body><p>x</p></body>", declaration, 1000, "cp1252") + "</html>"
    data = page.encode("cp1252")
    result = inject_bytes(data, SNIPPET)
    assert result.injected, result.skipped_reason
    assert declaration_end(result.data, declaration, "cp1252") == 1000
    assert prescan(result.data) == "windows-1252"
    output = result.data.decode("cp1252")
    assert output.index(SNIPPET.head) + len(SNIPPET.head) == output.index(SNIPPET.body)
    assert output.index(SNIPPET.body) + len(SNIPPET.body) == output.index("</html>")
    view = browser_view(output)
    assert view.kinds == ["stub", "tracker"]
    assert view.tracker_runs_in_body


def test_a_declaration_the_tracker_would_push_out_is_left_alone() -> None:
    """After the declaration the page is <template> content to its end: the only spots where
    the tracker runs are before the declaration, and each would push it out."""
    declaration = "<meta charset=windows-1252>"
    page = pad_to("<html><body><p>x</p></body><template>", declaration, 1000, "cp1252") + "<p>"
    data = page.encode("cp1252")
    result = inject_bytes(data, SNIPPET)
    assert result.data == data
    assert result.skipped_reason == CHARSET_PUSHED
    assert result.worth_a_warning


def test_a_declaration_already_out_of_reach_changes_nothing() -> None:
    declaration = "<meta charset=windows-1252>"
    page = pad_to("<html><title>t</title><p>x</p>", declaration, 1500, "cp1252") + BODY
    result = inject_bytes(page.encode("cp1252"), SNIPPET)
    assert result.injected
    output = result.data.decode("cp1252", "surrogateescape")
    assert output.index(SNIPPET.head) < output.index("<p>x</p>")  # the stub stays early


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16-le"])
def test_bytes_and_text_get_the_same_decision(encoding: str) -> None:
    """Bytes are counted as UTF-8 (never fewer than in the page's own encoding) and without a
    byte order mark, so both entry points, and a page with or without the mark, agree."""
    declaration = "<meta charset=windows-1252>"
    pages = [
        '\ufeff<body></body><meta charset="utf-8">',
        pad_to("<html><body><p>\xe9\xe9</p></body>", declaration, 1000, "cp1252") + "</html>",
        pad_to("<html><body><p>\xe9\xe9</p>", declaration, 900, "cp1252") + "</body></html>",
    ]
    for page in pages:
        if encoding == "cp1252" and page.startswith("\ufeff"):
            continue  # no byte order mark in windows-1252
        bom = b"\xff\xfe" if encoding == "utf-16-le" and not page.startswith("\ufeff") else b""
        data = bom + page.encode(encoding)
        result = inject_bytes(data, SNIPPET)
        text = data.decode(result.encoding)
        expected = inject(text, SNIPPET)
        assert result.skipped_reason == expected.skipped_reason, page
        if result.injected:
            assert result.data.decode(result.encoding) == expected.html
