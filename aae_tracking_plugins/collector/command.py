"""``aae-tracking collect``: the stored collector on this machine, one line per event as it arrives.

The command lives here, not in :mod:`aae_tracking_plugins.cli`: the import contract keeps the
CLI and the collector apart, so the ``aae-tracking`` group finds it through the entry point
group ``aae_tracking_plugins.commands`` (pyproject.toml; docs/architecture.md). It imports
FastAPI and uvicorn only when it runs: without the ``collector`` extra it says what to install.

Exit status: 0 after Ctrl-C or SIGTERM; 1 when the database cannot be opened; 2 for a usage
error or an address that cannot be bound. Every error is one line.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from aae_tracking_plugins.collector.server import CollectorServer
    from aae_tracking_plugins.collector.service import CollectorConfig, EventService

__all__ = ["collect_command"]

_EPILOG = """\
examples:
  aae-tracking collect
  aae-tracking collect --port 8787 --database postgresql://aae@db.internal/aae \\
      --allow-origin https://shop.example --allow-origin https://offers.shop.example

The database is created and migrated on first use. Environment: AAE_COLLECTOR_DATABASE,
AAE_COLLECTOR_ALLOW_ORIGINS, AAE_COLLECTOR_READ_TOKEN (reads from other machines need it),
AAE_COLLECTOR_WRITE_TOKEN (server-sent events), AAE_COLLECTOR_TRUST_PROXY; forwarding to
Meta's Conversions API: AAE_CAPI_PIXEL_ID, AAE_CAPI_ACCESS_TOKEN (only there),
AAE_CAPI_GRAPH_URL, AAE_CAPI_API_VERSION, AAE_CAPI_TEST_EVENT_CODE.
"""


class _Exit(click.ClickException):
    """A one-line error with exit status 2 (usage, address); a plain ClickException is 1."""

    exit_code = 2


class _Command(click.Command):
    """Prints its epilog as written (the examples are meant to be copied), like the CLI's."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write_paragraph()
            formatter.write(self.epilog.rstrip("\n") + "\n")


@click.command(
    "collect",
    cls=_Command,
    help="Receive tracking events, store them de-duplicated by event_id in SQLite or "
    "PostgreSQL, and print one line per event as it arrives (docs/collector.md).",
    short_help="run the stored collector (FastAPI, SQLite or PostgreSQL)",
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    metavar="PORT",
    help="port to listen on, 0 for any free one (default 8787)",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname (default "
    "sqlite:///aae-events.db, in the current folder)",
)
@click.option(
    "--allow-origin",
    "origins",
    metavar="ORIGIN",
    multiple=True,
    help="a site origin whose pages may send events, e.g. https://shop.example; repeat for "
    "more, '*' for any (default: any loopback origin)",
)
@click.option(
    "--capi-pixel-id",
    metavar="ID",
    help="forward standard events to Meta's Conversions API for this Pixel id (the access "
    "token comes from AAE_CAPI_ACCESS_TOKEN only; default AAE_CAPI_PIXEL_ID)",
)
@click.option("--quiet", is_flag=True, help="do not print a line per event")
def collect_command(
    host: str,
    port: int,
    database_url: str | None,
    origins: tuple[str, ...],
    capi_pixel_id: str | None,
    quiet: bool,
) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the exit status (see the module docstring)."""
    try:
        from aae_tracking_plugins.collector.server import CollectorServer, create_app
        from aae_tracking_plugins.collector.service import CollectorConfig
        from aae_tracking_plugins.collector.storage import DatabaseURLError, StorageError
    except ImportError as exc:
        raise _Exit(
            f"collect needs the collector extra ({exc.name} is missing): "
            "pip install 'aae-tracking-plugins[collector]'"
        ) from None
    config = _config(CollectorConfig, database_url, origins, quiet, capi_pixel_id)
    try:
        app = create_app(config)
    except DatabaseURLError as exc:
        raise _Exit(f"argument --database: {exc}") from None
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    service: EventService = app.state.service
    try:
        server = CollectorServer(app, host, port)
    except OSError as exc:
        service.store.close()
        raise _Exit(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    with _quiet_signals(server.request_exit):
        _banner(server, config)
        server.serve()
    click.echo(
        f"stopped; {service.stored} event(s) stored, {service.duplicates} duplicate(s) not stored"
    )
    return 0


def _config(
    config_class: type[CollectorConfig],
    database_url: str | None,
    origins: tuple[str, ...],
    quiet: bool,
    capi_pixel_id: str | None = None,
) -> CollectorConfig:
    overrides: dict[str, Any] = {"echo": None if quiet else _line_writer()}
    if capi_pixel_id is not None:
        overrides["capi_pixel_id"] = capi_pixel_id
    if database_url is not None:
        overrides["database_url"] = database_url
    if origins:
        from aae_tracking_plugins.collector.access import OriginPolicy

        try:
            OriginPolicy.of(origins)
        except ValueError as exc:
            raise _Exit(f"argument --allow-origin: {exc}") from None
        overrides["allowed_origins"] = origins
    try:
        return config_class.from_environment(**overrides)
    except ValueError as exc:
        message = str(exc)
        if not origins and message.startswith(("not an origin", "an origin has no")):
            # normalize_origin's text: here it can only be the environment's origins
            message = f"AAE_COLLECTOR_ALLOW_ORIGINS: {message}"
        raise _Exit(message) from None


def _line_writer() -> Callable[[str], None]:
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="backslashreplace", line_buffering=True)

    def write(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return write


def _banner(server: CollectorServer, config: CollectorConfig) -> None:
    from aae_tracking_plugins.collector.storage import redact

    reads = "with the read token" if config.read_token else "from this machine only"
    for line in (
        f"AAE tracking collector listening on {server.url}",
        f"  api_base_url to configure: {server.url}",
        f"  events endpoint:           POST {server.events_url}",
        f"  stored events:             GET {server.events_url} ({reads})",
        f"  dashboard:                 {server.url}/ ({reads}{_token_hint(config)})",
        f"  database:                  {redact(config.database_url)}",
        f"  allowed origins:           {config.origin_policy().describe()}",
        f"  server-sent events:        {'on (write token)' if config.write_token else 'off'}",
        f"  Conversions API:           {_capi_line(config)}",
        "  Press Ctrl-C to stop.",
    ):
        click.echo(line)


def _token_hint(config: CollectorConfig) -> str:
    # The token itself is a secret: never printed, only where to put it.
    return ": open it once with ?token=<read token>" if config.read_token else ""


def _capi_line(config: CollectorConfig) -> str:
    capi = config.capi
    if capi is None:
        return "off"
    test = f", test_event_code {capi.test_event_code}" if capi.test_event_code else ""
    return f"Pixel {capi.pixel_id} via {capi.endpoint}{test}"


@contextmanager
def _quiet_signals(request_exit: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM end uvicorn's loop (its own handlers), which then raises the signal
    again for its caller: here, a handler that only asks the server to exit, so both end as
    cleanly. It also catches a signal that arrives before uvicorn installs its handlers (once
    the banner is out, a supervisor may stop the collector at once): the server then exits as
    soon as it has started, instead of the signal being lost."""

    def ignore(signum: int, frame: FrameType | None) -> None:
        request_exit()

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread (uvicorn sets none either)
        return
    previous = {sig: signal.signal(sig, ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
