"""Build small sites with the real generators and copy representative pages into tests/corpus/.

    .venv/bin/python scripts/make_corpus.py            # rebuild every generated source
    .venv/bin/python scripts/make_corpus.py mkdocs     # only some: mkdocs readthedocs material
                                                       #   pelican-notmyidea pelican-simple

The pages are generator output WITHOUT our plugin (the tests inject into them). MkDocs and
mkdocs-material run from this interpreter; Pelican runs from .venv-pelican (it pins another
Pygments). The hand-written pages in tests/corpus/handwritten/ are not touched. The versions used
are written to tests/corpus/VERSIONS.txt, and tests/corpus/README.md says how the corpus is made.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
PELICAN = ROOT / ".venv-pelican" / "bin" / "pelican"
PELICAN_PYTHON = ROOT / ".venv-pelican" / "bin" / "python"
MAX_CORPUS_BYTES = 2_000_000

# --------------------------------------------------------------------------- content

MKDOCS_PAGES = {
    "index.md": """\
        # Acme Standing Desk

        The desk that follows you **up** and down. Spring launch: 20% off until May.

        [Order now](offer.md){ .md-button .md-button--primary }

        !!! tip "Free shipping"
            Orders over $500 ship free. Returns within 30 days, no questions asked.

        !!! warning
            Check the `</body>` of your templates before adding scripts by hand.

        | Model | Height range | Price |
        |-------|--------------|-------|
        | Solo  | 62-127 cm    | $499  |
        | Duo   | 60-130 cm    | $699  |

        ## Why people love it

        - :material-check: Quiet motor (38 dB)
        - :fontawesome-solid-bolt: Moves 4 cm/s
        - :octicons-shield-check-16: 10-year warranty

        <div class="grid" markdown>
        <span>Made in <em>Portugal</em></span>
        </div>
        """,
    "offer.md": """\
        # Spring offer

        Add the desk to your cart and enter the code at checkout.

        ```python title="apply_code.py" linenums="1"
        def apply(code: str) -> float:
            if code == "SPRING20":  # </body> in a comment is just text
                return 0.8
            return 1.0
        ```

        ```html
        <script>var closing = "</body>";</script>
        ```

        === "EU"

            Shipping in 3-5 days.

        === "US"

            Shipping in 5-8 days.

        ??? question "Can I return it?"
            Yes, within 30 days.

        Press ++ctrl+alt+del++ to restart. H~2~O and x^2^, ==highlight==, <kbd>Enter</kbd>.

        [^1]: Footnote with a <b>tag</b>.

        Footnote reference[^1].
        """,
    "guide/setup.md": """\
        # Setup guide

        1. Unbox the frame.
        2. Attach the top with the 8 screws.

        ```bash
        echo '<html><body>demo</body></html>' > page.html
        ```

        > A quote with `<template>` inside code.

        Term
        :   Definition with *emphasis*.

        - [x] Assembled
        - [ ] Calibrated
        """,
}

MKDOCS_COMMON = """\
    site_name: Acme Standing Desk
    site_description: Spring launch landing pages
    site_url: https://desk.example.com/
    nav:
      - Home: index.md
      - Offer: offer.md
      - Guide:
          - Setup: guide/setup.md
"""

# MkDocs' two built-in themes get the same extensions.
_BUILT_IN_THEME = """\
        theme:
          name: {name}
        markdown_extensions:
          - admonition
          - attr_list
          - md_in_html
          - tables
          - toc:
              permalink: true
          - footnotes
          - def_list
        plugins:
          - search
    """

MKDOCS_CONFIGS = {
    "mkdocs": _BUILT_IN_THEME.format(name="mkdocs"),
    "readthedocs": _BUILT_IN_THEME.format(name="readthedocs"),
    "material": """\
        theme:
          name: material
          font: false
          features:
            - navigation.tabs
            - navigation.sections
            - navigation.instant
            - navigation.top
            - search.suggest
            - search.highlight
            - content.code.copy
            - content.tabs.link
          palette:
            - scheme: default
              toggle:
                icon: material/brightness-7
                name: Dark mode
            - scheme: slate
              toggle:
                icon: material/brightness-4
                name: Light mode
          icon:
            repo: fontawesome/brands/github
        repo_url: https://github.com/example/desk
        extra:
          social:
            - icon: fontawesome/brands/mastodon
              link: https://fosstodon.org/@example
        markdown_extensions:
          - admonition
          - attr_list
          - md_in_html
          - tables
          - footnotes
          - def_list
          - toc:
              permalink: true
          - pymdownx.details
          - pymdownx.superfences
          - pymdownx.highlight:
              anchor_linenums: true
          - pymdownx.inlinehilite
          - pymdownx.tabbed:
              alternate_style: true
          - pymdownx.keys
          - pymdownx.mark
          - pymdownx.tilde
          - pymdownx.caret
          - pymdownx.tasklist:
              custom_checkbox: true
          - pymdownx.emoji:
              emoji_index: !!python/name:material.extensions.emoji.twemoji
              emoji_generator: !!python/name:material.extensions.emoji.to_svg
        plugins:
          - search
    """,
}

# Pages copied into the corpus for each MkDocs theme.
MKDOCS_PICK = ["index.html", "offer/index.html", "guide/setup/index.html", "404.html"]

PELICAN_CONTENT = {
    "launch.md": """\
        Title: Spring launch
        Date: 2026-03-01 10:00
        Category: News
        Tags: desk, launch
        Slug: spring-launch
        Summary: The standing desk is here, with <em>20%</em> off.

        The **Acme desk** is here. Code sample:

            :::javascript
            var end = "</body>"; // not the end of the body
            document.querySelector("#buy").addEventListener("click", buy);

        | Model | Price |
        |-------|-------|
        | Solo  | $499  |

        <div class="note">Raw HTML: <svg width="8" height="8"><circle cx="4" cy="4" r="4"/>
        </svg></div>
        """,
    "assembly.md": """\
        Title: Assembly in ten minutes
        Date: 2026-03-05 09:30
        Category: Guides
        Tags: desk, how-to
        Author: Jane Doe

        1. Unbox.
        2. Screw the top on.

        > Tip: keep the `<template>` of the manual.
        """,
    "pages/offer.md": """\
        Title: Offer
        Slug: offer

        Order now and save. <a class="cta-button" href="#buy">Buy</a>
        """,
}

PELICAN_CONF = """\
    AUTHOR = "Acme Marketing"
    SITENAME = "Acme Standing Desk"
    SITEURL = ""
    RELATIVE_URLS = True
    TIMEZONE = "Europe/Berlin"
    DEFAULT_LANG = "en"
    PATH = "content"
    THEME = "{theme}"
    DEFAULT_PAGINATION = 10
    FEED_ALL_ATOM = None
    CATEGORY_FEED_ATOM = None
    TRANSLATION_FEED_ATOM = None
    AUTHOR_FEED_ATOM = None
    AUTHOR_FEED_RSS = None
    LINKS = (("Pelican", "https://getpelican.com/"),)
    SOCIAL = (("Mastodon", "https://fosstodon.org/@example"),)
