"""``inject``'s work on one page: read it, insert the tags, write it and its precompressed copies.

Runs in worker processes for large sites: everything here is module level and takes plain data.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass

from aae_tracking_plugins.cli.output import os_error
from aae_tracking_plugins.cli.precompressed import (
    MissingCodecError,
    compress,
    copy_name,
    decompress,
)
from aae_tracking_plugins.cli.site_files import copies_of
from aae_tracking_plugins.core.engine.inject import Snippet, inject_bytes
from aae_tracking_plugins.core.engine.xhtml import inject_xhtml, is_xml_page
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet, render_xml_snippet, root_for

# Per-file outcomes of ``inject``.
UPDATED = "updated"
UP_TO_DATE = "up-to-date"
LEFT_ALONE = "left-alone"
NOT_PAGE = "not-a-page"
FAILED = "failed"


@dataclass(frozen=True)
class InjectOutcome:
    """What ``inject`` did with one page.

    ``kind``: :data:`UPDATED`, :data:`UP_TO_DATE`, :data:`LEFT_ALONE`, :data:`NOT_PAGE` or
    :data:`FAILED`; ``reason``: why it was left alone or failed; ``copies``: how many of its
    precompressed copies were rewritten.
    """

    path: str
    kind: str
    reason: str | None = None
    copies: int = 0


def _temporary_copy(path: str, data: bytes, original: os.stat_result) -> str:
    """A temporary file next to ``path`` holding ``data``, with ``path``'s mode (and owner)."""
    directory = os.path.dirname(path) or "."
    descriptor, temporary = tempfile.mkstemp(prefix=".aae-tracking-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, stat.S_IMODE(original.st_mode))
        if hasattr(os, "chown") and (original.st_uid, original.st_gid) != (
            os.getuid(),
            os.getgid(),
        ):
            with contextlib.suppress(OSError):  # only root may give files away
                os.chown(temporary, original.st_uid, original.st_gid)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def write_atomically(path: str, data: bytes, original: os.stat_result) -> None:
    """Replace ``path`` with ``data`` in one step, keeping its permission bits (and owner).

    Raises:
        OSError: the temporary file cannot be written or renamed (nothing is left behind).
    """
    temporary = _temporary_copy(path, data, original)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _read(path: str) -> tuple[bytes, os.stat_result]:
    with open(path, "rb") as file:
        return file.read(), os.fstat(file.fileno())


def _stale_copies(root: str, page: str, data: bytes) -> list[tuple[str, bytes]] | InjectOutcome:
    """``(path, new bytes)`` for each precompressed copy of ``page`` that does not hold ``data``,
    or the outcome when they cannot be brought up to date (nothing is written then)."""
    stale = []
    for copy in copies_of(root, page):
        suffix = copy[copy.rindex(".") :]
        path = os.path.join(root, copy)
        try:
            held = decompress(suffix, _read(path)[0])
        except MissingCodecError as exc:
            reason = f"its precompressed copy {copy_name(copy)} cannot be rewritten: {exc}"
            return InjectOutcome(page, LEFT_ALONE, reason)
        except OSError as exc:
            reason = (
                f"was left as it was: its precompressed copy {copy_name(copy)} could not be "
                f"read: {os_error(exc)}"
            )
            return InjectOutcome(page, FAILED, reason)
        except ValueError:
            held = None  # not valid in its format: rewritten like a stale copy
        if held != data:
            stale.append((path, compress(suffix, data)))
    return stale


def _write_all(files: list[tuple[str, bytes]]) -> tuple[str, bool, OSError] | None:
    """Write ``files`` (the page first, then its copies) as nearly all-or-none as the system
    allows: every temporary file is written before the first rename. The copies' temporary files
    are written after the page's, so no copy is older than its page (tools that refresh a copy
    only when the page is newer leave it alone).

    Returns:
        ``None``, or the path that could not be written, whether an earlier file was already
        replaced, and the error (no temporary file is left behind).
    """
    prepared: list[tuple[str, str]] = []  # (temporary, path) not yet renamed
    current, replaced = "", False
    try:
        for path, data in files:
            current = path
            prepared.append((_temporary_copy(path, data, os.stat(path)), path))
        while prepared:
            temporary, current = prepared[0]
            os.replace(temporary, current)
            prepared.pop(0)
            replaced = True
    except OSError as exc:
        return current, replaced, exc
    finally:
        for temporary, _path in prepared:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    return None


def _inject(page: str, data: bytes, snippet: Snippet) -> tuple[bytes, str | None, bool]:
    """The page with the tags: (bytes, why it was left alone, whether that is worth a warning)."""
    if is_xml_page(page):
        xml = inject_xhtml(data, snippet)
        return xml.data, xml.skipped_reason, xml.worth_a_warning
    result = inject_bytes(data, snippet)
    return result.data, result.skipped_reason, result.worth_a_warning


def inject_file(root: str, page: str, snippet: Snippet) -> InjectOutcome:
    """Track one page in place (and rewrite its stale precompressed copies).

    Args:
        root: the site directory.
        page: the page's path relative to ``root``.
        snippet: the tags for it (:func:`render_xml_snippet`'s for an XHTML page).

    Returns:
        The outcome; I/O errors are outcomes (:data:`FAILED`), never raised.
    """
    path = os.path.join(root, page)
    try:
        original, _status = _read(path)
    except OSError as exc:
        return InjectOutcome(page, FAILED, f"could not be read: {os_error(exc)}")
    try:
        data, skipped, warning = _inject(page, original, snippet)
    except Exception as exc:  # a bug in one page must not stop the others
        return InjectOutcome(
            page, FAILED, f"could not be processed: internal error {type(exc).__name__}: {exc}"
        )
    if skipped is not None:
        return InjectOutcome(page, LEFT_ALONE if warning else NOT_PAGE, skipped)
    copies = _stale_copies(root, page, data)
    if isinstance(copies, InjectOutcome):
        return copies
    files = ([(path, data)] if data != original else []) + copies
    failure = _write_all(files)
    if failure is not None:
        failed, replaced, error = failure
        if failed == path:
            return InjectOutcome(page, FAILED, f"could not be written: {os_error(error)}")
        state = "is tracked, but" if replaced or data == original else "was left as it was:"
        name = copy_name(failed)
        reason = f"{state} its precompressed copy {name} could not be written: {os_error(error)}"
        return InjectOutcome(page, FAILED, reason)
    return InjectOutcome(page, UPDATED if data != original else UP_TO_DATE, copies=len(copies))


def inject_pages(root: str, pages: list[str], config: TrackingConfig) -> list[InjectOutcome]:
    """Worker task: inject a chunk of pages (module level and plain arguments, so it pickles).

    Each page gets the tags for its depth (the external mode's ``src`` is relative to the
    page), written as XML for XHTML pages.
    """
    outcomes = []
    for page in pages:
        render = render_xml_snippet if is_xml_page(page) else render_snippet
        outcomes.append(inject_file(root, page, render(config, root_for(page))))
    return outcomes
