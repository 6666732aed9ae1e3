"""Build both sample sites with and without the plugin, interleaved, and print the medians.

    .venv/bin/python benchmarks/build_time.py [--runs 7]

Runs alternate (with, without, with, ...) so both sides see the same machine load; the ratio of
the medians is the figure to quote.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
PELICAN = ROOT / ".venv-pelican" / "bin" / "pelican"
ENV = {**os.environ, "AAE_API_BASE_URL": "http://127.0.0.1:8765", "NO_MKDOCS_2_WARNING": "1"}


def mkdocs_without_plugin(work: Path) -> Path:
    source = work / "mkdocs-plain"
    shutil.copytree(ROOT / "sample_sites" / "mkdocs", source, dirs_exist_ok=True)
    config = (source / "mkdocs.yml").read_text("utf-8")
    start = config.index("  - aae-tracking:")
    end = config.index("\nnav:")
    (source / "mkdocs.yml").write_text(config[:start] + config[end:], "utf-8")
    return source


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


@click.command(help=__doc__.split("\n\n")[0], context_settings={"show_default": True})
@click.option("--runs", type=click.IntRange(min=1), default=7)
def main(runs: int) -> None:
    """Time ``runs`` interleaved builds of each case; prints medians in seconds and the ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mk = [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(work / "site")]
        pel = [str(PELICAN), "content", "-q", "-s", "pelicanconf.py", "-o", str(work / "out")]
        cases = {
            "mkdocs with plugin": (mk, ROOT / "sample_sites" / "mkdocs"),
            "mkdocs without": (mk, mkdocs_without_plugin(work)),
            "pelican with plugin": (pel, ROOT / "sample_sites" / "pelican"),
            "pelican without": ([*pel, "-e", "PLUGINS=[]"], ROOT / "sample_sites" / "pelican"),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (command, cwd) in cases.items():
                times[name].append(timed(command, cwd))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'build (median of ' + str(runs) + ')':26} {'seconds':>8}")
    for name, value in medians.items():
        print(f"{name:26} {value:8.3f}")
    for tool in ("mkdocs", "pelican"):
        ratio = medians[f"{tool} with plugin"] / medians[f"{tool} without"]
        print(f"{tool}: with/without = {ratio:.3f}")


if __name__ == "__main__":
    main()
