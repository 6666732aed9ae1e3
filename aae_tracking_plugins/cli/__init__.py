"""``aae-tracking``: track any already-built static site, and check that it is tracked.

``aae-tracking inject SITE_DIR ...`` inserts the tracker into every ``*.html``/``*.htm`` file under
``SITE_DIR`` (the output of Hugo, Jekyll, Eleventy, Sphinx, or hand-written pages) with the same
engine the MkDocs and Pelican plugins use: every original byte is kept, the page's own encoding
is kept, and pages the engine does not understand are left exactly as they were, with a warning.
``*.xhtml`` pages go through the XML route (:mod:`aae_tracking_plugins.core.engine.xhtml`), and
precompressed copies (``index.html.gz``, ``.br``, ``.zst``) are rewritten from the new page.

``aae-tracking check SITE_DIR`` reports, per page, whether it carries exactly one tracker, and
exits with status 1 when a page is untracked, tracked twice, or cannot be tracked: a CI gate.

Exit status: 0 success, 1 a problem with the site (a file could not be read or written, or
``check`` found untracked pages), 2 a usage error (bad option, bad config file, no such directory).
Every user error is one line on stderr; there is no traceback for anything the user can fix.

The commands are built on click: :mod:`.options` (arguments and options, each defined once),
:mod:`.config_file` (``--config``), :mod:`.site_files` (which files are pages), :mod:`.pool`
(worker processes and progress), :mod:`.inject_cmd`/:mod:`.inject_work`,
:mod:`.check_cmd`/:mod:`.check_work`, :mod:`.csp_cmd` and :mod:`.precompressed`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from aae_tracking_plugins.cli.check_cmd import check_command, check_summary
from aae_tracking_plugins.cli.check_work import CheckContext, check_context, check_file, check_pages
from aae_tracking_plugins.cli.config_file import read_config_file, tracking_config
from aae_tracking_plugins.cli.csp_cmd import csp_hashes_command
from aae_tracking_plugins.cli.inject_cmd import inject_command, inject_summary
from aae_tracking_plugins.cli.inject_work import InjectOutcome, inject_file, inject_pages
from aae_tracking_plugins.cli.options import PlainUsageError, RawEpilog, verbatim
from aae_tracking_plugins.cli.output import PROG, UsageError, one_line
from aae_tracking_plugins.cli.pool import PARALLEL_THRESHOLD, Progress, process_pages
from aae_tracking_plugins.cli.site_files import SiteFiles, find_site_files
from aae_tracking_plugins.core.audit import (
    DUPLICATE,
    ERROR,
    LEFT_ALONE,
    NOT_PAGE,
    OUTDATED,
    TRACKED,
    UNTRACKED,
    PageReport,
)
from aae_tracking_plugins.core.version import __version__

__all__ = [
    "DUPLICATE",
    "ERROR",
    "LEFT_ALONE",
    "NOT_PAGE",
    "OUTDATED",
    "PARALLEL_THRESHOLD",
    "PROG",
    "TRACKED",
    "UNTRACKED",
    "CheckContext",
    "InjectOutcome",
    "PageReport",
    "Progress",
    "SiteFiles",
    "UsageError",
    "__version__",
    "check_context",
    "check_file",
    "check_pages",
    "check_summary",
    "cli",
    "find_site_files",
    "inject_file",
    "inject_pages",
    "inject_summary",
    "main",
    "process_pages",
    "read_config_file",
    "tracking_config",
]

DESCRIPTION = """\
Add first-party AAE tracking to an already-built static site (Hugo, Jekyll,
Eleventy, Sphinx, hand-written HTML), and check that it is there."""

EPILOG = """\
examples:
  aae-tracking inject public --landing-page-id lp_spring_desk \\
      --campaign-id camp_spring_2026 --api-base-url https://api.aae.com
  aae-tracking check public --ignore 'privacy/*'

Run 'aae-tracking COMMAND --help' for the options of a command.
Exit status: 0 ok, 1 a file could not be read/written or check found problems, 2 usage error.
"""


#: The entry point group of commands that live outside this package: the collector's ``collect``
#: (the import contract keeps the CLI and the collector apart; docs/architecture.md).
COMMANDS_GROUP = "aae_tracking_plugins.commands"


@functools.cache
def _other_commands() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=COMMANDS_GROUP)}


class _Group(RawEpilog, click.Group):
    """The ``aae-tracking`` command group: an unknown command is a one-line usage error.

    Besides its own commands it offers those of the :data:`COMMANDS_GROUP` entry points,
    loaded when first asked for."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        entry = _other_commands().get(name)
        if command is None and entry is not None:
            try:
                command = entry.load()
            except Exception as exc:  # a broken install: say which command, not a traceback
                raise click.ClickException(f"command {name!r} cannot be loaded: {exc}") from exc
            self.add_command(command, name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if self.get_command(ctx, name) is None and not name.startswith("-"):
            choices = ", ".join(repr(command) for command in self.list_commands(ctx))
            raise click.UsageError(
                f"argument COMMAND: invalid choice: {name!r} (choose from {choices})", ctx
            )
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        # In the order they were added, not sorted; then the entry points' commands.
        return [*self.commands, *(name for name in _other_commands() if name not in self.commands)]


@click.group(
    PROG,
    cls=_Group,
    help=verbatim(DESCRIPTION),
    epilog=EPILOG,
    invoke_without_command=True,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The group callback: a command is required."""
    if ctx.invoked_subcommand is None:
        raise click.UsageError("the following arguments are required: COMMAND", ctx)


cli.add_command(inject_command)
cli.add_command(check_command)
cli.add_command(csp_hashes_command)


def _usage_message(exc: click.UsageError) -> str:
    """A click usage error in the words scripts and users know from this tool."""
    if isinstance(exc, PlainUsageError):
        return exc.message
    param: Any = getattr(exc, "param", None)
    if isinstance(exc, click.MissingParameter) and param is not None:
        message = f"the following arguments are required: {param.human_readable_name}"
    elif isinstance(exc, click.NoSuchOption):
        message = f"unrecognized arguments: {exc.option_name}"
        if exc.possibilities:
            message += f" (did you mean {' or '.join(sorted(exc.possibilities))}?)"
    elif isinstance(exc, click.BadParameter) and param is not None:
        name = (
            "/".join(param.opts) if isinstance(param, click.Option) else param.human_readable_name
        )
        message = f"argument {name}: {exc.message}"
    else:  # click's sentence, in this tool's style: "option '--jobs' requires an argument"
        message = exc.message[:1].lower() + exc.message[1:].rstrip(".")
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


def _error(message: str) -> int:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    0 success, 1 a problem with the site, 2 a usage error (one line on stderr), 130 interrupted.
    """
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.UsageError as exc:
        return _error(_usage_message(exc))
    except click.ClickException as exc:
        print(f"{PROG}: error: {one_line(exc.format_message())}", file=sys.stderr)
        return exc.exit_code
    except UsageError as exc:
        return _error(str(exc))
    except click.Abort:  # click printed a line break already
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `aae-tracking check site | head`
        # Point stdout at /dev/null so that flushing it at exit cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except SystemExit as exc:  # click's own exit on a broken pipe
        return exc.code if isinstance(exc.code, int) else 1
    return result if isinstance(result, int) else 0
