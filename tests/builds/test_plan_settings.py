"""The issue-9 settings on the Python side: ``debug``, ``engagement``, ``web_vitals``,
``variant`` (per page), the tracking plan ``events`` and ``checkout_links``.

Validation (one line naming the setting, or the rule / link entry: ``events[1].selector``), the
tag attributes they become in real MkDocs and Pelican builds (with the per-page variant from front
matter / metadata), builds stopped by a bad rule without a traceback, the CLI's flags and
``--config`` file through ``inject`` and ``check``, and ``csp-hashes`` with ``web_vitals``. The
browser side is tested with the tracker's own tests.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from aae_tracking_plugins import cli
from aae_tracking_plugins.core.plan import (
    MAX_PROPS,
    MAX_RULES,
    PSEUDO_CLASSES,
    RESERVED_PROP_KEYS,
    STANDARD_EVENTS,
    CheckoutLink,
    TrackingRule,
    validate_selector,
)
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import (
    SCRIPT_DIR,
    browser_script,
    csp_hashes,
    render_page_marker,
    render_snippet,
    script_file,
    tracker_build,
)
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import cli_executable, small_site
from tests.sites import (
    SETTINGS_HEAD,
    assert_one_clear_error,
    assert_one_clear_line,
    build_mkdocs,
    build_pelican,
    elements,
    run,
    tracker_of,
    write_mkdocs_site,
    write_pelican_site,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the test environment is Python 3.11+
    import tomli as tomllib

API = "https://api.aae.com"
STRIPE = "https://buy.stripe.com/"
SHOP = "https://shop.example.com/cart/"
#: The tracking plan every front end below is given, and what data-events must hold.
RULES = [
    {"selector": "a.signup, form#newsletter", "event": "Lead", "props": {"plan": "pro", "n": 2}},
    {"selector": "#pricing a[href*='checkout']", "event": "InitiateCheckout", "props": {}},
]
CHECKOUT = [STRIPE, {"prefix": SHOP, "param": "ref"}]
#: data-checkout for CHECKOUT: a bare prefix gets Stripe's client_reference_id.
CHECKOUT_PAIRS = [[STRIPE, "client_reference_id"], [SHOP, "ref"]]
NEW_ATTRIBUTES = (
    "data-variant",
    "data-debug",
    "data-engagement",
    "data-web-vitals",
    "data-events",
    "data-checkout",
)


def make(**settings: object) -> TrackingConfig:
    return TrackingConfig.from_mapping({"landing_page_id": "lp_1", "api_base_url": API, **settings})


def error_of(where: str = "", **settings: object) -> str:
    """The one-line ConfigError these settings give."""
    with pytest.raises(ConfigError) as caught:
        TrackingConfig.from_mapping(
            {"landing_page_id": "lp_1", "api_base_url": API, **settings}, where=where
        )
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 400
    return message


def assert_plan_tag(tracker: dict[str, str | None], variant: str | None) -> None:
    """``tracker`` carries every setting the front ends below configure, and ``variant``."""
    if variant is None:
        assert "data-variant" not in tracker
    else:
        assert tracker["data-variant"] == variant
    assert tracker["data-debug"] == "true"
    assert tracker["data-engagement"] == "false"
    assert tracker["data-web-vitals"] == "true"
    assert json.loads(str(tracker["data-events"])) == RULES
    assert json.loads(str(tracker["data-checkout"])) == CHECKOUT_PAIRS


def assert_tracker_build(tracker: dict[str, str | None], name: str, inline: bool) -> None:
    if inline:
        assert tracker["text"] == str(browser_script(name))
    else:
        assert str(tracker["src"]).endswith(f"{SCRIPT_DIR}/{script_file(name).name}")
        assert tracker["text"] is None


def page_marker(page: str) -> dict[str, str | None]:
    (marker,) = [e for e in elements(page, "span") if "data-aae-page" in e]
    return marker


# --------------------------------------------------------------------------- TrackingConfig


def test_the_settings_are_known_with_their_defaults() -> None:
    for name in ("debug", "engagement", "web_vitals", "variant", "events", "checkout_links"):
        assert name in SETTING_NAMES
    config = make()
    assert (config.debug, config.engagement, config.web_vitals) == (False, True, False)
    assert (config.variant, config.events, config.checkout_links) == (None, (), ())
    # "Not set" (None, as MkDocs passes every option) keeps the defaults.
    unset = dict.fromkeys(("debug", "engagement", "web_vitals", "variant", "events"))
    assert make(**unset, checkout_links=None) == config
    assert make(events=[], checkout_links=[], variant="") == config


def test_default_tags_carry_none_of_the_new_attributes() -> None:
    tracker = tracker_of(render_snippet(make()).body)
    for name in NEW_ATTRIBUTES:
        assert name not in tracker
    assert tracker["text"] == str(browser_script("tracker"))
    assert "data-variant" not in page_marker(render_page_marker(make()))


@pytest.mark.parametrize(("value", "expected"), [("B", "B"), ("control-2026.1", "control-2026.1"),
                                                 (2, "2"), ("", None), (None, None)])  # fmt: skip
def test_good_variants(value: object, expected: str | None) -> None:
    assert make(variant=value).variant == expected


@pytest.mark.parametrize("value", ["a b", "x" * 65, "-B", "B<", True, 1.5, ["B"]])
def test_a_bad_variant_is_one_line_naming_the_setting(value: object) -> None:
    message = error_of(variant=value)
    assert message.startswith("variant: must be a ")
    assert error_of("AAE_TRACKING", variant=value).startswith("AAE_TRACKING['variant']: must be")


def test_the_variant_is_overridden_per_page() -> None:
    site = make(variant="A", campaign_id="c1")
    assert site.with_overrides() is site
    assert site.with_overrides(variant="A") is site
    page = site.with_overrides(variant="B")
    assert (page.variant, page.campaign_id) == ("B", "c1")
    assert site.with_overrides(variant=3).variant == "3"
    assert site.with_overrides(variant="").variant is None
    assert make().with_overrides(variant="B").variant == "B"
    # Other overrides keep the site's variant.
    assert site.with_overrides(campaign_id="c2").variant == "A"
    with pytest.raises(ConfigError, match=r"^b\.md: variant: must be a short identifier"):
        site.with_overrides(variant="a b", where="b.md")


def test_a_tracking_plan_is_kept_in_order_with_its_props() -> None:
    config = make(events=RULES)
    assert config.events == (
        TrackingRule("a.signup, form#newsletter", "Lead", (("n", 2), ("plan", "pro"))),
        TrackingRule("#pricing a[href*='checkout']", "InitiateCheckout"),
    )
    assert json.loads(config.events_json) == RULES
    # Rules without props, a tuple, numbers, the most a plan may hold.
    assert make(events=({"selector": "button", "event": "video_play"},)).events[0].props == ()
    props = {f"k{index}": index / 3 for index in range(MAX_PROPS)}
    assert len(make(events=[{"selector": "a", "event": "E", "props": props}]).events[0].props) == 20
    assert len(make(events=[{"selector": "a", "event": "E"}] * MAX_RULES).events) == MAX_RULES
    for selector in ("a:not(.x) > span", "form:has(input)", "[data-x='1'] ~ p", "a:is(.a, .b)"):
        assert make(events=[{"selector": selector, "event": "E"}]).events[0].selector == selector


def rule(**changes: object) -> dict[str, object]:
    """A valid rule with some keys changed (a value of ``...`` removes the key)."""
    base: dict[str, object] = {"selector": "a.cta", "event": "Lead", "props": {"plan": "pro"}}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


BAD_PLANS = [
    # not a list
    ("a.cta", "events: must be a list of rules"),
    ({"selector": "a", "event": "Lead"}, "events: must be a list of rules"),
    (False, "events: must be a list of rules"),
    (0, "events: must be a list of rules"),
    ("", "events: must be a list of rules"),
    ([rule()] * (MAX_RULES + 1), f"events: must have at most {MAX_RULES} rules"),
    # a rule that is not a mapping, or with missing or unknown keys
    ([rule(), "a.cta"], "events[1]: must be a mapping with selector, event and props"),
    ([rule(selector=...)], "events[0].selector: is required but not set"),
    ([rule(), rule(event=...)], "events[1].event: is required but not set"),
    ([rule(name="Lead")], "events[0].name: unknown key"),
    # selectors
    ([rule(), rule(selector="a[href")], "events[1].selector: is not a valid CSS selector"),
    ([rule(selector="a..b")], "events[0].selector: is not a valid CSS selector"),
    ([rule(selector="a::before")], "events[0].selector: must select elements, not a pseudo"),
    ([rule(selector="p, a::after")], "events[0].selector: must select elements, not a pseudo"),
    ([rule(selector="a:contains('Buy')")], "events[0].selector: :contains is not a pseudo-class"),
    ([rule(selector="a.cta:hovr")], "events[0].selector: :hovr is not a pseudo-class every"),
    ([rule(selector="div:not(.a):has(> img:focsu)")], "events[0].selector: :focsu is not a"),
    ([rule(selector="  ")], "events[0].selector: must be a CSS selector"),
    ([rule(selector=["a"])], "events[0].selector: must be a CSS selector"),
    ([rule(selector="a" * 501)], "events[0].selector: must be at most 500 characters"),
    # event names
    ([rule(event="sign up")], "events[0].event: must be an event name"),
    ([rule(event="9lives")], "events[0].event: must be an event name"),
    ([rule(event="x" * 51)], "events[0].event: must be an event name"),
    ([rule(event=7)], "events[0].event: must be an event name"),
    # props
    ([rule(props=["plan"])], "events[0].props: must be a mapping"),
    ([rule(props={"Plan": "pro"})], "events[0].props.Plan: property name must be"),
    ([rule(props={"a-b": 1})], "events[0].props.a-b: property name must be"),
    (
        [rule(selector=None)],
        "events[0].selector: must be a CSS selector such as 'a.signup', got "
        "None (in YAML, quote a selector that starts with '#'",
    ),
    ([rule(props={"plan": True})], "events[0].props.plan: must be text or a finite number"),
    ([rule(props={"plan": None})], "events[0].props.plan: must be text or a finite number"),
    ([rule(props={"plan": math.inf})], "events[0].props.plan: must be text or a finite number"),
    ([rule(props={"plan": ["a"]})], "events[0].props.plan: must be text or a finite number"),
    ([rule(props={"plan": "x" * 201})], "events[0].props.plan: must be at most 200 characters"),
    ([rule(props={f"k{i}": i for i in range(21)})], "events[0].props: must have at most 20"),
]


@pytest.mark.parametrize(("value", "start"), BAD_PLANS)
def test_a_bad_plan_is_one_line_naming_the_rule(value: object, start: str) -> None:
    assert error_of(events=value).startswith(start)


@pytest.mark.parametrize("name", STANDARD_EVENTS)
def test_a_plan_cannot_send_a_standard_event(name: str) -> None:
    message = error_of(events=[rule(), rule(event=name)])
    assert message.startswith(f"events[1].event: {name!r} is sent by the tracker itself")


@pytest.mark.parametrize("key", RESERVED_PROP_KEYS)
def test_a_plan_cannot_set_a_reserved_prop(key: str) -> None:
    message = error_of(events=[rule(props={"plan": "pro", key: "x"})])
    assert message.startswith(f"events[0].props.{key}: is filled in by the tracker (reserved:")


def test_a_plan_error_names_where_the_setting_lives() -> None:
    message = error_of("AAE_TRACKING", events=[rule(), rule(selector="a[")])
    assert message.startswith("AAE_TRACKING['events[1].selector']: is not a valid CSS selector")


def test_checkout_links() -> None:
    config = make(checkout_links=CHECKOUT)
    assert config.checkout_links == (
        CheckoutLink(STRIPE, "client_reference_id"),
        CheckoutLink(SHOP, "ref"),
    )
    assert json.loads(config.checkout_json) == CHECKOUT_PAIRS
    # A prefix without a path gets "/": https://buy.stripe.com must not match
    # https://buy.stripe.com.evil.example.
    (link,) = make(checkout_links=["https://buy.stripe.com"]).checkout_links
    assert link.prefix == STRIPE
    (link,) = make(checkout_links=[{"prefix": "http://127.0.0.1:8000/pay"}]).checkout_links
    assert link == CheckoutLink("http://127.0.0.1:8000/pay", "client_reference_id")
    (link,) = make(checkout_links=[{"prefix": STRIPE + "test_4gw", "param": "ref"}]).checkout_links
    assert link == CheckoutLink(STRIPE + "test_4gw", "ref")


BAD_LINKS = [
    (STRIPE, "checkout_links: must be a list of URL prefixes"),
    ({"prefix": STRIPE}, "checkout_links: must be a list of URL prefixes"),
    (False, "checkout_links: must be a list of URL prefixes"),
    ([42], "checkout_links[0]: must be a URL prefix"),
    ([STRIPE, "http://buy.stripe.com/"], "checkout_links[1]: must use https://"),
    (
        ["buy.stripe.com/x"],
        "checkout_links[0]: must be an absolute https:// URL such as 'https://buy.stripe.com/'",
    ),
    ([STRIPE + "#pay"], "checkout_links[0]: must not have a query string or fragment"),
    ([{"prefix": STRIPE + "?a=1"}], "checkout_links[0].prefix: must not have a query string"),
    ([{"prefix": STRIPE, "param": "a b"}], "checkout_links[0].param: must be a query parameter"),
    ([STRIPE, {"prefix": SHOP, "param": ""}], "checkout_links[1].param: must be a query param"),
    ([{"prefix": SHOP, "param": 7}], "checkout_links[0].param: must be a query parameter"),
    ([{"param": "ref"}], "checkout_links[0].prefix: is required but not set"),
    ([{"prefix": 7}], "checkout_links[0].prefix: must be a URL prefix"),
    ([{"prefix": SHOP, "parameter": "ref"}], "checkout_links[0].parameter: unknown key"),
]


@pytest.mark.parametrize(("value", "start"), BAD_LINKS)
def test_a_bad_checkout_link_is_one_line_naming_the_entry(value: object, start: str) -> None:
    assert error_of(checkout_links=value).startswith(start)


# --------------------------------------------------------------------------- MkDocs

MKDOCS_OPTIONS = f"""\
      landing_page_id: lp_1
      api_base_url: {API}
      variant: A
      debug: true
      engagement: false
      web_vitals: true
      checkout_links:
        - {STRIPE}
        - prefix: {SHOP}
          param: ref
      events:
        - selector: a.signup, form#newsletter
          event: Lead
          props: {{plan: pro, n: 2}}
        - selector: "#pricing a[href*='checkout']"
          event: InitiateCheckout
