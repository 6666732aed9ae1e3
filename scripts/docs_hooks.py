"""MkDocs hooks of the docs site (``hooks:`` in mkdocs.yml; MkDocs 1.4+ loads this file).

1. ``on_files``: adds the generated pages ``reference/options.md`` (scripts/docs_options.py,
   from the configuration classes) and ``reference/events.md`` (scripts/docs_events.py, from the
   event JSON Schema). They exist only in the build, never in docs/, so they cannot drift.
2. ``on_page_markdown``: the checked-in copy of the event reference in docs/events.md (between
   its ``BEGIN``/``END event-reference`` markers, for readers of the repository) is left out of
   the site, which has the generated page: the site shows the tables once.
   And a link that leaves docs/ for a file of the repository
   (``[README](../README.md)``) is checked to exist, then pointed at ``repo_url`` when mkdocs.yml
   sets one, or else shown as the file's path in code: the site has no copy of it to link to.

Why hooks and not mkdocs-gen-files or mkdocs-macros: the work is reading our own classes and
schema, which neither library does for us; gen-files would only replace the two
``File.generated`` calls below (MkDocs 1.6 API), and macros would put Jinja into every page.
Hooks need no dependency and run in MkDocs itself.

Every problem stops the build with one line (``PluginError``): an option without a description,
an example event the schema refuses, a link to a repository file that does not exist.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # the sibling modules below
    sys.path.insert(0, str(SCRIPTS))

import docs_events  # noqa: E402
import docs_options  # noqa: E402

#: Generated page -> the function that writes its Markdown.
GENERATED = {
    "reference/options.md": docs_options.options_page,
    "reference/events.md": docs_events.events_page,
}
#: The checked-in event reference of docs/events.md (kept equal to the schema by
#: tests/unit/test_event_contract.py), markers included.
_CHECKED_IN_REFERENCE = re.compile(
    r"^<!-- BEGIN event-reference .*?^<!-- END event-reference -->\n?", re.S | re.M
)
#: ``](target)`` of an inline Markdown link whose target starts with ``../``.
_UP_LINK = re.compile(r"\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")
#: ``[text](target)`` of such a link, for the form without ``repo_url``.
_WHOLE_LINK = re.compile(r"\[([^\]]+)\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    """``files`` plus the generated reference pages.

    Raises:
        PluginError: a page cannot be generated (one line: which page, why).
    """
    for uri, write in GENERATED.items():
        try:
            content = write()
        except (docs_options.DocsReferenceError, docs_events.DocsReferenceError) as exc:
            raise PluginError(f"docs hooks: {uri}: {exc}") from None
        files.append(File.generated(config, uri, content=content))
    return files


def _repo_path(page: Page, target: str, config: MkDocsConfig) -> str | None:
    """The repository-relative path of ``target`` (a link on ``page``) when it leaves docs/."""
    docs_dir = Path(os.path.abspath(config.docs_dir))
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page.file.src_uri), target))
    if not resolved.startswith("../"):
        return None  # inside docs/: MkDocs validates it
    repo_root = docs_dir.parent
    # Lexically (no symlinks followed): the path as the repository names it.
    path = Path(os.path.normpath(docs_dir / resolved))
    try:
        return path.relative_to(repo_root).as_posix()
    except ValueError:
        return None


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """``markdown`` with links into the repository (outside docs/) rewritten.

    Raises:
        PluginError: such a link names a file the repository does not have.
    """
    if page.file.src_uri == "events.md":
        markdown = _CHECKED_IN_REFERENCE.sub("", markdown)
    if _UP_LINK.search(markdown) is None:
        return markdown
    repo_root = Path(os.path.abspath(config.docs_dir)).parent
    repo_url = (config.repo_url or "").rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        text, target, anchor = match.group(1), match.group(2), match.group(3) or ""
        path = _repo_path(page, target, config)
        if path is None:
            return match.group(0)
        if not (repo_root / path).exists():
            raise PluginError(
                f"docs hooks: {page.file.src_uri}: links to '{target}', but the repository "
                f"has no {path}"
            )
        if repo_url:
            return f"[{text}]({repo_url}/blob/main/{path}{anchor})"
        return f"{text} (`{path}`)" if text.strip("`") != path else f"`{path}`"

    return _WHOLE_LINK.sub(rewrite, markdown)
