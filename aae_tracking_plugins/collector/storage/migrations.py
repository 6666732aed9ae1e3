"""Versioned schema migrations: numbered SQL files and a version table.

Each dialect has its folder, ``aae_tracking_plugins/collector/migrations/<dialect>/``, of files
named ``NNNN_what.sql`` (``0001_events.sql``, ``0002_...``), numbered from 1 without gaps. A
database records the ones applied in the table ``aae_schema_migrations`` (``version``, ``name``,
``applied_at``). When a store opens, every file above the recorded version is applied in order,
each in one transaction with its row in that table, under a lock that makes a second process
starting at the same moment wait and then find nothing to do (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``pg_advisory_xact_lock``). A database already at a version this code does not know
(a newer collector migrated it) is refused rather than written to.

Migrations are only ever added: a released file is never edited (docs/collector.md,
"Migrations").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from aae_tracking_plugins.collector.storage.base import StorageError

__all__ = ["VERSION_TABLE", "Migration", "available", "latest_version", "pending"]

#: The table that records which migrations a database has.
VERSION_TABLE: Final = "aae_schema_migrations"
_NAME = re.compile(r"([0-9]{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    """One migration: ``version`` (its number), ``name`` (the file name) and ``sql``."""

    version: int
    name: str
    sql: str


@cache
def available(dialect: str) -> tuple[Migration, ...]:
    """The migrations shipped for ``dialect`` (``"sqlite"`` or ``"postgresql"``), in order.

    Raises ``ValueError`` for a file name that is not ``NNNN_name.sql`` or numbers that do not
    run 1, 2, 3... (a packaging mistake, caught by the tests).
    """
    folder = (
        resources.files("aae_tracking_plugins.collector").joinpath("migrations").joinpath(dialect)
    )
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.fullmatch(entry.name)
        if match is None:
            raise ValueError(f"migration file name not NNNN_name.sql: {dialect}/{entry.name}")
        found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda migration: migration.version)
    numbers = [migration.version for migration in found]
    if numbers != list(range(1, len(found) + 1)):
        raise ValueError(f"{dialect} migrations are not numbered 1, 2, 3...: {numbers}")
    return tuple(found)


def latest_version(dialect: str) -> int:
    """The version a database of ``dialect`` has once migrated (0 without migrations)."""
    return len(available(dialect))


def pending(dialect: str, applied: Iterable[int], where: str) -> list[Migration]:
    """The migrations a database still needs, given the versions it recorded.

    Inputs: the dialect; the versions in its version table; ``where`` names the database in
    messages. Raises :class:`StorageError` when the database records a version this code
    does not have (it was migrated by a newer release).
    """
    done = set(applied)
    known = available(dialect)
    newer = sorted(version for version in done if version > len(known))
    if newer:
        raise StorageError(
            f"{where} has schema version {newer[-1]}, newer than this collector knows "
            f"({len(known)}): upgrade aae-tracking-plugins"
        )
    return [migration for migration in known if migration.version not in done]
