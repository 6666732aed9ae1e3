"""Where the stored collector keeps its events: :func:`open_store` and the interface it returns.

``sqlite:///events.db`` (a file relative to the current folder), ``sqlite:////var/lib/aae/events.db``
(an absolute path: four slashes) or ``postgresql://user:password@host:5432/dbname`` (libpq's URL,
``postgres://`` too). The interface and its errors are in :mod:`.base`, the implementations in
:mod:`.sqlite` and :mod:`.postgres` (imported when used: the PostgreSQL driver only for a
``postgresql://`` URL), the migrations in :mod:`.migrations`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from aae_tracking_plugins.collector.storage.base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    DatabaseURLError,
    EventQuery,
    EventRow,
    EventStore,
    StorageError,
    StorageUnavailable,
    StoredEvent,
    redact,
)
from aae_tracking_plugins.collector.storage.funnel import FunnelQuery, FunnelRow

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "DatabaseURLError",
    "EventQuery",
    "EventRow",
    "EventStore",
    "FunnelQuery",
    "FunnelRow",
    "StorageError",
    "StorageUnavailable",
    "StoredEvent",
    "open_store",
    "redact",
    "sqlite_path",
]

#: The database of ``aae-tracking collect`` without ``--database``: a file in the current folder.
DEFAULT_DATABASE_URL: Final = "sqlite:///aae-events.db"
_FORMS = "sqlite:///path/to/events.db or postgresql://user@host:5432/dbname"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL (``sqlite:///rel.db``, ``sqlite:////abs.db``).

    Raises :class:`DatabaseURLError` for ``:memory:`` (nothing would survive a restart), for
    a URL with a host (``sqlite://host/x``), nothing after the slashes, a NUL (``%00``: no file
    name holds one), or that cannot be parsed, and for one slash (``sqlite:/x.db``: relative or
    absolute? SQLAlchemy's form, which we follow, has three).
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": an unclosed "["
        raise DatabaseURLError(f"invalid database URL ({exc}): use {_FORMS}") from None
    if not url.partition(":")[2].startswith("//"):
        raise DatabaseURLError(
            f"invalid SQLite URL {url!r}: three slashes for a relative file, four for an"
            " absolute one (sqlite:///events.db, sqlite:////var/lib/aae/events.db)"
        )
    path = unquote(parts.path)
    if parts.netloc or not path.startswith("/") or len(path) < 2 or "\x00" in path:
        raise DatabaseURLError(f"invalid SQLite URL {url!r}: use {_FORMS}")
    if path[1:] == ":memory:":
        raise DatabaseURLError("an in-memory SQLite database keeps nothing: give a file")
    return Path(path[1:])


def open_store(url: str, **options: float) -> EventStore:
    """Open (creating and migrating as needed) the database at ``url``.

    Inputs: a URL of the forms in the module docstring; ``options`` for the implementation
    (SQLite: ``busy_timeout``; PostgreSQL: ``pool_size``, ``pool_timeout``,
    ``connect_timeout``). Output: a ready :class:`EventStore`. Raises :class:`DatabaseURLError`
    for a URL of another form or one that cannot be parsed, :class:`StorageUnavailable` for
    a database that cannot be reached now, :class:`StorageError` for one that cannot be used.
    """
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # "Invalid IPv6 URL": an unclosed "["; the URL may hold a password
        raise DatabaseURLError(f"invalid database URL ({exc}): use {_FORMS}") from None
    if scheme == "sqlite":
        from aae_tracking_plugins.collector.storage.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), **options)
    if scheme in ("postgresql", "postgres"):
        from aae_tracking_plugins.collector.storage.postgres import PostgresStore

        return PostgresStore(url, **{key: value for key, value in options.items()})  # type: ignore[arg-type]
    if not scheme and "=" in url:  # libpq's "host=... password=..." form: never echoed
        raise DatabaseURLError(
            "a key=value connection string is not taken (it may hold a password, so it is"
            " not repeated here): write it as postgresql://user@host:5432/dbname, with the"
            " password in PGPASSWORD or ~/.pgpass"
        )
    hint = f" (did you mean sqlite:///{url}?)" if not scheme and url else ""
    raise DatabaseURLError(f"unsupported database URL {redact(url)!r}: use {_FORMS}{hint}")
