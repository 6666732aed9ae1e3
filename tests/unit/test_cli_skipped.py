"""``check`` lists the files it did not look at, and why, without failing for them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import FLAGS, FULL_PAGE, run_cli, write_site


def test_check_lists_what_it_skipped_in_text_and_json(tmp_path: Path) -> None:
    write_site(
        tmp_path,
        {
            "index.html": FULL_PAGE,
            "feed.xml": b"<rss/>",
            "CNAME": b"example.com",
            "old.html.br": b"",
            ".well-known/security.txt": b"Contact: x",
            **{f"img/{n}.png": b"" for n in range(5)},
        },
    )
    (tmp_path / "link.html").symlink_to(tmp_path / "index.html")
    assert run_cli("inject", tmp_path, *FLAGS).returncode == 0

    result = run_cli("check", tmp_path)

    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        "not checked:",
        "  .well-known/: a hidden directory: not searched",
        "  old.html.br: a precompressed copy of old.html, which is not there",
        "  link.html: a symlink: not followed (its page is checked where it is)",
        "  5 files: not an HTML page (.png) (img/0.png, img/1.png, img/2.png, ...)",
        "  feed.xml: not an HTML page (.xml)",
        "  CNAME: not an HTML page (no extension)",
        "",
        f"checked 1 HTML file in {tmp_path}: 1 tracked (0 outdated), 0 untracked, 0 duplicate, "
        "0 left alone, 0 not pages",
        "  lp_spring_desk / camp_spring_2026 -> "
        "https://api.aae.com/api/v1/landing-pages/events: 1 page",
        "OK: every page is tracked",
    ]
    document = json.loads(run_cli("check", tmp_path, "--json").stdout)
    assert document["ok"] is True
    assert document["skipped"] == [
        {"path": ".well-known/", "reason": "a hidden directory: not searched"},
        {"path": "CNAME", "reason": "not an HTML page (no extension)"},
        {"path": "feed.xml", "reason": "not an HTML page (.xml)"},
        *({"path": f"img/{n}.png", "reason": "not an HTML page (.png)"} for n in range(5)),
        {
            "path": "link.html",
            "reason": "a symlink: not followed (its page is checked where it is)",
        },
        {"path": "old.html.br", "reason": "a precompressed copy of old.html, which is not there"},
    ]


def test_a_page_copy_is_compared_not_skipped(tmp_path: Path) -> None:
    write_site(tmp_path, {"index.html": FULL_PAGE, "index.html.gz": b"not gzip"})
    document = json.loads(run_cli("check", tmp_path, "--json").stdout)
    assert document["skipped"] == []
    assert document["pages"][0]["status"] == "error"
    assert document["pages"][0]["reason"].startswith("stale precompressed copy: index.html.gz")
