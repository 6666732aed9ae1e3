"""Precompressed copies (``index.html.gz``, ``.br``, ``.zst``): inject rewrites, check compares.

The contract is bytes: a copy must decompress to exactly the page (a server with gzip_static or
brotli_static sends the copy without reading the page), so no web server is needed to test it.
Each copy is written and read here with the codec's own library, not ours.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest
import zstandard

from aae_tracking_plugins import cli
from tests.cli_helpers import (
    FLAGS,
    FULL_PAGE,
    assert_tracked_losslessly,
    inject_without_root_powers,
    run_cli,
    without_root_powers,
)

CODECS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    ".gz": (gzip.compress, gzip.decompress),
    ".br": (brotli.compress, brotli.decompress),
    ".zst": (
        lambda data: zstandard.ZstdCompressor().compress(data),
        lambda data: zstandard.ZstdDecompressor().decompress(data),
    ),
}
PACKAGES = {".br": "brotli", ".zst": "zstandard"}


def site_with_copies(root: Path, suffixes: list[str], page: str = "docs/index.html") -> Path:
    path = root / page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(FULL_PAGE)
    for suffix in suffixes:
        Path(f"{path}{suffix}").write_bytes(CODECS[suffix][0](FULL_PAGE))
    return path


@pytest.mark.parametrize("suffix", list(CODECS))
def test_inject_rewrites_each_copy_from_the_new_page(tmp_path: Path, suffix: str) -> None:
    page = site_with_copies(tmp_path, [suffix])
    copy = Path(f"{page}{suffix}")
    copy.chmod(0o640)

    result = run_cli("inject", tmp_path, *FLAGS)

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "tracked 1 page (1 updated, 0 already up to date), left 0 alone, 0 not pages, "
        "skipped 0 non-HTML files, rewrote 1 precompressed copy\n"
    )
    tracked = page.read_bytes()
    assert_tracked_losslessly(FULL_PAGE, tracked)
    assert CODECS[suffix][1](copy.read_bytes()) == tracked
    assert copy.stat().st_mode & 0o777 == 0o640
    assert copy.stat().st_mtime_ns >= page.stat().st_mtime_ns  # never older than its page
    assert run_cli("check", tmp_path).returncode == 0

    written = copy.stat().st_ino
    again = run_cli("inject", tmp_path, *FLAGS)
    assert again.stdout.startswith("tracked 1 page (0 updated, 1 already up to date)")
    assert "rewrote" not in again.stdout
    assert copy.stat().st_ino == written  # an up-to-date copy is not rewritten


@pytest.mark.parametrize("suffix", list(CODECS))
def test_check_fails_a_page_whose_copy_is_stale(tmp_path: Path, suffix: str) -> None:
    page = site_with_copies(tmp_path, [suffix], page="index.html")
    assert cli.main(["inject", str(tmp_path), "-q", *FLAGS]) == 0
    Path(f"{page}{suffix}").write_bytes(CODECS[suffix][0](FULL_PAGE))  # the untracked page

    result = run_cli("check", tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"index.html: error: stale precompressed copy: index.html{suffix} (other bytes than the "
        "page, which is tracked); re-run inject"
    )
    assert "1 with a stale precompressed copy" in result.stdout
    document = json.loads(run_cli("check", tmp_path, "--json").stdout)
    assert document["ok"] is False
    assert document["pages"][0]["status"] == "error"
    assert document["pages"][0]["trackers"][0]["landing_page_id"] == "lp_spring_desk"

    assert cli.main(["inject", str(tmp_path), "-q", *FLAGS]) == 0  # an up-to-date page...
    assert run_cli("check", tmp_path).returncode == 0  # ...gets its stale copy rewritten


def test_all_three_copies_and_a_corrupt_one(tmp_path: Path) -> None:
    page = site_with_copies(tmp_path, list(CODECS))
    Path(f"{page}.br").write_bytes(b"not brotli at all")
    result = run_cli("check", tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(
        "docs/index.html: error: stale precompressed copy: index.html.br (not valid br: "
    )
    assert cli.main(["inject", str(tmp_path), "-q", *FLAGS]) == 0
    for suffix, (_compress, decompress) in CODECS.items():
        assert decompress(Path(f"{page}{suffix}").read_bytes()) == page.read_bytes()
    assert run_cli("check", tmp_path).returncode == 0


@pytest.mark.parametrize("suffix", list(PACKAGES))
def test_a_missing_codec_package_refuses_the_page_and_fails_the_check(
    tmp_path: Path,
    suffix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = site_with_copies(tmp_path, [".gz", suffix])
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    package = PACKAGES[suffix]
    monkeypatch.setitem(sys.modules, package, None)  # `import brotli` fails as if not installed

    assert cli.main(["inject", str(tmp_path), "--jobs", "1", *FLAGS]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"aae-tracking: warning: docs/index.html left untracked: its precompressed copy "
        f"index.html{suffix} cannot be rewritten: the {package} package is not installed, which "
        f"{'Brotli' if suffix == '.br' else 'Zstandard'} ({suffix}) needs (pip install {package})\n"
    )
    assert out.startswith("tracked 0 pages (0 updated, 0 already up to date), left 1 alone")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before

    assert cli.main(["check", str(tmp_path), "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert f"cannot be compared: the {package} package is not installed" in out
    assert page.read_bytes() == FULL_PAGE


def test_an_unreadable_copy_leaves_page_and_copies_alone_and_exits_1(tmp_path: Path) -> None:
    prefix = without_root_powers()
    page = site_with_copies(tmp_path, [".gz", ".br"])
    copy = Path(f"{page}.br")
    copy.chmod(0o000)
    if os.geteuid() == 0:
        os.chown(copy, 65534, 65534)  # not ours, and unreadable for us without DAC override
    try:
        result = inject_without_root_powers(prefix, tmp_path)
    finally:
        copy.chmod(0o644)
    assert result.returncode == 1, result
    assert result.stderr == (
        "aae-tracking: warning: docs/index.html was left as it was: its precompressed copy "
        "index.html.br could not be read: Permission denied\n"
    )
    assert page.read_bytes() == FULL_PAGE
    assert gzip.decompress(Path(f"{page}.gz").read_bytes()) == FULL_PAGE


def test_copies_of_excluded_and_missing_pages_are_not_touched(tmp_path: Path) -> None:
    site_with_copies(tmp_path, [".gz"], page="privacy/index.html")
    orphan = tmp_path / "old.html.br"
    orphan.write_bytes(brotli.compress(b"<p>gone</p>"))
    site_with_copies(tmp_path, [], page="index.html")

    result = run_cli("inject", tmp_path, *FLAGS, "--exclude", "privacy/*")

    assert result.returncode == 0, result.stderr
    assert "rewrote" not in result.stdout
    assert gzip.decompress((tmp_path / "privacy/index.html.gz").read_bytes()) == FULL_PAGE
    assert brotli.decompress(orphan.read_bytes()) == b"<p>gone</p>"
