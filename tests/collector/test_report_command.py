"""``aae-tracking report`` as a user runs it, on SQLite and PostgreSQL: the three formats parsed
back and compared with the funnel computed in Python (tests/collector/report_data.py), filters,
and one-line errors naming the setting, with their exit status."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aae_tracking_plugins.collector.storage import open_store
from tests.collector.report_data import T0, expected, rows, sample
from tests.collector_helpers import AAE_TRACKING


def run(*arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    environment = {k: v for k, v in os.environ.items() if k != "AAE_COLLECTOR_DATABASE"}
    return subprocess.run(
        [str(AAE_TRACKING), "report", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment | (env or {}),
        cwd=cwd,
    )


@pytest.fixture
def filled(database_url: str) -> tuple[str, list[Any]]:
    pairs = sample()
    with open_store(database_url) as store:
        store.add(rows(pairs))
    return database_url, pairs


def rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def test_json_and_csv_give_the_funnel(filled: tuple[str, list[Any]]) -> None:
    url, pairs = filled
    want = expected(pairs)
    result = run("--database", url, "--format", "json")
    assert (result.returncode, result.stderr) == (0, "")
    records = json.loads(result.stdout)
    got = {(r["landing_page_id"], r["campaign_id"], r["variant"]): r for r in records}
    assert set(got) == set(want)
    for key, numbers in want.items():
        record = got[key]
        assert {name: record[name] for name in numbers} == numbers
        assert record["cart_rate"] == rate(numbers["add_to_carts"], numbers["page_views"])
        assert record["purchase_rate"] == rate(numbers["purchases"], numbers["page_views"])

    result = run("--database", url, "--format", "csv")
    assert (result.returncode, result.stderr) == (0, "")
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(lines) == len(want)
    for line in lines:
        key = (line["landing_page_id"], line["campaign_id"] or None, line["variant"] or None)
        numbers = want[key]
        assert [int(line[name]) for name in ("page_views", "add_to_carts", "purchases")] == [
            numbers["page_views"], numbers["add_to_carts"], numbers["purchases"],
        ]  # fmt: skip
        revenue = {
            name.removeprefix("revenue_"): float(value)
            for name, value in line.items()
            if name.startswith("revenue_") and value
        }
        assert revenue == numbers["revenue"]
        assert float(line["purchase_rate"]) == rate(numbers["purchases"], numbers["page_views"])


def test_the_table_and_the_filters(filled: tuple[str, list[Any]]) -> None:
    url, pairs = filled
    result = run("--database", url, "--landing-page-id", "lp_1", "--campaign-id", "camp_x")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "page", "campaign", "variant", "views", "carts", "cart", "%", "purchases", "buy", "%",
        "revenue",
    ]  # fmt: skip
    assert [line.split() for line in lines[1:]] == [
        ["lp_1", "camp_x", "a", "5", "3", "60.0", "1", "20.0", "EUR", "15.00;", "USD", "7.25"],
        ["lp_1", "camp_x", "b", "2", "1", "50.0", "1", "50.0", "EUR", "20.00"],
    ]
    late = run("--database", url, "--since", "2026-03-02 09:30:00", "--format", "json")
    want = expected(pairs, since=T0 + timedelta(minutes=30))
    assert [(r["page_views"], r["add_to_carts"]) for r in json.loads(late.stdout)] == [
        (numbers["page_views"], numbers["add_to_carts"]) for numbers in want.values()
    ]
    none = run("--database", url, "--landing-page-id", "lp_none")
    assert (none.returncode, none.stdout) == (
        0,
        "no events (PageView, AddToCart, Purchase) match\n",
    )


def test_one_line_errors_name_the_setting(tmp_path: Path) -> None:
    bad = run("--database", "mysql://aae@db/aae")
    assert bad.returncode == 2
    assert bad.stderr.startswith("aae-tracking: error: argument --database: unsupported")
    assert bad.stderr.count("\n") == 1
    away = run("--database", "postgresql://aae@127.0.0.1:1/aae")
    assert away.returncode == 1
    assert away.stderr.startswith(
        "aae-tracking: error: argument --database: cannot connect to postgresql://aae@127.0.0.1:1"
    )
    assert away.stderr.count("\n") == 1
    missing = run(cwd=tmp_path, env={"AAE_COLLECTOR_DATABASE": "sqlite:///nope.db"})
    assert (missing.returncode, missing.stderr) == (
        2,
        "aae-tracking: error: AAE_COLLECTOR_DATABASE: no database file 'nope.db'"
        " (run aae-tracking collect first)\n",
    )
    assert not (tmp_path / "nope.db").exists()  # a report never creates a database
    order = run("--since", "2026-03-02", "--until", "2026-03-01", cwd=tmp_path)
    assert order.returncode == 2
    assert "argument --since/--until: since" in order.stderr


def test_report_is_a_command_of_aae_tracking() -> None:
    result = subprocess.run(
        [str(AAE_TRACKING), "--help"], capture_output=True, text=True, timeout=60
    )
    assert "report      print the funnel of the stored events" in result.stdout


def test_an_unsplittable_database_url_is_one_line(tmp_path: Path) -> None:
    result = run("--database", "sqlite://[x/e.db", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid database URL (Invalid IPv6 URL)" in result.stderr
    assert result.stderr.count("\n") == 1