"""

PELICAN_PICK = [
    "index.html",
    "spring-launch.html",
    "assembly-in-ten-minutes.html",
    "pages/offer.html",
    "archives.html",
    "tags.html",
    "category/news.html",
    "author/jane-doe.html",
]

# --------------------------------------------------------------------------- builders


def _write_tree(base: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")


def _run(command: list[str | Path], cwd: Path) -> None:
    env = {
        "NO_MKDOCS_2_WARNING": "1",
        "PATH": "/usr/bin:/bin",
        "LC_ALL": "C.UTF-8",
        "SOURCE_DATE_EPOCH": "1767225600",  # 2026-01-01: MkDocs's build date, reproducible
    }
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{done.stdout}\n{done.stderr}")


def _copy(site: Path, picks: list[str], dest: Path) -> list[str]:
    if dest.exists():
        shutil.rmtree(dest)
    copied = []
    for pick in picks:
        source = site / pick
        if not source.is_file():
            sys.exit(f"expected page missing from the build: {source}")
        target = dest / pick.replace("/index.html", ".html").replace("/", "-")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        copied.append(target.name)
    return copied


def build_mkdocs(theme: str, work: Path) -> list[str]:
    project = work / f"mkdocs-{theme}"
    _write_tree(project / "docs", MKDOCS_PAGES)
    config = textwrap.dedent(MKDOCS_COMMON) + textwrap.dedent(MKDOCS_CONFIGS[theme])
    (project / "mkdocs.yml").write_text(config, encoding="utf-8")
    _run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", "site"], cwd=project)
    return _copy(project / "site", MKDOCS_PICK, CORPUS / theme)


def build_pelican(theme: str, work: Path) -> list[str]:
    if not PELICAN.exists():
        sys.exit(f"{PELICAN} is missing: run `make setup` first")
    project = work / f"pelican-{theme}"
    _write_tree(project / "content", PELICAN_CONTENT)
    (project / "pelicanconf.py").write_text(
        textwrap.dedent(PELICAN_CONF).format(theme=theme), encoding="utf-8"
    )
    _run([PELICAN, "content", "-s", "pelicanconf.py", "-o", "output", "-q"], cwd=project)
    return _copy(project / "output", PELICAN_PICK, CORPUS / f"pelican-{theme}")


BUILDERS = {
    "mkdocs": lambda work: build_mkdocs("mkdocs", work),
    "readthedocs": lambda work: build_mkdocs("readthedocs", work),
    "material": lambda work: build_mkdocs("material", work),
    "pelican-notmyidea": lambda work: build_pelican("notmyidea", work),
    "pelican-simple": lambda work: build_pelican("simple", work),
}


def versions() -> str:
    from importlib.metadata import version

    here = [f"{name} {version(name)}" for name in ("mkdocs", "mkdocs-material", "Markdown")]
    here += [f"pymdown-extensions {version('pymdown-extensions')}"]
    here += [f"Pygments {version('Pygments')} (MkDocs)"]
    probe = (
        "from importlib.metadata import version as v;"
        "print(f\"pelican {v('pelican')}\\nMarkdown {v('Markdown')} (Pelican)\\n"
        "Pygments {v('Pygments')} (Pelican)\")"
    )
    pelican = subprocess.run(
        [str(PELICAN_PYTHON), "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    return "\n".join([*here, pelican, f"Python {sys.version.split()[0]}"]) + "\n"


def main(argv: list[str]) -> None:
    wanted = argv or list(BUILDERS)
    unknown = set(wanted) - set(BUILDERS)
    if unknown:
        sys.exit(f"unknown sources: {sorted(unknown)}; choose from {list(BUILDERS)}")
    with tempfile.TemporaryDirectory(prefix="aae-corpus-") as tmp:
        for name in wanted:
            copied = BUILDERS[name](Path(tmp))
            print(f"{name}: {', '.join(copied)}")
    (CORPUS / "VERSIONS.txt").write_text(versions(), encoding="utf-8")
    total = sum(path.stat().st_size for path in CORPUS.rglob("*") if path.is_file())
    print(f"corpus: {total / 1e6:.2f} MB")
    if total > MAX_CORPUS_BYTES:
        sys.exit(f"the corpus is {total} bytes, over the {MAX_CORPUS_BYTES} byte budget")


if __name__ == "__main__":
    main(sys.argv[1:])
