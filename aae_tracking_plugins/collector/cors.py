"""The CORS headers of the collector's answers (docs/collector-cors.md explains them for operators).

Rules, from the Fetch Standard (https://fetch.spec.whatwg.org/, "CORS protocol"):

* ``navigator.sendBeacon`` sends with credentials mode "include" (Beacon spec, "Processing
  model"), and a credentialed request is refused by the browser when the answer says
  ``Access-Control-Allow-Origin: *``; so the request's origin is echoed, with
  ``Access-Control-Allow-Credentials: true``, and ``Vary: Origin`` because the answer depends on
  it (RFC 9110 section 12.5.5).
* A CORS-mode ``fetch`` may read only the CORS-safelisted response headers unless others are
  listed in ``Access-Control-Expose-Headers``; the tracker reads ``Retry-After`` to schedule its
  retry.
* A preflight (``OPTIONS``) from a public page to a private address may ask
  ``Access-Control-Request-Private-Network: true`` and is then answered
  ``Access-Control-Allow-Private-Network: true`` (Private Network Access,
  https://wicg.github.io/private-network-access/, "CORS preflight").
"""

from __future__ import annotations

from aae_tracking_plugins.collector.wire import EVENTS_ALLOW

__all__ = ["cors_headers", "preflight_headers"]


def cors_headers(origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers for any answer to a request whose ``Origin`` header is ``origin``.

    Input: the ``Origin`` request header, None when absent. Output: ``(name, value)`` pairs in
    the order they are sent; empty without an origin (not a CORS request).
    """
    if origin is None:
        return []
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
        ("Access-Control-Expose-Headers", "Retry-After"),
    ]


def preflight_headers(private_network: str | None) -> dict[str, str]:
    """The headers of a 204 answer to a preflight of the events path (besides :func:`cors_headers`).

    Input: the ``Access-Control-Request-Private-Network`` request header, None when absent.
    Output: header name to value; the private network permission only when that header is
    ``true`` (any case). The tracker's own requests are CORS-simple and never preflighted:
    this is for other clients (a ``fetch`` with ``application/json``).
    """
    headers = {
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "86400",  # seconds a browser may cache this answer
        "Allow": EVENTS_ALLOW,
    }
    if (private_network or "").lower() == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return headers
