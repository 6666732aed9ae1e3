"""``aae-tracking collect`` as a user runs it: the banner, one line per event, a database that
survives a restart, the environment variables, and one-line errors with their exit status."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collector_helpers import AAE_TRACKING, CollectorProcess, listing, post
from tests.events import make_event
from tests.postgres_cluster import PostgresCluster


def run(
    *arguments: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``aae-tracking ARGUMENTS``, with this environment less its collector and Conversions API
    settings, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AAE_COLLECTOR_", "AAE_CAPI"))}
    return subprocess.run(
        [str(AAE_TRACKING), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={**base, **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a run that failed with a usage error (2) in one line and printed nothing."""
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_collect_is_a_command_of_aae_tracking() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "collect     run the stored collector" in result.stdout
    assert "--allow-origin ORIGIN" in run("collect", "--help").stdout


def test_it_prints_each_event_and_keeps_them_across_a_restart(tmp_path: Path) -> None:
    event = make_event("Purchase")
    with CollectorProcess(env={}, cwd=tmp_path) as collector:
        assert post(collector.url, event).status == 200
        assert post(collector.url, event).json() == {"accepted": 0, "duplicates": 1}
        assert post(collector.url, {"not": "an event"}).status == 422
        status, out, err = collector.stop()
    assert (status, err) == (0, "")
    assert (tmp_path / "aae-events.db").is_file()  # the default: a file in the current folder
    lines = [line.strip() for line in [*collector.banner, *out.splitlines()]]
    assert "database:                  sqlite:///aae-events.db" in lines
    assert f"dashboard:                 {collector.url}/ (from this machine only)" in lines
    assert (
        "allowed origins:           any loopback origin (add a site with --allow-origin)" in lines
    )
    (stored,) = [line for line in lines if "Purchase" in line and "duplicate" not in line]
    assert "lp_123 / camp_456  sess_1732960800000_abc123def4  value=49.99" in stored
    assert any(line.endswith("(duplicate, not stored)") for line in lines)
    assert any("refused 422 invalid event: event_type is required" in line for line in lines)
    assert lines[-1] == "stopped; 1 event(s) stored, 1 duplicate(s) not stored"
    with CollectorProcess("--quiet", cwd=tmp_path) as again:
        assert [item["event"] for item in listing(again.url).json()] == [event]
        again.process.send_signal(signal.SIGINT)  # Ctrl-C ends it as cleanly
        assert again.stop()[0] == 0


def test_the_environment_configures_database_origins_and_read_token(tmp_path: Path) -> None:
    env = {
        "AAE_COLLECTOR_DATABASE": f"sqlite:///{tmp_path / 'env.db'}",
        "AAE_COLLECTOR_ALLOW_ORIGINS": "https://a.example, https://b.example",
        "AAE_COLLECTOR_READ_TOKEN": "t0ken",
    }
    with CollectorProcess("--quiet", env=env) as collector:
        dashboard = [line.strip() for line in collector.banner if "dashboard:" in line]
        assert dashboard == [
            f"dashboard:                 {collector.url}/"
            " (with the read token: open it once with ?token=<read token>)"
        ]
        assert "t0ken" not in "\n".join(collector.banner)
        headers = {"Origin": "https://b.example"}
        assert post(collector.url, make_event(), headers=headers).status == 200
        assert (
            post(collector.url, make_event(), headers={"Origin": "http://localhost"}).status == 403
        )
        assert listing(collector.url).status == 401
        assert listing(collector.url, headers={"Authorization": "Bearer t0ken"}).status == 200
        collector.stop()
    assert (tmp_path / "env.db").is_file()


