"""Shared fixtures for the whole test suite.

``collector``
    A started :class:`~aae_tracking_plugins.collector.EventCollector` on
    127.0.0.1 (free port); stopped after the test.  Use ``collector.url`` as the
    ``api_base_url`` and ``collector.wait_for_count(n, "PageView")`` to wait.

Every event that any in-process ``EventCollector`` stores during a test (this
fixture's, a module's own, one a test starts) is checked again after the test
against ``aae_tracking_plugins/core/schema/events.schema.json`` with plain
``jsonschema`` (not the collector's own validation path), and scanned for
personal data (``tests/privacy_scan.py``: email addresses, phone numbers,
secrets in query strings, other sites' full referrers); an invalid or personal
one makes the test error at teardown.

``serve_dir``
    Factory ``serve_dir(path) -> "http://127.0.0.1:PORT"`` serving a directory
    read-only (GET/HEAD) in a background thread.  Directory URLs serve their
    ``index.html``; missing files get the directory's ``404.html`` (if any) with
    status 404, like MkDocs / Pelican hosting does.  Responses carry
    ``Cache-Control: no-store``.  All servers are stopped at teardown.

``browser`` (session scope)
    A headless system Chromium driven by Playwright's sync API.  Fails (does not
    skip) when Chromium is missing: run ``make test``, which installs it.

``browser_page``
    A :class:`BrowserPage` - ``page``, its own ``context`` and ``errors``, a list
    of strings collecting uncaught page exceptions (``"pageerror: ..."``) and
    ``console.error`` messages (``"console.error: ..."``), except the 404 of
    Chromium's automatic ``/favicon.ico`` request.  Assert
    ``browser_page.errors == []`` at the end of a test.  The context is closed at
    teardown.

``tabs``
    The default context of a headless Chromium of its own (attached over CDP) where
    opening or fronting another tab hides a page, as a visitor switching tabs does,
    and a list of its pages' uncaught errors and console errors (tests/browser/
    test_engagement.py's docstring says why Playwright's own launch cannot do it).

Tests using ``browser`` or ``browser_page`` (directly or through another fixture)
are marked ``browser`` automatically, so ``-m "not browser"`` deselects them.  Each
test is also marked by its folder: ``unit`` (tests/unit), ``engine`` (tests/engine),
``build`` (tests/builds, also ``slow``), ``e2e`` (tests/browser) or ``collector``
(tests/collector: the stored collector, against SQLite and a throwaway PostgreSQL).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

import aae_tracking_plugins
from aae_tracking_plugins.collector import EventCollector
from tests.privacy_scan import personal_data_problems
from tests.sites import TESTS
from tests.static_server import CHROMIUM_ARGS, StaticServer, start_static_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

BROWSER_FIXTURES = frozenset({"browser", "browser_page"})
#: The folders of tests/ by kind and the marker each gives its tests (pyproject's markers list).
KIND_MARKERS = {
    "unit": "unit",
    "engine": "engine",
    "builds": "build",
    "browser": "e2e",
    "collector": "collector",
}
#: Kinds whose tests run real generator builds, npm or the whole demo: also ``slow``, left out of
#: ``make test-fast`` (the inner loop) and run by ``make test``.
SLOW_KINDS = frozenset({"build"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the folder it is in (:data:`KIND_MARKERS`; ``build`` tests also
    ``slow``), and every test that (transitively) uses a browser fixture as ``browser``."""
    for item in items:
        if BROWSER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        kind = KIND_MARKERS.get(folder)
        if kind is not None:
            item.add_marker(kind)
            if kind in SLOW_KINDS:
                item.add_marker(pytest.mark.slow)


# --------------------------------------------------------------------------- collector


@pytest.fixture
def collector() -> Iterator[EventCollector]:
    """A running EventCollector on 127.0.0.1, any free port."""
    with EventCollector() as running:
        yield running


SCHEMA_FILE = Path(aae_tracking_plugins.__file__).parent / "core" / "schema" / "events.schema.json"
_stored: list[Any] = []  # what in-process collectors stored since the current test began


@functools.cache
def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text("utf-8")))


def schema_problems(events: list[Any]) -> list[str]:
    """``"<event_type> <event_id>: <jsonschema's best error>"`` for each event the shipped schema
    refuses (plain ``Draft202012Validator``, independent of aae_tracking_plugins.core.contract)."""
    validator = _schema_validator()
    problems = []
    for event in events:
        error = best_match(validator.iter_errors(event))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "(event)"
            kind, event_id = event.get("event_type"), event.get("event_id")
            problems.append(f"{kind} {event_id}: {where}: {error.message}")
    return problems


@pytest.fixture(scope="session", autouse=True)
def _record_stored_events() -> Iterator[None]:
    """Every batch of events an in-process EventCollector stores is also kept in ``_stored``."""
    store = EventCollector._store

    def recording(self: EventCollector, events: list[Any], attempt: int | None = None) -> Any:
        _stored.extend(events)
        return store(self, events, attempt)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EventCollector, "_store", recording)
        yield


