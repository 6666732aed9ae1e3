"""One small Python interface over the three browser engines available here.

``open_engine(name) -> Engine`` launches one real browser (``EnginePool`` launches several at
once, in the background):

========== ===================== ==================================================================
name       browser               driven by
========== ===================== ==================================================================
chromium   Chromium (Blink)      Playwright's sync API (``tests.engines.chromium``)
firefox    Firefox ESR (Gecko)   puppeteer-core over WebDriver BiDi, in a long-lived node child
                                 process speaking JSON lines (``tests/engines/firefox_driver.mjs``)
webkit     WebKitGTK MiniBrowser Selenium + ``WebKitWebDriver``, on an Xvfb display of its own
========== ===================== ==================================================================

Every engine offers the same methods: :meth:`Engine.goto`, :meth:`Engine.click`,
:meth:`Engine.eval`, :meth:`Engine.back`, :meth:`Engine.url`, :meth:`Engine.reset` (fresh
cookies and storage, for the next test), :meth:`Engine.native_errors` and :meth:`Engine.close`.
An engine is a context manager; ``close()`` never leaves a browser, driver or Xvfb running, even
when the browser hangs (it is killed).

The routes (Debian packages, no downloads, never ``playwright install``) are those checked in
``../shared/browsers.md``; ``scripts/setup.sh`` installs them.  A missing piece raises
:class:`EngineMissingError` with one line saying what to install.
"""

from __future__ import annotations

import contextlib
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENGINES",
    "Engine",
    "EngineError",
    "EngineMissingError",
    "EnginePool",
    "open_engine",
]

ENGINES: tuple[str, ...] = ("chromium", "firefox", "webkit")
DEFAULT_TIMEOUT = 15.0  # seconds for one navigation, click or evaluation


class EngineError(RuntimeError):
    """A browser did not do what it was asked (timeout, crash, script error)."""


class EngineMissingError(EngineError):
    """A browser or driver is not installed here; the message says what to install."""


class Engine(ABC):
    """One launched browser with one current page.

    ``name`` is one of :data:`ENGINES`; ``version`` the browser's own version string
    (``"Chromium 156.0..."``, ``"firefox/153.8.0"``, ``"WebKitGTK 2.50.6"``).
    Methods raise :class:`EngineError` when the browser fails or exceeds ``timeout``.
    """

    name: str
    version: str
    timeout: float = DEFAULT_TIMEOUT

    @abstractmethod
    def goto(self, url: str) -> None:
        """Navigate the current page to ``url`` and wait for its ``load`` event."""

    @abstractmethod
    def click(self, css: str) -> None:
        """Click (trusted mouse input) the first element matching the CSS selector ``css``.

        Does not wait for a navigation the click starts: wait for its effect instead.
        """

    @abstractmethod
    def eval(self, expression: str) -> Any:
        """Evaluate the JavaScript *expression* in the current page and return its value.

        The value travels as JSON (numbers, strings, booleans, null, arrays, plain objects);
        a returned promise is awaited.
        """

    @abstractmethod
    def back(self) -> None:
        """Go one entry back in the page's history and wait for that page."""

    @abstractmethod
    def url(self) -> str:
        """The current page's URL."""

    @abstractmethod
    def reset(self) -> None:
        """Start over with no cookies and no storage, on a blank page.

        Chromium and Firefox get a new browser context (a fresh profile state).  WebKitGTK
        keeps its one Selenium session: every cookie of the current page's host is deleted
        and the current origin's ``localStorage`` and ``sessionStorage`` are cleared, so a
        test must use one origin for what it stores (or a new origin per test).
        """

    @abstractmethod
    def native_errors(self) -> list[str]:
        """Page errors the engine itself reported since the last call (then forgotten).

        ``"pageerror: ..."`` for uncaught exceptions, ``"console.error: ..."`` for console
        errors (Chromium and Firefox).  WebDriver classic has no such events, so WebKitGTK
        always returns ``[]``: collect ``error`` / ``unhandledrejection`` in the page for it.
        """

    @abstractmethod
    def close(self) -> None:
        """Close the browser and everything started for it; safe to call twice."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version}>"


def open_engine(name: str, *, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """Launch the browser ``name`` (one of :data:`ENGINES`) and return it with a blank page.

    ``timeout`` (seconds) bounds every later step (navigation, click, evaluation).

    Raises ``ValueError`` for an unknown name, :class:`EngineMissingError` when the browser or
    its driver is not installed, :class:`EngineError` when it does not start in time.
    """
    if name == "chromium":
        from tests.engines.chromium import ChromiumEngine

        return ChromiumEngine(timeout=timeout)
    if name == "firefox":
        from tests.engines.firefox import FirefoxEngine

        return FirefoxEngine(timeout=timeout)
    if name == "webkit":
        from tests.engines.webkit import WebKitEngine

        return WebKitEngine(timeout=timeout)
    raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")


def kill_group(pgid: int | None) -> None:
    """SIGKILL the process group ``pgid`` (a child started with ``start_new_session=True``).

    Used by the engines' teardown so that a browser and its helper processes never outlive a
    test run.  A group that is already gone is fine.
    """
    if pgid is None or pgid <= 1:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class EnginePool:
    """Launch several engines at once, in background threads; hand each out when it is up.

    Launching takes seconds per browser (Firefox most); starting them together overlaps that
    with each other and with the tests that already run.  ``get(name)`` waits for that engine
    (raising the :class:`EngineError` its launch raised); ``close()`` closes every engine,
    waiting for launches still under way.  Only names given to the constructor can be got.
    """

    def __init__(self, names: Iterable[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._executor = ThreadPoolExecutor(max_workers=len(ENGINES), thread_name_prefix="launch")
        self._launches: dict[str, Future[Engine]] = {
            name: self._executor.submit(open_engine, name, timeout=timeout)
            for name in dict.fromkeys(names)
        }

    def get(self, name: str) -> Engine:
        """The launched engine ``name``; raises its launch error, or ``KeyError``."""
        return self._launches[name].result()

    def close(self) -> None:
        """Close every engine (launched or still launching); never raises for a failed launch."""
        for launch in self._launches.values():
            with contextlib.suppress(Exception):
                launch.result().close()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
