"""WebKitGTK (Safari's engine) through Selenium and ``WebKitWebDriver``, on a private Xvfb.

The browser is the ``MiniBrowser`` that ``libwebkit2gtk-4.1-0`` ships, started by
``WebKitWebDriver`` with ``--automation``.  Its ``--headless`` flag hangs here, so it gets a
virtual X display: this module starts an ``Xvfb`` of its own (``-displayfd`` picks a free display
number), starts ``WebKitWebDriver`` on a free loopback port with that ``DISPLAY``, and connects
Selenium's remote client to it.  Xvfb and the driver each run in a process group of their own,
killed as a whole at :meth:`WebKitEngine.close` (the MiniBrowser and its web/network processes
are children of the driver).
"""

from __future__ import annotations

import contextlib
import glob
import os
import select
import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

from tests.engines import DEFAULT_TIMEOUT, Engine, EngineError, EngineMissingError, kill_group

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

MINIBROWSER_GLOB = "/usr/lib/*/webkit2gtk-4.1/MiniBrowser"
LAUNCH_TIMEOUT = 20.0  # seconds for Xvfb, the driver and the first session (about 1 s here)


def minibrowser_path() -> str | None:
    """The MiniBrowser of ``libwebkit2gtk-4.1-0``, or ``None`` when it is not installed."""
    found = sorted(glob.glob(MINIBROWSER_GLOB))
    return found[0] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a child started with ``start_new_session=True``, then kill its whole group."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    kill_group(process.pid)  # stragglers (MiniBrowser's web processes), or a hung leader
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def start_xvfb(timeout: float = LAUNCH_TIMEOUT) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``Xvfb`` on a free display; return the process and its ``DISPLAY`` (``":N"``).

    Raises :class:`EngineMissingError` when Xvfb is not installed, :class:`EngineError` when it
    does not report its display within ``timeout`` seconds (it is killed then).
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise EngineMissingError("Xvfb not found: run scripts/setup.sh (Debian `xvfb`)")
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            pass_fds=(write_end,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            ready, _, _ = select.select([pipe], [], [], timeout)
            number = pipe.readline().strip() if ready else b""
        if not number.isdigit():
            raise EngineError(f"Xvfb did not report a display within {timeout:g} s")
    except BaseException:
        _stop(process)
        raise
    return process, f":{number.decode()}"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineError(f"WebKitWebDriver exited (status {process.returncode}) at start")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise EngineError(f"WebKitWebDriver did not listen on port {port} within {timeout:g} s")


class WebKitEngine(Engine):
    """WebKitGTK's MiniBrowser under WebDriver; one Selenium session for the engine's life.

    :meth:`reset` clears cookies and the current origin's storage (see :meth:`Engine.reset`).
    ``native_errors`` is always empty (WebDriver classic has no page-error events).  Raises
    :class:`EngineMissingError` when ``webkit2gtk-driver``, ``xvfb`` or Selenium is missing,
    :class:`EngineError` when the browser does not start within 20 s.
    """

    name = "webkit"

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        driver_binary = shutil.which("WebKitWebDriver")
        minibrowser = minibrowser_path()
        if driver_binary is None or minibrowser is None:
            raise EngineMissingError(
                "WebKitWebDriver or MiniBrowser not found: run scripts/setup.sh "
                "(Debian `webkit2gtk-driver`)"
            )
        try:
            from selenium import webdriver
            from selenium.webdriver.remote.client_config import ClientConfig
            from selenium.webdriver.remote.remote_connection import RemoteConnection
            from selenium.webdriver.webkitgtk.options import Options
        except ImportError as exc:
            raise EngineMissingError(f"Selenium for Python is missing ({exc})") from exc
        self.timeout = timeout
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._driver_process: subprocess.Popen[bytes] | None = None
        self._driver: WebDriver | None = None
        try:
            self._xvfb, display = start_xvfb()
            port = _free_port()
            self._driver_process = subprocess.Popen(
                [driver_binary, f"--port={port}", "--host=local"],
                env={**os.environ, "DISPLAY": display},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _wait_for_port(port, self._driver_process, LAUNCH_TIMEOUT)
            options = Options()
            options.binary_location = minibrowser
            options.add_argument("--automation")
            address = f"http://127.0.0.1:{port}"
            config = ClientConfig(remote_server_addr=address, timeout=int(LAUNCH_TIMEOUT + timeout))
            self._driver = webdriver.Remote(RemoteConnection(client_config=config), options=options)
            self._driver.set_page_load_timeout(timeout)
            self._driver.set_script_timeout(timeout)
            capabilities = self._driver.capabilities
            self.version = (
                f"WebKitGTK {capabilities.get('browserVersion', '?')} "
                f"({capabilities.get('browserName', 'MiniBrowser')})"
            )
        except BaseException:
            self.close()
            raise

    @property
    def driver(self) -> WebDriver:
        """The Selenium session (for WebKit-only extras)."""
        if self._driver is None:
            raise EngineError("WebKit engine is closed")
        return self._driver

    def _step(self, what: str, action: Any, *arguments: Any) -> Any:
        from selenium.common.exceptions import WebDriverException

        try:
            return action(*arguments)
        except WebDriverException as exc:
            message = (exc.msg or type(exc).__name__).strip()
            raise EngineError(f"WebKitGTK: {what}: {message}") from exc

    def goto(self, url: str) -> None:
        self._step(f"goto {url}", self.driver.get, url)

    def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        element = self._step(f"find {css}", self.driver.find_element, By.CSS_SELECTOR, css)
        self._step(f"click {css}", element.click)

    def eval(self, expression: str) -> Any:
        # A function body for WebDriver; a returned promise is awaited (WebDriver spec).
        return self._step(
            f"eval {expression[:80]}", self.driver.execute_script, f"return (\n{expression}\n);"
        )

    def back(self) -> None:
        self._step("back", self.driver.back)

    def url(self) -> str:
        return str(self._step("url", lambda: self.driver.current_url))

    def reset(self) -> None:
        if self.url().startswith(("http:", "https:")):
            self.eval("(localStorage.clear(), sessionStorage.clear(), null)")
        self._step("delete cookies", self.driver.delete_all_cookies)
        self.goto("about:blank")

    def native_errors(self) -> list[str]:
        return []

    def close(self) -> None:
        driver, self._driver = self._driver, None
        try:
            if driver is not None:
                with contextlib.suppress(Exception):
                    driver.quit()
        finally:
            driver_process, self._driver_process = self._driver_process, None
            xvfb, self._xvfb = self._xvfb, None
            _stop(driver_process)
            _stop(xvfb)
