"""Serve a built site on 127.0.0.1 like static hosting does, and the Chromium switches we use."""

from __future__ import annotations

import functools
import os
import socket
import socketserver
import sys
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aae_tracking_plugins.collector import _shutdown_promptly

# Quiet and working as root, offline (see ../shared/browsers.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Pages see navigator.webdriver as a real visitor's browser shows it (false): the tracker
    # skips automation unless a site sets track_automation.
    "--disable-blink-features=AutomationControlled",
]


class StaticSiteHandler(SimpleHTTPRequestHandler):
    """Read-only, quiet, uncached; missing files get the site's 404.html (status 404)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != HTTPStatus.NOT_FOUND or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(code, message)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class StaticServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs when a browser opens many

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup (getfqdn is slow)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Chromium drops connections of pages it navigates away from: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        _shutdown_promptly(self)
        self.server_close()


def start_static_server(directory: str | os.PathLike[str]) -> StaticServer:
    root = Path(directory).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    server = StaticServer(
        ("127.0.0.1", 0), functools.partial(StaticSiteHandler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, name=f"static-{root.name}", daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
