"""``aae-tracking check SITE_DIR``: report which pages are tracked; exit status 1 if some fail."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import click

from aae_tracking_plugins.cli.check_work import STALE_COPY, check_context, check_pages
from aae_tracking_plugins.cli.options import (
    Command,
    jobs_option,
    quiet_option,
    site_dir_argument,
    verbatim,
)
from aae_tracking_plugins.cli.output import plural, show, warn
from aae_tracking_plugins.cli.pool import Progress, process_pages
from aae_tracking_plugins.cli.site_files import find_site_files, matches
from aae_tracking_plugins.core.audit import (
    CHECK_STATUSES,
    DUPLICATE,
    ERROR,
    GATED,
    LEFT_ALONE,
    NOT_PAGE,
    ON_PURPOSE_REASONS,
    OUTDATED,
    TRACKED,
    UNTRACKED,
    PageReport,
    TrackerInfo,
)
from aae_tracking_plugins.core.cpus import cpu_count
from aae_tracking_plugins.core.version import __version__

DESCRIPTION = """\
Report, for every *.html / *.htm / *.xhtml file under SITE_DIR, whether it carries
exactly one tracker, and with which ids, and whether its precompressed copies
(.gz, .br, .zst) hold the same bytes. Nothing is modified."""

EPILOG = """\
statuses:
  tracked      exactly one tracker tag
  gated        one tracker tag that a consent manager runs once the visitor
               consents (type="text/plain" and the manager's category; see
               docs/consent.md); counted, not listed
  outdated     tracked, but not with this version's script: re-run inject
  untracked    no tracker tag, or one that never runs (in <template>, or
               a type such as text/plain or module)                    (fails)
  duplicate    more than one tracker tag                               (fails)
  left-alone   untracked, and inject would refuse it: the reason says why (fails,
               except AMP pages, left alone on purpose)
  not-a-page   empty, no HTML markup, or a head-only redirect page
  error        the file could not be read, or a precompressed copy of it
               holds other bytes ("stale precompressed copy")          (fails)

Files that are not pages are listed as "not checked", with the reason.

examples:
  aae-tracking check public
  aae-tracking check _site --ignore 'privacy/*' --ignore 404.html
  aae-tracking check public --json > tracking-report.json

