"""`multichan catalog list|show|check`, `stock set|adjust`, `price set`."""

from __future__ import annotations

from typing import Annotated

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
    json_out: JsonOpt = False,
) -> None:
    """List products with price, status and total stock."""
    from multichan.catalog.store import list_products

    rows = list_products(output.workspace().db(), search)
    if json_out:
        output.print_json(rows)
        return
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
        title=f"{len(rows)} products",
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
    rows = [
        {"field": k, "value": v}
        for k, v in product.items()
        if k not in ("images", "stock", "overrides") and v not in (None, "")
    ]
    rows += [{"field": f"image {n}", "value": url} for n, url in enumerate(product["images"], 1)]
    for loc, on_hand in product["stock"].items():
        committed = product["committed"].get(loc, 0)
        shown = f"{product['available'][loc]} available"
        if committed:
            shown += f" ({on_hand} on hand, {committed} committed to orders)"
        rows.append({"field": f"stock at {loc}", "value": shown})
    rows += [{"field": f"override {o['channel']}", "value": o} for o in product["overrides"]]
    output.table(rows, [("field", "Field"), ("value", "Value")], title=sku)


@catalog_app.command("check")
def check(json_out: JsonOpt = False) -> None:
    """Find per-SKU problems (bad GTIN, missing title/price/image, negative stock...).

    Exit code 4 when any problem is found.
    """
    from multichan.catalog.checks import check_database

    problems = check_database(output.workspace().db())
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


SkuArg = Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU.")]


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
