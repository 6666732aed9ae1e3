"""The browser-side JS: lint clean, Prettier-formatted, committed minified builds up to date, sizes.

`npm run lint` / `npm run format:check` / `npm run check` need the devDependencies from package.json
(`npm ci` at the repo root); without node_modules those tests are skipped.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest

from tests.sites import ROOT

STATIC = ROOT / "aae_tracking_plugins" / "static"
# Minified default build (benchmarks/tracker_size.py reports gzip against the target). Raised from
# 7 KiB with issue 9: the default build now also carries custom events, the tracking plan, debug
# mode, variants and Engagement (9.1 KiB); the Pixel, Web Vitals and checkout code live in their
# own builds. Raised again from 10 KiB with issue 11: sent URLs are cleaned (allow-listed query
# keys, no fragment, other sites' referrers cut to origin and path) and the UTM parameters are
# kept for the session (10,157 B -> 10,915 B; docs/performance.md, "Issue 11"). A guard against
# accidental growth, not a target.
TRACKER_MAX_BYTES = 11264
STUB_MAX_BYTES = 300

needs_node_modules = pytest.mark.skipif(
    not (ROOT / "node_modules").is_dir() or shutil.which("npm") is None,
    reason="JS devDependencies not installed: run `npm ci` in the repo root (needs node + npm)",
)


def _npm(script: str) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    assert npm is not None
    return subprocess.run(
        [npm, "run", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_node_modules
@pytest.mark.parametrize("script", ["lint", "format:check", "check"])
def test_npm_script_passes(script: str) -> None:
    proc = _npm(script)
    assert proc.returncode == 0, (
        f"`npm run {script}` exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


def _sizes(name: str) -> tuple[int, int]:
    data = (STATIC / name).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def test_minified_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    tracker_min, tracker_gz = _sizes("tracker.min.js")
    stub_min, stub_gz = _sizes("stub.min.js")
    with capsys.disabled():
        print(
            f"\n[js sizes] tracker.min.js: {tracker_min} B minified, {tracker_gz} B gzip;"
            f" stub.min.js: {stub_min} B minified, {stub_gz} B gzip"
        )
    assert tracker_min <= TRACKER_MAX_BYTES, f"tracker.min.js is {tracker_min} B"
    assert stub_min < STUB_MAX_BYTES, f"stub.min.js is {stub_min} B"
