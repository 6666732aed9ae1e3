"""Chromium (Blink) through Playwright's sync API, launched from the Debian ``chromium``.

Playwright's sync API allows one running Playwright per thread, and the suite's ``browser``
fixture (tests/conftest.py) already runs one in the test thread.  So this engine runs a
Playwright of its own in a private thread and hands every call to that thread: it works
whether or not another Playwright is running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, TypeVar

from tests.engines import DEFAULT_TIMEOUT, Engine, EngineError, EngineMissingError
from tests.static_server import CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright

T = TypeVar("T")

# What a real visitor's Chromium shows: navigator.webdriver is false (../shared/browsers.md).
ENGINE_ARGS = [*CHROMIUM_ARGS, "--disable-blink-features=AutomationControlled"]
LAUNCH_TIMEOUT = 30.0  # seconds


def chromium_path() -> str:
    """The system Chromium (``chromium`` on PATH, else ``/usr/bin/chromium``)."""
    return shutil.which("chromium") or "/usr/bin/chromium"


def _is_favicon_404(message: ConsoleMessage) -> bool:
    url = (message.location or {}).get("url", "")
    return url.split("?")[0].endswith("/favicon.ico") and "404" in message.text


class ChromiumEngine(Engine):
    """Headless Chromium; one browser, a new context (fresh profile state) per :meth:`reset`.

    Launched with the suite's ``CHROMIUM_ARGS`` plus
    ``--disable-blink-features=AutomationControlled``.  Raises :class:`EngineMissingError` when
    Chromium or Playwright is missing, :class:`EngineError` when it does not start in 30 s.
    """

    name = "chromium"

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        executable = chromium_path()
        if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
            raise EngineMissingError(
                f"Chromium not found at {executable}: run scripts/setup.sh (Debian `chromium`)"
            )
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise EngineMissingError(f"Playwright for Python is missing ({exc})") from exc
        self.timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium-engine")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._errors: list[str] = []
        self._closed = False

        def launch() -> None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=ENGINE_ARGS,
                timeout=LAUNCH_TIMEOUT * 1000,
            )
            self._new_context()

        try:
            self._run(launch, what="launch", timeout=LAUNCH_TIMEOUT + 5)
        except BaseException:
            self.close()
            raise
        assert self._browser is not None
        self.version = f"Chromium {self._browser.version}"

    # ------------------------------------------------------------------ the Playwright thread

    def _run(self, call: Callable[[], T], *, what: str, timeout: float | None = None) -> T:
        """Run ``call`` in the Playwright thread; its errors become :class:`EngineError`."""
        future = self._thread.submit(call)
        try:
            return future.result(timeout=timeout if timeout is not None else self.timeout + 5)
        except FutureTimeout:
            raise EngineError(f"Chromium: no answer to {what}") from None
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"Chromium: {what}: {exc}") from exc

    def _record_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not _is_favicon_404(message):
            self._errors.append(f"console.error: {message.text}")

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self._errors.append(f"pageerror: {exc}"))
        page.on("console", self._record_console)

    def _new_context(self) -> None:
        if self._browser is None:
            raise EngineError("Chromium engine is closed")
        if self._context is not None:
            self._context.close()
        self._context = self._browser.new_context()
        self._context.set_default_timeout(self.timeout * 1000)
        self._context.on("page", self._watch)
        self._page = self._context.new_page()
        self._errors.clear()

    def _current(self) -> Page:
        if self._page is None:
            raise EngineError("Chromium engine is closed")
        return self._page

    # ------------------------------------------------------------------ Engine

    def reset(self) -> None:
        self._run(self._new_context, what="reset")

    def goto(self, url: str) -> None:
        self._run(lambda: self._current().goto(url, wait_until="load"), what=f"goto {url}")

    def click(self, css: str) -> None:
        self._run(lambda: self._current().click(css), what=f"click {css}")

    def eval(self, expression: str) -> Any:
        return self._run(
            lambda: self._current().evaluate(expression), what=f"eval {expression[:80]}"
        )

    def back(self) -> None:
        self._run(lambda: self._current().go_back(wait_until="load"), what="back")

    def url(self) -> str:
        return self._run(lambda: self._current().url, what="url")

    def native_errors(self) -> list[str]:
        def take() -> list[str]:
            errors, self._errors = self._errors, []
            return errors

        return self._run(take, what="errors")

    def close(self) -> None:
        def shut_down() -> None:
            self._page = self._context = None
            browser, self._browser = self._browser, None
            playwright, self._playwright = self._playwright, None
            try:
                if browser is not None and browser.is_connected():
                    browser.close()
            finally:
                if playwright is not None:
                    playwright.stop()  # ends Playwright's driver, which kills its browsers

        if self._closed:
            return
        self._closed = True
        try:
            self._run(shut_down, what="close", timeout=LAUNCH_TIMEOUT)
        finally:
            self._thread.shutdown(wait=False)
