"""`multichan catalog list|show|check|set|unset|prune`, `stock set|adjust`, `price set`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from multichan.cli import output
from multichan.errors import ItemsRejected, UsageError

catalog_app = typer.Typer(help="Look at the catalog and check it.", no_args_is_help=True)
stock_app = typer.Typer(help="Change stock at a location.", no_args_is_help=True)
price_app = typer.Typer(help="Change prices.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NewLocationOpt = Annotated[
    bool, typer.Option("--new-location", help="Create --location if it does not exist yet.")
]
LocationOpt = Annotated[
    str | None,
    typer.Option("--location", "-l", metavar="CODE", help="Stock location (code)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(stock_app, name="stock")
    app.add_typer(price_app, name="price")


@catalog_app.command("list")
def list_(
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Text in SKU, title, brand or GTIN.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=1, help="At most this many products (in SKU order)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List products with price, status and total stock."""
    from multichan.catalog.store import list_products
    from multichan.text import counted

    rows = list_products(output.workspace().db(), search)
    found = len(rows)
    if limit is not None:
        rows = rows[:limit]
    if json_out:
        output.print_json(rows)
        return
    for row in rows:
        if row["stock_tracking"] == "untracked":
            row["quantity"] = "untracked"
        elif row["stock_tracking"] == "continue":
            row["quantity"] = f"{row['quantity']} (continue)"
    output.table(
        rows,
        [
            ("sku", "SKU"),
            ("title", "Title"),
            ("status", "Status"),
            ("price", "Price"),
            ("sale_price", "Sale"),
            ("currency", "Cur"),
            ("quantity", "Qty"),
        ],
        title=counted(found, "product")
        if len(rows) == found
        else f"{len(rows):,} of {counted(found, 'product')} (--limit {limit})",
        right=("price", "sale_price", "quantity"),
    )


@catalog_app.command("show")
def show(sku: str, json_out: JsonOpt = False) -> None:
    """Everything the catalog knows about one SKU."""
    from multichan.catalog.store import get_product

    product = get_product(output.workspace().db(), sku)
    if json_out:
        output.print_json(product)
        return
    edits = product["edits"]
    rows = [
        {"field": k, "value": v, "edit": _edit_note(edits[k]) if k in edits else ""}
        for k, v in product.items()
        if k not in ("images", "stock", "overrides", "edits", "stock_tracking")
        and (v not in (None, "") or k in edits)
    ]
    tracking = product["stock_tracking"]
    if tracking == "untracked":
        for row in rows:
            if row["field"] == "quantity":
                row["value"] = "untracked (not counted)"
    rows.append(
        {"field": "stock tracking", "value": TRACKING_SHOWN[tracking],
         "edit": _edit_note(edits["stock_tracking"]) if "stock_tracking" in edits else ""}
    )  # fmt: skip
    rows += [{"field": f"image {n}", "value": url} for n, url in enumerate(product["images"], 1)]
    for loc, on_hand in product["stock"].items():
        committed = product["committed"].get(loc, 0)
        shown = f"{product['available'][loc]} available"
        if committed:
            shown += f" ({on_hand} on hand, {committed} committed to orders)"
        if tracking == "untracked":
            shown += " (not counted: ignored)"
        rows.append({"field": f"stock at {loc}", "value": shown})
    rows += [{"field": f"override {o['channel']}", "value": o} for o in product["overrides"]]
    columns = [("field", "Field"), ("value", "Value")]
    if edits:
        columns.append(("edit", "Seller edit (imports leave it alone)"))
    output.table(rows, columns, title=sku)


TRACKING_SHOWN = {
    "tracked": "tracked (offered what the count allows)",
    "untracked": "untracked: not counted, offered as in stock (stock.untracked_quantity)",
    "continue": "continue: counted, still offered as in stock when it runs out",
}


def _edit_note(edit: dict[str, object]) -> str:
    """When a field was edited and what unset would put back."""
    before = edit["imported"]
    source = "the last import brought" if edit["imported_at"] else "before the edit"
    shown = "(empty)" if before in (None, "") else repr(before)
    return f"edited {edit['edited_at']}; {source}: {shown}"


@catalog_app.command("check")
def check(
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            "-c",
            metavar="CHANNEL",
            help="Check as this channel does: its rules and feed format, what it would leave "
            "out and why, in the words export and plan use.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Find per-SKU problems (bad GTIN, missing title, price or image, negative stock...).

    The rules a channel's feed format shares with the catalog (title, price above zero,
    description, brand/GTIN/MPN) are one set: `catalog check --channel C` applies all of
    C's. Exit code 4 when any problem is found (with --channel: any SKU left out)."""
    from multichan.catalog.checks import check_database, check_overrides
    from multichan.errors import MultichanError
    from multichan.feeds.run import load_config

    ws = output.workspace()
    if channel is not None:
        _check_channel(ws, load_config(ws), channel, json_out)
        return
    db = ws.db()
    try:
        config = load_config(ws)
    except MultichanError:  # the catalog is checked all the same; export says what is wrong
        config = None
    problems = check_database(db) + check_overrides(db, config)
    if json_out:
        output.print_json({"problems": problems, "count": len(problems)})
    elif problems:
        output.table(
            [p.as_dict() for p in problems],
            [("sku", "SKU"), ("field", "Field"), ("problem", "Problem")],
            title=f"{len(problems)} problem(s)",
        )
    else:
        output.out("No problems found.")
    if problems:
        skus = len({p.sku for p in problems})
        raise ItemsRejected(f"{len(problems)} problem(s) in {skus} SKU(s)")


