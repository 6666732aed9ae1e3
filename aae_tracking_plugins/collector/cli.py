"""``python -m aae_tracking_plugins.collector``: run the collector and print what arrives.

A click command (as ``aae-tracking``). Options: ``--host`` (default 127.0.0.1), ``--port``
(0-65535, 0 = any free; default 8765), ``--jsonl FILE`` (append every accepted event as one
JSON line), ``--quiet`` (no line per event). Exit status: 0 after Ctrl-C or SIGTERM, 2 for a
usage error, a ``--jsonl`` file that cannot be opened or an address that cannot be bound (one
``error: ...`` line on stderr), 130 for a second Ctrl-C while stopping.
"""

from __future__ import annotations

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

import click

from aae_tracking_plugins.collector.app import EventCollector
from aae_tracking_plugins.collector.wire import Event

__all__ = ["main"]


def _port(_context: click.Context, _parameter: click.Parameter, value: int) -> int:
    if not 0 <= value <= 65535:
        raise click.BadParameter(f"port must be 0-65535, got {value}")
    return value


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Local development collector for landing-page tracking events. Point the plugin's "
        "api_base_url at it and watch PageView / AddToCart / Purchase (and other) events "
        "arrive.\n\n\b\nIn memory only. For a stored collector: aae-tracking collect"
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=int,
    default=8765,
    show_default=True,
    callback=_port,
    help="Port to bind, 0 = any free.",
)
@click.option(
    "--jsonl",
    metavar="FILE",
    help="Append every accepted event to FILE as one JSON line (never a duplicate).",
)
@click.option("--quiet", is_flag=True, help="Do not print a line per event (banner still shown).")
def collector_command(host: str, port: int, jsonl: str | None, quiet: bool) -> int:
    """The command's options, parsed by click; the exit status (see :func:`main`)."""
    return _run(host, port, jsonl, quiet)


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
    (see the module docstring); a usage error prints click's message on stderr and gives 2.
    """
    try:
        status = collector_command.main(
            args=argv, prog_name="python -m aae_tracking_plugins.collector", standalone_mode=False
        )
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:  # --help
        return exc.exit_code
    except click.Abort:
        return 130
    return status if isinstance(status, int) else 0


def _run(host: str, port: int, jsonl_path: str | None, quiet: bool) -> int:
    """Open the ``--jsonl`` file, start the collector, serve until stopped; the exit status."""
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="backslashreplace", line_buffering=True)
    write_line = _line_writer(out)

    jsonl: TextIO | None = None
    if jsonl_path:
        try:
            # backslashreplace: a lone surrogate (JSON "\\ud800" in a string) is
            # written back as that escape, so the line stays valid JSON.
            jsonl = open(  # noqa: SIM115 - closed below
                jsonl_path, "a", encoding="utf-8", errors="backslashreplace"
            )
        except OSError as exc:
            print(
                f"error: cannot open --jsonl file {jsonl_path!r}: {exc.strerror}",
                file=sys.stderr,
            )
            return 2

    collector = EventCollector(
        host,
        port,
        echo=None if quiet else write_line,
        on_event=_jsonl_appender(jsonl) if jsonl is not None else None,
    )
    # SIGTERM (e.g. from a process manager or a test) stops as cleanly as Ctrl-C. Installed
    # before anything is printed, so a caller that waits for the banner and then terminates us
    # cannot hit the default (abrupt) handler.
    stop = threading.Event()
    with _sigterm_sets(stop):
        try:
            return _serve(collector, (host, port, jsonl_path), write_line, stop)
        except KeyboardInterrupt:  # a second Ctrl-C while shutting down
            return 130
        finally:
            collector.stop()
            if jsonl is not None:
                jsonl.close()


def _serve(
    collector: EventCollector,
    where: tuple[str, int, str | None],
    write_line: Callable[[str], None],
    stop: threading.Event,
) -> int:
    """Start, print the banner, wait for ``stop`` or Ctrl-C, stop; returns the exit status.
    ``where``: the host and port asked for, and the ``--jsonl`` path (for the messages)."""
    host, port, jsonl_path = where
    try:
        try:
            collector.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "address already in use (another collector running? try --port 0)"
            else:
                why = exc.strerror or str(exc)
            print(f"error: cannot listen on {host}:{port}: {why}", file=sys.stderr)
            return 2

        write_line(f"AAE tracking collector listening on {collector.url}")
        write_line(f"  api_base_url to configure: {collector.url}")
        write_line(f"  events endpoint:           POST {collector.events_url}")
        if jsonl_path:
            write_line(f"  appending events to:       {jsonl_path}")
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
