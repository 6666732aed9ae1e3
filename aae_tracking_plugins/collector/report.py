"""``aae-tracking report``: the funnel of the stored events, as a table, CSV or JSON.

Registered like ``collect`` through the entry point group ``aae_tracking_plugins.commands``
(pyproject.toml). The funnel's definition is in :mod:`.storage.funnel` (docs/collector.md,
"Report"). It reads the database the collector writes; it never creates one.

Exit status: 0 with the report; 1 when the database cannot be opened or read; 2 for a usage
error (a bad ``--database`` URL, an SQLite file that does not exist). Every error is one line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from aae_tracking_plugins.collector.storage import FunnelQuery, FunnelRow
    from aae_tracking_plugins.collector.storage.outbox import OutboxStatus

__all__ = ["render", "report_command"]

_COLUMNS = (
    "landing_page_id", "campaign_id", "variant", "page_views", "add_to_carts", "purchases",
    "cart_rate", "purchase_rate", "revenue",
)  # fmt: skip


class _Usage(click.ClickException):
    """A one-line error with exit status 2."""

    exit_code = 2


def _utc(moment: datetime | None) -> datetime | None:
    """A naive ``--since``/``--until`` is UTC (as ``received_at`` is stored)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


@click.command(
    "report",
    help="Print the PageView -> AddToCart -> Purchase funnel of the stored events per landing "
    "page, campaign and variant: sessions at each step, conversion rates, revenue per currency "
    "(docs/collector.md, Report).",
    short_help="print the funnel of the stored events",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname (default: "
    "AAE_COLLECTOR_DATABASE, else sqlite:///aae-events.db)",
)
@click.option("--landing-page-id", metavar="ID", help="only this landing page")
@click.option("--campaign-id", metavar="ID", help="only this campaign")
@click.option("--since", type=click.DateTime(), help="events received at or after (UTC)")
@click.option("--until", type=click.DateTime(), help="events received before (UTC)")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for a terminal, csv or json for other programs",
)
def report_command(
    database_url: str | None,
    landing_page_id: str | None,
    campaign_id: str | None,
    since: datetime | None,
    until: datetime | None,
    output_format: str,
) -> None:
    """Print the report (see the module docstring for the exit status)."""
    from aae_tracking_plugins.collector.storage import (
        DEFAULT_DATABASE_URL,
        FunnelQuery,
        open_store,
    )

    url = database_url or os.environ.get("AAE_COLLECTOR_DATABASE") or DEFAULT_DATABASE_URL
    from_environment = not database_url and os.environ.get("AAE_COLLECTOR_DATABASE")
    setting = "AAE_COLLECTOR_DATABASE" if from_environment else "argument --database"
    try:
        query = FunnelQuery(landing_page_id, campaign_id, _utc(since), _utc(until))
    except ValueError as exc:
        raise _Usage(f"argument --since/--until: {exc}") from None
    _check_exists(url, setting)
    rows, outbox = _read(url, setting, query, open_store)
    click.echo(render(rows, output_format), nl=False)
    if output_format == "table" and outbox is not None:
        click.echo(outbox_line(outbox))


def _check_exists(url: str, setting: str) -> None:
    """A report of a file that is not there is a typo, not an empty funnel."""
    from aae_tracking_plugins.collector.storage import DatabaseURLError, sqlite_path

    if not url.lower().startswith("sqlite:"):
        return
    try:
        path = sqlite_path(url)
    except DatabaseURLError as exc:
        raise _Usage(f"{setting}: {exc}") from None
    if not path.is_file():
        raise _Usage(f"{setting}: no database file {str(path)!r} (run aae-tracking collect first)")


def _read(
    url: str, setting: str, query: FunnelQuery, open_store: Any
) -> tuple[list[FunnelRow], OutboxStatus | None]:
    """The funnel, and the Conversions API outbox's status when it was ever used."""
    from aae_tracking_plugins.collector.storage import DatabaseURLError, StorageError

    try:
        with open_store(url) as store:
            rows: list[FunnelRow] = store.funnel(query)
            outbox: OutboxStatus = store.outbox_status()
    except DatabaseURLError as exc:
        raise _Usage(f"{setting}: {exc}") from None
    except StorageError as exc:
        raise click.ClickException(f"{setting}: {exc}") from None
    except ImportError as exc:
        raise _Usage(
            f"report needs the collector extra ({exc.name} is missing): "
            "pip install 'aae-tracking-plugins[collector]'"
        ) from None
    used = outbox.pending or outbox.sent or outbox.failed
    return rows, outbox if used else None


def outbox_line(status: OutboxStatus) -> str:
    """``Conversions API outbox: 2 pending, 40 sent, 1 failed (last error: ...)``."""
    last = f" (last error: {status.last_error})" if status.last_error else ""
    return (
        f"Conversions API outbox: {status.pending} pending, {status.sent} sent, "
        f"{status.failed} failed{last}"
    )


def render(rows: list[FunnelRow], output_format: str) -> str:
    """The report text of ``rows`` in ``output_format`` (``table``, ``csv`` or ``json``).

    CSV (for spreadsheets): a header of the :func:`_record` keys with one ``revenue_<CUR>``
    column per currency found (``revenue_`` for none), one line per row, empty cells for None.
    JSON: a list of those records, revenue an object currency -> total (``""`` for a Purchase
    without currency). Rates are fractions (0-1); totals are in the currency's units as sent.
    """
    if output_format == "json":
        return json.dumps([_record(row) for row in rows], indent=2, ensure_ascii=False) + "\n"
    if output_format == "csv":
        currencies = sorted({currency or "" for row in rows for currency in row.revenue})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*_COLUMNS[:-1], *(f"revenue_{currency}" for currency in currencies)])
        for row in rows:
            record = _record(row)
            money = record.pop("revenue")
            writer.writerow(
                ["" if value is None else value for value in record.values()]
                + [money.get(currency, "") for currency in currencies]
            )
        return out.getvalue()
    return _table(rows)


def _record(row: FunnelRow) -> dict[str, Any]:
    return {
        "landing_page_id": row.landing_page_id,
        "campaign_id": row.campaign_id,
        "variant": row.variant,
        "page_views": row.page_views,
        "add_to_carts": row.add_to_carts,
        "purchases": row.purchases,
        "cart_rate": round(row.cart_rate, 6),
        "purchase_rate": round(row.purchase_rate, 6),
        "revenue": {currency or "": total for currency, total in row.revenue.items()},
    }


def _money(row: FunnelRow) -> str:
    return "; ".join(f"{currency or '?'} {total:.2f}" for currency, total in row.revenue.items())


def _table(rows: list[FunnelRow]) -> str:
    if not rows:
        return "no events (PageView, AddToCart, Purchase) match\n"
    header = ("page", "campaign", "variant", "views", "carts", "cart %", "purchases", "buy %")
    lines = [
        (
            row.landing_page_id, row.campaign_id or "-", row.variant or "-", str(row.page_views),
            str(row.add_to_carts), f"{100 * row.cart_rate:.1f}", str(row.purchases),
            f"{100 * row.purchase_rate:.1f}",
        )
        for row in rows
    ]  # fmt: skip
    widths = [max(len(cells[i]) for cells in (header, *lines)) for i in range(len(header))]
    numeric = range(3, len(header))

    def line(cells: tuple[str, ...], money: str) -> str:
        text = "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return f"{text}  {money}".rstrip()

    out = [line(header, "revenue")]
    out += [line(cells, _money(row)) for cells, row in zip(lines, rows, strict=True)]
    return "\n".join(out) + "\n"
