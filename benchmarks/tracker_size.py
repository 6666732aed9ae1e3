"""Print the size of what every tracked page carries, next to the peers' published figures.

    .venv/bin/python benchmarks/tracker_size.py

Per built browser script (every ``static/tracker*.min.js`` variant and ``stub.min.js``): bytes,
``gzip -9`` bytes and, when the ``brotli`` module is installed, brotli (quality 11) bytes. Then
everything inserted into one page (both tags with a config) for the default variant, the peers'
figures, and the target: the default variant at most 1.5 KB gzip (PASS/FAIL). 1 KB = 1000 bytes
here, like the peers' figures; that is also the stricter reading of the target.
"""

from __future__ import annotations

import gzip
import importlib
from pathlib import Path
from types import ModuleType

from aae_tracking_plugins.core import tags as snippet_module
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import browser_script, render_snippet

# Peers' trackers, gzip bytes of their published builds, as quoted in issue 8 ("Size and cost in
# the browser": Plausible's full script 2.67 KB gzip, Umami's current tracker 2.21 KB, Umami 3.0
# 1.44 KB, measured from their published builds).
PEERS_GZIP = {
    "Plausible (full script)": 2670,
    "Umami (current tracker)": 2210,
    "Umami 3.0": 1440,
}
# Issue 8: "the default variant, with everything in this issue, at most 1.5 KB gzip".
TARGET_GZIP = 1500


def _brotli() -> ModuleType | None:
    try:
        return importlib.import_module("brotli")
    except ImportError:
        return None


BROTLI = _brotli()


def sizes(text: str) -> tuple[int, int, int | None]:
    """``(bytes, gzip -9 bytes, brotli bytes or None)`` of ``text`` in UTF-8."""
    data = text.encode("utf-8")
    packed = len(gzip.compress(data, compresslevel=9, mtime=0))
    brotli = None if BROTLI is None else len(BROTLI.compress(data, quality=11))
    return len(data), packed, brotli


def variants() -> list[str]:
    """Script names of the built variants: ``tracker`` first, then the others, then ``stub``."""
    static = Path(snippet_module.__file__).parents[1] / "static"
    names = sorted(path.name.removesuffix(".min.js") for path in static.glob("tracker*.min.js"))
    names.sort(key=lambda name: name != "tracker")
    return [*names, "stub"]


def main() -> None:
    snippet = render_snippet(TrackingConfig("lp_123", "https://api.aae.com", "camp_456"))
    rows = {f"{name}.min.js": str(browser_script(name)) for name in variants()}
    rows["inserted per page (both tags)"] = snippet.head + snippet.body
    brotli_header = f" {'brotli':>7}" if BROTLI is not None else ""
    print(f"{'what':32} {'bytes':>7} {'gzip -9':>8}{brotli_header}")
    default_gzip = 0
    for name, text in rows.items():
        raw, packed, brotli = sizes(text)
        if name == "tracker.min.js":
            default_gzip = packed
        column = "" if brotli is None else f" {brotli:7d}"
        print(f"{name:32} {raw:7d} {packed:8d}{column}")
    if BROTLI is None:
        print("(brotli: module not installed, column left out)")
    print()
    print("peers (gzip, published builds)")
    for name, packed in PEERS_GZIP.items():
        print(f"{name:32} {'':7} {packed:8d}")
    print()
    verdict = "PASS" if default_gzip <= TARGET_GZIP else "FAIL"
    print(
        f"target: default variant (tracker.min.js) <= {TARGET_GZIP} bytes gzip (1.5 KB): "
        f"{default_gzip} -> {verdict}"
    )


if __name__ == "__main__":
    main()
