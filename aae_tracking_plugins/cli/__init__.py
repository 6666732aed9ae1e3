"""``aae-tracking``: track any already-built static site, and check that it is tracked.

``aae-tracking inject SITE_DIR ...`` inserts the tracker into every ``*.html``/``*.htm`` file under
``SITE_DIR`` (the output of Hugo, Jekyll, Eleventy, Sphinx, or hand-written pages) with the same
engine the MkDocs and Pelican plugins use: every original byte is kept, the page's own encoding
is kept, and pages the engine does not understand are left exactly as they were, with a warning.

``aae-tracking check SITE_DIR`` reports, per page, whether it carries exactly one tracker, and
exits with status 1 when a page is untracked, tracked twice, or cannot be tracked: a CI gate.

Exit status: 0 success, 1 a problem with the site (a file could not be read or written, or
``check`` found untracked pages), 2 a usage error (bad option, bad config file, no such directory).
Every user error is one line on stderr; there is no traceback for anything the user can fix.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import importlib
import json
import os
import re
import signal
import stat
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO, TypeVar

from aae_tracking_plugins import __version__
from aae_tracking_plugins.core.audit import (
    CHECK_STATUSES,
    DUPLICATE,
    ERROR,
    LEFT_ALONE,
    NOT_PAGE,
    ON_PURPOSE_REASONS,
    OUTDATED,
    TRACKED,
    UNTRACKED,
    PageReport,
    TrackerInfo,
    audit_page,
)
from aae_tracking_plugins.core.engine.inject import Snippet, inject_bytes
from aae_tracking_plugins.core.plan import CheckoutLink, validate_checkout_links
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import csp_hashes, render_snippet, root_for, write_script_files
from aae_tracking_plugins.core.values import ConfigError, validate_bool, validate_pixel_id

PROG = "aae-tracking"
PAGE_SUFFIXES = (".html", ".htm")
#: Below this many pages a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 64
#: Seconds between progress lines when stderr is not a terminal (CI logs).
PROGRESS_INTERVAL = 5.0
#: Seconds between redraws of the progress line on a terminal.
TTY_REFRESH = 0.1
#: The table that holds the settings in a ``--config`` file (they may also be top-level keys).
CONFIG_TABLE = "aae_tracking"

# Per-file outcomes of ``inject``.
UPDATED = "updated"
UP_TO_DATE = "up-to-date"
FAILED = "failed"

#: Settings that are lists of rules or links: only a ``--config`` file can hold them.
FILE_ONLY_SETTINGS = ("events", "checkout_links")
_FLAGS = {
    name: "--" + name.replace("_", "-") for name in SETTING_NAMES if name not in FILE_ONLY_SETTINGS
}

T = TypeVar("T")
C = TypeVar("C")


class UsageError(Exception):
    """Something the user can fix: printed as one ``aae-tracking: error: ...`` line, exit 2."""


# --------------------------------------------------------------------------- output helpers


def _one_line(message: str) -> str:
    return " ".join(message.splitlines())


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _show(path: str) -> str:
    """A path for display: file names that are not valid UTF-8 must not crash the output."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


