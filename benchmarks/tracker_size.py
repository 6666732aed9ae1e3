"""Print the size of what every tracked page carries: the built scripts and the inserted tags.

.venv/bin/python benchmarks/tracker_size.py
"""

from __future__ import annotations

import gzip

from aae_tracking_plugins.config import TrackingConfig
from aae_tracking_plugins.snippet import browser_script, render_snippet


def sizes(text: str) -> tuple[int, int]:
    data = text.encode("utf-8")
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> None:
    snippet = render_snippet(TrackingConfig("lp_123", "https://api.aae.com", "camp_456"))
    rows = {
        "tracker.min.js": str(browser_script("tracker")),
        "stub.min.js": str(browser_script("stub")),
        "inserted per page (both tags)": snippet.head + snippet.body,
    }
    print(f"{'what':32} {'bytes':>7} {'gzip -9':>8}")
    for name, text in rows.items():
        raw, packed = sizes(text)
        print(f"{name:32} {raw:7d} {packed:8d}")


if __name__ == "__main__":
    main()
