"""`multichan explain SKU`: every rule step behind a SKU's price and quantity on each channel.

Results go to stdout: for people, the catalog row and the stock behind it, then a table of
steps per channel with the offer they give, what the next push would send (or the last export)
and what was last confirmed, and the stock ledger lines; ``--json`` one document with an object
per channel (``steps``, ``offer``, ``last_sent``, ``ledger``, ...). Exit 0; 2 for a SKU the
catalog does not have or a channel channels.yaml does not name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer

from multichan.cli import output

STEP_COLUMNS = [("step", "Step"), ("rule", "Rule"), ("value", "Value")]
STOCK_COLUMNS = [
    ("sku", "SKU"), ("location", "Location"), ("on_hand", "On hand"),
    ("committed", "Committed"), ("available", "Available"), ("ledger", "Ledger's last line"),
]  # fmt: skip
COMPONENT_COLUMNS = [
    ("sku", "Component"), ("quantity", "Per bundle"), ("title", "Title"),
    ("available", "Available"), ("sets", "Whole sets"),
]  # fmt: skip
SENT_COLUMNS = [
    ("kind", "Kind"), ("status", "Status"), ("confirmed", "Confirmed"), ("at", "At"),
    ("run", "Sent by run"), ("error", "Last error"),
]  # fmt: skip
LEDGER_COLUMNS = [
    ("id", "#"), ("at", "At"), ("sku", "SKU"), ("location", "Location"),
    ("on_hand_change", "On hand ±"), ("committed_change", "Committed ±"),
    ("after", "After (on hand / committed)"), ("reason", "Reason"), ("source", "Channel order"),
    ("note", "Note"),
]  # fmt: skip
SHOWN_FIELDS = (
    "title", "status", "price", "sale_price", "currency", "stock_tracking", "item_group_id",
    "brand", "gtin", "product_type", "tags",
)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)


def explain(
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            "-c",
            metavar="NAME",
            help="Only this channel (repeat for more; default: every enabled).",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    moves: Annotated[
        int, typer.Option("--moves", help="Stock ledger lines shown, newest first.")
    ] = 20,
) -> None:
    """Show every rule step behind a SKU's price and quantity on each channel.

    Per channel: the stock and price steps the rules engine applied, each with the channel's
    setting and the value after it (the engine's own numbers, from the same code export and
    push use), the resulting offer, what the next push would send or the last export, what the
    channel last confirmed and the journal run that sent it, and the stock ledger lines behind
    the quantity. Reads only: nothing is sent or written."""
    from multichan.explain import explain as gather
    from multichan.feeds.run import load_config

    if moves < 0:
        raise typer.BadParameter("--moves takes 0 or more lines")
    ws = output.workspace()
    config = load_config(ws)
    chosen = [config.channel(name) for name in channel] if channel else None
    db = ws.db()
    try:
        found = gather(db, config, sku, chosen, ledger_lines=moves)
    finally:
        db.close()
    if json_out:
        output.print_json(found.as_dict())
        return
    _print(found)


def shown(value: Any) -> str:
    """A step's rule or value as a cell: a dict as ``store 2, warehouse 14``."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {shown(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value) or "(none)"
    return str(value)


def _print(found: Any) -> None:
    from rich.markup import escape

    product = found.product
    rows = [{"field": f, "value": shown(product.get(f))} for f in SHOWN_FIELDS
            if product.get(f) not in (None, "")]  # fmt: skip
    output.table(rows, [("field", "Field"), ("value", "Value")], title=f"{found.sku} (catalog)")
    if found.stock:
        output.table(
            [_stock_row(s) for s in found.stock],
            STOCK_COLUMNS,
            title="stock" + (" of its components" if found.components else ""),
            right=("on_hand", "committed", "available"),
        )
    if found.components:
        output.table(
            [{**c.as_dict(), "available": shown(c.available), "sets": shown(c.sets)}
             for c in found.components],
            COMPONENT_COLUMNS,
            title=f"{found.sku} is a bundle",
            right=("quantity",),
        )  # fmt: skip
    for o in found.overrides:
        output.out(escape(f"override {o['channel']}: " + shown(
            {k: v for k, v in o.items() if k not in ("channel", "sku") and v not in (None, "")}
        )))  # fmt: skip
    ledgers: dict[tuple[str, ...] | None, list[dict[str, Any]]] = {}
    for c in found.channels:
        _print_channel(c)
        ledgers.setdefault(tuple(c.locations) if c.locations is not None else None, c.ledger)
    for where, lines in ledgers.items():
        title = f"stock ledger ({', '.join(where) if where else 'all locations'}), newest first"
        if lines:
            output.table([_move_row(m) for m in lines], LEDGER_COLUMNS, title=title,
                         right=("id", "on_hand_change", "committed_change"))  # fmt: skip
        else:
            output.out(escape(f"{title}: no lines"))


