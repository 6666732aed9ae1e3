"""Per-page injection time: this engine next to an older one (from git), a plain splice and lxml.

    .venv/bin/python benchmarks/inject_speed.py [--repeat 15] [--old 4a4e747]

Pages are real mkdocs-material output, built here: a small page, a ~300 KB page and a ~5 MB page,
and each of them cut before ``</body>`` (a page whose last spot is the end of the file). The
older engine is ``aae_tracking_plugins/core/engine/`` at the commit ``--old`` (default: the last
one with the hand-written scanner), extracted from git into a temporary package and run in the
same process on the same pages; its outputs must equal this engine's. Every method runs on every
page in the same rounds (interleaved), and the figures are medians; quote the ratios, the
absolute times depend on the machine's load.
"""

from __future__ import annotations

import importlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import click
from lxml import etree
from lxml import html as lxml_html

from aae_tracking_plugins.core.engine.inject import inject, inject_bytes
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet

sys.path.insert(0, str(Path(__file__).parent))
from mkdocs_share import PAGE  # the same realistic markdown block

TARGET_KB = {"small": 0, "300 KB": 300, "5 MB": 5 * 1024}
ENGINE = "aae_tracking_plugins/core/engine"
#: The last commit with the hand-written scanner (before "place, then verify").
OLD_ENGINE = "4a4e747"


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


def load_engine(commit: str, into: Path) -> ModuleType:
    """The engine package at ``commit`` as an importable package of its own (its imports of
    ``aae_tracking_plugins.core.engine`` rewritten), returning its ``inject`` module."""
    repo = Path(__file__).resolve().parent.parent
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{commit}:{ENGINE}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    package = f"engine_{commit}"
    (into / package).mkdir()
    for name in names:
        source = subprocess.run(
            ["git", "show", f"{commit}:{ENGINE}/{name}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        source = source.replace("aae_tracking_plugins.core.engine", package)
        (into / package / name).write_text(source, "utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{package}.inject")


def _engine_commit(ctx: click.Context, param: click.Parameter, commit: str) -> str:
    """``--old`` unchanged when git has ``ENGINE`` at that commit.

    Raises:
        click.BadParameter: no such commit, or no engine folder in it.
    """
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}:{ENGINE}"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
    )
    if found.returncode != 0:
        raise click.BadParameter(f"no {ENGINE}/ at commit {commit!r} in this repository")
    return commit


@click.command(help=__doc__.split("\n\n")[0], context_settings={"show_default": True})
@click.option("--repeat", type=click.IntRange(min=1), default=15)
@click.option(
    "--old",
    "old_commit",
    default=OLD_ENGINE,
    callback=_engine_commit,
    help="commit of the engine to compare with",
)
def main(repeat: int, old_commit: str) -> None:
    """Time every method on every page, ``repeat`` interleaved rounds; prints medians."""
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

    encoded: dict[int, bytes] = {}  # each page's UTF-8 bytes, made once (id of the page)

    def engine_bytes(page: str) -> bytes:
        return inject_bytes(encoded[id(page)], snippet).data

    with tempfile.TemporaryDirectory() as tmp:
        old = load_engine(old_commit, Path(tmp))
        old_snippet = old.Snippet(snippet.head, snippet.body)

        def old_engine(page: str) -> str:
            return str(old.inject(page, old_snippet).html)

        def old_engine_bytes(page: str) -> bytes:
            return bytes(old.inject_bytes(encoded[id(page)], old_snippet).data)

        methods: dict[str, Callable[[str], object]] = {
            "this engine": engine,
            f"engine at {old_commit}": old_engine,
            "this engine, bytes": engine_bytes,
            f"at {old_commit}, bytes": old_engine_bytes,
            "plain splice": splice,
            "lxml parse": lxml_parse,
            "lxml round-trip": lxml_round_trip,
        }
        pages = build_pages(Path(tmp) / "site")
        # The same pages cut before </body>: their last candidate spot is the end of the file.
        cut = {f"{name}, cut": page[: page.rfind("</body>")] for name, page in pages.items()}
        pages.update(cut)
        for name, page in pages.items():
            encoded[id(page)] = page.encode("utf-8")
            assert inject(page, snippet).skipped_reason is None, name
            assert engine(page) == old_engine(page), name
            assert engine_bytes(page) == old_engine_bytes(page) == engine(page).encode(), name
        times = {(p, m): [] for p in pages for m in methods}  # type: dict[tuple[str, str], list[float]]
        for _ in range(repeat):
            for page_name, page in pages.items():
                inner = max(1, 200_000 // len(page))  # several calls per sample on small pages
                for method_name, method in methods.items():
                    start = time.perf_counter()
                    for _ in range(inner):
                        method(page)
                    times[page_name, method_name].append((time.perf_counter() - start) / inner)

    print(f"median per page over {repeat} interleaved rounds (ratio to the plain splice)")
    print(f"{'page':14} {'size':>9}  " + "  ".join(f"{m:>22}" for m in methods) + "  new/old")
    old_name = f"engine at {old_commit}"
    for page_name, page in pages.items():
        splice_time = statistics.median(times[page_name, "plain splice"])
        cells = []
        for method_name in methods:
            value = statistics.median(times[page_name, method_name])
            cells.append(f"{value * 1e6:11.1f} us ({value / splice_time:5.1f}x)")
        ratios = []
        for new_name, before_name in (
            ("this engine", old_name),
            ("this engine, bytes", f"at {old_commit}, bytes"),
        ):
            new = statistics.median(times[page_name, new_name])
            ratios.append(f"{new / statistics.median(times[page_name, before_name]):5.2f}")
        size = f"{len(page) // 1024:6d} KB"
        print(f"{page_name:14} {size}  " + "  ".join(cells) + "  " + " / ".join(ratios))


if __name__ == "__main__":
    main()
