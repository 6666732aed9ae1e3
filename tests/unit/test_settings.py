"""The on/off settings (inline_script, track_automation, batch) in every front end, and the tags.

Validation is :class:`TrackingConfig`'s; these tests check that MkDocs, Pelican and the CLI all
reach it and report a bad value as one line without a traceback, and that the rendered tags
follow the attribute contract with the browser script in both modes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import html5lib
import pytest

from aae_tracking_plugins import cli
from aae_tracking_plugins.core.settings import BOOLEAN_SETTINGS, SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import (
    SCRIPT_DIR,
    _render,
    browser_script,
    csp_hashes,
    render_page_marker,
    render_snippet,
    root_for,
    script_file,
    write_script_files,
)
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import cli_executable, small_site
from tests.sites import (
    SETTINGS_HEAD,
    assert_one_clear_error,
    assert_one_clear_line,
    build_mkdocs,
    build_pelican,
    run,
    write_mkdocs_site,
    write_pelican_site,
)

API = "https://api.aae.com"
HTML_NS = "{http://www.w3.org/1999/xhtml}"
BAD_BOOLEANS = ["yes", "false", 1, 0, [True]]


def make(**settings: object) -> TrackingConfig:
    return TrackingConfig.from_mapping({"landing_page_id": "lp_1", "api_base_url": API, **settings})


def elements(page: str, name: str = "script") -> list[dict[str, str | None]]:
    tree = html5lib.parse(f"<!doctype html><body>{page}</body>", treebuilder="etree")
    return [{"text": e.text, **dict(e.attrib)} for e in tree.iter(f"{HTML_NS}{name}")]


# --------------------------------------------------------------------------- TrackingConfig


def test_the_new_settings_are_known_with_their_defaults() -> None:
    assert {"inline_script", "track_automation", "batch"} <= set(SETTING_NAMES)
    config = make()
    assert (config.inline_script, config.track_automation, config.batch) == (True, False, False)
    assert make(inline_script=None, batch=None) == config  # "not set" keeps the default


@pytest.mark.parametrize("setting", sorted(BOOLEAN_SETTINGS))
def test_booleans_are_taken_as_given(setting: str) -> None:
    for value in (True, False):
        assert getattr(make(**{setting: value}), setting) is value


@pytest.mark.parametrize("setting", sorted(BOOLEAN_SETTINGS))
@pytest.mark.parametrize("bad", BAD_BOOLEANS)
def test_anything_but_a_boolean_is_one_line_naming_the_setting(setting: str, bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        make(**{setting: bad})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{setting}: must be a boolean")
    assert message.endswith(f"got {bad!r}")
    with pytest.raises(ConfigError, match=re.escape(f"AAE_TRACKING[{setting!r}]: must be")):
        TrackingConfig.from_mapping(
            {"landing_page_id": "lp_1", "api_base_url": API, setting: bad}, where="AAE_TRACKING"
        )


def test_page_overrides_keep_the_site_switches() -> None:
    site = make(inline_script=False, batch=True, track_automation=True)
    page = site.with_overrides(campaign_id="camp_page")
    assert page.campaign_id == "camp_page"
    assert (page.inline_script, page.batch, page.track_automation) == (False, True, True)


# --------------------------------------------------------------------------- the tags


def test_inline_tags_carry_the_switches_only_when_set() -> None:
    plain = render_snippet(make(campaign_id="c_1"))
    (stub,) = elements(plain.head)
    (tracker,) = elements(plain.body)
    assert stub == {"text": str(browser_script("stub")), "data-aae-tracking": "stub"}
    assert tracker == {
        "text": str(browser_script("tracker")),
        "data-aae-tracking": "tracker",
        "data-landing-page-id": "lp_1",
        "data-campaign-id": "c_1",
        "data-endpoint": API + "/api/v1/landing-pages/events",
    }
    (both,) = elements(render_snippet(make(track_automation=True, batch=True)).body)
    assert both["data-track-automation"] == "true"
    assert both["data-batch"] == "true"
    assert both["text"] == str(browser_script("tracker.batch"))


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("root", ["", "../", "../../", "/docs/"])
def test_external_tags_load_hashed_files_with_integrity(batch: bool, root: str) -> None:
    config = make(inline_script=False, batch=batch, track_automation=True, campaign_id="c_1")
    snippet = render_snippet(config, root)
    (stub,) = elements(snippet.head)
    (tracker,) = elements(snippet.body)
    variant = "tracker.batch" if batch else "tracker"
    for element, script in ((stub, "stub"), (tracker, variant)):
        data = str(browser_script(script)).encode("utf-8")
        name = f"{script}.{hashlib.sha256(data).hexdigest()[:10]}.js"
        assert element["src"] == f"{root}{SCRIPT_DIR}/{name}"
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        assert element["integrity"] == f"sha384-{digest}"
        assert element["text"] is None  # no inline code at all
    assert "defer" in tracker
    assert "defer" not in stub
    assert tracker["data-landing-page-id"] == "lp_1"
    assert tracker["data-campaign-id"] == "c_1"
    assert tracker["data-endpoint"] == API + "/api/v1/landing-pages/events"
    assert tracker["data-track-automation"] == "true"
    assert ("data-batch" in tracker) is batch
    # The exact shape of the contract (attribute order included).
    assert snippet.body.startswith(
        f'<script data-aae-tracking="tracker" src="{root}{SCRIPT_DIR}/'
        f'{script_file(variant).name}" integrity="{script_file(variant).integrity}" defer '
        'data-landing-page-id="lp_1"'
    )
    assert snippet.body.endswith("></script>")


def test_the_root_must_end_with_a_slash() -> None:
    with pytest.raises(ValueError, match="root must be empty or end with '/'"):
        render_snippet(make(inline_script=False), "..")


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("index.html", ""),
        ("404.html", ""),
        ("offer/index.html", "../"),
        ("a/b/c.html", "../../"),
        ("./a/index.html", "../"),
    ],
)
def test_root_for_a_page(path: str, root: str) -> None:
    assert root_for(path) == root


def test_script_files_are_written_once(tmp_path: Path) -> None:
    config = make(inline_script=False, batch=True)
    written = write_script_files(tmp_path, config)
    names = sorted(Path(path).name for path in written)
    assert names == sorted([script_file("stub").name, script_file("tracker.batch").name])
    for name in names:
        data = (tmp_path / SCRIPT_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest()[:10] == name.split(".")[-2]
    assert write_script_files(tmp_path, config) == []  # same bytes: nothing rewritten


def test_csp_hashes_are_those_of_the_inline_script_texts() -> None:
    for batch in (False, True):
        config = make(batch=batch)
        snippet = render_snippet(config)
        texts = [str(e["text"]) for e in elements(snippet.head + snippet.body)]
        expected = [
            "'sha256-" + base64.b64encode(hashlib.sha256(t.encode()).digest()).decode() + "'"
            for t in texts
        ]
        assert [source for _name, source in csp_hashes(config)] == expected


def test_page_markers() -> None:
    (tracked,) = elements(render_page_marker(make(campaign_id="c_1")), "span")
    assert tracked == {
        "text": None,
        "hidden": "",
        "data-aae-page": "",
        "data-landing-page-id": "lp_1",
        "data-campaign-id": "c_1",
    }
    assert "data-campaign-id" not in elements(render_page_marker(make()), "span")[0]
    (off,) = elements(render_page_marker(None), "span")
    assert off == {"text": None, "hidden": "", "data-aae-page": "off"}


@pytest.mark.parametrize("value", ['"><script>alert(1)</script>', "</span><b>", "&amp;'"])
def test_page_marker_values_are_escaped_attribute_values(value: str) -> None:
    config = SimpleNamespace(
        landing_page_id=value, campaign_id=value, facebook_pixel_id=value, variant=value
    )
    page = _render("page_marker.html.j2", attribute="data-aae-page", config=config)
    (span,) = elements(page, "span")
    assert span["data-landing-page-id"] == value
    assert span["data-campaign-id"] == value
    assert span["data-facebook-pixel-id"] == value
    assert span["data-variant"] == value
    assert elements(page) == []


# --------------------------------------------------------------------------- MkDocs


MKDOCS_BASE = "      landing_page_id: lp_1\n      api_base_url: https://api.aae.com\n"


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("inline_script: 'false'", ["inline_script", "must be a boolean", "'false'"]),
        ("track_automation: 1", ["track_automation", "must be a boolean", "got 1"]),
        ("batch: [true]", ["batch", "must be a boolean", "[True]"]),
    ],
)
def test_mkdocs_bad_switch_stops_the_build_with_one_line(
    tmp_path: Path, line: str, fragments: list[str]
) -> None:
    source = write_mkdocs_site(tmp_path, MKDOCS_BASE + f"      {line}\n")
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "aae-tracking: plugin option", *fragments)


def test_mkdocs_switches_reach_the_tags(tmp_path: Path) -> None:
    options = MKDOCS_BASE + "      track_automation: true\n      batch: yes\n"  # YAML 1.1 bool
    source = write_mkdocs_site(tmp_path, options)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert result.returncode == 0, result.stderr
    (tracker,) = [
        e
        for e in elements((tmp_path / "site" / "index.html").read_text("utf-8"))
        if e.get("data-aae-tracking") == "tracker"
    ]
    assert tracker["data-track-automation"] == "true"
    assert tracker["data-batch"] == "true"
    assert tracker["text"] == str(browser_script("tracker.batch"))


# --------------------------------------------------------------------------- Pelican


@pytest.mark.pelican
@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ('"inline_script": "no"', ["AAE_TRACKING['inline_script']", "must be a boolean", "'no'"]),
        ('"batch": 1', ["AAE_TRACKING['batch']", "must be a boolean", "got 1"]),
        ('"track_automation": None, "batch": "true"', ["AAE_TRACKING['batch']", "'true'"]),
    ],
)
def test_pelican_bad_switch_stops_the_build_with_one_line(
    tmp_path: Path, value: str, fragments: list[str]
) -> None:
    setting = f'{{"landing_page_id": "lp_1", "api_base_url": "https://a.b", {value}}}'
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n")
    assert_one_clear_line(build_pelican(source, tmp_path / "out", API), *fragments)


@pytest.mark.pelican
def test_pelican_switches_reach_the_tags(tmp_path: Path) -> None:
    setting = (
        '{"landing_page_id": "lp_1", "api_base_url": "https://a.b", '
        '"track_automation": True, "batch": False}'
    )
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n")
    result = build_pelican(source, tmp_path / "out", API)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "hello.html").read_text("utf-8")
    (tracker,) = [e for e in elements(page) if e.get("data-aae-tracking") == "tracker"]
    assert tracker["data-track-automation"] == "true"
    assert "data-batch" not in tracker


# --------------------------------------------------------------------------- CLI


def test_cli_flags_set_and_unset_the_switches(tmp_path: Path) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(
        'landing_page_id = "lp_1"\napi_base_url = "https://api.aae.com"\n'
        "batch = true\ntrack_automation = true\n"
    )
    site = small_site(tmp_path / "site")
    argv = ["inject", str(site), "-q", "--config", str(config_file), "--no-batch"]
    assert cli.main(argv) == 0
    (tracker,) = [
        e
        for e in elements((site / "index.html").read_text())
        if e.get("data-aae-tracking") == "tracker"
    ]
    assert "data-batch" not in tracker  # the flag overrides the file
    assert tracker["data-track-automation"] == "true"  # the file's value stays


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('inline_script = "false"', "tracking.toml: inline_script: must be a boolean"),
        ("batch = 1", "tracking.toml: batch: must be a boolean"),
        ('[aae_tracking]\ntrack_automation = "yes"', "tracking.toml: track_automation: must be"),
    ],
)
def test_cli_bad_switch_in_the_config_file_exits_2(
    tmp_path: Path, toml: str, fragment: str
) -> None:
    config_file = tmp_path / "tracking.toml"
    ids = f'landing_page_id = "lp_1"\napi_base_url = "{API}"\n'
    # A table's keys follow its header; top-level keys come before any table.
    config_file.write_text(toml + "\n" + ids if toml.startswith("[") else ids + toml + "\n")
    site = small_site(tmp_path / "site")
    result = run(
        [cli_executable(), "inject", str(site), "--config", str(config_file)], cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aae-tracking: error: ")
    assert fragment in lines[0]
    assert "data-aae-tracking" not in (site / "index.html").read_text()


def test_cli_help_lists_the_switches(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inject", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--inline-script, --no-inline-script", "--track-automation", "--batch"):
        assert flag in text
    assert "inline_script = false" in text
    assert cli.main(["csp-hashes", "--help"]) == 0
    assert "script-src" in capsys.readouterr().out
