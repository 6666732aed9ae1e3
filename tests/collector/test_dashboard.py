"""The dashboard at ``/`` over HTTP (no browser): the numbers it shows, filters, the live part's
ETag, escaping, headers, and who may read it (loopback, remote clients, the read token).
tests/collector/test_dashboard_browser.py shows the same page in Chromium."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import lxml.html
import pytest

from aae_tracking_plugins.collector.dashboard import CSP, TOKEN_COOKIE
from aae_tracking_plugins.collector.dashboard_view import REFRESH_SECONDS, render_panels, state_tag
from aae_tracking_plugins.collector.server import CollectorServer, create_app
from aae_tracking_plugins.collector.service import CollectorConfig
from aae_tracking_plugins.collector.storage import StoredEvent
from aae_tracking_plugins.collector.storage.outbox import OutboxStatus
from tests.collector.dashboard_helpers import (
    event_texts,
    expected_table,
    funnel_table,
    outside_address,
    seed,
)
from tests.collector.report_data import LATER, T0
from tests.collector_helpers import InProcessCollector, post, request, running_collector
from tests.events import make_event


def page(url: str, path: str = "/", **options: object) -> tuple[int, dict[str, str], str]:
    answer = request(url, "GET", path, **options)  # type: ignore[arg-type]
    return answer.status, dict(answer.headers), answer.body.decode()


def test_the_page_shows_the_funnel_of_the_stored_events(
    stored_collector: InProcessCollector,
) -> None:
    """SQLite and PostgreSQL: the report's sample, every number, rate and total as worked out
    by hand, and the 21 stored events (22 sent, one a retry) newest first."""
    seed(stored_collector.service.store)
    status, headers, html = page(stored_collector.url)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert funnel_table(html) == expected_table()
    lines = event_texts(html)
    assert len(lines) == 21
    assert [line[0] for line in lines[:2]] == ["2026-03-02 10:00:00"] * 2  # the later ones first
    assert lines[0][1:5] == ["AddToCart", "lp_1", "camp_x", "s10"]
    assert lines[-1][0] == "2026-03-02 09:00:00"


def test_filters_narrow_the_funnel_and_the_events(tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        seed(collector.service.store)
        _, _, html = page(collector.url, "/?landing_page_id=lp_1&campaign_id=camp_x")
        assert set(funnel_table(html)) == {("lp_1", "camp_x", "a"), ("lp_1", "camp_x", "b")}
        assert {line[2:4] == ["lp_1", "camp_x"] for line in event_texts(html)} == {True}
        _, _, html = page(collector.url, "/?landing_page_id=lp_2&campaign_id=")  # empty: any
        assert set(funnel_table(html)) == {("lp_2", "camp_y", "")}
        assert len(event_texts(html)) == 3
        status, _, html = page(collector.url, "/?campaign_id=%3Cb%3E")
        assert status == 422
        assert "campaign_id must match" in html
        assert "<b>" not in html


def test_the_live_part_answers_304_until_an_event_arrives(tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        first = request(collector.url, "GET", "/dashboard/panels")
        assert first.status == 200
        tag = first.headers["etag"]
        again = request(collector.url, "GET", "/dashboard/panels", headers={"If-None-Match": tag})
        if again.status == 200:  # a refresh period (30 s) ended in between: once more
            tag = again.headers["etag"]
            again = request(
                collector.url, "GET", "/dashboard/panels", headers={"If-None-Match": tag}
            )
        assert (again.status, again.body) == (304, b"")
        assert tag.startswith('W/"')
        assert post(collector.url, make_event("Purchase")).status == 200
        changed = request(collector.url, "GET", "/dashboard/panels", headers={"If-None-Match": tag})
        assert changed.status == 200
        assert changed.headers["etag"] != tag
        assert funnel_table(changed.body.decode())[("lp_123", "camp_456", "")]["revenue"] == (
            "EUR 49.99"
        )


def test_event_data_is_shown_as_text_never_as_markup(tmp_path: Path) -> None:
    lead = make_event("PageView", event_type="Lead")
    lead["event_data"] = {
        "url": "https://shop.example/landing/",
        "timestamp": lead["timestamp"],
        "note": '<script>alert(1)</script><img src=x onerror="alert(2)">',
    }
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        assert post(collector.url, lead).status == 200
        _, _, html = page(collector.url)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    shown = event_texts(html)[0][5]
    assert shown.endswith('note=<script>alert(1)</script><img src=x onerror="alert(2)">')


def test_answers_carry_a_strict_content_security_policy(tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        _, headers, html = page(collector.url)
        assert headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP
        assert "script-src 'self'" in CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert "style=" not in html  # nothing inline to allow
        assert "<style" not in html
        assert "<script>" not in html
        script = request(collector.url, "GET", "/dashboard/assets/dashboard.js")
        assert script.status == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert b"If-None-Match" in script.body
        style = request(collector.url, "GET", "/dashboard/assets/dashboard.css")
        assert style.headers["content-type"].startswith("text/css")
        assert request(collector.url, "GET", "/dashboard/assets/..%2Fapi.py").status == 404


def test_the_dashboard_is_not_in_the_openapi_document(tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        paths = json.loads(request(collector.url, "GET", "/openapi.json").body)["paths"]
    assert "/" not in paths
    assert "/dashboard/panels" not in paths


# --------------------------------------------------------------------------- access


def test_without_a_token_a_remote_client_is_refused(tmp_path: Path) -> None:
    """A collector listening on every interface, reached at this machine's own non-loopback
    address: a remote client to it. The page, its live part (and the listing) answer 403;
    the write endpoint stays open."""
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    app = create_app(CollectorConfig(database_url=f"sqlite:///{tmp_path / 'e.db'}", echo=None))
    with CollectorServer(app, host="0.0.0.0") as server:
        remote = f"http://{address}:{server.port}"
        for path in ("/", "/dashboard/panels", "/api/v1/landing-pages/events"):
            answer = request(remote, "GET", path)
            assert answer.status == 403, path
            assert b"only on loopback" in answer.body
        assert post(remote, make_event()).status == 200
        assert request(server.url, "GET", "/").status == 200  # loopback reads


def test_with_a_token_the_page_needs_it_and_keeps_it_in_a_cookie(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    with running_collector(url, read_token="s3cret") as collector:
        status, _, html = page(collector.url)
        assert status == 401
        assert "?token=" in html  # the page says how to get in
        assert request(collector.url, "GET", "/?token=wrong").status == 401
        answer = request(collector.url, "GET", "/?landing_page_id=lp_1&token=s3cret")
        assert answer.status == 303
        assert answer.headers["location"] == "/?landing_page_id=lp_1"  # the token dropped
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{TOKEN_COOKIE}=s3cret;")
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on loopback; https gets Secure
        with_cookie = {"Cookie": f"{TOKEN_COOKIE}=s3cret"}
        assert request(collector.url, "GET", "/", headers=with_cookie).status == 200
        assert request(collector.url, "GET", "/dashboard/panels", headers=with_cookie).status == 200
        bearer = {"Authorization": "Bearer s3cret"}
        assert request(collector.url, "GET", "/dashboard/panels", headers=bearer).status == 200
        wrong = {"Cookie": f"{TOKEN_COOKIE}=nope"}
        assert request(collector.url, "GET", "/dashboard/panels", headers=wrong).status == 401


def test_behind_a_password_proxy_the_cookie_still_counts(tmp_path: Path) -> None:
    """A reverse proxy with HTTP Basic auth in front: the browser sends Authorization: Basic
    with every request, and the dashboard goes by its own cookie."""
    basic = "Basic dXNlcjpwYXNz"  # user:pass, the proxy's, passed on
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}", read_token="s3cret") as collector:
        for cookie, status in ((f"{TOKEN_COOKIE}=s3cret", 200), (f"{TOKEN_COOKIE}=nope", 401)):
            headers = {"Authorization": basic, "Cookie": cookie}
            for path in ("/", "/dashboard/panels"):
                assert request(collector.url, "GET", path, headers=headers).status == status
        assert request(collector.url, "GET", "/", headers={"Authorization": basic}).status == 401


def test_over_https_the_cookie_is_secure(tmp_path: Path) -> None:
    """Behind a TLS proxy on the same machine, uvicorn takes the scheme from
    X-Forwarded-Proto (a proxy on loopback is trusted): the cookie gets Secure."""
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}", read_token="s3cret") as collector:
        answer = request(
            collector.url, "GET", "/?token=s3cret", headers={"X-Forwarded-Proto": "https"}
        )
    assert answer.status == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_a_token_given_when_none_is_configured_is_only_dropped(tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        answer = request(collector.url, "GET", "/?token=anything")
    assert (answer.status, answer.headers["location"]) == (303, "/")
    assert "set-cookie" not in answer.headers


# --------------------------------------------------------------------------- the live part


def test_the_state_tag_changes_with_what_the_page_would_show() -> None:
    events = [StoredEvent(T0, {"event_id": "a"})]
    tag = state_tag(events, None, 0.0)
    assert tag.startswith('W/"')
    assert state_tag(events, None, REFRESH_SECONDS - 0.1) == tag
    assert state_tag(events, None, REFRESH_SECONDS) != tag  # rendered again once a period
    assert state_tag([StoredEvent(T0, {"event_id": "b"}), *events], None, 0.0) != tag
    assert state_tag([StoredEvent(LATER, {"event_id": "a"})], None, 0.0) != tag
    one, two = OutboxStatus(pending=1), OutboxStatus(pending=2)
    assert state_tag(events, one, 0.0) != tag
    assert state_tag(events, one, 0.0) != state_tag(events, two, 0.0)
    failed = OutboxStatus(failed=1, last_error="Meta answered 400")
    assert state_tag(events, failed, 0.0) != state_tag(events, OutboxStatus(failed=1), 0.0)


def test_the_forwarding_panel_shows_the_outbox_when_given() -> None:
    """Rendered only for a collector that forwards; counts, and the last error as text."""
    assert "Forwarding" not in render_panels([], [], None)
    when = datetime(2026, 3, 2, 10, 0, 5, tzinfo=timezone.utc)
    status = OutboxStatus(pending=3, sent=7, failed=1, last_error="<b>x</b>", last_error_at=when)
    tree = lxml.html.fromstring(render_panels([], [], status))
    fields = ("pending", "sent", "failed", "last_error")
    assert [tree.xpath(f"string(//*[@data-field='outbox_{name}'])") for name in fields] == [
        "3",
        "7",
        "1",
        "<b>x</b>",
    ]
    assert "(2026-03-02 10:00:05 UTC)" in tree.xpath("string(//p[@class='last-error'])")
    assert not tree.xpath("//b")
    assert "last-error" not in render_panels([], [], OutboxStatus(pending=1))