def _stock_row(s: Any) -> dict[str, Any]:
    row = s.as_dict()
    agrees = s.agrees
    row["ledger"] = (
        "none" if agrees is None else "agrees" if agrees
        else f"differs: {s.ledger_on_hand} on hand, {s.ledger_committed} committed"
    )  # fmt: skip
    return row


def _move_row(m: dict[str, Any]) -> dict[str, Any]:
    source = " ".join(str(v) for v in (m.get("channel"), m.get("order_id")) if v)
    return {**m, "after": f"{m['on_hand_after']} / {m['committed_after']}", "source": source}


def _print_channel(c: Any) -> None:
    from rich.markup import escape

    rows = [{"step": s.step, "rule": shown(s.rule), "value": shown(s.value)} for s in c.steps]
    if c.offer is not None:
        o = c.offer
        rows += [
            {"step": "= offer price", "rule": o.currency, "value": shown(o.price)},
            {"step": "= offer sale price", "rule": o.currency, "value": shown(o.sale_price)},
            {"step": "= offer quantity", "rule": o.availability, "value": str(o.quantity)},
        ]
        if o.location_quantities and c.sends.get("quantities", {}).get("location_quantities"):
            rows.append({"step": "= offer by location", "rule": "",
                         "value": shown(o.location_quantities)})  # fmt: skip
    state = "" if c.enabled else ", disabled"
    output.table(rows, STEP_COLUMNS, title=f"{c.channel} ({c.type}{state})")
    output.out(escape(f"{c.channel}: {c.outcome}"))
    for note in c.offer.notes if c.offer is not None else ():
        output.out(escape(f"{c.channel}: note: {note}"))
    if c.feed:
        last = c.last_sent.get("export")
        output.out(escape(
            f"{c.channel}: last export #{last['id']} at {last['started_at']}: {last['items']} "
            f"items to {last['path']}" if last else f"{c.channel}: never exported"
        ))  # fmt: skip
        if last and "in_last_feed" in c.last_sent:
            verb = "was" if c.last_sent["in_last_feed"] else "was not"
            output.out(escape(f"{c.channel}: this SKU {verb} in that feed"))
        return
    for change in c.next_push or []:
        output.out(escape(f"{c.channel}: next push: {_change_line(change)}"))
    if c.next_push == []:
        output.out(escape(f"{c.channel}: next push sends nothing (the channel confirmed this)"))
    sent = [_sent_row(kind, v) for kind, v in c.last_sent.items() if v is not None]
    if sent:
        output.table(sent, SENT_COLUMNS, title=f"{c.channel}: last sent")
    else:
        output.out(escape(f"{c.channel}: never pushed"))


def _change_line(change: dict[str, Any]) -> str:
    """``prices update: price 10.00 -> 12.00``; a listing's fields by name only."""
    head = f"{change['kind']} {change['action']}"
    if change["kind"] == "listings":
        names = [f["field"] for f in change["fields"]]
        return head + (f" ({len(names)} fields)" if change["action"] == "create"
                       else f": {', '.join(names)} changed")  # fmt: skip
    return (
        head
        + ": "
        + ", ".join(
            f"{f['field']} {shown(f['old'])} -> {shown(f['new'])}" for f in change["fields"]
        )
    )


def _sent_row(kind: str, v: dict[str, Any]) -> dict[str, Any]:
    run = v.get("sent_by")
    snap = v.get("snapshot") or {}
    confirmed = {k: snap[k] for k in _KEYS.get(kind, ()) if k in snap} or (
        "listing" if snap else None
    )
    return {
        "kind": kind, "status": v.get("status"), "confirmed": shown(confirmed),
        "at": v.get("updated_at"),
        "run": f"#{run['run_id']} {run['command']} {run['started_at']}" if run else "-",
        "error": v.get("last_error") or "",
    }  # fmt: skip


_KEYS: dict[str, Iterable[str]] = {
    "prices": ("price", "sale_price", "currency"),
    "quantities": ("quantity",),
}