"""


@pytest.mark.parametrize("inline", [True, False])
def test_mkdocs_build_carries_every_setting_and_the_page_variant(
    tmp_path: Path, inline: bool
) -> None:
    options = MKDOCS_OPTIONS + ("" if inline else "      inline_script: false\n")
    pages = {
        "index.md": "# Home\n",
        "b.md": "---\naae_tracking:\n  variant: B\n---\n# B\n",
        "number.md": "---\naae_tracking:\n  variant: 2\n---\n# Two\n",
        "none.md": "---\naae_tracking:\n  variant: ''\n  campaign_id: c_page\n---\n# None\n",
    }
    source = write_mkdocs_site(tmp_path, options, pages)
    site = tmp_path / "site"
    result = build_mkdocs(source, site, API)
    assert result.returncode == 0, result.stderr
    expected = {
        "index.html": "A",
        "b/index.html": "B",
        "number/index.html": "2",
        "none/index.html": None,
        "404.html": "A",  # a theme template: the site's settings
    }
    for name, variant in expected.items():
        text = (site / name).read_text("utf-8")
        tracker = tracker_of(text)
        assert_plan_tag(tracker, variant)
        assert_tracker_build(tracker, "tracker.vitals.checkout", inline)
        if name != "404.html":  # the per-page marker instant navigation reads
            marker = page_marker(text)
            assert marker.get("data-variant") == variant, name
    none = page_marker((site / "none/index.html").read_text("utf-8"))
    assert none["data-campaign-id"] == "c_page"
    if not inline:
        files = sorted(path.name for path in (site / SCRIPT_DIR).iterdir())
        builds = ("stub", "tracker.vitals.checkout")
        assert files == sorted(script_file(name).name for name in builds)


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (
            "      events:\n        - {selector: a.ok, event: Lead}\n"
            "        - {selector: 'a[href', event: Lead}\n",
            ["plugin option events[1].selector", "not a valid CSS selector", "'a[href'"],
        ),
        (
            "      events:\n        - {selector: 'a::before', event: Lead}\n",
            ["plugin option events[0].selector", "not a pseudo-element"],
        ),
        (
            "      events:\n        - {selector: a, event: Purchase}\n",
            ["plugin option events[0].event", "'Purchase' is sent by the tracker itself"],
        ),
        (
            "      events:\n        - {selector: a, event: Lead, props: {url: x}}\n",
            ["plugin option events[0].props.url", "reserved"],
        ),
        (
            "      events:\n        - {selector: a, event: Lead, props: {plan: yes}}\n",
            ["plugin option events[0].props.plan", "text or a finite number", "True"],
        ),
        ("      events: a.cta\n", ["plugin option events: must be a list of rules"]),
        (
            f"      checkout_links:\n        - {{prefix: {SHOP}, param: 'a b'}}\n",
            ["plugin option checkout_links[0].param", "query parameter name", "'a b'"],
        ),
        (
            f"      checkout_links: {STRIPE}\n",
            ["plugin option checkout_links: must be a list of URL prefixes"],
        ),
        ("      variant: 'a b'\n", ["plugin option variant", "short identifier", "'a b'"]),
        ("      debug: 'yes'\n", ["plugin option debug", "must be a boolean", "'yes'"]),
        ("      engagement: 0\n", ["plugin option engagement", "must be a boolean", "got 0"]),
        ("      web_vitals: 'on'\n", ["plugin option web_vitals", "must be a boolean"]),
    ],
)
def test_mkdocs_bad_setting_stops_the_build_with_one_line(
    tmp_path: Path, options: str, fragments: list[str]
) -> None:
    base = f"      landing_page_id: lp_1\n      api_base_url: {API}\n"
    source = write_mkdocs_site(tmp_path, base + options)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "aae-tracking:", *fragments)
    assert not (tmp_path / "site" / "index.html").exists()


def test_mkdocs_bad_front_matter_variant_names_the_page(tmp_path: Path) -> None:
    base = f"      landing_page_id: lp_1\n      api_base_url: {API}\n"
    pages = {"index.md": "# Home\n", "b.md": "---\naae_tracking:\n  variant: 'a b'\n---\n# B\n"}
    source = write_mkdocs_site(tmp_path, base, pages)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "b.md", "front matter 'aae_tracking'", "variant", "'a b'")


def test_mkdocs_front_matter_lists_variant_among_the_allowed_keys(tmp_path: Path) -> None:
    base = f"      landing_page_id: lp_1\n      api_base_url: {API}\n"
    pages = {"index.md": "---\naae_tracking:\n  debug: true\n---\n# Home\n"}
    source = write_mkdocs_site(tmp_path, base, pages)
    result = build_mkdocs(source, tmp_path / "site", API)
    assert_one_clear_error(result, "index.md", "unknown key 'debug'", "facebook_pixel_id, variant")


# --------------------------------------------------------------------------- Pelican


def pelican_settings(**extra: object) -> str:
    settings = {
        "landing_page_id": "lp_1",
        "api_base_url": API,
        "variant": "A",
        "debug": True,
        "engagement": False,
        "web_vitals": True,
        "events": RULES,
        "checkout_links": CHECKOUT,
        **extra,
    }
    return SETTINGS_HEAD + f"AAE_TRACKING = {settings!r}\n"


@pytest.mark.pelican
@pytest.mark.parametrize("inline", [True, False])
def test_pelican_build_carries_every_setting_and_the_page_variant(
    tmp_path: Path, inline: bool
) -> None:
    pages = {
        "hello.md": "Title: Hello\nDate: 2026-01-01\naae_tracking_variant: B\n\nHi\n",
        "plain.md": "Title: Plain\nDate: 2026-01-02\n\nSite variant\n",
        "none.md": "Title: None\nDate: 2026-01-03\naae_tracking_variant:\n\nNo variant\n",
    }
    source = write_pelican_site(tmp_path, pelican_settings(inline_script=inline), pages)
    out = tmp_path / "out"
    result = build_pelican(source, out, API)
    assert result.returncode == 0, result.stderr + result.stdout
    expected = {"hello.html": "B", "plain.html": "A", "none.html": None, "index.html": "A"}
    for name, variant in expected.items():
        tracker = tracker_of((out / name).read_text("utf-8"))
        assert_plan_tag(tracker, variant)
        assert_tracker_build(tracker, "tracker.vitals.checkout", inline)
    if not inline:
        files = sorted(path.name for path in (out / SCRIPT_DIR).iterdir())
        builds = ("stub", "tracker.vitals.checkout")
        assert files == sorted(script_file(name).name for name in builds)


@pytest.mark.pelican
@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (
            {"events": [RULES[0], {"selector": "a[href", "event": "Lead"}]},
            ["AAE_TRACKING['events[1].selector']", "not a valid CSS selector", "'a[href'"],
        ),
        (
            {"events": [{"selector": "a", "event": "AddToCart"}]},
            ["AAE_TRACKING['events[0].event']", "'AddToCart' is sent by the tracker itself"],
        ),
        (
            {"events": [{"selector": "a", "event": "Lead", "props": {"fbp": "x"}}]},
            ["AAE_TRACKING['events[0].props.fbp']", "reserved"],
        ),
        ({"events": "a.cta"}, ["AAE_TRACKING['events']", "must be a list of rules"]),
        (
            {"checkout_links": [{"prefix": SHOP, "param": "a b"}]},
            ["AAE_TRACKING['checkout_links[0].param']", "query parameter name"],
        ),
        ({"variant": "a b"}, ["AAE_TRACKING['variant']", "short identifier", "'a b'"]),
        ({"engagement": "false"}, ["AAE_TRACKING['engagement']", "must be a boolean"]),
    ],
)
def test_pelican_bad_setting_stops_the_build_with_one_line(
    tmp_path: Path, extra: dict[str, object], fragments: list[str]
) -> None:
    source = write_pelican_site(tmp_path, pelican_settings(**extra))
    out = tmp_path / "out"
    assert_one_clear_line(build_pelican(source, out, API), *fragments)
    assert not (out / "hello.html").exists()


@pytest.mark.pelican
def test_pelican_bad_metadata_variant_names_the_file(tmp_path: Path) -> None:
    page = "Title: Hello\nDate: 2026-01-01\naae_tracking_variant: a b\n\nHi\n"
    source = write_pelican_site(tmp_path, pelican_settings(), {"hello.md": page})
    result = build_pelican(source, tmp_path / "out", API)
    assert_one_clear_line(result, "hello.md", "metadata 'aae_tracking_variant'", "'a b'")


# --------------------------------------------------------------------------- CLI

#: A config file with every setting, the plan and links as a team writes them in TOML.
TOML = f"""\
[aae_tracking]
landing_page_id = "lp_1"
api_base_url = "{API}"
variant = "A"
debug = true
engagement = false
web_vitals = true
checkout_links = ["{STRIPE}", {{ prefix = "{SHOP}", param = "ref" }}]

