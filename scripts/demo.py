"""`make demo`: build both sample sites against a local collector, serve them, show the events.

Runs a scripted visitor in headless Chromium once (so events appear straight away), then keeps
serving until Ctrl-C so you can visit the printed URLs yourself. ``--visit-and-exit`` stops after
the scripted visit (used by the test suite).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aae_tracking_plugins.collector import EventCollector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' Chromium switches are the demo's too
from tests.static_server import CHROMIUM_ARGS  # noqa: E402

BUILD = ROOT / "build" / "demo"
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


def wait_quiet(collector: EventCollector, quiet: float = 3.0, limit: float = 15.0) -> None:
    """Until no event has arrived for ``quiet`` seconds (the tracker sends at idle time)."""
    deadline = time.monotonic() + limit
    seen, since = len(collector.events), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.1)
        if len(collector.events) != seen:
            seen, since = len(collector.events), time.monotonic()


def scripted_visit(urls: dict[str, str], collector: EventCollector) -> None:
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
            wait_quiet(collector)  # the last page's events, sent when the browser is idle
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visit-and-exit", action="store_true", help="stop after the visit")
    parser.add_argument("--collector-port", type=int, default=8765)
    args = parser.parse_args(argv)

    collector = EventCollector(port=free_port(args.collector_port), echo=print).start()
    print(f"demo: collector listening at {collector.url} (events print below as they arrive)")
    sites = build(collector.url)
    ports = {"mkdocs": 8001, "pelican": 8002}
    servers = {name: serve(path, ports[name]) for name, path in sites.items()}
    urls = {
        name: f"http://127.0.0.1:{server.server_address[1]}" for name, server in servers.items()
    }
    print("\ndemo: the sample sites are served at")
    for name, url in urls.items():
        print(f"  {name:8} {url}/")
    try:
        scripted_visit(urls, collector)
        events = collector.events
        print(f"\ndemo: {len(events)} events arrived, {len(collector.rejected)} rejected")
        if args.visit_and_exit:
            return 0 if events and not collector.rejected else 1
        print("demo: open the URLs above in a browser to send your own events; Ctrl-C stops.")
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
    raise SystemExit(main())