class Progress:
    """``[  12/5000] pages`` on stderr: redrawn in place on a terminal, else every few seconds."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        try:
            self.tty = self.enabled and self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.last = time.monotonic()
        self.width = 0  # characters of the progress line currently on the terminal

    def _text(self, done: int) -> str:
        return f"[ {done:>{len(str(self.total))}}/{self.total}] pages"

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self.last >= TTY_REFRESH or (done >= self.total and self.width):
                text = self._text(done)
                self.stream.write("\r" + text.ljust(self.width))
                self.stream.flush()
                self.width, self.last = len(text), now
        elif done < self.total and now - self.last >= PROGRESS_INTERVAL:
            self.stream.write(self._text(done) + "\n")
            self.stream.flush()
            self.last = now

    def finish(self) -> None:
        """Remove the progress line, so that what follows starts on a clean line."""
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


# --------------------------------------------------------------------------- configuration


def _toml_loads() -> Callable[[str], dict[str, Any]]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:  # Python 3.10: the tomllib backport
        module = importlib.import_module("tomli")
    except ModuleNotFoundError:
        raise UsageError(
            "--config needs a TOML parser on Python 3.10: install it with 'pip install tomli'"
        ) from None
    loads: Callable[[str], dict[str, Any]] = module.loads
    return loads


def read_config_file(path: str) -> dict[str, object]:
    """The settings in a TOML file: top-level keys, or the keys of its ``[aae_tracking]`` table."""
    loads = _toml_loads()
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read it: {_os_error(exc)}") from None
    try:
        document = loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not a TOML file: it is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    if CONFIG_TABLE not in document:
        return dict(document)
    table = document[CONFIG_TABLE]
    if not isinstance(table, dict):
        raise UsageError(
            f"{path}: {CONFIG_TABLE}: must be a table ([{CONFIG_TABLE}]) holding the settings, "
            f"got {type(table).__name__}"
        )
    for key in SETTING_NAMES:
        if key in document and key in table:
            raise UsageError(
                f"{path}: {key}: set both at the top level and in [{CONFIG_TABLE}]; keep one"
            )
        if key in document:
            raise UsageError(
                f"{path}: {key}: set at the top level, but this file has an [{CONFIG_TABLE}] "
                f"table, which is where the settings are read from: move {key} into it"
            )
    return dict(table)


def tracking_config(flags: Mapping[str, object], config_file: str | None = None) -> TrackingConfig:
    """Settings from the config file, overridden by the command-line flags that were given.

    ``flags`` maps setting names to flag values (``None``: flag not given). Validation is
    :class:`TrackingConfig`'s.

    Raises:
        UsageError: one line naming the flag or ``FILE: key`` the bad value came from (for a
            rule or link of the file, the entry: ``tracking.toml: events[1].selector``).
    """
    settings: dict[str, object] = {}
    flagged: dict[str, str] = {}  # setting -> the flag that gave it
    if config_file is not None:
        settings = read_config_file(config_file)
    for key, value in flags.items():
        if value is not None:
            settings[key] = value
            flagged[key] = _FLAGS.get(key, key)
    try:
        return TrackingConfig.from_mapping(settings)
    except ConfigError as exc:
        message = str(exc).split(": ", 1)[1]
        # An error about an entry (``events[2].selector``) is about its setting (``events``).
        key = exc.setting if exc.setting in settings else re.split(r"[\[.]", exc.setting)[0]
        if key in flagged:
            where = flagged[key]
        elif key in settings:  # from the file: name the setting, or the entry in it
            where = f"{config_file}: {exc.setting}"
        else:  # a required setting given nowhere
            where = _FLAGS.get(exc.setting, exc.setting)
            message += f" (pass {where}, or set {exc.setting} in a --config file)"
        raise UsageError(f"{where}: {message}") from None


def _site_dir(value: str) -> str:
    if not os.path.exists(value):
        raise UsageError(f"SITE_DIR {value!r} does not exist (build the site first?)")
    if not os.path.isdir(value):
        raise UsageError(f"SITE_DIR {value!r} is not a directory")
    return value


# --------------------------------------------------------------------------- finding the pages


@dataclass
class SiteFiles:
    """The files under a site directory, as paths relative to it with ``/`` separators."""

    pages: list[str] = field(default_factory=list)
    other_files: int = 0
    symlinked_pages: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, why it was not read)


def _matches(path: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, glob.removeprefix("./")) for glob in globs)


def find_site_files(root: str, exclude: Sequence[str] = ()) -> SiteFiles:
    """Every ``*.html``/``*.htm`` file under ``root``, sorted.

    Hidden directories (``.git``, ``.well-known``, ...) are skipped, symlinked directories are
    not followed and symlinked files are not touched (they point at a file tracked elsewhere, or
    outside the site).
    """
    found = SiteFiles()
    pending = [""]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(os.path.join(root, directory) if directory else root) as entries:
                listing = list(entries)
        except OSError as exc:
            found.errors.append((directory or ".", f"cannot list it: {_os_error(exc)}"))
            continue
        for entry in listing:
            rel = f"{directory}/{entry.name}" if directory else entry.name
            is_page_name = entry.name.lower().endswith(PAGE_SUFFIXES)
            try:
                if entry.is_symlink():
                    if is_page_name:
                        found.symlinked_pages.append(rel)
                    elif not entry.is_dir():
                        found.other_files += 1
                elif entry.is_dir():
                    if not entry.name.startswith("."):
                        pending.append(rel)
                elif not entry.is_file():
                    continue  # sockets, FIFOs, devices
                elif not is_page_name:
                    found.other_files += 1
                elif exclude and _matches(rel, exclude):
                    found.excluded.append(rel)
                else:
                    found.pages.append(rel)
            except OSError as exc:
                found.errors.append((rel, f"cannot read it: {_os_error(exc)}"))
    found.pages.sort()
    found.errors.sort()
    return found


# --------------------------------------------------------------------------- running over pages


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may use (containers, taskset)
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _chunks(items: list[str], workers: int) -> list[list[str]]:
    size = max(1, min(64, len(items) // (workers * 8)))
    return [items[start : start + size] for start in range(0, len(items), size)]


def process_pages(
    task: Callable[[str, list[str], C], list[T]],
    root: str,
    pages: list[str],
    context: C,
    *,
    jobs: int,
    progress: Progress,
) -> list[T]:
    """``task(root, some_pages, context)`` over all pages; in worker processes for large sites.

    ``task`` is a module-level function and ``context`` plain data, so both pickle to workers.
    If the worker processes cannot be started (or die), the remaining pages run in this process.
    """
    results: list[T] = []
    remaining: list[list[str]] = [[page] for page in pages]
    if jobs > 1 and len(pages) > PARALLEL_THRESHOLD:
        chunks = _chunks(pages, jobs)
        done = _run_in_pool(task, root, chunks, context, min(jobs, len(chunks)), progress, results)
        remaining = [chunk for index, chunk in enumerate(chunks) if index not in done]
    for chunk in remaining:
        results.extend(task(root, chunk, context))
        progress.update(len(results))
    progress.finish()
    return results


def _worker_started() -> None:
    """Ctrl-C is for the main process: it stops handing out pages and reports the interruption.

    Workers finish the pages they have (each write is atomic) instead of printing tracebacks.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_pool(
    task: Callable[[str, list[str], C], list[T]],
    root: str,
    chunks: list[list[str]],
    context: C,
    workers: int,
    progress: Progress,
    results: list[T],
) -> set[int]:
    """Run the chunks in a process pool; return the indexes of the chunks that finished."""
    done: set[int] = set()
    try:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_started)
    except (OSError, ImportError, NotImplementedError) as exc:
        _warn(f"cannot start worker processes ({exc}); continuing in one process")
        return done
    try:
        futures: dict[Future[list[T]], int] = {
            pool.submit(task, root, chunk, context): index for index, chunk in enumerate(chunks)
        }
        for future in as_completed(futures):
            results.extend(future.result())
            done.add(futures[future])
            progress.update(len(results))
    except BrokenProcessPool as exc:
        _warn(f"a worker process died ({exc or 'no reason given'}); continuing in one process")
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    return done