[[aae_tracking.events]]
selector = "a.signup, form#newsletter"
event = "Lead"
props = {{ plan = "pro", n = 2 }}

[[aae_tracking.events]]
selector = "#pricing a[href*='checkout']"
event = "InitiateCheckout"
"""


def site_tracker(site: Path, page: str = "index.html") -> dict[str, str | None]:
    return tracker_of((site / page).read_text("utf-8"))


@pytest.mark.parametrize("inline", [True, False])
def test_cli_inject_and_check_round_trip(tmp_path: Path, inline: bool) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(TOML)
    site = small_site(tmp_path / "site")
    argv = ["inject", str(site), "-q", "--config", str(config_file)]
    assert cli.main([*argv, *([] if inline else ["--no-inline-script"])]) == 0
    for page in ("index.html", "docs/index.html"):
        tracker = site_tracker(site, page)
        assert_plan_tag(tracker, "A")
        assert_tracker_build(tracker, "tracker.vitals.checkout", inline)
    context = cli.check_context()
    for page in ("index.html", "docs/index.html"):
        report = cli.check_file(str(site), page, context)
        assert (report.status, report.reason) == (cli.TRACKED, None)
    result = run([cli_executable(), "check", str(site)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "2 tracked (0 outdated)" in result.stdout
    # Running inject again changes nothing.
    before = (site / "index.html").read_bytes()
    assert cli.main(argv[:2] + argv[3:] + ([] if inline else ["--no-inline-script"])) == 0
    assert (site / "index.html").read_bytes() == before


def test_cli_flags_override_the_file(tmp_path: Path) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(TOML)
    site = small_site(tmp_path / "site")
    argv = ["inject", str(site), "-q", "--config", str(config_file)]
    assert cli.main([*argv, "--variant", "B", "--no-debug", "--engagement", "--no-web-vitals"]) == 0
    tracker = site_tracker(site)
    assert tracker["data-variant"] == "B"
    for name in ("data-debug", "data-engagement", "data-web-vitals"):
        assert name not in tracker
    # The file's checkout links stay, so the build is the checkout one.
    assert tracker["text"] == str(browser_script("tracker.checkout"))
    assert json.loads(str(tracker["data-events"])) == RULES  # file-only settings stay
    assert cli.check_file(str(site), "index.html", cli.check_context()).status == cli.TRACKED

    assert cli.main([*argv, "--variant", ""]) == 0  # empty: no variant
    assert "data-variant" not in site_tracker(site)
    plain = ["inject", str(site), "-q", "--landing-page-id", "lp_1", "--api-base-url", API]
    assert cli.main([*plain, "--variant", "C", "--debug", "--no-engagement", "--web-vitals"]) == 0
    tracker = site_tracker(site)
    assert (tracker["data-variant"], tracker["data-debug"]) == ("C", "true")
    assert (tracker["data-engagement"], tracker["data-web-vitals"]) == ("false", "true")
    assert "data-events" not in tracker
    assert "data-checkout" not in tracker
    assert cli.check_file(str(site), "index.html", cli.check_context()).status == cli.TRACKED


@pytest.mark.parametrize(
    ("replace", "reason"),
    [
        # data-events / data-checkout that are not JSON, or not what the tag's JSON must be
        (
            ('data-events="[{', 'data-events="[{,'),
            "its tracker tag's data-events is not valid JSON",
        ),
        (('data-checkout="[[', 'data-checkout="[{'), "data-checkout is not valid JSON"),
        (
            ('data-checkout="[[', 'data-checkout="[[&#34;x&#34;],['),
            "data-checkout is not valid (not a list of [prefix, param] pairs)",
        ),
        (
            ("a.signup, form#newsletter", "a::before"),
            "settings are not valid (data-events[0].selector: must select elements",
        ),
        (
            ("client_reference_id", "a b"),
            "settings are not valid (data-checkout[0].param: must be a query parameter name",
        ),
        (('data-variant="A"', 'data-variant="a b"'), "settings are not valid (variant:"),
        # a value this version never writes
        (
            ('data-engagement="false"', 'data-engagement="true"'),
            "data-engagement='true' instead of 'false'",
        ),
        (('data-debug="true"', 'data-debug="1"'), "data-debug='1' instead of 'true'"),
        # JSON this version writes differently: re-run inject
        ((",&#34;props&#34;:{}}", "}"), "data-events="),
    ],
)
def test_check_reads_the_settings_back_from_the_tag(
    tmp_path: Path, replace: tuple[str, str], reason: str
) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(TOML)
    site = small_site(tmp_path / "site")
    assert cli.main(["inject", str(site), "-q", "--config", str(config_file)]) == 0
    page = site / "index.html"
    text = page.read_text("utf-8")
    old, new = replace
    assert text.count(old) == 1, old
    page.write_text(text.replace(old, new), "utf-8")
    report = cli.check_file(str(site), "index.html", cli.check_context())
    assert report.status == cli.OUTDATED
    assert reason in str(report.reason)
    assert "\n" not in str(report.reason)
    # The other page is still tracked; check fails on neither (outdated is a note).
    assert cli.check_file(str(site), "docs/index.html", cli.check_context()).status == cli.TRACKED
    assert cli.main(["check", str(site), "-q"]) == 0


def test_check_sees_a_missing_vitals_build_in_the_external_mode(tmp_path: Path) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(TOML)
    site = small_site(tmp_path / "site")
    argv = ["inject", str(site), "-q", "--config", str(config_file), "--no-inline-script"]
    assert cli.main(argv) == 0
    page = site / "index.html"
    page.write_text(page.read_text("utf-8").replace(' data-web-vitals="true"', ""), "utf-8")
    report = cli.check_file(str(site), "index.html", cli.check_context())
    assert report.status == cli.OUTDATED
    assert "src" in str(report.reason)
    assert script_file("tracker.vitals.checkout").name in str(report.reason)


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        (
            TOML.replace("a.signup, form#newsletter", "a["),
            "tracking.toml: events[0].selector: is not a valid CSS selector",
        ),
        (
            TOML.replace('event = "InitiateCheckout"', 'event = "Engagement"'),
            "tracking.toml: events[1].event: 'Engagement' is sent by the tracker itself",
        ),
        (
            TOML.replace('plan = "pro"', 'timestamp = "x"'),
            "tracking.toml: events[0].props.timestamp: is filled in by the tracker",
        ),
        (
            TOML.replace('param = "ref"', 'param = "a b"'),
            "tracking.toml: checkout_links[1].param: must be a query parameter name",
        ),
        (
            TOML.replace(f'checkout_links = ["{STRIPE}"', "checkout_links = [7"),
            "tracking.toml: checkout_links[0]: must be a URL prefix",
        ),
        (
            f'landing_page_id = "lp_1"\napi_base_url = "{API}"\nevents = "a.cta"\n',
            "tracking.toml: events: must be a list of rules",
        ),
        (TOML.replace('variant = "A"', 'variant = "a b"'), "tracking.toml: variant: must be a"),
        (TOML.replace("debug = true", 'debug = "true"'), "tracking.toml: debug: must be a bool"),
    ],
)
def test_cli_bad_plan_in_the_config_file_exits_2_with_one_line(
    tmp_path: Path, toml: str, fragment: str
) -> None:
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(toml)
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


def test_cli_bad_variant_flag_names_the_flag(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    command = [cli_executable(), "inject", str(site), "--landing-page-id", "lp_1",
               "--api-base-url", API, "--variant", "a b"]  # fmt: skip
    result = run(command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("aae-tracking: error: --variant: must be a short identifier")
    assert len(result.stderr.splitlines()) == 1
    # There are no flags for the file-only settings.
    result = run([*command[:-2], "--events", "[]"], cwd=tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments: --events" in result.stderr


def test_cli_help_documents_the_flags_and_a_config_that_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["inject", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--variant ID", "--debug, --no-debug", "--engagement, --no-engagement",
                 "--web-vitals, --no-web-vitals"):  # fmt: skip
        assert flag in text
    flat = " ".join(text.split())
    assert ", ".join(SETTING_NAMES) in flat  # the --config help names every setting
    assert "[[aae_tracking.events]] tables" in flat
    # The epilog's example config file is valid TOML and valid settings, with a two-rule plan.
    example = text.split("[aae_tracking] table:\n", 1)[1].split("\nexamples:", 1)[0]
    settings = tomllib.loads("\n".join(line[2:] for line in example.splitlines()))
    config = TrackingConfig.from_mapping(settings["aae_tracking"])
    assert [rule.event for rule in config.events] == ["Lead", "InitiateCheckout"]
    assert config.checkout_links[0] == CheckoutLink(STRIPE, "client_reference_id")
    assert config.variant == "B"
    assert cli.main(["csp-hashes", "--help"]) == 0
    assert "--web-vitals, --no-web-vitals" in capsys.readouterr().out


def test_csp_hashes_follow_web_vitals(tmp_path: Path) -> None:
    def hashes(*args: str) -> str:
        result = run([cli_executable(), "csp-hashes", *args], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def expected(**settings: object) -> str:
        return " ".join(source for _script, source in csp_hashes(make(**settings)))

    plain, vitals = hashes(), hashes("--web-vitals")
    assert plain == expected()
    assert vitals == expected(web_vitals=True)
    assert [name for name, _source in csp_hashes(make(web_vitals=True))] == [
        "stub",
        "tracker.vitals",
    ]
    assert vitals.split()[0] == plain.split()[0]  # the stub is the same
    assert vitals != plain, "the tracker.vitals build is the same as the plain tracker"
    assert hashes("--web-vitals", "--batch") == expected(web_vitals=True, batch=True)
    # Checkout links select another build too (only whether there are any matters).
    links = ["https://buy.stripe.com/"]
    checkout = hashes("--checkout")
    assert checkout == expected(checkout_links=links)
    assert checkout != plain, "the tracker.checkout build is the same as the plain tracker"
    assert [name for name, _source in csp_hashes(make(checkout_links=links))][1] == (
        "tracker.checkout"
    )
    both = expected(web_vitals=True, checkout_links=links)
    # The config file given to inject (the plan in it is accepted, not needed).
    config_file = tmp_path / "tracking.toml"
    config_file.write_text(TOML)
    assert hashes("--config", str(config_file)) == both
    assert hashes("--config", str(config_file), "--no-checkout") == vitals
    assert hashes("--config", str(config_file), "--no-web-vitals", "--no-checkout") == plain
    config_file.write_text('web_vitals = "yes"\n')
    bad = run([cli_executable(), "csp-hashes", "--config", str(config_file)], cwd=tmp_path)
    assert bad.returncode == 2
    assert re.fullmatch(
        r"aae-tracking: error: .*tracking\.toml: web_vitals: must be a boolean .*\n", bad.stderr
    )


def test_every_pseudo_class_the_build_accepts_is_one_chromium_knows(browser_page: Any) -> None:
    # The build-time list must never accept a selector the browser then refuses.
    page = browser_page.page
    page.set_content("<a href='#x'>x</a>")
    functional = {"not", "is", "where", "has", "lang", "dir"}
    nth = {"nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type"}
    for name in sorted(PSEUDO_CLASSES):
        argument = "(.a)" if name in functional - {"lang", "dir"} else ""
        argument = "(en)" if name == "lang" else "(ltr)" if name == "dir" else argument
        argument = "(2n+1)" if name in nth else argument
        selector = validate_selector("events[0].selector", f"a:{name}{argument}")
        refused = page.evaluate(
            "s => { try { document.body.matches(s); return false } catch (e) { return true } }",
            selector,
        )
        assert not refused, f"Chromium refuses {selector!r}"
    with pytest.raises(ConfigError):
        validate_selector("s", "a:hovr")
    assert page.evaluate(
        "() => { try { document.body.matches('a:hovr') } catch (e) { return true } }"
    )


@pytest.mark.parametrize("checkout", [False, True])
@pytest.mark.parametrize("vitals", [False, True])
@pytest.mark.parametrize("pixel", [False, True])
@pytest.mark.parametrize("batch", [False, True])
def test_each_combination_of_build_settings_ships_its_own_build(
    batch: bool, pixel: bool, vitals: bool, checkout: bool
) -> None:
    config = make(
        batch=batch,
        facebook_pixel_id="1234567890123456" if pixel else None,
        web_vitals=vitals,
        checkout_links=["https://buy.stripe.com/"] if checkout else None,
    )
    name = tracker_build(config)
    script = str(browser_script(name))  # raises if the build is missing
    # Only the builds of sites with checkout links carry the hand-off code (its listeners).
    assert ("dragstart" in script) == checkout, name
    assert ("connect.facebook.net" in script) == pixel, name
    assert ("largest-contentful-paint" in script) == vitals, name
