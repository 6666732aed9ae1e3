"""The settings of ``inject`` and ``csp-hashes``: a TOML ``--config`` file, overridden by flags."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from aae_tracking_plugins.cli.output import UsageError, os_error
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.values import ConfigError

#: The table that holds the settings in a ``--config`` file (they may also be top-level keys).
CONFIG_TABLE = "aae_tracking"
#: Settings that are lists of rules or links: only a ``--config`` file can hold them.
FILE_ONLY_SETTINGS = ("events", "checkout_links")
#: Setting name -> the ``inject`` flag that sets it.
FLAGS = {
    name: "--" + name.replace("_", "-") for name in SETTING_NAMES if name not in FILE_ONLY_SETTINGS
}


def _toml_loads() -> Callable[[str], dict[str, Any]]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:  # Python 3.10: the tomllib backport
        module = importlib.import_module("tomli")
    except ModuleNotFoundError:
        raise UsageError(
            "--config needs a TOML parser on Python 3.10: install it with 'pip install tomli'"
        ) from None
    loads: Callable[[str], dict[str, Any]] = module.loads
    return loads


def _settings_table(path: str, document: dict[str, Any]) -> dict[str, object]:
    """The ``[aae_tracking]`` table of a document that has one (never both layouts)."""
    table = document[CONFIG_TABLE]
    if not isinstance(table, dict):
        raise UsageError(
            f"{path}: {CONFIG_TABLE}: must be a table ([{CONFIG_TABLE}]) holding the settings, "
            f"got {type(table).__name__}"
        )
    for key in SETTING_NAMES:
        if key in document and key in table:
            raise UsageError(
                f"{path}: {key}: set both at the top level and in [{CONFIG_TABLE}]; keep one"
            )
        if key in document:
            raise UsageError(
                f"{path}: {key}: set at the top level, but this file has an [{CONFIG_TABLE}] "
                f"table, which is where the settings are read from: move {key} into it"
            )
    return dict(table)


def read_config_file(path: str) -> dict[str, object]:
    """The settings in a TOML file: top-level keys, or the keys of its ``[aae_tracking]`` table.

    Args:
        path: the file, as given to ``--config``.

    Returns:
        Setting name -> value as TOML gives it (not validated here).

    Raises:
        UsageError: the file cannot be read, is not UTF-8 or not TOML, has a non-table
            ``aae_tracking`` key, or mixes top-level settings with the table; on Python 3.10
            without ``tomli``.
    """
    loads = _toml_loads()
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read it: {os_error(exc)}") from None
    try:
        document = loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not a TOML file: it is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    if CONFIG_TABLE not in document:
        return dict(document)
    return _settings_table(path, document)


def tracking_config(flags: Mapping[str, object], config_file: str | None = None) -> TrackingConfig:
    """Settings from the config file, overridden by the command-line flags that were given.

    Args:
        flags: setting name -> flag value (``None``: flag not given).
        config_file: the ``--config`` path, if any.

    Returns:
        The validated settings (validation is :class:`TrackingConfig`'s).

    Raises:
        UsageError: one line naming the flag or ``FILE: key`` the bad value came from (for a
            rule or link of the file, the entry: ``tracking.toml: events[1].selector``), or a
            problem of the file itself (see :func:`read_config_file`).
    """
    settings: dict[str, object] = {}
    flagged: dict[str, str] = {}  # setting -> the flag that gave it
    if config_file is not None:
        settings = read_config_file(config_file)
    for key, value in flags.items():
        if value is not None:
            settings[key] = value
            flagged[key] = FLAGS.get(key, key)
    try:
        return TrackingConfig.from_mapping(settings)
    except ConfigError as exc:
        message = str(exc).split(": ", 1)[1]
        # An error about an entry (``events[2].selector``) is about its setting (``events``).
        key = exc.setting if exc.setting in settings else re.split(r"[\[.]", exc.setting)[0]
        if key in flagged:
            where = flagged[key]
        elif key in settings:  # from the file: name the setting, or the entry in it
            where = f"{config_file}: {exc.setting}"
        else:  # a required setting given nowhere
            where = FLAGS.get(exc.setting, exc.setting)
            message += f" (pass {where}, or set {exc.setting} in a --config file)"
        raise UsageError(f"{where}: {message}") from None