def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run("collect", "--port", port, "--database", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 2
    assert result.stderr == (
        f"aae-tracking: error: cannot listen on 127.0.0.1:{port}: address already in use "
        "(another collector running? try --port 0)\n"
    )


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["--database", "events.db"], 2, "argument --database: unsupported database URL "
         "'events.db': use sqlite:///path/to/events.db or postgresql://user@host:5432/dbname "
         "(did you mean sqlite:///events.db?)"),
        (["--database", "sqlite:///no/such/folder/x.db"], 1, "cannot create "
         "sqlite:///no/such/folder/x.db: no folder 'no/such/folder' (create it first)"),
        (["--allow-origin", "shop.example"], 2, "argument --allow-origin: not an origin: "
         "'shop.example' (expected like https://shop.example)"),
        (["--port", "70000"], 2, "argument --port: 70000 is not in the range 0<=x<=65535"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_errors(
    tmp_path: Path, arguments: list[str], status: int, message: str
) -> None:
    result = run("collect", *arguments, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (status, "")
    assert result.stderr.startswith(f"aae-tracking: error: {message}")
    assert result.stderr.count("\n") == 1


def test_an_unreachable_postgresql_is_a_one_line_error_at_once() -> None:
    cluster = PostgresCluster()  # made, never started: nothing listens on its port
    try:
        result = run("collect", "--database", cluster.url())
    finally:
        cluster.remove()
    assert result.returncode == 1
    assert result.stderr.startswith(f"aae-tracking: error: cannot connect to {cluster.url()}: ")
    assert "Connection refused" in result.stderr
    assert result.stderr.count("\n") == 1


def test_uvicorn_serves_the_factory_configured_by_the_environment(tmp_path: Path) -> None:
    """What docs/collector.md shows for several workers: uvicorn --factory ... (one here)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AAE_COLLECTOR_")},
        "AAE_COLLECTOR_DATABASE": f"sqlite:///{tmp_path / 'uv.db'}",
    }
    factory = "aae_tracking_plugins.collector.server:app_from_environment"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                break
        else:
            raise AssertionError("uvicorn did not start")
        assert post(found.group(1), make_event()).json() == {"accepted": 1, "duplicates": 0}
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGTERM  # uvicorn stops, then re-raises the signal
    assert (tmp_path / "uv.db").is_file()


# A bad setting's one-line error names the setting it came from. ``collect`` labelled every
# configuration error whose text held the word "origin" as ``argument --allow-origin``: a bad
# ``AAE_COLLECTOR_ALLOW_ORIGINS`` (not an argument at all) and even a bad
# ``AAE_CAPI_GRAPH_URL`` whose host had "origin" in its name.


def test_a_bad_origin_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    env = {"AAE_COLLECTOR_ALLOW_ORIGINS": "shop.example"}
    err = one_line_error(run("collect", "--port", "0", cwd=tmp_path, env=env))
    assert err.startswith("aae-tracking: error: AAE_COLLECTOR_ALLOW_ORIGINS: not an origin:")


def test_a_bad_origin_argument_still_names_the_argument(tmp_path: Path) -> None:
    env = {"AAE_COLLECTOR_ALLOW_ORIGINS": "https://ok.example"}
    arguments = ("collect", "--port", "0", "--allow-origin", "shop.example")
    err = one_line_error(run(*arguments, cwd=tmp_path, env=env))
    assert err.startswith("aae-tracking: error: argument --allow-origin: not an origin:")


def test_a_graph_url_error_is_not_labelled_as_an_origin(tmp_path: Path) -> None:
    env = {
        "AAE_CAPI_PIXEL_ID": "123",
        "AAE_CAPI_ACCESS_TOKEN": "t0ken",
        "AAE_CAPI_GRAPH_URL": "ftp://origin.example",
    }
    err = one_line_error(run("collect", "--port", "0", cwd=tmp_path, env=env))
    assert err.startswith("aae-tracking: error: AAE_CAPI_GRAPH_URL must be an http(s) URL")


def test_a_trust_proxy_value_that_is_neither_yes_nor_no_is_one_line(tmp_path: Path) -> None:
    """Before, ``AAE_COLLECTOR_TRUST_PROXY=enabled`` silently meant off and it served."""
    env = {"AAE_COLLECTOR_TRUST_PROXY": "enabled"}
    err = one_line_error(run("collect", "--port", "0", cwd=tmp_path, env=env))
    assert err.startswith("aae-tracking: error: AAE_COLLECTOR_TRUST_PROXY must be")


@pytest.mark.parametrize(
    "url", ["postgresql://aae:s3cret@[db.internal/aae", "sqlite://[x/e.db", "sqlite:///a%00b.db"]
)
def test_an_unsplittable_database_url_is_a_one_line_error(tmp_path: Path, url: str) -> None:
    """A URL ``urllib`` cannot even split (an unclosed ``[``), or with a NUL: a usage error
    like every other bad URL, not a traceback; the URL (it may hold a password) not repeated."""
    err = one_line_error(run("collect", "--port", "0", "--database", url, cwd=tmp_path))
    assert err.startswith("aae-tracking: error: argument --database: invalid ")
    assert "s3cret" not in err


def test_a_password_in_the_database_urls_query_is_not_printed(tmp_path: Path) -> None:
    url = "postgresql://aae@127.0.0.1:1/aae?password=qs3cret"
    result = run("collect", "--port", "0", "--database", url, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot connect to postgresql://aae@127.0.0.1:1/aae?password=***" in result.stderr
    assert "qs3cret" not in result.stderr + result.stdout