Exit status: 0 every page (not ignored) is tracked, 1 some page fails, 2 usage error.
"""
#: Files of one reason listed one per line up to this many; more are summed up in one line.
LISTED_PER_REASON = 3


def check_summary(reports: Sequence[PageReport]) -> dict[str, object]:
    """The ``summary`` of the JSON report (counts by status, failing pages, ids in use)."""
    statuses = Counter(report.status for report in reports)
    ids: Counter[TrackerInfo] = Counter(
        report.trackers[0] for report in reports if report.status in (TRACKED, GATED, OUTDATED)
    )
    return {
        "pages": len(reports),
        "statuses": {status: statuses[status] for status in CHECK_STATUSES},
        "ignored": sum(report.ignored for report in reports),
        "failing": sum(report.failing for report in reports),
        "trackers": [
            {**vars(info), "pages": count}
            for info, count in sorted(ids.items(), key=lambda item: (-item[1], item[0].label()))
        ],
    }


def _skipped_lines(skipped: Sequence[tuple[str, str]]) -> list[str]:
    """``  path: reason`` per skipped file; a reason with many files gets one line."""
    by_reason: defaultdict[str, list[str]] = defaultdict(list)
    for path, reason in skipped:
        by_reason[reason].append(show(path))
    lines = []
    for reason, paths in sorted(by_reason.items()):
        if len(paths) <= LISTED_PER_REASON:
            lines += [f"  {path}: {reason}" for path in paths]
        else:
            examples = ", ".join(paths[:LISTED_PER_REASON])
            lines.append(f"  {plural(len(paths), 'file')}: {reason} ({examples}, ...)")
    return lines


def _counts_line(reports: Sequence[PageReport], summary: dict[str, Any], root: str) -> str:
    counts: dict[str, int] = summary["statuses"]
    stale = sum(1 for r in reports if r.status == ERROR and (r.reason or "").startswith(STALE_COPY))
    parts = [
        f"{counts[TRACKED] + counts[OUTDATED]} tracked ({counts[OUTDATED]} outdated)",
        *([f"{counts[GATED]} gated by a consent manager"] if counts[GATED] else []),
        f"{counts[UNTRACKED]} untracked",
        f"{counts[DUPLICATE]} duplicate",
        f"{counts[LEFT_ALONE]} left alone",
        f"{counts[NOT_PAGE]} not {'a page' if counts[NOT_PAGE] == 1 else 'pages'}",
    ]
    if counts[ERROR] - stale:
        parts.append(f"{counts[ERROR] - stale} unreadable")
    if stale:
        parts.append(f"{stale} with a stale precompressed copy")
    if summary["ignored"]:
        parts.append(f"{summary['ignored']} ignored")
    return f"checked {plural(len(reports), 'HTML file')} in {root}: {', '.join(parts)}"


def _print_check(
    reports: Sequence[PageReport],
    summary: dict[str, Any],
    root: str,
    skipped: Sequence[tuple[str, str]],
) -> None:
    listed = [report for report in reports if report.status not in (TRACKED, GATED, NOT_PAGE)]
    for report in listed:
        ignored = " (ignored)" if report.ignored else ""
        reason = f": {report.reason}" if report.reason else ""
        print(f"{show(report.path)}: {report.status}{ignored}{reason}")
    if skipped:
        print(*(["", "not checked:"] if listed else ["not checked:"]), sep="\n")
        print("\n".join(_skipped_lines(skipped)))
    if listed or skipped:
        print()
    print(_counts_line(reports, summary, root))
    for entry in summary["trackers"]:
        info = TrackerInfo(entry["landing_page_id"], entry["campaign_id"], entry["endpoint"])
        print(f"  {info.label()}: {plural(entry['pages'], 'page')}")
    if summary["failing"]:
        print(
            f"FAILED: {plural(summary['failing'], 'page')} untracked, tracked twice "
            "or impossible to track (see above)"
        )
    elif any(report.reason in ON_PURPOSE_REASONS for report in reports):
        print("OK: every page is tracked or left alone on purpose (see above)")
    elif summary["statuses"][GATED]:
        print("OK: every page is tracked, or gated by a consent manager until the visitor consents")
    else:
        print("OK: every page is tracked")


@click.command(
    "check",
    cls=Command,
    help=verbatim(DESCRIPTION),
    short_help="report which pages are tracked (exit status 1 if some are not)",
    epilog=EPILOG,
)
@site_dir_argument()
@click.option(
    "--json", "as_json", is_flag=True, help="print one JSON document on stdout instead of text"
)
@click.option(
    "--ignore",
    metavar="GLOB",
    multiple=True,
    help="do not fail for pages whose path relative to SITE_DIR matches GLOB, e.g. "
    "'privacy/*' ('*' also matches '/'); they are still reported; repeatable",
)
@jobs_option()
@quiet_option("no progress display")
def check_command(
    site_dir: str, as_json: bool, ignore: tuple[str, ...], jobs: int | None, quiet: bool
) -> int:
    """Check every page of ``site_dir``; return the exit status (0 ok, 1 some page fails)."""
    files = find_site_files(site_dir)
    progress = Progress(len(files.pages), enabled=not quiet)
    reports = process_pages(
        check_pages,
        site_dir,
        files.pages,
        check_context(),
        jobs=jobs or cpu_count(),
        progress=progress,
    )
    reports += [PageReport(path, ERROR, reason=why) for path, why in files.errors]
    reports = sorted(
        (
            PageReport(r.path, r.status, r.trackers, r.reason, ignored=matches(r.path, ignore))
            for r in reports
        ),
        key=lambda report: report.path,
    )
    summary = check_summary(reports)
    ok = not summary["failing"]
    if not files.pages:
        warn(f"no .html or .htm files under {site_dir!r}: is it the site's build output directory?")
    if as_json:
        document = {
            "site": site_dir,
            "version": __version__,
            "pages": [report.as_json() for report in reports],
            "skipped": [{"path": path, "reason": reason} for path, reason in files.skipped],
            "summary": summary,
            "ok": ok,
        }
        print(json.dumps(document, indent=2))
    else:
        _print_check(reports, summary, site_dir, files.skipped)
    return 0 if ok else 1