def _check_channel(ws: Any, config: Any, name: str, json_out: bool) -> None:
    from multichan.catalog.checks import check_channel
    from multichan.text import counted

    db = ws.db()
    result = check_channel(db, config, name)
    skus = {d.sku for d in result.left_out}
    if json_out:
        output.print_json({**result.as_dict(), "exit_code": 4 if skus else 0})
    else:
        shown = [
            {"sku": d.sku, "field": d.field, "outcome": "left out", "reason": d.reason}
            for d in result.left_out
        ] + [{"sku": d.sku, "field": "-", "outcome": "note", "reason": d.reason}
             for d in result.notes]  # fmt: skip
        if shown:
            shown.sort(key=lambda r: (r["sku"], r["outcome"] != "left out"))
            output.table(
                shown,
                [("sku", "SKU"), ("field", "Field"), ("outcome", "Outcome"), ("reason", "Reason")],
                title=f"{result.channel}: what the channel would leave out or change",
            )
        output.out(
            f"{result.channel}: {counted(result.offered, 'SKU')} offered, "
            f"{counted(len(skus), 'SKU')} left out, {counted(len(result.notes), 'note')}"
        )
    if skus:
        raise ItemsRejected(f"{result.channel} would leave out {counted(len(skus), 'SKU')}")


SkuArg = Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU.")]


