"""The command line's arguments and options, each defined once, and how click validates them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


class PlainUsageError(click.BadParameter):
    """A bad value whose message names it already: printed as it is, without the option name
    and the ``--help`` hint (``SITE_DIR 'public' does not exist (build the site first?)``)."""


class SiteDirectory(click.types.StringParamType):
    """An existing directory (the built site)."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """``value`` as a path; raises :class:`PlainUsageError` when it is no directory."""
        path: str = os.fspath(value)
        if not os.path.exists(path):
            raise PlainUsageError(
                f"SITE_DIR {path!r} does not exist (build the site first?)", ctx, param
            )
        if not os.path.isdir(path):
            raise PlainUsageError(f"SITE_DIR {path!r} is not a directory", ctx, param)
        return path


class WholeNumber(click.IntRange):
    """An integer of at least ``minimum``, with the message ``must be a whole number >= 1``."""

    def __init__(self, minimum: int) -> None:
        super().__init__(min=minimum)
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """``value`` as an int; raises ``click.BadParameter`` for text or a smaller number."""
        try:
            number: int = super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"must be a whole number >= {self.minimum}, got {value!r}", param, ctx)
        return number


class RawEpilog:
    """Print the epilog as written, from the first column (its examples are meant to be copied:
    the config file example is valid TOML as it stands)."""

    epilog: str | None

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write_paragraph()
            formatter.write(self.epilog.rstrip("\n") + "\n")


class Command(RawEpilog, click.Command):
    """A command that reports leftover arguments as ``unrecognized arguments: ...``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {})["allow_extra_args"] = True
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        if ctx.args:
            raise click.UsageError(f"unrecognized arguments: {' '.join(ctx.args)}", ctx)
        return rest


def verbatim(text: str) -> str:
    """Help text that click prints as written (each paragraph marked ``\\b``: not rewrapped)."""
    return "\n\n".join("\b\n" + paragraph for paragraph in text.strip("\n").split("\n\n"))


def site_dir_argument() -> Decorator[Any]:
    """``SITE_DIR``: the built site (inject, check)."""
    return click.argument("site_dir", metavar="SITE_DIR", type=SiteDirectory())


def jobs_option() -> Decorator[Any]:
    """``--jobs N``/``-j N`` (inject, check)."""
    return click.option(
        "--jobs",
        "-j",
        metavar="N",
        type=WholeNumber(1),
        help="worker processes for large sites (default: the number of CPUs; 1 = no workers)",
    )


def quiet_option(help_text: str) -> Decorator[Any]:
    """``--quiet``/``-q`` (inject, check: what it silences differs)."""
    return click.option("--quiet", "-q", is_flag=True, help=help_text)


def config_option(help_text: str) -> Decorator[Any]:
    """``--config FILE`` (inject, csp-hashes: what is read differs)."""
    return click.option("--config", metavar="FILE", help=help_text)


class _Switch(click.Option):
    """An on/off option whose help lists ``--NAME, --no-NAME`` (as the tool always did)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        return None if record is None else (record[0].replace(" / ", ", "), record[1])


def switch(name: str, help_text: str) -> Decorator[Any]:
    """``--NAME/--no-NAME``, ``None`` when neither is given (a config file's value stands)."""
    return click.option(f"--{name}/--no-{name}", cls=_Switch, default=None, help=help_text)


def value_option(name: str, metavar: str, help_text: str) -> Decorator[Any]:
    """``--NAME VALUE``, ``None`` when not given."""
    return click.option(f"--{name}", metavar=metavar, help=help_text)


def batch_option(help_text: str) -> Decorator[Any]:
    """``--[no-]batch`` (inject, csp-hashes)."""
    return switch("batch", help_text)


def pixel_option(help_text: str) -> Decorator[Any]:
    """``--facebook-pixel-id ID`` (inject, csp-hashes)."""
    return value_option("facebook-pixel-id", "ID", help_text)


def web_vitals_option(help_text: str) -> Decorator[Any]:
    """``--[no-]web-vitals`` (inject, csp-hashes)."""
    return switch("web-vitals", help_text)