# --------------------------------------------------------------------------- inject


@dataclass(frozen=True)
class InjectOutcome:
    path: str
    kind: str  # UPDATED, UP_TO_DATE, LEFT_ALONE, NOT_PAGE or FAILED
    reason: str | None = None


def write_atomically(path: str, data: bytes, original: os.stat_result) -> None:
    """Replace ``path`` with ``data`` in one step, keeping its permission bits (and owner)."""
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
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def inject_file(root: str, page: str, snippet: Snippet) -> InjectOutcome:
    path = os.path.join(root, page)
    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            original = file.read()
    except OSError as exc:
        return InjectOutcome(page, FAILED, f"could not be read: {_os_error(exc)}")
    try:
        result = inject_bytes(original, snippet)
    except Exception as exc:  # a bug in one page must not stop the others
        return InjectOutcome(
            page, FAILED, f"could not be processed: internal error {type(exc).__name__}: {exc}"
        )
    if result.skipped_reason is not None:
        kind = LEFT_ALONE if result.worth_a_warning else NOT_PAGE
        return InjectOutcome(page, kind, result.skipped_reason)
    if result.data == original:
        return InjectOutcome(page, UP_TO_DATE)
    try:
        write_atomically(path, result.data, status)
    except OSError as exc:
        return InjectOutcome(page, FAILED, f"could not be written: {_os_error(exc)}")
    return InjectOutcome(page, UPDATED)