@catalog_app.command("set", context_settings={"ignore_unknown_options": True})
def set_(
    sku: SkuArg,
    assignments: Annotated[
        list[str],
        typer.Argument(metavar="FIELD=VALUE...", help="Fields to set, such as brand=Acme."),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Set product fields of SKU as seller edits: later imports leave them alone.

    The value an import brings for an edited field is kept (`catalog show` says what it is)
    and `catalog unset SKU FIELD` puts it back. An empty value (brand=) clears the field.
    """
    from rich.markup import escape

    from multichan.catalog.edits import parse_assignments, set_fields

    values = parse_assignments(assignments)
    ws = output.workspace()
    with ws.lock():
        changes = set_fields(ws.db(), sku, values)
    if json_out:
        output.print_json({"exit_code": 0, "sku": sku, "edited": [c.as_dict() for c in changes]})
        return
    for c in changes:
        output.out(escape(f"{sku} {c.field}: {c.old!r} -> {c.new!r} (seller edit)"))


@catalog_app.command("unset")
def unset(
    sku: SkuArg,
    fields: Annotated[
        list[str], typer.Argument(metavar="FIELD...", help="Edited fields to give back.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Drop seller edits of SKU: each field gets back the value the last import brought."""
    from rich.markup import escape

    from multichan.catalog.edits import unset_fields

    ws = output.workspace()
    with ws.lock():
        changes = unset_fields(ws.db(), sku, fields)
    if json_out:
        output.print_json({"exit_code": 0, "sku": sku, "restored": [c.as_dict() for c in changes]})
        return
    for c in changes:
        output.out(escape(f"{sku} {c.field}: {c.old!r} -> {c.new!r} (imported value)"))


def _changed(json_out: bool, text: str, **result: object) -> None:
    """A one-line change: ``text`` for a person, or the values as JSON."""
    if json_out:
        output.print_json({"exit_code": 0, **result})
    else:
        output.out(text)


@stock_app.command("set", context_settings={"ignore_unknown_options": True})
def stock_set(
    sku: SkuArg,
    quantity: Annotated[int, typer.Argument(metavar="QUANTITY", help="Units on hand.")],
    location: LocationOpt = None,
    new_location: NewLocationOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Set the quantity on hand of SKU at a location."""
    from multichan.catalog.store import set_stock

    ws = output.workspace()
    with ws.lock():
        loc, old, new = set_stock(ws.db(), sku, quantity, location, new_location)
    _changed(json_out, f"{sku} at {loc}: {old} -> {new}", sku=sku, location=loc, old=old, new=new)


@stock_app.command("adjust", context_settings={"ignore_unknown_options": True})
def stock_adjust(
    sku: SkuArg,
    delta: Annotated[str, typer.Argument(metavar="CHANGE", help="Change such as +3 or -2.")],
    location: LocationOpt = None,
    new_location: NewLocationOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Add or remove units of SKU at a location (e.g. -1 after a sale in the shop)."""
    from multichan.catalog.store import adjust_stock

    try:
        change = int(delta)
    except ValueError:
        raise UsageError(f"{delta!r} is not a whole number such as +3 or -2") from None
    ws = output.workspace()
    with ws.lock():
        loc, old, new = adjust_stock(ws.db(), sku, change, location, new_location)
    _changed(json_out, f"{sku} at {loc}: {old} -> {new}", sku=sku, location=loc, old=old, new=new)


@price_app.command("set", context_settings={"ignore_unknown_options": True})
def price_set(
    sku: SkuArg,
    price: Annotated[str, typer.Argument(metavar="PRICE", help="New regular price, e.g. 19.99.")],
    sale: Annotated[
        str | None, typer.Option("--sale", metavar="PRICE", help="Sale price; '' clears it.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set the regular price of SKU (and optionally its sale price)."""
    from multichan.catalog.store import set_price

    ws = output.workspace()
    with ws.lock():
        old, new = set_price(ws.db(), sku, price, sale)
    _changed(json_out, f"{sku} price: {old} -> {new}", sku=sku, old=old, new=new, sale=sale)


@catalog_app.command("prune")
def prune(
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Archive the products listed (never deletes).")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --yes: archive even more than the channels' max_delist_percent of the "
            "active products.",
        ),
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="NAME",
            help="Only products of this import source (the imported file's name).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List products that are no longer in the latest full import of their source.

    A product whose last full import is older than the latest full import of the same
    format and file was deleted in the shop. Without --yes this only lists them (and never
    asks); --yes archives them (status archived, never deleted: the next push delists them).
    Products never imported (made by hand) and partial files are never a reason to prune;
    an interrupted import is no basis either. Refuses (exit 4) to archive more than the
    channels' max_delist_percent of the active products without --force."""
    from multichan.catalog import prune as pr

    ws = output.workspace()
    db = ws.db()
    if not yes:
        found = pr.find(db, source)
        limit, why = _prune_limit(ws)
        _show_prune(found, limit, why, json_out, archiving=False)
        return
    with ws.lock():
        found = pr.find(db, source)
        limit, why = _prune_limit(ws)
        try:
            pr.archive(db, found, max_percent=limit, force=force)
        except ItemsRejected as exc:
            _show_prune(found, limit, why, json_out, archiving=True, refused=exc.message)
            raise
    _show_prune(found, limit, why, json_out, archiving=True)


def _prune_limit(ws: Any) -> tuple[Any, str | None]:
    """The share prune archives without --force, and why the default applies when
    channels.yaml cannot be read (prune itself needs no channel)."""
    from multichan.catalog import prune as pr
    from multichan.errors import MultichanError
    from multichan.feeds.run import load_config

    try:
        return pr.limit(load_config(ws)), None
    except MultichanError as exc:
        first = exc.message.splitlines()[0]
        return pr.limit(None), f"{first}; the default limit of {pr.DEFAULT_LIMIT}% applies"


def _show_prune(
    found: Any,
    limit: Any,
    why: str | None,
    json_out: bool,
    *,
    archiving: bool,
    refused: str | None = None,
) -> None:
    from itertools import islice

    from rich.markup import escape

    from multichan.cli.sync_cmd import write_json
    from multichan.text import counted

    over = found.share > limit
    if json_out:  # written as the candidates are read: a whole catalog is never held
        write_json({
            "exit_code": 4 if refused else 0, "archive": archiving, **found.as_dict(),
            "limit_percent": limit, "needs_force": bool(found.total) and over,
            "refused": refused,
        })  # fmt: skip
        return
    if why:
        output.warn(why)
    columns = [("sku", "SKU"), ("title", "Title"), ("status", "Status"), ("quantity", "Stock"),
               ("last_seen", "Last seen"), ("source", "Source")]  # fmt: skip
    title = f"{counted(found.total, 'product')} not in the latest full import of their source"
    shown = found.candidates()
    while page := [
        {"sku": c.sku, "title": c.title, "status": c.status, "quantity": c.quantity,
         "last_seen": c.last_seen, "source": f"{c.format} {c.source}"}
        for c in islice(shown, 1000)
    ]:  # fmt: skip
        output.table(page, columns, title=title, right=("quantity",))
    rows = found.total
    if not found.bases:
        output.out(
            "No full import yet: nothing to compare (prune compares each product with the "
            "latest full import of the file it came from)."
        )
    elif not rows:
        shown = ", ".join(f"{b['format']} {b['source']} ({b['started_at']})" for b in found.bases)
        output.out(escape(f"Nothing to prune: every imported product is in its source's latest "
                          f"full import ({shown})."))  # fmt: skip
    elif found.archived_count or (archiving and not refused):
        output.out(
            f"Archived {counted(found.archived_count, 'product')} (nothing was deleted); the "
            "next push delists them ('multichan plan' shows it)."
        )
    elif not archiving:
        note = (
            f" They are {found.share:.0f}% of the active products, more than the channels' "
            f"max_delist_percent ({limit}%): add --force to archive them."
            if over
            else ""
        )
        output.out(
            f"Nothing was changed. 'multichan catalog prune --yes' archives them (never "
            f"deletes: they leave the channels at the next push).{note}"
        )
    if found.never_imported:
        output.out(
            f"{counted(found.never_imported, 'product')} never came from a full import (made "
            "by hand, or only by partial files): never pruned."
        )
