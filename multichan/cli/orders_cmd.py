"""`multichan pull`, `multichan orders` and `multichan orders show`: orders coming back from
the channels, and what they did to stock.

Results on stdout (lines for people, ``--json`` for scripts); unknown SKUs and oversold stock
are also named on stderr. Exit codes: 0 ok, 4 an order line with an unknown SKU or a SKU
oversold (the orders are recorded all the same), 5 a channel failed, 6 still failing after
retries, 3 a configuration error.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import OK, UsageError, worst

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ChannelsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Order channels (default: every enabled API channel with orders)."),
]
ORDER_COLUMNS = [
    ("channel", "Channel"), ("number", "Order"), ("status", "Status"),
    ("channel_status", "On the channel"), ("created_at", "Created"), ("units", "Units"),
    ("stock", "Stock"),
]  # fmt: skip
LINE_COLUMNS = [
    ("line_id", "Line"), ("channel_sku", "SKU"), ("sku", "Catalog SKU"),
    ("location", "Location"), ("ordered", "Ordered"), ("unshipped", "Unshipped"),
    ("shipped", "Shipped"), ("returned", "Returned"), ("committed_applied", "Committed"),
    ("consumed_applied", "Taken"), ("problem", "Problem"),
]  # fmt: skip
MOVE_COLUMNS = [
    ("at", "At"), ("sku", "SKU"), ("location", "Location"), ("reason", "Reason"),
    ("on_hand_change", "On hand"), ("committed_change", "Committed"),
    ("on_hand_after", "On hand after"), ("committed_after", "Committed after"),
]  # fmt: skip
SHIPMENT_COLUMNS = [
    ("shipped_at", "Shipped"), ("source", "By"), ("status", "Status"), ("units", "Units"),
    ("carrier", "Carrier"), ("tracking_number", "Tracking"), ("remote_id", "On the channel"),
    ("last_error", "Problem"),
]  # fmt: skip
orders_app = typer.Typer(
    help="Orders pulled from the channels (newest first); 'orders show' for one.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.command("pull")(pull)
    app.add_typer(orders_app, name="orders")
    app.command("ship")(ship)


def ship(
    channel: Annotated[str, typer.Argument(metavar="CHANNEL", help="The channel that sold it.")],
    order: Annotated[str, typer.Argument(metavar="ORDER", help="Its number (#1001) or id.")],
    carrier: Annotated[
        str | None, typer.Option("--carrier", metavar="NAME", help="UPS, DHL, Royal Mail...")
    ] = None,
    tracking: Annotated[
        str | None, typer.Option("--tracking", metavar="NUMBER", help="Tracking number.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", metavar="URL", help="Tracking page.")] = None,
    line: Annotated[
        list[str] | None,
        typer.Option("--line", metavar="SKU:QTY", help="Ship only these units (repeatable)."),
    ] = None,
    shipment: Annotated[
        str | None,
        typer.Option(
            "--shipment",
            metavar="KEY",
            help="Your id of the parcel (default: the tracking number).",
        ),
    ] = None,
    shipped_at: Annotated[
        str | None, typer.Option("--shipped-at", metavar="TIME", help="Default: now.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a shipment of an order (every unit left to ship by default); push or sync sends
    it to the channel.

    Its units leave stock at once. Recording the same parcel again changes nothing; tracking
    given later for an order already shipped without it is added to that shipment."""
    from multichan.orders.shipments import record_in

    lines: dict[str, int] | None = None
    for spec in line or []:
        sku, sep, qty = spec.rpartition(":")
        if not sep or not sku or not qty.strip().isdigit() or int(qty) <= 0:
            raise UsageError(f"--line {spec!r}: write SKU:QTY, e.g. MUG-ENAMEL:2")
        lines = lines or {}
        lines[sku] = lines.get(sku, 0) + int(qty)
    done = record_in(
        output.workspace(), channel, order, carrier=carrier, tracking_number=tracking,
        tracking_url=url, lines=lines, shipped_at=when(shipped_at, "--shipped-at"),
        key=shipment,
    )  # fmt: skip
    if json_out:
        output.print_json({"exit_code": OK, **done.as_dict()})
        return
    parcel = done.shipment
    units = ", ".join(f"{x.sku or x.channel_sku} x{x.quantity}" for x in parcel.lines)
    if done.status == "channel":
        output.out(
            f"nothing left to ship: {channel} reports order {parcel.number} shipped itself ("
            + (f"{parcel.carrier or 'carrier not given'} {parcel.tracking_number}"
               if parcel.tracking_number else f"parcel {parcel.remote_id}, no tracking")
            + (f": {units}" if units else "") + "); nothing recorded, nothing will be sent"
        )  # fmt: skip
        return
    said = {"recorded": "recorded", "tracking": "tracking added to",
            "unchanged": "already recorded:"}[done.status]  # fmt: skip
    output.out(
        f"{said} shipment {parcel.key} of {channel} order {parcel.number}: {units}"
        + (f", {parcel.carrier or 'carrier not given'} {parcel.tracking_number}"
           if parcel.tracking_number else ", no tracking yet")
        + ("" if done.status == "unchanged" else "; push or sync sends it")
    )  # fmt: skip