@pytest.fixture(autouse=True)
def _stored_events_match_the_schema(_record_stored_events: None) -> Iterator[None]:
    """After each test: every event a test collector stored is valid under the shipped schema."""
    _stored.clear()
    yield
    events = list(_stored)
    _stored.clear()
    problems = schema_problems(events)
    if problems:
        pytest.fail(
            f"{len(problems)} stored event(s) break events.schema.json:\n" + "\n".join(problems),
            pytrace=False,
        )
    personal = personal_data_problems(events)
    if personal:
        pytest.fail(
            f"{len(personal)} stored event(s) carry personal data (tests/privacy_scan.py):\n"
            + "\n".join(personal),
            pytrace=False,
        )


# --------------------------------------------------------------------------- static sites


@pytest.fixture
def serve_dir() -> Iterator[Callable[[str | os.PathLike[str]], str]]:
    """Factory: ``serve_dir(path)`` serves ``path`` and returns ``http://127.0.0.1:PORT``."""
    servers: list[StaticServer] = []

    def serve(path: str | os.PathLike[str]) -> str:
        server = start_static_server(path)
        servers.append(server)
        return server.url

    yield serve
    for server in servers:
        server.stop()


# --------------------------------------------------------------------------- browser


def _chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless system Chromium (Playwright sync API), shared by the session."""
    executable = _chromium_path()
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        pytest.fail(
            f"Chromium not found (looked for `chromium` on PATH and {executable}). "
            "Run `make test`, which installs it.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(
            f"Playwright for Python is not installed ({exc}). Run `make test`, "
            "which installs the test dependencies.",
            pytrace=False,
        )
    playwright = sync_playwright().start()
    try:
        try:
            launched = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except Exception as exc:
            pytest.fail(
                f"could not launch Chromium at {executable}: {exc}\n"
                "Run `make test`, which installs it.",
                pytrace=False,
            )
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@dataclass
class BrowserPage:
    """A fresh page in its own browser context.

    ``errors`` collects ``"pageerror: <message>"`` for uncaught exceptions and
    ``"console.error: <text> (<url>:<line>)"`` for console messages of type error,
    from every page of ``context`` (popups too).  The 404 of Chromium's automatic
    ``/favicon.ico`` request is ignored; any other failed resource load (e.g. a
    404 document you navigate to on purpose) is recorded.
    """

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)


def _is_favicon_404(message: ConsoleMessage) -> bool:
    url = (message.location or {}).get("url", "")
    return url.split("?")[0].endswith("/favicon.ico") and "404" in message.text


def _record_console(errors: list[str], message: ConsoleMessage) -> None:
    # Chromium fetches /favicon.ico on its own after every navigation and logs a
    # console error when the site has none; that is not the page's fault.
    if message.type != "error" or _is_favicon_404(message):
        return
    location = message.location or {}
    url = location.get("url", "")
    line = location.get("lineNumber", location.get("line", ""))
    where = f" ({url}:{line})" if url else ""
    errors.append(f"console.error: {message.text}{where}")


def watch_errors(page: Page) -> list[str]:
    """The page errors and console errors of ``page`` (one not made by ``browser_page``), as
    ``browser_page.errors`` records them; the list fills as they happen."""
    errors: list[str] = []
    _watch(errors, [], page)
    return errors


def _watch(errors: list[str], watched: list[Page], page: Page) -> None:
    if page in watched:
        return
    watched.append(page)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", functools.partial(_record_console, errors))


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[BrowserPage]:
    """A new context + page recording page errors and console errors."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    errors: list[str] = []
    watched: list[Page] = []
    # Every page of the context (also popups) reports into the same list.
    context.on("page", functools.partial(_watch, errors, watched))
    page = context.new_page()
    _watch(errors, watched, page)  # no-op when the "page" event already did it
    try:
        yield BrowserPage(page=page, context=context, errors=errors)
    finally:
        context.close()


# --------------------------------------------------------------------------- real tab switching


def _start_chromium(profile: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A headless Chromium with a DevTools port of its own; returns it and its http endpoint."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    process = subprocess.Popen(
        [
            executable,
            "--headless",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            *CHROMIUM_ARGS,
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    port_file = profile / "DevToolsActivePort"  # "<port>\n<path>" once it listens
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        lines = port_file.read_text().split() if port_file.exists() else []
        if len(lines) == 2:
            return process, f"http://127.0.0.1:{lines[0]}"
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"Chromium did not open its DevTools port (exit status {process.poll()})")


@pytest.fixture
def tabs(browser: Browser, tmp_path: Path) -> Iterator[tuple[BrowserContext, list[str]]]:
    """The default context of a Chromium where switching tabs hides pages (see the docstring of
    tests/browser/test_engagement.py), and a list collecting its pages' uncaught errors and
    console errors."""
    process, endpoint = _start_chromium(tmp_path / "profile")
    errors: list[str] = []
    try:
        attached = browser.browser_type.connect_over_cdp(endpoint, no_defaults=True)
        context = attached.contexts[0]
        context.set_default_timeout(15_000)

        def console(message: ConsoleMessage) -> None:
            # Chromium's own /favicon.ico request 404s on these sites: not the page's fault.
            if message.type == "error" and "favicon.ico" not in message.location.get("url", ""):
                errors.append(f"console.error: {message.text}")

        def watch(page: Page) -> None:
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on("console", console)

        for page in context.pages:
            watch(page)
        context.on("page", watch)
        try:
            yield context, errors
        finally:
            attached.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
