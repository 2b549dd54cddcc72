"""`multichan report sales` and `multichan report stock`: what sold where, and where stock
runs out. Parses the options, calls ``multichan.reports`` and prints.

Output: a table with inline bars for people, ``--json`` or ``--csv`` for scripts and
spreadsheets (on stdout; with ``--csv`` the sentence saying which orders were counted goes to
stderr), and ``--chart FILE.png|svg`` for a chart of the same numbers (needs the ``charts``
extra). Read-only: the catalog is opened with ``query_only``. Exit codes: 0 ok, 2 a bad option
(a date that is not ISO, --json with --csv, a chart that is not .png or .svg, matplotlib
missing), 3 no workspace.
"""

from __future__ import annotations

import contextlib
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import MultichanError, UsageError

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout, one row per line shown.")]
ChartOpt = Annotated[
    Path | None,
    typer.Option("--chart", help="Also write a chart of the same numbers (.png or .svg)."),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Up to this ISO date (that day included) or time (excluded)."),
]
TEXT_COLUMNS = ("SKU", "Location", "Suggestion")  # fold when the terminal is narrow
BAR = 10  # cells of an inline bar
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SALES_FIELDS = [
    "key", "label", "orders", "units", "returned", "refunded", "net_units", "baseline_orders",
    "pending_orders", "pending_units", "cancelled_orders", "cancelled_units", "unit_share",
    "order_share", "revenue", "gross_revenue",
]  # fmt: skip
STOCK_FIELDS = [
    "sku", "location", "title", "on_hand", "committed", "available", "sold", "per_day",
    "cover_days", "suggestion",
]  # fmt: skip
HEADINGS = {"channel": "Channel", "sku": "SKU", "product": "Product", "day": "Day (UTC)",
            "week": "Week (UTC)", "location": "Location"}  # fmt: skip

report_app = typer.Typer(help="Sales and stock reports from the pulled orders (read-only).")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


def bound(text: str | None, option: str, end: bool = False) -> datetime | None:
    """An ISO date or time as an aware UTC datetime; a date given as the end of a period means
    the whole of that day (the period ends at the next midnight)."""
    if text is None:
        return None
    from multichan.orders.model import parse_time

    try:
        stamp = parse_time(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO date or time (2026-11-30 or 2026-11-30T18:00Z)"
        ) from None
    return stamp + timedelta(days=1) if end and DATE_RE.match(text.strip()) else stamp


def _formats(json_out: bool, csv_out: bool, chart: Path | None) -> None:
    if json_out and csv_out:
        raise UsageError("--json and --csv: choose one")
    if chart is not None:
        from multichan.reports import chart_format

        chart_format(chart)


def _open():  # -> sqlite_utils.Database
    db = output.workspace().db()
    db.conn.execute("PRAGMA query_only = ON")  # a report never writes
    return db


def _csv(rows: list[dict[str, Any]], fields: list[str]) -> None:
    import csv

    writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore",
                            lineterminator="\n")  # fmt: skip
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in fields})


def _table(title: str, headings: list[str], rows: list[list[Any]], total: bool = False) -> None:
    """A rich table; the last row is a total when ``total``. Cells wrap at spaces only, so a
    SKU, a date or a number is never broken while the table fits; an inline bar (a column
    with no heading, which repeats the share beside it) is dropped when the terminal is too
    narrow for the rest."""
    from rich.cells import cell_len

    console = output._console()
    bars = [n for n, h in enumerate(headings) if not h and n]

    def word(value: Any) -> int:
        return max(map(cell_len, ("" if value is None else str(value)).split()), default=0)

    # a cell's words are never broken (the heading's may be, when nothing else fits)
    words = [max((word(r[n]) for r in rows), default=0) for n in range(len(headings))]
    widest = [max(w, word(h)) for w, h in zip(words, headings, strict=True)]
    if bars and sum(widest) + 2 * len(widest) + 1 > console.width:
        keep = [n for n in range(len(headings)) if n not in bars]
        headings, rows = [headings[n] for n in keep], [[r[n] for n in keep] for r in rows]
        words = [words[n] for n in keep]
    console.print(_grid(title, headings, rows, total, words))


def _grid(
    title: str, headings: list[str], rows: list[list[Any]], total: bool, words: list[int]
) -> Any:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    grid = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False,
                 collapse_padding=True)  # fmt: skip
    for n, heading in enumerate(headings):
        text = n == 0 or heading in TEXT_COLUMNS
        grid.add_column(heading, justify="left" if text or not heading else "right",
                        overflow="fold", min_width=words[n])  # fmt: skip
    for n, row in enumerate(rows):
        last = total and n == len(rows) - 1
        cells = [escape("" if v is None else str(v)) for v in row]
        grid.add_row(*cells, style="bold" if last else None, end_section=n == len(rows) - 2
                     and total)  # fmt: skip
    return grid


def _share(value: float) -> str:
    return f"{value:.1%}"


