"""Helpers of the dashboard's tests: the funnel table and event lines read back from the page's
HTML, and a non-loopback address of this machine to reach a collector as a remote client."""

from __future__ import annotations

import base64
import socket
from typing import Any

import lxml.html

from aae_tracking_plugins.collector.storage import EventStore
from tests.collector.report_data import rows, sample

FIELDS = (
    "page_views", "add_to_carts", "cart_rate", "purchases", "checkout_rate", "overall_rate",
    "revenue",
)  # fmt: skip


def funnel_table(html: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The funnel rows of a dashboard page or panels fragment: (page, campaign, variant) with
    ``""`` for none -> {field: cell text}, revenue cells as ``"EUR 15.00; USD 7.25"``."""
    tree = lxml.html.fromstring(html)
    table = {}
    for row in tree.xpath("//tr[@class='funnel-row']"):
        names = ("data-landing-page-id", "data-campaign-id", "data-variant")
        key = tuple(row.get(name) for name in names)
        cells = {}
        for name in FIELDS:
            (cell,) = row.xpath(f"td[@data-field='{name}']")
            parts = [span.text_content() for span in cell.xpath("span")] or [cell.text_content()]
            cells[name] = "; ".join(parts)
        table[key] = cells
    return table


def event_texts(html: str) -> list[list[str]]:
    """The latest events' rows as the cells' texts, in page order."""
    tree = lxml.html.fromstring(html)
    return [
        [cell.text_content() for cell in row.xpath("td")]
        for row in tree.xpath("//tr[@class='event-row']")
    ]


def seed(store: EventStore) -> None:
    """Store tests/collector/report_data.py's sample (fixed arrival times, so the page is
    the same on every run)."""
    store.add(rows(sample()))


def expected_table() -> dict[tuple[str, str, str], dict[str, Any]]:
    """The sample's funnel as the page must show it, worked out by hand from report_data.py's
    docstring cases (independently of the SQL and of the page's code)."""
    return {
        ("lp_1", "", ""): _cells(1, 0, 0, {}),
        ("lp_1", "camp_x", "a"): _cells(5, 3, 1, {"EUR": 15.0, "USD": 7.25}),
        ("lp_1", "camp_x", "b"): _cells(2, 1, 1, {"EUR": 20.0}),
        ("lp_2", "camp_y", ""): _cells(1, 1, 1, {"EUR": 3.5}),
    }


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "0.0 %"


def _cells(views: int, carts: int, bought: int, money: dict[str, float]) -> dict[str, str]:
    return {
        "page_views": str(views),
        "add_to_carts": str(carts),
        "cart_rate": _percent(carts, views),
        "purchases": str(bought),
        "checkout_rate": _percent(bought, carts),
        "overall_rate": _percent(bought, views),
        "revenue": "; ".join(f"{currency} {total:,.2f}" for currency, total in money.items()),
    }


def outside_address() -> str | None:
    """An address of this machine that is not loopback (the one its default route leaves
    from), or None when it has none. Connecting a UDP socket sends nothing."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): only the route is looked up
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


# Runs in a blank page of the same browser (the dashboard's CSP would refuse data: URLs):
# both PNGs decoded by Chromium, compared pixel by pixel; a pixel differs when one of its
# channels differs by more than ``threshold`` (0-255), which anti-aliasing noise does not.
_COMPARE_JS = """async ([actual, baseline, threshold]) => {
  const load = async (b64) => createImageBitmap(
    await (await fetch("data:image/png;base64," + b64)).blob());
  const [a, b] = await Promise.all([load(actual), load(baseline)]);
  if (a.width !== b.width || a.height !== b.height) {
    return {size: `${a.width}x${a.height} against ${b.width}x${b.height}`, differing: -1};
  }
  const pixels = (image) => {
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, image.width, image.height).data;
  };
  const [pa, pb] = [pixels(a), pixels(b)];
  let differing = 0;
  for (let i = 0; i < pa.length; i += 4) {
    for (let c = 0; c < 4; c++) {
      if (Math.abs(pa[i + c] - pb[i + c]) > threshold) { differing++; break; }
    }
  }
  return {size: `${a.width}x${a.height}`, differing, total: pa.length / 4};
}"""


def differing_pixels(
    blank_page: Any, actual: bytes, baseline: bytes, threshold: int = 32
) -> dict[str, Any]:
    """Compare two PNGs in Chromium (``blank_page``: a Playwright page on ``about:blank``).

    Output: ``{"size": "WxH", "differing": N, "total": pixels}``; ``differing`` is -1 when
    the sizes differ (``size`` then names both)."""
    encoded = [base64.b64encode(png).decode() for png in (actual, baseline)]
    result: dict[str, Any] = blank_page.evaluate(_COMPARE_JS, [*encoded, threshold])
    return result
