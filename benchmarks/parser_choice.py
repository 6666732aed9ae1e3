"""Which HTML parser verifies the engine's insertions: tree building and speed, side by side.

    .venv/bin/python benchmarks/parser_choice.py [--repeat 7]

1. Tree building: for pages where the HTML standard says where a ``<script data-x>`` ends up (or
   that it is no script at all), each parser's answer: "run" (an HTML script element outside
   template contents, SVG/MathML, noscript and raw text), "no" (anything else). The expected
   column is the standard's answer for a browser with scripting enabled (as Chromium runs it).
2. Speed: a full parse of the small, 300 KB and 5 MB mkdocs-material pages of inject_speed.py.

Candidates: selectolax's Lexbor (HTML5, C), html5lib (HTML5, pure Python), lxml (libxml2's HTML
parser, HTML 4 era), html5-parser (gumbo, C; it refuses to load next to lxml's wheels, which bring
their own libxml2, so it is reported and skipped when it does not import).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import click
import html5lib
from lxml import html as lxml_html
from selectolax.lexbor import LexborHTMLParser

sys.path.insert(0, str(Path(__file__).parent))
from inject_speed import build_pages

S = "<script data-x>f()</script>"
#: page -> does the script run (HTML standard, scripting enabled)
CASES = {
    f"<body><p>{S}</body>": True,
    f"<body><template>{S}</template>": False,
    f"<body><svg>{S}</svg>": False,
    f"<body><math>{S}</math>": False,
    f"<body><svg><foreignObject>{S}</foreignObject></svg>": True,
    f"<body><svg><p>{S}</svg>": True,
    f"<body><noscript>{S}</noscript>": False,
    f"<body><noscript><!-- </noscript> -->{S}": True,
    f"<head><noscript>{S}</noscript></head><body>x": False,
    f"<body><textarea>{S}</textarea>": False,
    f"<body><iframe>{S}</iframe>": False,
    f"<body><!-- {S} -->": False,
    f"<body><table>{S}</table>": True,
    f"<body><p>x</p></body></html>{S}": True,
    f"<body><plaintext>{S}": False,
}
_BLOCKERS = {"template", "svg", "math", "noscript", "textarea", "iframe", "plaintext"}


#: SVG/MathML elements whose content is HTML again (HTML standard, "HTML integration point").
_INTEGRATION_POINTS = {"foreignobject", "desc", "title", "annotation-xml"}


def _runs(names: list[str]) -> bool:
    """``names``: the script's tag name, then its ancestors' up to the root."""
    if not names:
        return False
    for name in names[1:]:
        if name.lower() in _INTEGRATION_POINTS:
            names = [n for n in names if n not in ("svg", "math")]
            break
    return not _BLOCKERS.intersection(names)


def lexbor_answer(page: str) -> bool:
    node = LexborHTMLParser(page, scripting=True).css_first("script[data-x]")
    names = []
    while node is not None:
        names.append(node.tag or "")
        node = node.parent
    return _runs(names) and names[-1] == "-document"


def _etree_answer(root: object, local: Callable[[str], str]) -> bool:
    parents = {child: parent for parent in root.iter() for child in parent}  # type: ignore[attr-defined]
    for element in root.iter():  # type: ignore[attr-defined]
        if isinstance(element.tag, str) and local(element.tag) == "script":
            if "data-x" not in element.attrib:
                continue
            names, node = [], element
            while node is not None:
                names.append(local(node.tag))
                node = parents.get(node)
            if element.tag.startswith("{http://www.w3.org/2000/svg}"):
                names.append("svg")
            return _runs(names)
    return False


def html5lib_answer(page: str) -> bool:
    # html5lib keeps template contents as children: the path shows them.
    root = html5lib.HTMLParser().parse(page, scripting=True)
    return _etree_answer(root, lambda tag: tag.rsplit("}", 1)[-1])


def lxml_answer(page: str) -> bool:
    return _etree_answer(lxml_html.document_fromstring(page), lambda tag: tag)


def html5_parser_module() -> object | None:
    try:
        import html5_parser  # type: ignore[import-not-found]
    except Exception as exc:  # it raises RuntimeError on a libxml2 mismatch
        print(f"html5-parser: not usable here ({type(exc).__name__}: {exc})\n")
        return None
    return html5_parser


@click.command(help=__doc__.split("\n\n")[0], context_settings={"show_default": True})
@click.option("--repeat", type=click.IntRange(min=1), default=7)
def main(repeat: int) -> None:
    """Print each parser's tree-building answers, then its median parse time per page."""
    warnings.simplefilter("ignore")
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    answers = {"lexbor": lexbor_answer, "html5lib": html5lib_answer, "lxml": lxml_answer}
    gumbo = html5_parser_module()

    print(f"{'page':58} {'standard':>8} " + " ".join(f"{name:>8}" for name in answers))
    wrong = dict.fromkeys(answers, 0)
    for page, expected in CASES.items():
        cells = []
        for name, answer in answers.items():
            got = answer(page)
            wrong[name] += got != expected
            cells.append(f"{('run' if got else 'no') + ('' if got == expected else '!'):>8}")
        shown = page.replace(S, "S")
        print(f"{shown:58} {'run' if expected else 'no':>8} " + " ".join(cells))
    print("wrong answers: " + ", ".join(f"{name} {count}" for name, count in wrong.items()))

    with tempfile.TemporaryDirectory() as tmp:
        pages = build_pages(Path(tmp))
    parsers: dict[str, Callable[[str], object]] = {
        "lexbor": lambda page: LexborHTMLParser(page, scripting=True),
        "lxml": lambda page: lxml_html.document_fromstring(page.encode("utf-8")),
        "html5lib": lambda page: html5lib.HTMLParser().parse(page, scripting=True),
    }
    if gumbo is not None:
        parsers["html5-parser"] = gumbo.parse  # type: ignore[attr-defined]
    print(f"\nmedian full parse over {repeat} rounds (html5lib: 1 round on 5 MB)")
    print(f"{'page':10} {'size':>9}  " + "  ".join(f"{name:>12}" for name in parsers))
    for page_name, page in pages.items():
        cells = []
        for name, parse in parsers.items():
            rounds = 1 if name == "html5lib" and len(page) > 1_000_000 else repeat
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                parse(page)
                times.append(time.perf_counter() - start)
            cells.append(f"{statistics.median(times) * 1e3:9.2f} ms")
        print(f"{page_name:10} {len(page) // 1024:6d} KB  " + "  ".join(cells))


if __name__ == "__main__":
    main()