def inject_pages(root: str, pages: list[str], config: TrackingConfig) -> list[InjectOutcome]:
    """Worker task: inject a chunk of pages (module level and plain arguments, so it pickles).

    Each page gets the tags for its depth (the external mode's ``src`` is relative to the page).
    """
    return [inject_file(root, page, render_snippet(config, root_for(page))) for page in pages]


def inject_summary(outcomes: Sequence[InjectOutcome], files: SiteFiles) -> str:
    counts = Counter(outcome.kind for outcome in outcomes)
    tracked = counts[UPDATED] + counts[UP_TO_DATE]
    parts = [
        f"tracked {_plural(tracked, 'page')} ({counts[UPDATED]} updated, "
        f"{counts[UP_TO_DATE]} already up to date)",
        f"left {counts[LEFT_ALONE]} alone",
        f"{counts[NOT_PAGE]} not {'a page' if counts[NOT_PAGE] == 1 else 'pages'}",
        f"skipped {_plural(files.other_files, 'non-HTML file')}",
    ]
    if files.symlinked_pages:
        parts.append(f"skipped {_plural(len(files.symlinked_pages), 'symlink')}")
    if files.excluded:
        parts.append(f"excluded {len(files.excluded)}")
    failed = counts[FAILED] + len(files.errors)
    if failed:
        parts.append(f"{failed} could not be read or written")
    return ", ".join(parts)


def _cmd_inject(args: argparse.Namespace) -> int:
    root = _site_dir(args.site_dir)
    flags = {key: getattr(args, key) for key in _FLAGS}
    config = tracking_config(flags, args.config)
    files = find_site_files(root, args.exclude)
    if not config.inline_script:  # the pages' src must never point at a missing file
        try:
            write_script_files(root, config)
        except OSError as exc:
            _warn(f"cannot write the script files into {_show(root)}: {_os_error(exc)}")
            return 1
    progress = Progress(len(files.pages), enabled=not args.quiet)
    jobs = args.jobs or _cpu_count()
    outcomes = process_pages(inject_pages, root, files.pages, config, jobs=jobs, progress=progress)
    outcomes.sort(key=lambda outcome: outcome.path)

    for path, why in files.errors:
        _warn(f"{_show(path)} {why}")
    for outcome in outcomes:
        if outcome.kind == LEFT_ALONE:
            _warn(f"{_show(outcome.path)} left untracked: {outcome.reason}")
        elif outcome.kind == FAILED:
            _warn(f"{_show(outcome.path)} {outcome.reason}")
    if not files.pages and not files.excluded:
        _warn(f"no .html or .htm files under {root!r}: is it the site's build output directory?")
    if not args.quiet:
        print(inject_summary(outcomes, files))
    failed = files.errors or any(outcome.kind == FAILED for outcome in outcomes)
    return 1 if failed else 0


# --------------------------------------------------------------------------- check


@dataclass(frozen=True)
class CheckContext:
    """What ``check`` compares pages with (plain values, so it pickles to workers)."""

    probe: Snippet  # any snippet: only used to ask the engine whether a page could be tracked


def check_context() -> CheckContext:
    return CheckContext(probe=render_snippet(TrackingConfig("aae_check", "https://check.invalid")))


def check_file(root: str, page: str, context: CheckContext) -> PageReport:
    try:
        with open(os.path.join(root, page), "rb") as file:
            data = file.read()
    except OSError as exc:
        return PageReport(page, ERROR, reason=f"could not be read: {_os_error(exc)}")
    return audit_page(page, data, context.probe)


def check_pages(root: str, pages: list[str], context: CheckContext) -> list[PageReport]:
    """Worker task: check a chunk of pages."""
    return [check_file(root, page, context) for page in pages]


