"""The benchmarks still run: each with its smallest arguments, checked for what it measured, never
for how fast (figures are the benchmarks' job, on a quiet machine: docs/performance.md).

``tracker_cost.py`` had silently stopped working when the tracker began dropping query strings
from the URLs it sends (its loads were named by ``?load=``): these tests catch that kind of rot.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.sites import ROOT


def bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.browser
def test_tracker_cost_measures_every_row_with_its_pageview() -> None:
    result = bench("benchmarks/tracker_cost.py", "--loads", "1", "--control", "--floor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["variant"]: row for row in report["rows"]}
    assert list(rows) == ["bare", "default", "batch", "external", "floor", "control"]
    for name in ("default", "batch", "external", "control"):
        # Each load counted only once its PageView reached the collector; our code was seen.
        assert rows[name]["pageview_ms_median"] is not None, rows[name]
        assert rows[name]["added_script_ms_median"] > 0, rows[name]
    assert not [note for note in report["notes"] if "refused" in note]


def test_collector_load_stores_every_event_once_on_both_databases() -> None:
    result = bench(
        "benchmarks/collector_load.py",
        *("--database", "both", "--events", "200", "--batch-events", "400"),
        *("--concurrency", "4", "--rounds", "1"),
    )
    assert result.returncode == 0, result.stdout + result.stderr  # 1: an event lost or doubled
    rows = [line.split() for line in result.stdout.splitlines()]
    # The table's rows: database, mode, ... and "once" (yes/NO) in the eleventh column.
    measured = [(row[0], row[1], row[10]) for row in rows if row[1:2] in (["single"], ["batch"])]
    assert sorted(measured) == [
        ("postgresql", "batch", "yes"),
        ("postgresql", "single", "yes"),
        ("sqlite", "batch", "yes"),
        ("sqlite", "single", "yes"),
    ]


def test_dashboard_poll_times_both_answers() -> None:
    result = bench("benchmarks/dashboard_poll.py", "--events", "100", "--polls", "3")
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if "events" in line]
    assert "304: median" in line
    assert "200: median" in line
