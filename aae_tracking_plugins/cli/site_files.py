"""Which files of a built site are pages, which are their precompressed copies, and the rest."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from aae_tracking_plugins.cli.output import os_error
from aae_tracking_plugins.cli.precompressed import COPY_SUFFIXES
from aae_tracking_plugins.core.engine.xhtml import XML_PAGE_SUFFIXES

#: Pages: HTML documents, and XHTML documents that browsers parse as XML.
PAGE_SUFFIXES = (".html", ".htm", *XML_PAGE_SUFFIXES)


@dataclass
class SiteFiles:
    """The files under a site directory, as paths relative to it with ``/`` separators.

    ``pages``: sorted; ``copies``: page -> its precompressed copies (``index.html.gz``, ...);
    ``other_files``: how many files are neither (symlinks to them included); ``skipped``:
    ``(path, why it was not looked at)`` for everything that is not a page or a page's copy,
    sorted (a hidden or symlinked directory is one entry, ``path/``); ``errors``: ``(path, why
    it could not be listed or read)``.
    """

    pages: list[str] = field(default_factory=list)
    copies: dict[str, list[str]] = field(default_factory=dict)
    other_files: int = 0
    symlinked_pages: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def matches(path: str, globs: Sequence[str]) -> bool:
    """Whether ``path`` matches one of ``globs`` (``fnmatch``: ``*`` also matches ``/``)."""
    return any(fnmatch.fnmatchcase(path, glob.removeprefix("./")) for glob in globs)


def is_page_name(name: str) -> bool:
    """Whether a file called ``name`` is a page (by its suffix, any letter case)."""
    return name.lower().endswith(PAGE_SUFFIXES)


def copies_of(root: str, page: str) -> list[str]:
    """The precompressed copies of ``page`` that exist as regular files (no symlinks)."""
    found = []
    for suffix in COPY_SUFFIXES:
        try:
            status = os.lstat(os.path.join(root, page + suffix))
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            found.append(page + suffix)
    return found


def _not_a_page(name: str, excluded: set[str]) -> str:
    """Why the regular file ``name`` is not looked at (``excluded``: its directory's excluded
    pages)."""
    for suffix in COPY_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and is_page_name(base):
            if base in excluded:
                return f"a precompressed copy of {base}, which is excluded"
            return f"a precompressed copy of {base}, which is not there"
    extension = os.path.splitext(name)[1].lower()
    return f"not an HTML page ({extension or 'no extension'})"


def _copy_of(name: str, pages: set[str]) -> str | None:
    """The page of ``pages`` that the file ``name`` is a precompressed copy of, if any."""
    for suffix in COPY_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in pages:
            return name[: -len(suffix)]
    return None


def _list(root: str, directory: str, found: SiteFiles) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(os.path.join(root, directory) if directory else root) as entries:
            return list(entries)
    except OSError as exc:
        found.errors.append((directory or ".", f"cannot list it: {os_error(exc)}"))
        return []


def _classify(entry: os.DirEntry[str], rel: str, found: SiteFiles, excluded: set[str]) -> None:
    """File an entry that is neither a page nor a page's copy; may raise ``OSError``."""
    if entry.is_symlink():
        if is_page_name(entry.name):
            found.symlinked_pages.append(rel)
            found.skipped.append((rel, "a symlink: not followed (its page is checked where it is)"))
        elif entry.is_dir():
            found.skipped.append((rel + "/", "a symlinked directory: not followed"))
        else:
            found.other_files += 1
            found.skipped.append((rel, "a symlink to a file that is not an HTML page"))
    elif entry.is_dir():
        found.skipped.append((rel + "/", "a hidden directory: not searched"))
    elif not entry.is_file():
        found.skipped.append((rel, "not a regular file"))
    else:
        found.other_files += 1
        found.skipped.append((rel, _not_a_page(entry.name, excluded)))


def _scan_directory(
    root: str, directory: str, exclude: Sequence[str], found: SiteFiles, pending: list[str]
) -> None:
    """File the entries of ``directory``; its subdirectories go to ``pending``."""
    listing = _list(root, directory, found)
    done: set[str] = set()  # entries filed by the first pass
    pages: set[str] = set()
    excluded: set[str] = set()
    for entry in listing:
        rel = f"{directory}/{entry.name}" if directory else entry.name
        try:
            if entry.is_symlink():
                continue
            if entry.is_dir() and not entry.name.startswith("."):
                pending.append(rel)
                done.add(entry.name)
            elif entry.is_file() and is_page_name(entry.name):
                done.add(entry.name)
                if exclude and matches(rel, exclude):
                    found.excluded.append(rel)
                    excluded.add(entry.name)
                else:
                    found.pages.append(rel)
                    pages.add(entry.name)
        except OSError as exc:
            found.errors.append((rel, f"cannot read it: {os_error(exc)}"))
            done.add(entry.name)
    for entry in listing:
        if entry.name in done:
            continue
        rel = f"{directory}/{entry.name}" if directory else entry.name
        try:
            page = _copy_of(entry.name, pages)
            if page is not None and not entry.is_symlink() and entry.is_file():
                found.copies.setdefault(rel[: len(rel) - len(entry.name)] + page, []).append(rel)
            else:
                _classify(entry, rel, found, excluded)
        except OSError as exc:
            found.errors.append((rel, f"cannot read it: {os_error(exc)}"))


def find_site_files(root: str, exclude: Sequence[str] = ()) -> SiteFiles:
    """Every page (``*.html``, ``*.htm``, ``*.xhtml``, ``*.xht``) under ``root``, and the rest.

    Hidden directories (``.git``, ``.well-known``, ...) are skipped, symlinked directories are
    not followed and symlinked files are not touched (they point at a file tracked elsewhere, or
    outside the site). Pages matching an ``exclude`` glob are listed in ``excluded``.

    Returns:
        A :class:`SiteFiles`; nothing raises: unreadable directories and files are in ``errors``.
    """
    found = SiteFiles()
    pending = [""]
    while pending:
        _scan_directory(root, pending.pop(), exclude, found, pending)
    found.pages.sort()
    found.errors.sort()
    found.skipped.sort()
    for copies in found.copies.values():
        copies.sort()
    return found