def when(text: str | None, option: str) -> datetime | None:
    """An ISO date or time from the command line, as an aware UTC datetime."""
    if text is None:
        return None
    from multichan.orders.model import parse_time

    try:
        return parse_time(text)
    except ValueError:
        example = "2026-12-01T09:00Z"
        raise UsageError(f"{option} {text!r} is not an ISO date or time ({example})") from None


def print_pull(r: Any) -> None:
    """One channel's pull: a summary line, and its problems on stderr."""
    from rich.markup import escape

    for line in r.unmatched:
        output.err(escape(f"unmatched {r.channel} order {line['order']}: {line['message']}"))
    for s in r.oversold:
        held = ", ".join(s["orders"]) or "-"
        output.err(
            escape(
                f"oversold {s['sku']} at {s['location']}: {s['available']} available "
                f"({s['on_hand']} on hand, {s['committed']} committed to {held})"
            )
        )
    if r.status in ("failed", "exhausted"):
        message = output.without_channel(r.message, r.channel)
        output.err(f"[red]{r.channel}: {r.status}[/]: {escape(message)}")
        return
    verb = {"baseline": "baseline set", "dry-run": "dry run, nothing recorded"}.get(r.status, "ok")
    output.out(escape(
        f"{r.channel}: {verb}, {r.orders} order(s) seen, {r.new} new, {r.moves} stock move(s), "
        f"{len(r.unmatched)} unmatched line(s), {len(r.oversold)} oversold, "
        f"{r.requests} request(s)"
    ))  # fmt: skip


def pull(
    channels: ChannelsArg = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Read orders from this ISO time instead of the cursor."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and compute; record and move nothing.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Fetch new and changed orders from each channel, record them and move stock once."""
    from multichan.cli.alerts_cmd import print_alerts
    from multichan.sync.run import pull_and_alert

    results, alerts = pull_and_alert(output.workspace(), channels or [],
                                     since=when(since, "--since"), dry_run=dry_run)  # fmt: skip
    code = worst([r.exit_code for r in results] + ([alerts.exit_code] if alerts else []))
    if json_out:
        output.print_json({"exit_code": code, "channels": [r.as_dict() for r in results],
                           "alerts": alerts.as_dict() if alerts else None})  # fmt: skip
    else:
        for r in results:
            print_pull(r)
        if alerts:
            print_alerts(alerts)
    if code != OK:
        sys.exit(code)


@orders_app.callback()
def orders(
    ctx: typer.Context,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, open, closed or cancelled.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only orders created at or after this time.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many orders.")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """List the orders pulled from the channels, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from multichan.orders.model import STATUSES, iso
    from multichan.orders.queries import list_orders

    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r}: one of {', '.join(STATUSES)}")
    start = when(since, "--since")
    db = output.workspace().db()
    try:
        rows = list(list_orders(db, channel=channel, status=status,
                                since=iso(start) if start else None, limit=limit))  # fmt: skip
    finally:
        db.close()
    if json_out:
        output.print_json(rows)
        return
    for row in rows:
        row["stock"] = "recorded only (before baseline)" if row["baseline"] else (
            f"{row['committed']} committed, {row['shipped']} shipped"
            + (f", {row['unmatched']} unmatched" if row["unmatched"] else "")
        )  # fmt: skip
    output.table(rows, ORDER_COLUMNS, title="Orders", right=("units",))


@orders_app.command("show")
def show(
    channel: Annotated[str, typer.Argument(help="The channel the order came from.")],
    order: Annotated[str, typer.Argument(help="The order's number (#1001) or id.")],
    json_out: JsonOpt = False,
) -> None:
    """One order: its lines, what each holds in stock, the stock moves it caused, and its
    parcels (multichan's, and those the channel shipped itself)."""
    from multichan.cli.tables import fits
    from multichan.orders.queries import order_detail

    db = output.workspace().db()
    try:
        found = order_detail(db, channel, order)
    finally:
        db.close()
    if json_out:
        output.print_json(found)
        return
    note = ", before the baseline: stock not moved" if found["baseline"] else ""
    output.out(
        f"{found['channel']} order {found['number']} ({found['order_id']}): {found['status']} "
        f"({found['channel_status']}), created {found['created_at']}, updated "
        f"{found['updated_at']}{note}"
    )
    numbers = tuple(key for key, _ in LINE_COLUMNS[4:10])
    if fits(found["lines"], LINE_COLUMNS):
        output.table(found["lines"], LINE_COLUMNS, title="Lines", right=numbers)
    else:  # a narrow terminal: what each line is, then what it holds, each table whole
        what = [c for c in LINE_COLUMNS if c[0] not in numbers]
        held = [LINE_COLUMNS[0], *(c for c in LINE_COLUMNS if c[0] in numbers)]
        output.table(found["lines"], what, title="Lines")
        output.table(found["lines"], held, title="What each line holds", right=numbers)
    numbers = tuple(key for key, _ in MOVE_COLUMNS[4:])
    output.table(found["moves"], MOVE_COLUMNS, title="Stock moves", right=numbers)
    if found["shipments"]:
        rows = [
            {**x, "source": "multichan" if x["source"] == "multichan" else found["channel"],
             "units": ", ".join(f"{y['sku'] or y['line_id']} x{y['quantity']}"
                                for y in x["lines"]) or "-"}
            for x in found["shipments"]
        ]  # fmt: skip
        output.table(rows, SHIPMENT_COLUMNS, title="Shipments")
