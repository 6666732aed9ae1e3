"""Firefox ESR (Gecko) through puppeteer-core over WebDriver BiDi, in a node child process.

The child runs ``firefox_driver.mjs`` (next to this file), which launches Firefox and then reads
one JSON command per line on stdin and answers one JSON line on stdout; this module sends the
commands and waits for each answer with a timeout.  No geckodriver is involved.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from tests.engines import DEFAULT_TIMEOUT, Engine, EngineError, EngineMissingError, kill_group

DRIVER_SCRIPT = Path(__file__).with_name("firefox_driver.mjs")
REPO_ROOT = Path(__file__).resolve().parents[2]
FIREFOX = "/usr/bin/firefox-esr"
LAUNCH_TIMEOUT = 30.0  # seconds; Firefox takes about 2.5 s here


def pids_with_argument(argument: str) -> list[int]:
    """Processes (of any user visible here) with ``argument`` in their command line.

    Used to find a Firefox by its unique profile path, never by a program name.
    """
    needle = argument.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(needle in part for part in arguments):
            found.append(int(entry.name))
    return found


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output: the child exited


class FirefoxEngine(Engine):
    """Headless Firefox ESR; one browser, a new browser context per :meth:`reset`.

    Raises :class:`EngineMissingError` when ``firefox-esr``, ``node`` or ``puppeteer-core`` is
    missing, :class:`EngineError` when Firefox does not start within 30 s.
    """

    name = "firefox"

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, prefs: dict[str, object] | None = None
    ) -> None:
        firefox = shutil.which("firefox-esr") or FIREFOX
        node = shutil.which("node")
        if not os.access(firefox, os.X_OK):
            raise EngineMissingError("Firefox ESR not found: run scripts/setup.sh (`firefox-esr`)")
        if node is None:
            raise EngineMissingError("node not found: run scripts/setup.sh (`nodejs`)")
        if not (REPO_ROOT / "node_modules" / "puppeteer-core").is_dir():
            raise EngineMissingError("puppeteer-core not installed: run scripts/setup.sh (npm ci)")
        self.timeout = timeout
        self._next_id = 0
        self._browser_pid: int | None = None
        self._closed = False
        # Lives as long as the engine (closed in close()), not one block.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        # A profile of our own: a Firefox left behind (node killed mid-launch, before it told
        # us the browser's pid) is found by this path in its command line and killed.
        self._profile = tempfile.mkdtemp(prefix="aae-engine-firefox-")
        env = {
            **os.environ,
            "FIREFOX": firefox,
            "AAE_FIREFOX_PROFILE": self._profile,
            "AAE_ENGINE_TIMEOUT_MS": str(int(timeout * 1000)),
            "AAE_ENGINE_LAUNCH_TIMEOUT_MS": str(int(LAUNCH_TIMEOUT * 1000)),
            # Preferences set at launch (e.g. privacy.globalprivacycontrol.enabled).
            "AAE_FIREFOX_PREFS": json.dumps(prefs or {}),
        }
        self._process = subprocess.Popen(
            [node, str(DRIVER_SCRIPT)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # its own process group: killed as a whole on failure
        )
        assert self._process.stdout is not None
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(
            target=_read_lines, args=(self._process.stdout, self._lines), daemon=True
        ).start()
        try:
            ready = self._receive(LAUNCH_TIMEOUT + 5, "launch")
            if not ready.get("ready"):
                raise EngineError(f"Firefox did not start: {ready.get('error')}")
        except BaseException:
            self._closed = True
            self._kill()
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        self._browser_pid = ready.get("pid")
        self.version = str(ready.get("version"))

    # ------------------------------------------------------------------ protocol

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().strip()
        return f"; node stderr: {text[-800:]}" if text else ""

    def _receive(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise EngineError(f"Firefox: no answer to {what} within {timeout:g} s") from None
        if line is None:
            code = self._process.poll()
            raise EngineError(
                f"Firefox driver exited (status {code}) during {what}" + self._stderr_tail()
            )
        try:
            answer: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise EngineError(f"Firefox driver wrote a non-JSON line: {line[:200]!r}") from None
        return answer

    def _call(self, op: str, **arguments: Any) -> Any:
        if self._closed:
            raise EngineError("Firefox engine is closed")
        self._next_id += 1
        command = {"id": self._next_id, "op": op, **arguments}
        what = f"{op} {json.dumps(arguments)[:200]}"
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(command) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise EngineError(f"Firefox driver is gone ({exc}){self._stderr_tail()}") from exc
        # The driver bounds each step itself; allow it a little longer to report the timeout.
        answer = self._receive(self.timeout + 5, what)
        if answer.get("id") != command["id"]:
            raise EngineError(f"Firefox driver answered {answer!r} to {what}")
        if not answer.get("ok"):
            raise EngineError(f"Firefox: {what}: {answer.get('error')}")
        return answer.get("value")

    # ------------------------------------------------------------------ Engine

    def goto(self, url: str) -> None:
        self._call("goto", url=url)

    def click(self, css: str) -> None:
        self._call("click", css=css)

    def eval(self, expression: str) -> Any:
        return self._call("eval", js=expression)

    def back(self) -> None:
        self._call("back")

    def url(self) -> str:
        return str(self._call("url"))

    def reset(self) -> None:
        self._call("reset")

    def native_errors(self) -> list[str]:
        return [str(error) for error in self._call("errors")]

    # ------------------------------------------------------------------ teardown

    def _kill(self) -> None:
        # Puppeteer starts Firefox detached (a process group of its own): kill both groups,
        # and any process still running with our profile (a launch that failed half-way).
        kill_group(self._browser_pid)
        kill_group(self._process.pid)
        for pid in pids_with_argument(self._profile):
            with contextlib.suppress(ProcessLookupError):
                kill_group(os.getpgid(pid))
        self._process.wait(timeout=10)

    def close(self) -> None:
        if self._closed:
            return
        clean = False
        try:
            self._call("close")
            clean = self._process.wait(timeout=10) == 0  # puppeteer waited for Firefox to exit
        except (EngineError, subprocess.TimeoutExpired):
            pass
        finally:
            self._closed = True
            if not clean:
                self._kill()
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)
