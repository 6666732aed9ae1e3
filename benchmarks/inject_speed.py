"""Per-page injection time: our engine next to a plain splice, a full lxml parse and round-trip.

    .venv/bin/python benchmarks/inject_speed.py [--repeat 15]

Pages are real mkdocs-material output, built here: a small page, a ~300 KB page and a ~5 MB page,
and each of them cut before ``</body>`` (the shape where the engine's final HTML5 check runs).
Every method runs on every page in the same rounds (interleaved), and the figures are medians;
quote the ratios, the absolute times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet

sys.path.insert(0, str(Path(__file__).parent))
from mkdocs_share import PAGE  # the same realistic markdown block

TARGET_KB = {"small": 0, "300 KB": 300, "5 MB": 5 * 1024}


def build_pages(root: Path) -> dict[str, str]:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    docs = root / "docs"
    docs.mkdir(parents=True)
    block = PAGE.format(n=1, next=1)
    for name, kb in TARGET_KB.items():
        repeats = max(1, kb * 1024 * 10 // (len(block) * 18))  # rendered HTML: ~1.8x the markdown
        slug = name.replace(" ", "")
        (docs / f"{slug}.md").write_text("\n\n".join([block] * repeats), "utf-8")
    (root / "mkdocs.yml").write_text(
        "site_name: Bench\ntheme:\n  name: material\n  font: false\n"
        "markdown_extensions:\n  - attr_list\n  - admonition\n  - tables\n",
        "utf-8",
    )
    build(load_config(str(root / "mkdocs.yml")))
    return {
        name: (root / "site" / name.replace(" ", "") / "index.html").read_text("utf-8")
        for name in TARGET_KB
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    snippet = render_snippet(TrackingConfig("lp_bench", "https://api.aae.com", "camp_bench"))

    def splice(page: str) -> str:
        at = page.rfind("</body>")
        at = len(page) if at < 0 else at
        return page[:at] + snippet.body + page[at:]

    def lxml_parse(page: str) -> object:
        return lxml_html.document_fromstring(page.encode("utf-8"))

    def lxml_round_trip(page: str) -> bytes:
        root = lxml_html.document_fromstring(page.encode("utf-8"))
        root.body.append(lxml_html.fragment_fromstring(snippet.body))
        return etree.tostring(root, method="html", encoding="utf-8")

    def engine(page: str) -> str:
        return inject(page, snippet).html

    methods: dict[str, Callable[[str], object]] = {
        "our engine": engine,
        "plain splice": splice,
        "lxml parse": lxml_parse,
        "lxml round-trip": lxml_round_trip,
    }
    with tempfile.TemporaryDirectory() as tmp:
        pages = build_pages(Path(tmp))
    # The same pages cut before </body>: not the ordinary shape, so the engine also runs its
    # final check (an HTML5 parse, see docs/engine.md) on them.
    cut = {f"{name}, cut": page[: page.rfind("</body>")] for name, page in pages.items()}
    pages.update(cut)
    for name, page in pages.items():
        assert inject(page, snippet).skipped_reason is None, name
    times = {(p, m): [] for p in pages for m in methods}  # type: dict[tuple[str, str], list[float]]
    for _ in range(args.repeat):
        for page_name, page in pages.items():
            inner = max(1, 200_000 // len(page))  # several calls per sample on small pages
            for method_name, method in methods.items():
                start = time.perf_counter()
                for _ in range(inner):
                    method(page)
                times[page_name, method_name].append((time.perf_counter() - start) / inner)

    print(f"median per page over {args.repeat} interleaved rounds (ratio to the plain splice)")
    print(f"{'page':14} {'size':>9}  " + "  ".join(f"{m:>22}" for m in methods))
    for page_name, page in pages.items():
        splice_time = statistics.median(times[page_name, "plain splice"])
        cells = []
        for method_name in methods:
            value = statistics.median(times[page_name, method_name])
            cells.append(f"{value * 1e6:11.1f} us ({value / splice_time:5.1f}x)")
        print(f"{page_name:14} {len(page) // 1024:6d} KB  " + "  ".join(cells))


if __name__ == "__main__":
    main()
