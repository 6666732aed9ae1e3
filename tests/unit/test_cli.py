"""The ``aae-tracking`` command-line tool on real files: inject, check, config, errors, workers."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import stat
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aae_tracking_plugins import __version__, cli
from aae_tracking_plugins.cli import pool
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import browser_script, render_snippet
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import (
    FLAGS,
    FULL_PAGE,
    SNIPPET,
    assert_tracked_losslessly,
    inject_without_root_powers,
    one_error_line,
    run_cli,
    snapshot,
    without_root_powers,
    write_site,
)

ENDPOINT = "https://api.aae.com/api/v1/landing-pages/events"
#: Pages the tool must track: relative path -> original bytes.
TRACKABLE = {
    "index.html": FULL_PAGE,
    "fragment.html": b"<p>Just a fragment, <a href='/x'>with a link</a></p>\n",
    "crlf.html": (
        b"<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<title>CRLF</title>\r\n</head>\r\n<body>\r\n"
        b"<p>Windows line ends</p>\r\n</body>\r\n</html>\r\n"
    ),
    "legacy/cp1252.html": (
        b"<!DOCTYPE html><html><head><meta charset=windows-1252><title>Caf\xe9</title></head>"
        b"<body><p>Prix : 5 \x80, caf\xe9 cr\xe8me</p></body></html>\n"
    ),
    "legacy/utf16.html": "\ufeff<!DOCTYPE html><html><head><title>UTF-16</title></head>"
    "<body><p>Grüße, 5 €</p></body></html>\n".encode("utf-16-le"),
    "blog/2026/post.htm": b"<html><head></head><body><article>Post</article></body></html>",
    "dir.html/inner.html": b"<html><body>A page in a directory named dir.html</body></html>",
}
#: Pages the tool must leave alone quietly (not web pages at all).
NOT_PAGES = {
    "empty.html": b"",
    "google1234567890abcdef.html": b"google-site-verification: google1234567890abcdef.html\n",
}
#: A page the engine refuses: it ends inside a tag whose quote never closes (browsers drop it),
#: and anything appended would land inside it.
REFUSED = {"unclosed.html": b"<html><body><p>Draft</p><p class='todo>finish this\n"}
UNCLOSED = "the page ends inside an unclosed tag: anything appended is swallowed"
#: Files that must never be touched.
UNTOUCHED = {
    "notes.txt": b"<html><body>not a page: wrong extension</body></html>",
    "sitemap.xml": b'<?xml version="1.0"?><urlset><url><loc>/</loc></url></urlset>',
    ".git/x.html": b"<html><body>inside a hidden directory</body></html>",
}


# --------------------------------------------------------------------------- inject


def test_inject_mixed_site_keeps_every_byte_and_is_idempotent(tmp_path: Path) -> None:
    site = tmp_path / "public"
    write_site(site, TRACKABLE, NOT_PAGES, REFUSED, UNTOUCHED)
    (site / "index.html").chmod(0o640)

    first = run_cli("inject", site, *FLAGS)

    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        "tracked 7 pages (7 updated, 0 already up to date), left 1 alone, 2 not pages, "
        "skipped 2 non-HTML files\n"
    )
    # One warning, naming the refused page and why; non-pages are not warned about.
    assert first.stderr.splitlines() == [
        f"aae-tracking: warning: unclosed.html left untracked: {UNCLOSED}"
    ]
    after = snapshot(site)
    for name, original in TRACKABLE.items():
        assert_tracked_losslessly(original, after[name])
    for name, original in {**NOT_PAGES, **REFUSED, **UNTOUCHED}.items():
        assert after[name] == original, name
    assert set(after) == set(TRACKABLE) | set(NOT_PAGES) | set(REFUSED) | set(UNTOUCHED)
    assert stat.S_IMODE((site / "index.html").stat().st_mode) == 0o640

    inodes = {name: (site / name).stat().st_ino for name in TRACKABLE}
    second = run_cli("inject", site, *FLAGS)

    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("tracked 7 pages (0 updated, 7 already up to date), ")
    assert snapshot(site) == after
    assert {name: (site / name).stat().st_ino for name in TRACKABLE} == inodes  # not rewritten


def test_inject_replaces_a_tracker_with_other_ids(tmp_path: Path) -> None:
    write_site(tmp_path, {"index.html": FULL_PAGE})
    assert cli.main(["inject", str(tmp_path), "--quiet", *FLAGS]) == 0
    flags = [*FLAGS[:3], "camp_autumn_2026", *FLAGS[4:]]
    assert cli.main(["inject", str(tmp_path), "--quiet", *flags]) == 0

    output = (tmp_path / "index.html").read_text("utf-8")
    assert output.count('data-aae-tracking="tracker"') == 1
    assert 'data-campaign-id="camp_autumn_2026"' in output
    assert "camp_spring_2026" not in output
    assert output.count(SNIPPET.head) == 1


def test_inject_skips_symlinks_and_excluded_pages(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_site(outside, {"shared.html": FULL_PAGE, "dir/page.html": FULL_PAGE})
    site = tmp_path / "site"
    write_site(site, {"index.html": FULL_PAGE, "privacy/index.html": FULL_PAGE})
    (site / "link.html").symlink_to(outside / "shared.html")
    (site / "linked_dir").symlink_to(outside / "dir", target_is_directory=True)

    result = run_cli("inject", site, *FLAGS, "--exclude", "privacy/*")

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "tracked 1 page (1 updated, 0 already up to date), left 0 alone, 0 not pages, "
        "skipped 0 non-HTML files, skipped 1 symlink, excluded 1\n"
    )
    assert snapshot(outside) == {"shared.html": FULL_PAGE, "dir/page.html": FULL_PAGE}
    assert (site / "privacy/index.html").read_bytes() == FULL_PAGE
    assert (site / "link.html").is_symlink()


def test_inject_warns_when_there_are_no_pages(tmp_path: Path) -> None:
    write_site(tmp_path, {"content/post.md": b"# Not built yet"})
    result = run_cli("inject", tmp_path, *FLAGS)
    assert result.returncode == 0
    assert "no .html or .htm files under" in result.stderr
    assert result.stdout.startswith("tracked 0 pages")


# --------------------------------------------------------------------------- configuration


def tracker_ids(site: Path) -> list[dict[str, object]]:
    result = run_cli("check", site, "--json")
    document = json.loads(result.stdout)
    return [tracker for page in document["pages"] for tracker in page["trackers"]]


@pytest.mark.parametrize(
    "toml",
    [
        'landing_page_id = "lp_file"\ncampaign_id = 42\napi_base_url = "https://api.aae.com/"\n',
        '# shared file\n[other_tool]\nx = 1\n\n[aae_tracking]\nlanding_page_id = "lp_file"\n'
        'campaign_id = "42"\napi_base_url = "https://api.aae.com"\n',
    ],
    ids=["top-level keys", "aae_tracking table"],
)
def test_config_file_and_flag_override(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "tracking.toml"
    config.write_text(toml, "utf-8")
    site = tmp_path / "site"
    write_site(site, {"a.html": FULL_PAGE})

    assert run_cli("inject", site, "--config", config).returncode == 0
    assert tracker_ids(site) == [
        {"landing_page_id": "lp_file", "campaign_id": "42", "endpoint": ENDPOINT}
    ]

    result = run_cli("inject", site, "--config", config, "--campaign-id", "camp_cli")
    assert result.returncode == 0, result.stderr
    assert "1 updated" in result.stdout
    assert tracker_ids(site) == [
        {"landing_page_id": "lp_file", "campaign_id": "camp_cli", "endpoint": ENDPOINT}
    ]

    assert cli.main(["inject", str(site), "-q", "--config", str(config), "--campaign-id", ""]) == 0
    assert tracker_ids(site) == [
        {"landing_page_id": "lp_file", "campaign_id": None, "endpoint": ENDPOINT}
    ]


BAD_TOML_ID = (
    '[aae_tracking]\nlanding_page_id = "lp"\ncampaign_id = "a b"\napi_base_url = "https://a.io"\n'
)


def config_error(**settings: object) -> str:
    """What TrackingConfig says about these settings (the wording is config.py's to choose)."""
    with pytest.raises(ConfigError) as caught:
        TrackingConfig.from_mapping(settings)
    return str(caught.value).split(": ", 1)[1]


VALID = {"landing_page_id": "lp", "api_base_url": "https://a.io"}


@pytest.mark.parametrize(
    ("args", "toml", "expected"),
    [
        (
            ["SITE", *FLAGS[:3], "x y", *FLAGS[4:]],
            None,
            "--campaign-id: " + config_error(**VALID, campaign_id="x y"),
        ),
        (
            ["SITE", *FLAGS[:4], "--api-base-url", "http://api.aae.com"],
            None,
            "--api-base-url: "
            + config_error(landing_page_id="lp", api_base_url="http://api.aae.com"),
        ),
        (
            ["SITE", "--campaign-id", "c1", "--api-base-url", "https://api.aae.com"],
            None,
            "--landing-page-id: "
            + config_error(api_base_url="https://a.io")
            + " (pass --landing-page-id, or set landing_page_id in a --config file)",
        ),
        (
            ["MISSING", *FLAGS],
            None,
            "SITE_DIR 'MISSING' does not exist (build the site first?)",
        ),
        (
            ["FILE", *FLAGS],
            None,
            "SITE_DIR 'FILE' is not a directory",
        ),
        (
            [*FLAGS],
            None,
            "the following arguments are required: SITE_DIR (see 'aae-tracking inject --help')",
        ),
        (
            ["SITE", *FLAGS, "--jobs", "0"],
            None,
            "argument --jobs/-j: must be a whole number >= 1, got '0' "
            "(see 'aae-tracking inject --help')",
        ),
        (
            ["SITE", "--config", "CONFIG"],
            'landing_page_id = "lp"\napi_base_url = \n',
            "CONFIG: not valid TOML: Invalid value (at line 2, column 16)",
        ),
        (
            ["SITE", "--config", "CONFIG"],
            BAD_TOML_ID,
            "CONFIG: campaign_id: " + config_error(**VALID, campaign_id="a b"),
        ),
        (
            ["SITE", "--config", "CONFIG"],
            'landing_page_id = "lp"\napi_base_url = "https://a.io"\ncampain_id = "typo"\n',
            "CONFIG: campain_id: " + config_error(**VALID, campain_id="typo"),
        ),
        (
            ["SITE", "--config", "CONFIG"],
            'aae_tracking = "lp"\n',
            "CONFIG: aae_tracking: must be a table ([aae_tracking]) holding the settings, got str",
        ),
        (
            ["SITE", "--config", "CONFIG"],
            'landing_page_id = "lp"\n[aae_tracking]\nlanding_page_id = "lp2"\n',
            "CONFIG: landing_page_id: set both at the top level and in [aae_tracking]; keep one",
        ),
        (
            ["SITE", "--config", "CONFIG"],
            'landing_page_id = "lp"\napi_base_url = "https://a.io"\n[aae_tracking]\nbatch = true\n',
            "CONFIG: landing_page_id: set at the top level, but this file has an [aae_tracking] "
            "table, which is where the settings are read from: move landing_page_id into it",
        ),
        (
            ["SITE", "--config", "NO_SUCH.toml"],
            None,
            "--config NO_SUCH.toml: cannot read it: No such file or directory",
        ),
    ],
    ids=[
        "bad id",
        "http non-loopback",
        "missing required option",
        "missing dir",
        "file instead of dir",
        "no SITE_DIR",
        "bad --jobs",
        "broken TOML",
        "bad id in file",
        "unknown key in file",
        "table is not a table",
        "both layouts",
        "top-level key beside the table",
        "unreadable config file",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], toml: str | None, expected: str
) -> None:
    write_site(tmp_path, {"SITE/index.html": FULL_PAGE, "FILE": b"x"})
    if toml is not None:
        (tmp_path / "CONFIG").write_text(toml, "utf-8")

    result = run_cli("inject", *args, cwd=tmp_path)

    assert one_error_line(result) == "aae-tracking: error: " + expected
    assert (tmp_path / "SITE/index.html").read_bytes() == FULL_PAGE


def test_check_usage_error_is_one_line(tmp_path: Path) -> None:
    assert one_error_line(run_cli("check", tmp_path / "nope")).endswith(
        "does not exist (build the site first?)"
    )
    assert "unrecognized arguments: --frobnicate" in one_error_line(
        run_cli("check", tmp_path, "--frobnicate")
    )


def test_python_3_10_without_tomli_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "t.toml"
    config.write_text('landing_page_id = "lp"\napi_base_url = "https://a.io"\n', "utf-8")
    monkeypatch.setattr(sys, "version_info", (3, 10, 14, "final", 0))
    if importlib.util.find_spec("tomli") is None:
        assert cli.main(["inject", str(tmp_path), "--config", str(config)]) == 2
        assert capsys.readouterr().err == (
            "aae-tracking: error: --config needs a TOML parser on Python 3.10: "
            "install it with 'pip install tomli'\n"
        )
    else:
        assert cli.main(["inject", str(tmp_path), "--config", str(config)]) == 0


# --------------------------------------------------------------------------- workers


def generated_site(root: Path, count: int) -> None:
    shapes: list[Callable[[int], bytes]] = [
        lambda i: (
            f"<!doctype html><html><head><meta charset=utf-8><title>{i}</title></head>"
            f"<body><h1>Page {i} é</h1></body></html>\n".encode()
        ),
        lambda i: f"<p>fragment {i}</p>".encode(),
        lambda i: f"<HTML>\r\n<BODY>\r\n<P>{i}\r\n</BODY>\r\n</HTML>\r\n".encode(),
        lambda i: f"<html><body>{i}<p class='unclosed".encode(),  # left alone
        lambda i: b"",  # not a page
    ]
    for i in range(count):
        path = root / f"section{i % 7}" / f"page{i}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shapes[i % len(shapes)](i))


def test_parallel_run_gives_the_same_bytes_as_a_sequential_one(tmp_path: Path) -> None:
    parallel, sequential = tmp_path / "parallel", tmp_path / "sequential"
    generated_site(parallel, 300)
    shutil.copytree(parallel, sequential)

    result_parallel = run_cli("inject", parallel, *FLAGS, "--jobs", "2")
    result_sequential = run_cli("inject", sequential, *FLAGS, "--jobs", "1")

    assert result_parallel.returncode == result_sequential.returncode == 0
    assert (
        result_parallel.stdout
        == result_sequential.stdout
        == (
            "tracked 180 pages (180 updated, 0 already up to date), left 60 alone, 60 not pages, "
            "skipped 0 non-HTML files\n"
        )
    )
    assert result_parallel.stderr == result_sequential.stderr
    assert result_parallel.stderr.count("left untracked") == 60
    assert snapshot(parallel) == snapshot(sequential)
    check = run_cli("check", parallel, "--json", "--jobs", "2")
    statuses = json.loads(check.stdout)["summary"]["statuses"]
    assert (statuses["tracked"], statuses["left-alone"], statuses["not-a-page"]) == (180, 60, 60)


class SpyPool(ProcessPoolExecutor):
    created: list[int | None] = []  # noqa: RUF012 - test bookkeeping

    def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
        SpyPool.created.append(max_workers)
        super().__init__(max_workers=max_workers, **kwargs)


def test_worker_processes_only_for_large_trees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "ProcessPoolExecutor", SpyPool)
    SpyPool.created.clear()
    small, large = tmp_path / "small", tmp_path / "large"
    generated_site(small, cli.PARALLEL_THRESHOLD)
    generated_site(large, cli.PARALLEL_THRESHOLD + 1)

    assert cli.main(["inject", str(small), "--quiet", "--jobs", "2", *FLAGS]) == 0
    assert SpyPool.created == []
    assert cli.main(["inject", str(large), "--quiet", "--jobs", "2", *FLAGS]) == 0
    assert SpyPool.created == [2]
    assert cli.main(["inject", str(large), "--quiet", "--jobs", "1", *FLAGS]) == 0
    assert SpyPool.created == [2]