def check_summary(reports: Sequence[PageReport]) -> dict[str, object]:
    statuses = Counter(report.status for report in reports)
    ids: Counter[TrackerInfo] = Counter(
        report.trackers[0] for report in reports if report.status in (TRACKED, OUTDATED)
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


def _print_check(reports: Sequence[PageReport], summary: dict[str, Any], root: str) -> None:
    listed = [report for report in reports if report.status not in (TRACKED, NOT_PAGE)]
    for report in listed:
        ignored = " (ignored)" if report.ignored else ""
        reason = f": {report.reason}" if report.reason else ""
        print(f"{_show(report.path)}: {report.status}{ignored}{reason}")
    counts: dict[str, int] = summary["statuses"]
    tracked = counts[TRACKED] + counts[OUTDATED]
    parts = [
        f"{tracked} tracked ({counts[OUTDATED]} outdated)",
        f"{counts[UNTRACKED]} untracked",
        f"{counts[DUPLICATE]} duplicate",
        f"{counts[LEFT_ALONE]} left alone",
        f"{counts[NOT_PAGE]} not {'a page' if counts[NOT_PAGE] == 1 else 'pages'}",
    ]
    if counts[ERROR]:
        parts.append(f"{counts[ERROR]} unreadable")
    if summary["ignored"]:
        parts.append(f"{summary['ignored']} ignored")
    if listed:
        print()
    print(f"checked {_plural(len(reports), 'HTML file')} in {root}: {', '.join(parts)}")
    for entry in summary["trackers"]:
        info = TrackerInfo(entry["landing_page_id"], entry["campaign_id"], entry["endpoint"])
        print(f"  {info.label()}: {_plural(entry['pages'], 'page')}")
    if summary["failing"]:
        print(
            f"FAILED: {_plural(summary['failing'], 'page')} untracked, tracked twice "
            "or impossible to track (see above)"
        )
    elif any(report.reason in ON_PURPOSE_REASONS for report in reports):
        print("OK: every page is tracked or left alone on purpose (see above)")
    else:
        print("OK: every page is tracked")


def _cmd_check(args: argparse.Namespace) -> int:
    root = _site_dir(args.site_dir)
    files = find_site_files(root)
    progress = Progress(len(files.pages), enabled=not args.quiet)
    jobs = args.jobs or _cpu_count()
    context = check_context()
    reports = process_pages(check_pages, root, files.pages, context, jobs=jobs, progress=progress)
    reports += [PageReport(path, ERROR, reason=why) for path, why in files.errors]
    ignore = args.ignore
    reports = sorted(
        (
            PageReport(r.path, r.status, r.trackers, r.reason, ignored=_matches(r.path, ignore))
            for r in reports
        ),
        key=lambda report: report.path,
    )
    summary = check_summary(reports)
    ok = not summary["failing"]
    if not files.pages:
        _warn(f"no .html or .htm files under {root!r}: is it the site's build output directory?")
    if args.json:
        document = {
            "site": root,
            "version": __version__,
            "pages": [report.as_json() for report in reports],
            "summary": summary,
            "ok": ok,
        }
        print(json.dumps(document, indent=2))
    else:
        _print_check(reports, summary, root)
    return 0 if ok else 1


# --------------------------------------------------------------------------- argument parsing


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _jobs(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value!r}")
    return number


_FORMATTER = argparse.RawDescriptionHelpFormatter

_MAIN_EPILOG = """\
examples:
  aae-tracking inject public --landing-page-id lp_spring_desk \\
      --campaign-id camp_spring_2026 --api-base-url https://api.aae.com
  aae-tracking check public --ignore 'privacy/*'

Run 'aae-tracking COMMAND --help' for the options of a command.
Exit status: 0 ok, 1 a file could not be read/written or check found problems, 2 usage error.
"""

_INJECT_EPILOG = """\
config file (TOML), keys at the top level or in an [aae_tracking] table:
  [aae_tracking]
  landing_page_id = "lp_spring_desk"
  campaign_id = "camp_spring_2026"
  api_base_url = "https://api.aae.com"
  inline_script = false     # optional: strict-CSP mode (default true)
  track_automation = false  # optional (default false)
  batch = false             # optional (default false)
  facebook_pixel_id = "1234567890123456"  # optional: also send the events to a Meta Pixel
  variant = "B"             # optional: A/B variant sent with every event
  debug = false             # optional: log every event to the console (default false)
  engagement = true         # optional: send the Engagement event (default true)
  web_vitals = false        # optional: send a WebVitals event (default false)
  # optional, file only: hosted checkouts whose links get the session id
  checkout_links = [
    "https://buy.stripe.com/",  # as client_reference_id (Stripe payment links)
    { prefix = "https://shop.example.com/cart/", param = "ref" },
  ]

  # optional, file only: the tracking plan, one [[aae_tracking.events]] table per rule
  [[aae_tracking.events]]
  selector = "a.signup, form#newsletter"
  event = "Lead"
  props = { plan = "pro" }

  [[aae_tracking.events]]
  selector = "#pricing a[href*='checkout']"
  event = "InitiateCheckout"

examples:
  hugo && aae-tracking inject public --config tracking.toml
  bundle exec jekyll build && aae-tracking inject _site --config tracking.toml
  aae-tracking inject _site --config tracking.toml --campaign-id camp_autumn_2026
  aae-tracking inject public --config tracking.toml --no-inline-script

Pages that cannot be tracked safely are left byte-for-byte as they were, with a
warning. Running inject again is safe: up-to-date pages are not rewritten, and a
tracker with other ids is replaced. Exit status: 0 done (even if some pages were
left alone), 1 a file could not be read or written, 2 usage error.
"""

_CHECK_EPILOG = """\
statuses:
  tracked      exactly one tracker tag
  outdated     tracked, but not with this version's script: re-run inject
  untracked    no tracker tag, or one that never runs (in <template>, or
               a type such as text/plain or module)                    (fails)
  duplicate    more than one tracker tag                               (fails)
  left-alone   untracked, and inject would refuse it: the reason says why (fails,
               except AMP pages, left alone on purpose)
  not-a-page   empty, no HTML markup, or a head-only redirect page
  error        the file could not be read                              (fails)

examples:
  aae-tracking check public
  aae-tracking check _site --ignore 'privacy/*' --ignore 404.html
  aae-tracking check public --json > tracking-report.json

Exit status: 0 every page (not ignored) is tracked, 1 some page fails, 2 usage error.
"""


_CSP_EPILOG = """\
output: one line, the sources to add to script-src, e.g.
  'sha256-...' 'sha256-...'

examples:
  aae-tracking csp-hashes
  aae-tracking csp-hashes --config tracking.toml
  echo "Content-Security-Policy: script-src 'self' $(aae-tracking csp-hashes)"

The hashes change when aae-tracking-plugins is upgraded: print them again after every
upgrade, or use strict-CSP mode (inject --no-inline-script), which needs only 'self'.
Purchase calls (render_purchase_call) are inline scripts with per-order data: they
cannot be allowed by a fixed hash; see docs/purchase.md.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Add first-party AAE tracking to an already-built static site (Hugo, Jekyll,\n"
        "Eleventy, Sphinx, hand-written HTML), and check that it is there.",
        epilog=_MAIN_EPILOG,
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True

    inject = commands.add_parser(
        "inject",
        help="add the tracker to every HTML page of a built site (in place)",
        description="Insert the tracking stub and tracker into every *.html / *.htm file under\n"
        "SITE_DIR, in place. Every other byte of each page, and its encoding, is kept.\n"
        "Hidden directories (.git, ...) are skipped; symlinks are not followed.",
        epilog=_INJECT_EPILOG,
        formatter_class=_FORMATTER,
    )
    inject.add_argument("site_dir", metavar="SITE_DIR", help="the built site, e.g. public/, _site/")
    inject.add_argument(
        "--landing-page-id", metavar="ID", help="landing page id sent with every event (required)"
    )
    inject.add_argument("--campaign-id", metavar="ID", help="campaign id sent with every event")
    inject.add_argument(
        "--api-base-url",
        metavar="URL",
        help="base URL of the events API, e.g. https://api.aae.com (required; https, or http "
        "for localhost only); events go to URL/api/v1/landing-pages/events",
    )
    inject.add_argument(
        "--inline-script",
        action=argparse.BooleanOptionalAction,
        help="--no-inline-script: strict Content-Security-Policy mode: write the scripts as "
        "hashed files into SITE_DIR/aae-tracking/ and load them with src and integrity, no "
        "inline script (default: inline scripts; see 'aae-tracking csp-hashes')",
    )
    inject.add_argument(
        "--track-automation",
        action=argparse.BooleanOptionalAction,
        help="also track browsers driven by automation (navigator.webdriver), e.g. in your "
        "own end-to-end tests (default: not tracked)",
    )
    inject.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        help='send several events per request as {"events": [...]} (default: one per request)',
    )
    inject.add_argument(
        "--facebook-pixel-id",
        metavar="ID",
        help="Meta (Facebook) Pixel id (5-20 digits): pages also load the Pixel, send it the "
        "same events and carry its <noscript> image fallback (default: no Pixel code at all; "
        "see docs/facebook-pixel.md)",
    )
    inject.add_argument(
        "--variant",
        metavar="ID",
        help="A/B variant of the pages, sent as event_data.variant with every event (same "
        "characters as the ids; default: none; '' removes a variant set in --config)",
    )
    inject.add_argument(
        "--debug",
        action=argparse.BooleanOptionalAction,
        help="log every event to the browser console with why it was sent or dropped "
        "(default: off; ?aae_debug=1 in a page's URL also turns it on)",
    )
    inject.add_argument(
        "--engagement",
        action=argparse.BooleanOptionalAction,
        help="--no-engagement: do not send the Engagement event (engaged time and scroll depth "
        "per page view; default: sent)",
    )
    inject.add_argument(
        "--web-vitals",
        action=argparse.BooleanOptionalAction,
        help="send one WebVitals event per page load (LCP, CLS, INP, FCP, TTFB) with the "
        "tracker.vitals build of the script (default: off, no Web Vitals code)",
    )
    inject.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file with the settings (top-level keys or an [aae_tracking] table): "
        f"{', '.join(SETTING_NAMES)}. They are the flags above with '_', plus two that only "
        "this file can set: the tracking plan, events ([[aae_tracking.events]] tables with "
        "selector, event and props), and checkout_links (an array of URL prefixes or "
        "{prefix, param} tables); see the example below. Flags given on the command line "
        "override the file",
    )
    inject.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="leave pages whose path relative to SITE_DIR matches GLOB alone, e.g. 'privacy/*' "
        "('*' also matches '/'); repeatable",
    )
    inject.add_argument(
        "--jobs",
        "-j",
        metavar="N",
        type=_jobs,
        help="worker processes for large sites (default: the number of CPUs; 1 = no workers)",
    )
    inject.add_argument(
        "--quiet", "-q", action="store_true", help="no progress and no summary; warnings only"
    )
    inject.set_defaults(handler=_cmd_inject)

    check = commands.add_parser(
        "check",
        help="report which pages are tracked (exit status 1 if some are not)",
        description="Report, for every *.html / *.htm file under SITE_DIR, whether it carries\n"
        "exactly one tracker, and with which ids. Nothing is modified.",
        epilog=_CHECK_EPILOG,
        formatter_class=_FORMATTER,
    )
    check.add_argument("site_dir", metavar="SITE_DIR", help="the built site, e.g. public/, _site/")
    check.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    check.add_argument(
        "--ignore",
        metavar="GLOB",
        action="append",
        default=[],
        help="do not fail for pages whose path relative to SITE_DIR matches GLOB, e.g. "
        "'privacy/*' ('*' also matches '/'); they are still reported; repeatable",
    )
    check.add_argument(
        "--jobs",
        "-j",
        metavar="N",
        type=_jobs,
        help="worker processes for large sites (default: the number of CPUs; 1 = no workers)",
    )
    check.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    check.set_defaults(handler=_cmd_check)

    hashes = commands.add_parser(
        "csp-hashes",
        help="print the Content-Security-Policy hashes of the inline scripts",
        description="Print the 'sha256-...' sources a Content-Security-Policy script-src must\n"
        "allow for the inline scripts that inject (and the MkDocs and Pelican plugins) put into\n"
        "pages. They depend on this version and on the settings that select another tracker\n"
        "build (batch, whether a Facebook Pixel id is set, web_vitals, whether checkout links\n"
        "are set), not on the ids, URLs, variant, tracking plan or the links themselves, which\n"
        "are attributes.",
        epilog=_CSP_EPILOG,
        formatter_class=_FORMATTER,
    )
    hashes.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        help="hashes for the batch tracker (default: the batch setting of --config, else off)",
    )
    hashes.add_argument(
        "--facebook-pixel-id",
        metavar="ID",
        help="hashes for pages with this Meta Pixel id (any id gives the same hashes; default: "
        "the facebook_pixel_id of --config, else none)",
    )
    hashes.add_argument(
        "--web-vitals",
        action=argparse.BooleanOptionalAction,
        help="hashes for the tracker that sends WebVitals (default: the web_vitals setting of "
        "--config, else off)",
    )
    hashes.add_argument(
        "--checkout",
        action=argparse.BooleanOptionalAction,
        help="hashes for pages with checkout_links (any links give the same hashes; default: "
        "whether --config sets checkout_links)",
    )
    hashes.add_argument(
        "--config",
        metavar="FILE",
        help="the TOML settings file given to inject (only batch, web_vitals, "
        "facebook_pixel_id, checkout_links and inline_script are read)",
    )
    hashes.set_defaults(handler=_cmd_csp_hashes)
    return parser


def _cmd_csp_hashes(args: argparse.Namespace) -> int:
    """Print the CSP hash sources for the build that ``--config`` and the flags select.

    Raises:
        UsageError: an unknown setting, or a bad ``batch``/``inline_script``/``web_vitals``/
            ``facebook_pixel_id``/``checkout_links`` value, in the file or the flags.
    """
    settings: dict[str, object] = {}
    if args.config is not None:
        settings = read_config_file(args.config)
    unknown = sorted(str(key) for key in settings if key not in SETTING_NAMES)
    if unknown:  # the same file must work for inject, which refuses it
        raise UsageError(
            f"{args.config}: {unknown[0]}: unknown setting "
            f"(known settings: {', '.join(SETTING_NAMES)})"
        )
    for key in ("batch", "inline_script", "web_vitals"):
        if key in settings:
            try:
                validate_bool(key, settings[key])
            except ConfigError as exc:
                raise UsageError(f"{args.config}: {exc}") from None
    pixel: object = settings.get("facebook_pixel_id")
    if pixel not in (None, ""):
        try:
            pixel = validate_pixel_id("facebook_pixel_id", pixel)
        except ConfigError as exc:
            raise UsageError(f"{args.config}: {exc}") from None
    if args.facebook_pixel_id is not None:
        try:
            pixel = validate_pixel_id("--facebook-pixel-id", args.facebook_pixel_id)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    links: tuple[CheckoutLink, ...] = ()
    if settings.get("checkout_links") is not None:
        try:
            links = validate_checkout_links("checkout_links", settings["checkout_links"])
        except ConfigError as exc:
            raise UsageError(f"{args.config}: {exc}") from None
    if args.checkout is not None:
        # Any link selects the same build: only whether there are links matters.
        links = (CheckoutLink("https://checkout.invalid/"),) if args.checkout else ()
    batch = args.batch if args.batch is not None else settings.get("batch", False)
    vitals = args.web_vitals if args.web_vitals is not None else settings.get("web_vitals", False)
    if settings.get("inline_script") is False:
        _warn(
            f"{args.config} sets inline_script = false: the pages carry no inline script, "
            "so script-src 'self' is enough; the hashes below are for the inline mode"
        )
    config = TrackingConfig(
        "lp",
        "https://api.invalid",
        batch=bool(batch),
        web_vitals=bool(vitals),
        facebook_pixel_id=str(pixel) if pixel not in (None, "") else None,
        checkout_links=links,
    )
    print(" ".join(source for _script, source in csp_hashes(config)))
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except SystemExit as exc:  # --help and --version
        return _exit_status(exc.code)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `aae-tracking check site | head`
        # Point stdout at /dev/null so that flushing it at exit cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
