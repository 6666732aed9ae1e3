"""``python -m aae_tracking_plugins.collector``: run the collector and print what arrives.

Options: ``--host`` (default 127.0.0.1), ``--port`` (0-65535, 0 = any free; default 8765),
``--jsonl FILE`` (append every accepted event as one JSON line), ``--quiet`` (no line per
event). Exit status: 0 after Ctrl-C or SIGTERM, 2 for a usage error, a ``--jsonl`` file that
cannot be opened or an address that cannot be bound (one ``error: ...`` line on stderr),
130 for a second Ctrl-C while stopping.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

from aae_tracking_plugins.collector.app import EventCollector
from aae_tracking_plugins.collector.wire import Event

__all__ = ["main"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aae_tracking_plugins.collector",
        description=(
            "Local development collector for landing-page tracking events. Point the "
            "plugin's api_base_url at it and watch PageView / AddToCart / Purchase (and other) "
            "events arrive."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port to bind, 0 = any free (default %(default)s)"
    )
    parser.add_argument(
        "--jsonl",
        metavar="FILE",
        help="append every accepted event to FILE as one JSON line (never a duplicate)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not print a line per event (banner still shown)"
    )
    return parser


def _line_writer(stream: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return write


def _jsonl_appender(jsonl: TextIO) -> Callable[[Event], None]:
    def append(event: Event) -> None:
        jsonl.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        jsonl.flush()

    return append


@contextlib.contextmanager
def _sigterm_sets(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM sets ``stop`` (as cleanly as Ctrl-C); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: Any = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Run the collector until Ctrl-C (or SIGTERM).

    Input: the command-line arguments (``sys.argv[1:]`` when None). Output: the exit status
    (see the module docstring). Usage errors exit through ``SystemExit(2)`` from argparse.
    """
    args = _build_parser().parse_args(argv)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="backslashreplace", line_buffering=True)
    write_line = _line_writer(out)

    jsonl: TextIO | None = None
    if args.jsonl:
        try:
            # backslashreplace: a lone surrogate (JSON "\\ud800" in a string) is
            # written back as that escape, so the line stays valid JSON.
            jsonl = open(  # noqa: SIM115 - closed below
                args.jsonl, "a", encoding="utf-8", errors="backslashreplace"
            )
        except OSError as exc:
            print(
                f"error: cannot open --jsonl file {args.jsonl!r}: {exc.strerror}",
                file=sys.stderr,
            )
            return 2

    collector = EventCollector(
        args.host,
        args.port,
        echo=None if args.quiet else write_line,
        on_event=_jsonl_appender(jsonl) if jsonl is not None else None,
    )
    # SIGTERM (e.g. from a process manager or a test) stops as cleanly as Ctrl-C. Installed
    # before anything is printed, so a caller that waits for the banner and then terminates us
    # cannot hit the default (abrupt) handler.
    stop = threading.Event()
    with _sigterm_sets(stop):
        try:
            return _serve(collector, args, write_line, stop)
        except KeyboardInterrupt:  # a second Ctrl-C while shutting down
            return 130
        finally:
            collector.stop()
            if jsonl is not None:
                jsonl.close()


def _serve(
    collector: EventCollector,
    args: argparse.Namespace,
    write_line: Callable[[str], None],
    stop: threading.Event,
) -> int:
    """Start, print the banner, wait for ``stop`` or Ctrl-C, stop; returns the exit status."""
    try:
        try:
            collector.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "address already in use (another collector running? try --port 0)"
            else:
                why = exc.strerror or str(exc)
            print(f"error: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
            return 2

        write_line(f"AAE tracking collector listening on {collector.url}")
        write_line(f"  api_base_url to configure: {collector.url}")
        write_line(f"  events endpoint:           POST {collector.events_url}")
        if args.jsonl:
            write_line(f"  appending events to:       {args.jsonl}")
        write_line("  Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    received, duplicates = len(collector.events), collector.duplicates
    collector.stop()
    write_line(f"stopped; {received} event(s) received, {duplicates} duplicate(s) not stored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
