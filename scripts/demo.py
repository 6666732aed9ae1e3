"""`make demo`: build both sample sites against a local collector, serve them, show the events.

The collector is the stored one (``aae-tracking collect``'s app, docs/collector.md) on a fresh
SQLite file, ``build/demo-events.db`` (deleted at the start of each demo, kept after it:
``aae-tracking report --database sqlite:///build/demo-events.db`` reads it). Runs a scripted
visitor in headless Chromium once (so events appear straight away), prints the funnel, then keeps
serving until Ctrl-C so you can visit the printed URLs yourself and watch the dashboard (opened in
your browser when there is a display; ``--no-open`` not). ``--visit-and-exit`` stops after the
scripted visit (used by the test suite).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import webbrowser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from aae_tracking_plugins.collector.report import render
from aae_tracking_plugins.collector.server import CollectorServer, create_app
from aae_tracking_plugins.collector.service import CollectorConfig, EventService
from aae_tracking_plugins.collector.storage import FunnelQuery

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' Chromium switches are the demo's too
from tests.static_server import CHROMIUM_ARGS  # noqa: E402

BUILD = ROOT / "build" / "demo"
# Beside BUILD, not in it: build() empties BUILD after the collector has opened the database.
DATABASE = ROOT / "build" / "demo-events.db"
PELICAN = ROOT / ".venv-pelican" / "bin" / "pelican"
# (path, CTA ids to click) per site, in the order a visitor would go.
# #book-call sends a Lead (the sites' tracking plan), the FAQ's <summary> a faq_open (its
# data-aae-event markup); #newsletter is a plain button: nothing.
VISITS = {
    "mkdocs": [
        ("/", ["hero-cta"]),
        ("/", ["sticky-cta", "newsletter", "book-call", "faq summary"]),
        ("/offer/", ["buy-now"]),
    ],
    "pelican": [
        ("/launch.html", ["sticky-cta", "newsletter", "book-call", "faq summary"]),
        ("/pages/offer.html", ["buy-now"]),
    ],
}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def listen(port: int) -> socket.socket:
    """Bind the preferred port, or any free one when it is taken."""
    for candidate in (port, 0):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", candidate))
            return sock
        except OSError:
            sock.close()
    raise OSError("no free port on 127.0.0.1")


def free_port(preferred: int) -> int:
    sock = listen(preferred)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def serve(directory: Path, preferred_port: int) -> ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", free_port(preferred_port)), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def build(api_base_url: str) -> dict[str, Path]:
    env = {**os.environ, "AAE_API_BASE_URL": api_base_url, "NO_MKDOCS_2_WARNING": "1"}
    shutil.rmtree(BUILD, ignore_errors=True)
    sites = {"mkdocs": BUILD / "mkdocs", "pelican": BUILD / "pelican"}
    commands = {
        "mkdocs": [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(sites["mkdocs"])],
        "pelican": [
            str(PELICAN),
            "content",
            "-q",
            "-s",
            "pelicanconf.py",
            "-o",
            str(sites["pelican"]),
        ],
    }
    for name, command in commands.items():
        print(f"demo: building the {name} sample site")
        subprocess.run(command, cwd=ROOT / "sample_sites" / name, env=env, check=True)
    return sites


class Lines:
    """Prints the collector's lines (one per event, one per refused request), counting the
    refusals."""

    def __init__(self) -> None:
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            if line[10:].startswith("refused "):  # after the HH:MM:SS clock
                self.refused += 1
            print(line, flush=True)


def start_collector(preferred_port: int, lines: Lines) -> CollectorServer:
    """The stored collector on a fresh :data:`DATABASE`, on the preferred port or any free one."""
    DATABASE.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DATABASE}{suffix}").unlink(missing_ok=True)
    config = CollectorConfig(database_url=f"sqlite:///{DATABASE}", echo=lines, warn=lines)
    app = create_app(config)
    for port in (preferred_port, 0):
        try:
            return CollectorServer(app, port=port).start()
        except OSError:
            if port == 0:
                raise
    raise AssertionError("unreachable")


def arrived(service: EventService) -> int:
    """Events the collector acknowledged so far (stored, or resent and already stored)."""
    return service.stored + service.duplicates


def wait_quiet(service: EventService, quiet: float = 3.0, limit: float = 15.0) -> None:
    """Until no event has arrived for ``quiet`` seconds (the tracker sends at idle time)."""
    deadline = time.monotonic() + limit
    seen, since = arrived(service), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.1)
        if arrived(service) != seen:
            seen, since = arrived(service), time.monotonic()


def can_open_a_browser() -> bool:
    """Whether ``webbrowser`` would open a graphical browser (not a text one in this terminal)."""
    graphical = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return sys.platform in ("darwin", "win32") or bool(graphical)


def scripted_visit(urls: dict[str, str], service: EventService) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for site, visits in VISITS.items():
            print(f"\ndemo: a visitor browses the {site} site ({urls[site]})")
            page = browser.new_context().new_page()
            for path, ctas in visits:
                page.goto(urls[site] + path)
                for cta in ctas:
                    selector = "details > summary" if cta == "faq summary" else f"#{cta}"
                    print(f"demo:   clicks {'the FAQ question' if ' ' in cta else '#' + cta}")
                    page.click(selector)
                    page.wait_for_load_state()
                    time.sleep(0.4)  # let the event land so the log reads in order
            wait_quiet(service)  # the last page's events, sent when the browser is idle
        browser.close()


@click.command(help=__doc__, context_settings={"show_default": True})
@click.option("--visit-and-exit", is_flag=True, help="stop after the visit")
@click.option("--collector-port", type=click.IntRange(0, 65535), default=8765)
@click.option("--no-open", is_flag=True, help="do not open the dashboard")
@click.pass_context
def main(ctx: click.Context, visit_and_exit: bool, collector_port: int, no_open: bool) -> None:
    """Run the demo; exits 0, or 1 when ``--visit-and-exit`` found no events or a refused one."""
    ctx.exit(run(visit_and_exit, collector_port, no_open))


def run(visit_and_exit: bool, collector_port: int, no_open: bool) -> int:
    """Build, serve and visit the sample sites (see the module docstring); the exit status."""
    lines = Lines()
    collector = start_collector(collector_port, lines)
    service: EventService = collector.app.state.service
    dashboard = collector.url + "/"
    print(f"demo: collector listening at {collector.url} (events print below as they arrive)")
    print(f"demo: events stored in {DATABASE} (SQLite; a new file each demo)")
    sites = build(collector.url)
    ports = {"mkdocs": 8001, "pelican": 8002}
    servers = {name: serve(path, ports[name]) for name, path in sites.items()}
    urls = {
        name: f"http://127.0.0.1:{server.server_address[1]}" for name, server in servers.items()
    }
    print("\ndemo: the sample sites are served at")
    for name, url in urls.items():
        print(f"  {name:8} {url}/")
    print(f"  {'dashboard':8} {dashboard}  (the funnel and the latest events, live)")
    try:
        scripted_visit(urls, service)
        print(
            f"\ndemo: {service.stored} events stored ({service.duplicates} duplicates not "
            f"stored again), {lines.refused} rejected"
        )
        print("demo: the funnel (aae-tracking report):")
        print(render(service.store.funnel(FunnelQuery()), "table"), end="")
        if visit_and_exit:
            return 0 if service.stored and not lines.refused else 1
        print(f"demo: the dashboard is at {dashboard}")
        if not no_open and can_open_a_browser():
            webbrowser.open(dashboard)
        print("demo: open the site URLs above in a browser to send your own events and watch")
        print("      them arrive on the dashboard; Ctrl-C stops.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\ndemo: stopped")
        return 0
    finally:
        for server in servers.values():
            server.shutdown()
        collector.stop()


if __name__ == "__main__":
    main()
