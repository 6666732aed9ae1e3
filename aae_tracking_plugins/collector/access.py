"""Who may talk to the stored collector: CORS for the sites' origins, reads for the operator.

CORS (Fetch Standard, "CORS protocol"; the headers are those of the development collector,
:mod:`.cors`, which docs/collector-cors.md explains): a request from a page carries ``Origin``.
An allowed origin gets it echoed with ``Access-Control-Allow-Credentials: true`` (a beacon is
credentialed), ``Vary: Origin`` and ``Retry-After`` exposed; a preflight that asks for Private
Network Access (``Access-Control-Request-Private-Network: true``, WICG Private Network Access,
"CORS preflight") gets ``Access-Control-Allow-Private-Network: true``. Any other origin is
refused (403) and nothing it sends is stored. Requests without ``Origin`` (curl, a back office)
are not CORS requests and pass.

Allowed origins are the configured ones (exact ``scheme://host[:port]``, or ``*`` for any);
with none configured, any loopback origin (``http(s)://localhost``, ``127.0.0.1``, ``[::1]``,
any port): the local development default.

Reads (the events listing and the dashboard) answer only clients on a loopback address,
unless a read token is configured: then every client must send ``Authorization: Bearer
<token>`` (also on loopback, since a reverse proxy on the same machine makes every visitor
look local).

Writes are open to every browser (within CORS). A request that sends ``Authorization: Bearer
<write token>`` posts *server-sent* events (a checkout webhook, a back office): the token is
what marks them (:class:`WriteAccess`); a wrong token is refused (401), and so is any
``Authorization`` header while no write token is configured (403): a request that claims to
be a server never falls back to being a browser.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "ANY_ORIGIN",
    "OriginPolicy",
    "ReadAccess",
    "WriteAccess",
    "is_loopback",
    "normalize_origin",
    "parse_address",
]

#: The ``--allow-origin`` value that allows every origin.
ANY_ORIGIN: Final = "*"


def normalize_origin(text: str) -> str:
    """An origin as browsers serialize it: ``scheme://host[:port]``, lower case, no default
    port, no path (HTML Standard, "ASCII serialization of an origin").

    Input: an origin as a user writes it (``https://Shop.Example:443/``). Output: the origin,
    or ``*`` unchanged. Raises ``ValueError`` naming the problem for anything else (no
    http(s) scheme, no host, a path, query or user part).
    """
    if text == ANY_ORIGIN:
        return text
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an origin: {text!r} (expected like https://shop.example)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"an origin has no path, query or user: {text!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"not an origin: {text!r} (bad port)") from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _is_loopback_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or parts.path or parts.query or parts.username:
        return False
    return parts.hostname == "localhost" or is_loopback(parts.hostname)


@dataclass(frozen=True)
class OriginPolicy:
    """Which page origins may send events; see the module docstring.

    ``origins``: normalized origins (:func:`normalize_origin`) or ``*``; empty means any
    loopback origin.
    """

    origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, origins: Iterable[str]) -> OriginPolicy:
        """A policy from origins as users write them; raises ``ValueError`` like
        :func:`normalize_origin`."""
        return cls(frozenset(normalize_origin(origin) for origin in origins))

    def allows(self, origin: str) -> bool:
        """Whether a request with this ``Origin`` header may be answered (and stored)."""
        if not self.origins:
            return _is_loopback_origin(origin)
        return ANY_ORIGIN in self.origins or origin in self.origins

    def describe(self) -> str:
        """The policy in words, for the banner."""
        if not self.origins:
            return "any loopback origin (add a site with --allow-origin)"
        if ANY_ORIGIN in self.origins:
            return "any origin"
        return ", ".join(sorted(self.origins))

    @staticmethod
    def headers(origin: str | None) -> dict[str, str]:
        """The CORS headers of an answer to an allowed request (``Vary`` alone without an
        ``Origin``: the answer still depends on it, RFC 9110 section 12.5.5)."""
        if origin is None:
            return {"Vary": "Origin"}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": "Retry-After",
            "Vary": "Origin",
        }

    @staticmethod
    def preflight_headers(origin: str, private_network: str | None) -> dict[str, str]:
        """The headers of a 204 answer to an allowed preflight; the Private Network Access
        permission only when ``Access-Control-Request-Private-Network`` is ``true``."""
        headers = OriginPolicy.headers(origin) | {
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Authorization",
            "Access-Control-Max-Age": "86400",  # seconds a browser may keep this answer
        }
        if (private_network or "").strip().lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        return headers


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address as written by a server or a proxy (``127.0.0.1``, ``::1``,
    ``fe80::1%eth0``), an IPv4-mapped IPv6 address as the IPv4 address it maps
    (``::ffff:10.0.0.1`` -> ``10.0.0.1``: a dual-stack socket reports IPv4 clients so, RFC 4291
    section 2.5.5.2); None when ``text`` is no address."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # no zone id (RFC 6874)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str | None) -> bool:
    """Whether a client address (``request.client.host``) is a loopback address (IPv4
    127.0.0.0/8, IPv6 ``::1``, or IPv4-mapped loopback). None (a Unix socket) is not."""
    address = parse_address(host) if host is not None else None
    return address is not None and address.is_loopback


@dataclass(frozen=True)
class ReadAccess:
    """Who may read: loopback clients, or (``token`` set) whoever sends the token."""

    token: str | None = field(default=None, repr=False)  # a secret: never shown

    def refusal(self, client_host: str | None, authorization: str | None) -> tuple[int, str]:
        """``(0, "")`` when the read may go on, else ``(status, reason)``: 401 for a missing or
        wrong token, 403 for a client not on loopback when no token is configured."""
        if self.token is None:
            if is_loopback(client_host):
                return 0, ""
            return 403, (
                "reads answer only on loopback unless a read token is configured"
                " (AAE_COLLECTOR_READ_TOKEN)"
            )
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            return 0, ""
        return 401, "a read token is required: Authorization: Bearer <token>"


def _bearer_is(authorization: str, token: str) -> bool:
    """Whether ``authorization`` is ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@dataclass(frozen=True)
class WriteAccess:
    """Who may post server-sent events: whoever sends the write ``token`` (None: nobody)."""

    token: str | None = field(default=None, repr=False)  # a secret: never shown

    def origin(self, authorization: str | None) -> tuple[str, int, str]:
        """``(origin, 0, "")`` for a request that may post, its events' origin ``browser``
        (no ``Authorization`` header) or ``server`` (the write token); else ``("", status,
        reason)``: 401 for a wrong token, 403 when no write token is configured."""
        if authorization is None:
            return "browser", 0, ""
        if self.token is None:
            return (
                "",
                403,
                "server-sent events are not enabled: the collector has no write token "
                "(AAE_COLLECTOR_WRITE_TOKEN)",
            )
        if _bearer_is(authorization, self.token):
            return "server", 0, ""
        return "", 401, "wrong write token: send Authorization: Bearer <AAE_COLLECTOR_WRITE_TOKEN>"
