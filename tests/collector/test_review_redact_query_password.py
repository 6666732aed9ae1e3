"""A PostgreSQL URL may carry its password as a query parameter
(``postgresql://aae@db/aae?password=...``: PostgreSQL documentation, "Connection URIs": any
connection parameter may be given in the query). ``redact`` hid only the user part's password,
so this one was printed in the banner, in error lines and in the availability warnings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.storage import redact
from tests.collector_helpers import AAE_TRACKING

pytestmark = pytest.mark.collector


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://aae@db/aae?password=qs3cret", "postgresql://aae@db/aae?password=***"),
        ("postgresql://aae@db/aae?sslmode=require&PASSWORD=qs3cret&connect_timeout=3",
         "postgresql://aae@db/aae?sslmode=require&PASSWORD=***&connect_timeout=3"),
        ("postgresql://aae:us3cret@db/aae?password=qs3cret",
         "postgresql://aae:***@db/aae?password=***"),
        ("postgresql://aae@db/aae?sslmode=require", "postgresql://aae@db/aae?sslmode=require"),
        ("postgresql://aae:us3cret@db/aae", "postgresql://aae:***@db/aae"),
    ],
)  # fmt: skip
def test_redact_hides_a_password_in_the_query(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_the_error_line_of_collect_does_not_show_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(AAE_TRACKING), "collect", "--port", "0", "--database",
         "postgresql://aae@127.0.0.1:1/aae?password=qs3cret"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot connect to postgresql://aae@127.0.0.1:1/aae?password=***" in result.stderr
    assert "qs3cret" not in result.stderr + result.stdout


@pytest.mark.parametrize("url", ["sqlite:///aae-events.db", "sqlite:////srv/aae/e.db"])
def test_a_url_without_a_password_is_left_as_given(url: str) -> None:
    assert redact(url) == url
