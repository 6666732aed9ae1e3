"""A throwaway PostgreSQL server for the collector tests: Debian's ``postgresql`` binaries, a new
cluster in a temporary folder, a free loopback port, trust authentication, no fsync.

``initdb`` and ``postgres`` refuse to run as root (CI runs as root), so as root they run as the
``postgres`` user the Debian package creates (or ``nobody``) through ``setpriv``; the cluster's
folder is made in ``/tmp`` (pytest's own temporary folders are private to root) and given to
that user. ``scripts/setup.sh`` installs the package.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

__all__ = ["PostgresCluster", "postgres_bin"]

SUPERUSER = "aae"


def postgres_bin() -> Path:
    """The folder of the newest installed PostgreSQL's programs; raises ``RuntimeError`` (with
    what to do) when there is none."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if not found:
        raise RuntimeError("no PostgreSQL under /usr/lib/postgresql: run `make setup` as root")
    return Path(found[-1]).parent


def _run_as() -> tuple[list[str], int | None, int | None]:
    """The command prefix that drops root, and the uid/gid the cluster's files need."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        return prefix, user.pw_uid, user.pw_gid
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """A PostgreSQL server of its own: :meth:`start`, :meth:`url`, :meth:`new_database`,
    :meth:`stop` (also as a context manager); :meth:`start` again after :meth:`stop` brings
    the same cluster back on the same port. Everything is removed by :meth:`remove`."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="aae-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._prefix, uid, gid = _run_as()
        if uid is not None and gid is not None:
            os.chown(self.root, uid, gid)
        self._initdb()

    def _initdb(self) -> None:
        command = [
            *self._prefix, str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = 30.0) -> PostgresCluster:
        """Start the server and wait until it accepts connections (``RuntimeError`` if not,
        or if it runs already)."""
        if self.process is not None:
            raise RuntimeError("this PostgreSQL server runs already")
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the server writes it
        command = [
            *self._prefix, str(self.bin / "postgres"), "-D", str(self.data),
            "-p", str(self.port), "-k", str(self.root), "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start:\n{tail}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected); returns when it has stopped."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def remove(self) -> None:
        """Stop and delete the cluster's folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """``postgresql://aae@127.0.0.1:PORT/<database>``."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; return its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database :meth:`new_database` made (its connections are ended first)."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def __enter__(self) -> PostgresCluster:
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()
