"""``aae-tracking collect --database`` with a URL that ``urllib`` cannot even split (an unclosed
``[`` of an IPv6 host): a one-line usage error naming the setting, like every other bad URL,
not a traceback; and the URL (it may hold a password) is not repeated."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.storage import DatabaseURLError, open_store
from tests.collector_helpers import AAE_TRACKING

pytestmark = pytest.mark.collector


@pytest.mark.parametrize(
    "url", ["postgresql://aae:s3cret@[db.internal/aae", "sqlite://[x/e.db", "sqlite:///a%00b.db"]
)
def test_an_unsplittable_database_url_is_a_one_line_error(tmp_path: Path, url: str) -> None:
    result = subprocess.run(
        [str(AAE_TRACKING), "collect", "--port", "0", "--database", url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("aae-tracking: error: argument --database: invalid ")
    assert result.stderr.count("\n") == 1
    assert "s3cret" not in result.stderr


def test_open_store_raises_database_url_error_for_it() -> None:
    with pytest.raises(DatabaseURLError, match="Invalid IPv6 URL"):
        open_store("postgresql://aae:s3cret@[db.internal/aae")


def test_report_says_the_same_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(AAE_TRACKING), "report", "--database", "sqlite://[x/e.db"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid database URL (Invalid IPv6 URL)" in result.stderr
    assert result.stderr.count("\n") == 1
