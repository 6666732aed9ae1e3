"""Who may talk to the stored collector (aae_tracking_plugins/collector/access.py): origins as
browsers send them, the loopback default, read access by address or token; and the migration
files, numbered and in step for both databases."""

from __future__ import annotations

import pytest

from aae_tracking_plugins.collector.access import (
    OriginPolicy,
    ReadAccess,
    WriteAccess,
    is_loopback,
    normalize_origin,
    parse_address,
)
from aae_tracking_plugins.collector.service import CollectorConfig
from aae_tracking_plugins.collector.storage.migrations import available


@pytest.mark.parametrize(
    ("written", "origin"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("https://shop.example:443/", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://shop.example:8080", "http://shop.example:8080"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("*", "*"),
    ],
)
def test_origins_are_written_as_browsers_send_them(written: str, origin: str) -> None:
    assert normalize_origin(written) == origin


@pytest.mark.parametrize(
    "written", ["shop.example", "ftp://shop.example", "https://shop.example/page", "https://u@x",
                "https://x?a=1", "https://x:99999", "https://"],
)  # fmt: skip
def test_what_is_not_an_origin_is_refused(written: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        normalize_origin(written)


def test_configured_origins_only_and_star_for_any() -> None:
    policy = OriginPolicy.of(["https://Shop.Example"])
    assert policy.allows("https://shop.example")
    assert not policy.allows("https://shop.example.evil")
    assert not policy.allows("http://localhost:8000")  # the loopback default is off now
    anyone = OriginPolicy.of(["*"])
    assert anyone.allows("https://anything.example")
    assert anyone.allows("null")
    assert anyone.describe() == "any origin"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:8000", True), ("http://127.0.0.1", True), ("https://127.8.9.10:1", True),
        ("http://[::1]:3000", True), ("http://localhost.evil.example", False),
        ("http://127.0.0.1.nip.io", False), ("null", False), ("file://", False),
        ("http://localhost/path", False), ("http://[::2]", False),
    ],
)  # fmt: skip
def test_without_configuration_only_loopback_origins(origin: str, allowed: bool) -> None:
    assert OriginPolicy().allows(origin) is allowed


def test_private_network_access_only_when_asked() -> None:
    asked = OriginPolicy.preflight_headers("https://a.example", "true")
    assert asked["Access-Control-Allow-Private-Network"] == "true"
    assert asked["Access-Control-Allow-Origin"] == "https://a.example"
    for header in (None, "false", ""):
        assert "Access-Control-Allow-Private-Network" not in OriginPolicy.preflight_headers(
            "https://a.example", header
        )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("10.0.0.1", False), ("::ffff:10.0.0.1", False), ("192.168.1.2", False), (None, False),
     ("localhost", False), ("fe80::1%eth0", False)],
)  # fmt: skip
def test_loopback_clients(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("10.0.0.1", "10.0.0.1"), ("::ffff:10.0.0.1", "10.0.0.1"), ("fe80::1%eth0", "fe80::1"),
     ("2001:DB8::1", "2001:db8::1"), ("localhost", None), ("", None), ("10.0.0.1, 10.0.0.2", None)],
)  # fmt: skip
def test_addresses_as_servers_and_proxies_write_them(text: str, parsed: str | None) -> None:
    address = parse_address(text)
    assert (None if address is None else str(address)) == parsed


def test_reads_by_address_without_a_token_and_by_token_with_one() -> None:
    open_to_loopback = ReadAccess()
    assert open_to_loopback.refusal("127.0.0.1", None) == (0, "")
    status, reason = open_to_loopback.refusal("203.0.113.7", "Bearer anything")
    assert status == 403
    # The refusal names the setting that opens reads to other machines.
    assert "AAE_COLLECTOR_READ_TOKEN" in reason
    with_token = ReadAccess("s3cret")
    assert with_token.refusal("203.0.113.7", "Bearer s3cret") == (0, "")
    assert with_token.refusal("203.0.113.7", "bearer  s3cret ") == (0, "")
    for header in (None, "Bearer", "Bearer wrong", "Basic s3cret", "s3cret"):
        assert with_token.refusal("127.0.0.1", header)[0] == 401


def test_migrations_are_numbered_and_in_step_for_both_databases() -> None:
    sqlite, postgresql = available("sqlite"), available("postgresql")
    assert [m.version for m in sqlite] == list(range(1, len(sqlite) + 1))
    assert [m.name for m in sqlite] == [m.name for m in postgresql]
    for migration in (*sqlite, *postgresql):
        assert "CREATE" in migration.sql or "ALTER" in migration.sql


# The read and write tokens are secrets (docs/collector.md): no ``repr`` shows them, so no log
# line, assertion message or traceback that prints the configuration or the access rules does.
# ``CollectorConfig`` already kept the write token out of its ``repr``; the read token, and both
# tokens as held by :class:`ReadAccess` / :class:`WriteAccess`, were still shown.


def test_no_repr_shows_a_token() -> None:
    config = CollectorConfig(
        database_url="sqlite:///x.db", read_token="r3ad-s3cret", write_token="wr1te-s3cret"
    )
    shown = [
        repr(config),
        repr(ReadAccess(config.read_token)),
        repr(WriteAccess(config.write_token)),
    ]
    for text in shown:
        assert "s3cret" not in text, text
    assert ReadAccess("a") != ReadAccess("b")  # still compared by token


# ``AAE_COLLECTOR_TRUST_PROXY`` takes yes/no words; any other value is a one-line error naming
# the variable (the project's rule for bad settings), not silently "off": an operator who wrote
# ``AAE_COLLECTOR_TRUST_PROXY=enabled`` would otherwise forward the proxy's own address to Meta
# for every visitor without a word.


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("", False), ("0", False),
     ("false", False), ("no", False), ("off", False)],
)  # fmt: skip
def test_yes_and_no_words(value: str, expected: bool) -> None:
    config = CollectorConfig.from_environment({"AAE_COLLECTOR_TRUST_PROXY": value})
    assert config.trust_proxy is expected


def test_another_value_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^AAE_COLLECTOR_TRUST_PROXY must be 1/true/yes/on"):
        CollectorConfig.from_environment({"AAE_COLLECTOR_TRUST_PROXY": "enabled"})
