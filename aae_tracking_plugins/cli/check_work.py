"""``check``'s work on one page: read it, classify it, compare its precompressed copies.

Runs in worker processes for large sites: everything here is module level and takes plain data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aae_tracking_plugins.cli.output import os_error
from aae_tracking_plugins.cli.precompressed import MissingCodecError, copy_name, decompress
from aae_tracking_plugins.cli.site_files import copies_of
from aae_tracking_plugins.core.audit import ERROR, PageReport, audit_page
from aae_tracking_plugins.core.engine.inject import Snippet
from aae_tracking_plugins.core.engine.xhtml import audit_xhtml, is_xml_page
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet, render_xml_snippet

#: How the reason of a page with stale precompressed copies starts.
STALE_COPY = "stale precompressed cop"  # ...y: NAME / ...ies: NAME, NAME


@dataclass(frozen=True)
class CheckContext:
    """What ``check`` compares pages with (plain values, so it pickles to workers).

    ``probe``/``xml_probe``: any snippet for HTML/XML pages; only used to ask the engine whether
    an untracked page could be tracked.
    """

    probe: Snippet
    xml_probe: Snippet


def check_context() -> CheckContext:
    """The :class:`CheckContext` of a ``check`` run."""
    config = TrackingConfig("aae_check", "https://check.invalid")
    return CheckContext(probe=render_snippet(config), xml_probe=render_xml_snippet(config))


def _copy_problem(root: str, page: str, data: bytes, status: str) -> str | None:
    """Why the precompressed copies of ``page`` do not serve ``data`` (the page), if they don't:
    the copies holding other bytes (or none that decompress), or the copy that cannot be read."""
    stale = []
    for copy in copies_of(root, page):
        name = copy_name(copy)
        try:
            with open(os.path.join(root, copy), "rb") as file:
                held = decompress(copy[copy.rindex(".") :], file.read())
        except OSError as exc:
            return f"its precompressed copy {name} could not be read: {os_error(exc)}"
        except MissingCodecError as exc:
            return f"its precompressed copy {name} cannot be compared: {exc}"
        except ValueError as exc:
            stale.append(f"{name} (not valid {copy[copy.rindex('.') + 1 :]}: {exc})")
            continue
        if held != data:
            stale.append(name)
    if not stale:
        return None
    kind = f"{STALE_COPY}{'y' if len(stale) == 1 else 'ies'}"
    return (
        f"{kind}: {', '.join(stale)} (other bytes than the page, which is {status}); re-run inject"
    )


def check_file(root: str, page: str, context: CheckContext) -> PageReport:
    """The :class:`PageReport` of one page (XHTML pages by :func:`audit_xhtml`).

    A page whose precompressed copy does not decompress to the page's bytes is an ``error``
    whatever the page itself is: servers with static precompression send the copy instead.
    Unreadable files are ``error`` reports, never raised.
    """
    try:
        with open(os.path.join(root, page), "rb") as file:
            data = file.read()
    except OSError as exc:
        return PageReport(page, ERROR, reason=f"could not be read: {os_error(exc)}")
    if is_xml_page(page):
        report = audit_xhtml(page, data, context.xml_probe)
    else:
        report = audit_page(page, data, context.probe)
    problem = _copy_problem(root, page, data, report.status)
    if problem is not None:
        return PageReport(page, ERROR, report.trackers, problem)
    return report


def check_pages(root: str, pages: list[str], context: CheckContext) -> list[PageReport]:
    """Worker task: check a chunk of pages."""
    return [check_file(root, page, context) for page in pages]