# --------------------------------------------------------------------------- progress


def test_progress_lines_when_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    generated_site(tmp_path, 5)
    monkeypatch.setattr(pool, "PROGRESS_INTERVAL", 0.0)

    assert cli.main(["inject", str(tmp_path), "--jobs", "1", *FLAGS]) == 0
    err = capsys.readouterr().err
    assert "[ 1/5] pages\n[ 2/5] pages\n[ 3/5] pages\n[ 4/5] pages\n" in err
    assert "[ 5/5]" not in err  # the run is over: the summary says the rest

    assert cli.main(["inject", str(tmp_path), "--jobs", "1", "--quiet", *FLAGS]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [  # warnings only
        f"aae-tracking: warning: section3/page3.html left untracked: {UNCLOSED}"
    ]


def test_progress_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(pool, "TTY_REFRESH", 0.0)
    stream = Terminal()
    progress = cli.Progress(5000, enabled=True, stream=stream)
    progress.update(1234)
    progress.update(5000)
    progress.finish()
    assert stream.getvalue() == (
        "\r[ 1234/5000] pages" + "\r[ 5000/5000] pages" + "\r" + " " * 18 + "\r"
    )
    quiet = Terminal()
    cli.Progress(10, enabled=False, stream=quiet).update(3)
    assert quiet.getvalue() == ""


# --------------------------------------------------------------------------- I/O errors


def test_write_error_names_the_file_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_site(tmp_path, {"a.html": FULL_PAGE, "b.html": FULL_PAGE})
    real_replace = os.replace

    def replace(source: str, target: str) -> None:
        if target.endswith("a.html"):
            raise PermissionError(13, "Permission denied")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    assert cli.main(["inject", str(tmp_path), "--jobs", "1", *FLAGS]) == 1

    out, err = capsys.readouterr()
    assert err == "aae-tracking: warning: a.html could not be written: Permission denied\n"
    assert out.endswith("1 could not be read or written\n")
    assert (tmp_path / "a.html").read_bytes() == FULL_PAGE
    assert_tracked_losslessly(FULL_PAGE, (tmp_path / "b.html").read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]  # no temp files


def test_real_permission_errors_are_warnings_and_exit_1(tmp_path: Path) -> None:
    prefix = without_root_powers()
    write_site(
        tmp_path, {"ok.html": FULL_PAGE, "locked/page.html": FULL_PAGE, "secret.html": FULL_PAGE}
    )
    (tmp_path / "locked").chmod(0o555)  # no temp file, no rename in here
    secret = tmp_path / "secret.html"
    secret.chmod(0o000)
    if os.geteuid() == 0:
        os.chown(secret, 65534, 65534)  # not ours, and unreadable for us without DAC override
    try:
        result = inject_without_root_powers(prefix, tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
        secret.chmod(0o644)

    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        "aae-tracking: warning: locked/page.html could not be written: Permission denied",
        "aae-tracking: warning: secret.html could not be read: Permission denied",
    ]
    assert result.stdout.startswith("tracked 1 page (1 updated")
    assert (tmp_path / "locked/page.html").read_bytes() == FULL_PAGE
    assert secret.read_bytes() == FULL_PAGE
    assert_tracked_losslessly(FULL_PAGE, (tmp_path / "ok.html").read_bytes())


# --------------------------------------------------------------------------- check


def tracked_site(root: Path) -> None:
    write_site(root, TRACKABLE, NOT_PAGES)
    assert cli.main(["inject", str(root), "--quiet", *FLAGS]) == 0


def test_check_passes_on_a_fully_tracked_site(tmp_path: Path) -> None:
    tracked_site(tmp_path)
    result = run_cli("check", tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout == (
        f"checked 9 HTML files in {tmp_path}: 7 tracked (0 outdated), 0 untracked, "
        "0 duplicate, 0 left alone, 2 not pages\n"
        f"  lp_spring_desk / camp_spring_2026 -> {ENDPOINT}: 7 pages\n"
        "OK: every page is tracked\n"
    )


def test_check_fails_on_untracked_duplicate_and_left_alone_pages(tmp_path: Path) -> None:
    tracked_site(tmp_path)
    other = render_snippet(TrackingConfig("lp_other", "https://staging.aae.com", None))
    write_site(
        tmp_path,
        {
            "bad/plain.html": FULL_PAGE,
            # A tracker inside a comment does not run, so it does not count.
            "bad/commented.html": f"<html><body><!-- {SNIPPET.body} --></body></html>".encode(),
            "bad/twice.html": (
                f"<html><head>{SNIPPET.head}</head><body>x{SNIPPET.body}{other.body}</body></html>"
            ).encode(),
            "bad/unclosed.html": REFUSED["unclosed.html"],
        },
    )

    result = run_cli("check", tmp_path)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "bad/commented.html: untracked: no tracker",
        "bad/plain.html: untracked: no tracker",
        "bad/twice.html: duplicate: 2 tracker tags (lp_spring_desk / camp_spring_2026 -> "
        f"{ENDPOINT}, lp_other / (no campaign) -> https://staging.aae.com/api/v1/landing-pages/"
        "events); re-run inject",
        f"bad/unclosed.html: left-alone: {UNCLOSED}",
    ]
    assert "2 untracked, 1 duplicate, 1 left alone" in result.stdout
    assert lines[-1] == (
        "FAILED: 4 pages untracked, tracked twice or impossible to track (see above)"
    )

    ignored = run_cli("check", tmp_path, "--ignore", "bad/*")
    assert ignored.returncode == 0, ignored.stdout
    assert "bad/plain.html: untracked (ignored): no tracker" in ignored.stdout
    assert "2 not pages, 4 ignored\n" in ignored.stdout
    assert ignored.stdout.splitlines()[-1] == "OK: every page is tracked"
    partly = run_cli("check", tmp_path, "--ignore", "bad/p*", "--ignore", "./bad/twice.html")
    assert partly.returncode == 1

    document = json.loads(run_cli("check", tmp_path, "--json").stdout)
    assert document["ok"] is False
    pages = {page["path"]: page for page in document["pages"]}
    assert {path: page["status"] for path, page in pages.items() if path.startswith("bad/")} == {
        "bad/commented.html": "untracked",
        "bad/plain.html": "untracked",
        "bad/twice.html": "duplicate",
        "bad/unclosed.html": "left-alone",
    }
    assert pages["bad/twice.html"]["trackers"] == [
        {
            "landing_page_id": "lp_spring_desk",
            "campaign_id": "camp_spring_2026",
            "endpoint": ENDPOINT,
        },
        {
            "landing_page_id": "lp_other",
            "campaign_id": None,
            "endpoint": "https://staging.aae.com/api/v1/landing-pages/events",
        },
    ]
    assert pages["legacy/cp1252.html"] == {
        "path": "legacy/cp1252.html",
        "status": "tracked",
        "trackers": [
            {
                "landing_page_id": "lp_spring_desk",
                "campaign_id": "camp_spring_2026",
                "endpoint": ENDPOINT,
            }
        ],
        "reason": None,
        "ignored": False,
    }
    assert pages["empty.html"]["status"] == "not-a-page"
    assert document["summary"]["statuses"] == {
        "tracked": 7,
        "gated": 0,
        "outdated": 0,
        "untracked": 2,
        "duplicate": 1,
        "left-alone": 1,
        "not-a-page": 2,
        "error": 0,
    }
    assert document["summary"]["failing"] == 4
    assert document["summary"]["trackers"] == [
        {
            "landing_page_id": "lp_spring_desk",
            "campaign_id": "camp_spring_2026",
            "endpoint": ENDPOINT,
            "pages": 7,
        }
    ]


def test_check_reports_an_outdated_tracker_without_failing(tmp_path: Path) -> None:
    """Outdated: the tag's attributes are not what this version writes for its settings (here a
    flag attribute this version does not write). A changed script text alone is no reason: a
    minifier run after inject rewrites it (tests/engine/test_minified.py)."""
    tracked_site(tmp_path)
    page = tmp_path / "index.html"
    tag = 'data-aae-tracking="tracker"'
    page.write_bytes(page.read_bytes().replace(tag.encode(), f"{tag} data-batch=1".encode()))
    edited = tmp_path / "blog/2026/post.htm"
    script = str(browser_script("tracker"))
    edited.write_bytes(edited.read_bytes().replace(script.encode(), b"(()=>{})();"))

    result = run_cli("check", tmp_path)

    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[0] == (
        f"index.html: outdated: its tracker tag is not the one of aae-tracking-plugins "
        f"{__version__} (data-batch='1' instead of 'true'); re-run inject"
    )
    assert "7 tracked (1 outdated)" in result.stdout
    document = json.loads(run_cli("check", tmp_path, "--json").stdout)
    assert document["ok"] is True
    statuses = {p["path"]: p["status"] for p in document["pages"]}
    assert statuses["index.html"] == "outdated"
    assert statuses["blog/2026/post.htm"] == "tracked"

    assert cli.main(["inject", str(tmp_path), "--quiet", *FLAGS]) == 0  # inject brings it back
    assert "index.html: outdated" not in run_cli("check", tmp_path).stdout


def test_not_pages_never_fail_a_check(tmp_path: Path) -> None:
    write_site(tmp_path, NOT_PAGES, UNTOUCHED)
    result = run_cli("check", tmp_path, "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert [page["status"] for page in document["pages"]] == ["not-a-page", "not-a-page"]


# --------------------------------------------------------------------------- help and version


def test_version() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"aae-tracking {__version__}\n")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ([], ["--version", "inject", "check", "examples:"]),
        (
            ["inject"],
            [
                "SITE_DIR",
                "--landing-page-id",
                "--campaign-id",
                "--api-base-url",
                "--config",
                "--exclude",
                "--jobs",
                "--quiet",
                "[aae_tracking]",
                "examples:",
            ],
        ),
        (["check"], ["SITE_DIR", "--json", "--ignore", "--jobs", "--quiet", "examples:"]),
    ],
)
def test_help_explains_every_option(
    command: list[str], options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    for option in options:
        assert option in text