@report_app.command("sales")
def sales(
    since: Annotated[
        str | None, typer.Option("--since", help="From this ISO date or time (included).")
    ] = None,
    until: UntilOpt = None,
    by: Annotated[
        str, typer.Option("--by", help="channel, sku, product, day, week or location.")
    ] = "channel",
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    json_out: JsonOpt = False,
    csv_out: CsvOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Orders, units, refunds and cancellations per channel, SKU, product, day, week or
    location, and each one's share; says which orders were counted."""
    from multichan.reports import GROUPS, REVENUE_NOTE, bar, sales_chart, sales_report, shop_rates

    if by not in GROUPS:
        raise UsageError(f"--by {by!r}: one of {', '.join(GROUPS)}")
    _formats(json_out, csv_out, chart)
    start, end = bound(since, "--since"), bound(until, "--until", end=True)
    ws = output.workspace()
    currency, rates = "USD", dict[str, Any]()
    with contextlib.suppress(MultichanError):  # a report reads what it can: no rates then
        from multichan.feeds.run import load_config

        currency, rates = shop_rates(load_config(ws))
    db = _open()
    try:
        report = sales_report(db, by=by, since=start, until=end, channel=channel,
                              currency=currency, rates=rates)  # fmt: skip
    finally:
        db.close()
    if chart is not None:
        output.err(f"chart written to {sales_chart(report, chart)}")
    if json_out:
        output.print_json(report.as_dict())
        return
    if csv_out:
        _csv([r.as_dict() for r in report.rows], SALES_FIELDS)
        output.err(f"counted: {report.counted()}")
        return
    widest = max((r.figures.units for r in report.rows), default=0)
    rows = []
    for r in [*report.rows, None]:
        f = report.total if r is None else r.figures
        rows.append([
            "Total" if r is None else r.label, f.orders, f.units, f.returned + f.refunded,
            f.net_units, f.cancelled_orders, "" if r is None else _share(f.unit_share),
            f"{f.revenue:,.2f}",
            bar(f.units / widest, BAR) if r is not None and widest else "",
        ])  # fmt: skip
    headings = [HEADINGS[by], "Orders", "Units", "Refunded", "Net", "Cancelled", "Share",
                f"Revenue {currency}", ""]  # fmt: skip
    _table(f"Sales by {by}", headings, rows, total=True)
    from rich.markup import escape

    if by != "channel" and report.channels:
        shares = ", ".join(f"{c.key} {_share(c.figures.unit_share)}" for c in report.channels)
        output.out(escape(f"Channels' share of units: {shares}"))
    output.out(escape(f"Counted: {report.counted()}"))
    output.out(escape(f"Revenue: {REVENUE_NOTE}"))
    for note in report.notes:
        output.out(escape(f"Note: {note}"))


@report_app.command("stock")
def stock(
    days: Annotated[
        int, typer.Option("--days", help="Measure units sold per day over this many days.")
    ] = 30,
    cover: Annotated[
        int, typer.Option("--cover", help="Suggest moves that give every location this cover.")
    ] = 14,
    until: UntilOpt = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list what sold nothing and needs nothing.")
    ] = False,
    json_out: JsonOpt = False,
    csv_out: CsvOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Per SKU and location: available, units sold per day, days of cover, and a suggested
    transfer or reorder for the locations running short."""
    from multichan.reports import bar, now, stock_chart, stock_report

    _formats(json_out, csv_out, chart)
    end = bound(until, "--until", end=True) or now()
    db = _open()
    try:
        report = stock_report(db, until=end, days=days, target_days=cover)
    finally:
        db.close()
    if chart is not None:
        output.err(f"chart written to {stock_chart(report, chart)}")
    if json_out:
        output.print_json(report.as_dict())
        return
    if csv_out:
        _csv([r.as_dict() for r in report.rows], STOCK_FIELDS)
        output.err(f"counted: {report.counted()}")
        return
    rows, quiet = [], 0
    for r in report.rows:
        if not (show_all or r.sold or r.suggestion):
            quiet += 1
            continue
        days_left = "no sales" if r.cover_days is None else f"{r.cover_days:g}"
        fill = "" if r.cover_days is None else bar(r.cover_days / (2 * cover), 8)
        available = "untracked" if r.stock_tracking == "untracked" else r.available
        if r.stock_tracking == "untracked":
            days_left = "not counted"
        rows.append([r.sku, r.location, available, f"{r.per_day:g}", days_left, fill,
                     r.suggestion])  # fmt: skip
    headings = ["SKU", "Location", "Available", "Per day", "Cover", "", "Suggestion"]
    _table(f"Stock: days of cover at the last {days} days' sales", headings, rows)
    from rich.markup import escape

    output.out(escape(f"Counted: {report.counted()}"))
    if quiet:
        output.out(f"Not shown: {quiet} SKU/location pair(s) that sold nothing in the window "
                   "and need nothing (--all lists them; --json and --csv always do)")  # fmt: skip
    for note in report.notes:
        output.out(escape(f"Note: {note}"))
