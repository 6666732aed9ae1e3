"""Share of a large MkDocs build spent in the aae-tracking plugin, next to a plain splice.

    .venv/bin/python benchmarks/mkdocs_share.py [--pages 1000] [--theme material|mkdocs]
                                                   [--heap both]

Generates a site of N realistic pages (headings, lists, code, tables, a CTA), builds it in-process
with `mkdocs build`, and times every call into the plugin's hooks during that same build. Then it
builds the same site again with the plugin's engine swapped for a plain splice (``rfind("</body>")``
and one concatenation, no parsing, no head stub): the least any injector returning a new page
costs in the same hooks. Building a page-sized string is not free: where the C library hands freed
memory back to the system (glibc trims the heap top), each new half-megabyte string is paid in
page faults, and that shows in both rows. ``--heap both`` runs the measurement twice, the second
time with glibc told to keep freed memory (``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``),
to show how much of each row is page faults rather than work.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from mkdocs.utils import get_theme_names

from aae_tracking_plugins.core.engine.inject import InjectionResult, Snippet

PAGE = """# Page {n}: a landing section

Intro paragraph for page {n} with **bold**, *emphasis*, a [link](page-{next}.md) and `code`.

[Get the offer](page-{next}.md){{ .cta-button #cta-{n} }}

## Features

- Fast: {n} ms
- Quiet: <span class="x">42 dB</span>
- Safe: ten-year warranty

| Plan | Price | Seats |
| ---- | ----- | ----- |
| Basic | €9 | 1 |
| Team | €29 | 5 |

```python
def hello(name: str) -> str:
    return f"Hello {{name}} </body> from a code block"
```

!!! note
    Admonitions render extra markup. <!-- an HTML comment in content -->

<button type="button" data-cta="true" id="buy-{n}"><span>Buy</span></button>
"""


def make_site(root: Path, pages: int, theme: str, tracked: bool) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for n in range(pages):
        name = "index.md" if n == 0 else f"page-{n}.md"
        (docs / name).write_text(PAGE.format(n=n, next=(n + 1) % pages), "utf-8")
    plugin = (
        "  - aae-tracking:\n      landing_page_id: lp_bench\n      campaign_id: camp_bench\n"
        "      api_base_url: https://api.aae.com\n"
        if tracked
        else ""
    )
    (root / "mkdocs.yml").write_text(
        f"site_name: Bench\ntheme:\n  name: {theme}\n"
        + ("  font: false\n" if theme == "material" else "")
        + "markdown_extensions:\n  - attr_list\n  - admonition\n  - tables\n"
        + f"plugins:\n  - search\n{plugin}",
        "utf-8",
    )
    return root / "mkdocs.yml"


def timed_build(config_file: Path) -> tuple[float, float, int, float]:
    """(total build seconds, seconds inside our plugin's hooks, pages seen by on_post_page,
    CPU seconds of the whole process during the build, worker threads included).

    Hooks run in MkDocs' own thread; the parses that the plugin hands to worker threads run
    beside it, and show in the build's total only as far as they keep MkDocs waiting.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.plugins import CombinedEvent

    from aae_tracking_plugins.integrations.mkdocs import AaeTrackingPlugin

    spent = [0.0]
    calls = [0]

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)  # keeps MkDocs' event priority (an attribute of the method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start
                calls[0] += method.__name__ == "on_post_page"

        return timed

    hooks = [name for name in vars(AaeTrackingPlugin) if name.startswith("on_")]
    originals = {name: AaeTrackingPlugin.__dict__[name] for name in hooks}
    for name, method in originals.items():
        if isinstance(method, CombinedEvent):
            setattr(AaeTrackingPlugin, name, CombinedEvent(*map(wrap, method.methods)))
        else:
            setattr(AaeTrackingPlugin, name, wrap(method))
    try:
        start, cpu = time.perf_counter(), time.process_time()
        config = load_config(str(config_file))
        build(config)
        total, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        for name, method in originals.items():
            setattr(AaeTrackingPlugin, name, method)
    return total, spent[0], calls[0], cpu


def _plain_splice(text: str, snippet: Snippet) -> InjectionResult:
    at = text.rfind("</body>")
    return InjectionResult(text[:at] + snippet.body + text[at:] if at >= 0 else text)


@click.command(help=__doc__.split("\n\n")[0], context_settings={"show_default": True})
@click.option("--pages", "page_count", type=click.IntRange(min=1), default=1000)
@click.option("--theme", type=click.Choice(sorted(get_theme_names())), default="material")
@click.option(
    "--heap",
    type=click.Choice(["default", "both"]),
    default="default",
    help="'both': also measure with glibc keeping freed memory (no page faults on reuse)",
)
def main(page_count: int, theme: str, heap: str) -> None:
    """Build a ``page_count``-page site four ways; prints build, CPU and hook times per variant."""
    if heap == "both":
        command = [sys.executable, __file__, "--pages", str(page_count), "--theme", theme]
        print("== heap as the C library configures it by default")
        subprocess.run(command, check=True)
        print("== glibc keeping freed memory (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_)")
        keep = {"MALLOC_TRIM_THRESHOLD_": "2000000000", "MALLOC_MMAP_THRESHOLD_": "1000000000"}
        subprocess.run(command, check=True, env={**os.environ, **keep})
        return
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    from aae_tracking_plugins.integrations import mkdocs as mkdocs_plugin

    ours = (mkdocs_plugin.inject, mkdocs_plugin.speculate, mkdocs_plugin.worker_threads)
    threads = ours[2]()
    variants: list[tuple[str, bool, tuple[Any, Any, Any]]] = [
        ("no plugin", False, ours),
        (f"aae-tracking, {threads} parse thread(s)", True, ours),
        ("aae-tracking, parse in line", True, (ours[0], ours[1], lambda: 0)),
        ("plain splice", True, (_plain_splice, _plain_splice, lambda: 0)),
    ]
    rows = []
    for label, tracked, (inject, speculate, workers) in variants:
        mkdocs_plugin.inject, mkdocs_plugin.speculate = inject, speculate  # type: ignore[assignment]
        mkdocs_plugin.worker_threads = workers  # type: ignore[assignment]
        try:
            with tempfile.TemporaryDirectory() as tmp:
                config_file = make_site(Path(tmp), page_count, theme, tracked=tracked)
                total, plugin, pages, cpu = timed_build(config_file)
                sizes = [p.stat().st_size for p in Path(tmp, "site").rglob("*.html")]
        finally:
            mkdocs_plugin.inject, mkdocs_plugin.speculate, mkdocs_plugin.worker_threads = ours
        rows.append((label, total, plugin, pages, cpu))
    average_kb = sum(sizes) // len(sizes) // 1024
    bare = rows[0][1]
    print(f"{page_count}-page MkDocs build ({theme} theme, pages ~{average_kb} KB)")
    print(
        f"  {'':34} {'build':>8} {'CPU':>8} {'added':>7} {'in hooks':>9} {'per page':>9}"
        f" {'share':>7}"
    )
    for label, total, plugin, pages, cpu in rows:
        if pages == 0:
            print(f"  {label:34} {total:7.2f}s {cpu:7.2f}s")
            continue
        per_page = plugin / pages * 1e6
        added = (total - bare) / total * 100
        share = plugin / total * 100
        print(
            f"  {label:34} {total:7.2f}s {cpu:7.2f}s {added:6.1f}% {plugin:8.3f}s {per_page:7.0f}us"
            f" {share:6.2f}%"
        )
    print("  CPU: the process's CPU time during the build, the plugin's worker threads included")
    print("  added: the build's time over the build without the plugin, as a share of it (noisy)")
    print("  share: time in the plugin's hooks (MkDocs' own thread) as a share of the build")
    print("  target (issue 10): plugin share <= 4 % of the build on the mkdocs and material themes")


if __name__ == "__main__":
    main()
