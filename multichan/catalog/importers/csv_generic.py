"""The generic CSV format: one row per SKU, documented in the README.

Columns: sku, title, price are required; description, brand, gtin, mpn, sale_price, currency,
quantity, link, image_link, additional_image_link (``|``-separated), condition, product_type,
google_product_category, item_group_id, color, size, material, pattern, gender, age_group,
weight_grams, tags, status and stock_tracking (tracked, untracked: not counted, offered as in
stock; continue: counted, still offered when out of stock) are optional;
``quantity:<location>`` columns give stock per location (a plain ``quantity`` column counts
for the location ``default``). A ``components`` column makes the row's SKU a bundle of other
SKUs (``MUG-1:1,BOWL-1:2``; ``multichan.catalog.bundles``), written after every product of the
file, so components may come later in it; an empty cell makes it no bundle.

An optional column the file does not have leaves that field of existing SKUs alone (``SOURCES``);
an empty cell clears it (condition and status go back to new and active).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from multichan.catalog import bundles
from multichan.catalog.importers import base
from multichan.catalog.store import DEFAULT_LOCATION, ProductInput
from multichan.errors import UsageError

REQUIRED = {"sku", "title", "price"}
TWICE = "SKU appears twice in this file; the first row was kept"
TEXT_COLUMNS = (
    "description", "brand", "mpn", "currency", "link", "product_type", "google_product_category",
    "item_group_id", "color", "size", "material", "pattern", "gender", "age_group", "tags",
)  # fmt: skip
SOURCES: base.Sources = {
    "title": ("title",), "price": ("price",), "sale_price": ("sale_price",), "gtin": ("gtin",),
    "condition": ("condition",), "status": ("status",), "weight_grams": ("weight_grams",),
    "stock_tracking": ("stock_tracking",),
    **{column: (column,) for column in TEXT_COLUMNS},
    "images": ("image_link", "additional_image_link"),
    "quantity": ("quantity", "quantity:*"),
    "components": ("components",),
}  # fmt: skip


def parse(path: Path, currency: str | None = None) -> base.ParseResult:
    """The file's header now; its items as a generator, read a row at a time (rejections are
    added as it runs)."""
    header, rows = base.read_csv(
        path, REQUIRED, "generic multichan CSV", skus={"sku"}, multiline={"description"}
    )
    stock_columns = {h: h.split(":", 1)[1].strip() for h in header if h.startswith("quantity:")}
    result = base.ParseResult(columns=header)
    result.items = _items(rows, stock_columns, currency, result.rejected)
    return result


def _items(
    rows: base.Rows,
    stock_columns: dict[str, str],
    currency: str | None,
    rejected: base.Rejections,
) -> Iterator[ProductInput]:
    seen = base.SeenSkus()
    try:
        for line, row in rows:
            sku = row["sku"].strip()
            try:
                if not sku:
                    raise base.RowError("sku is empty")
                base.check_sku(sku)
                try:
                    item = _item(sku, row, stock_columns, currency)
                    if "components" in row:
                        item.fields["components"] = _components(row["components"], line)
                except base.RowError:
                    if sku in seen:
                        raise base.RowError(TWICE) from None
                    raise
                if not seen.add(sku):  # a SKU counts as seen once a row of it was kept
                    raise base.RowError(TWICE)
            except base.RowError as exc:
                rejected.append(base.Rejection(line, sku, str(exc)))
                continue
            yield item
    finally:
        seen.close()
        rows.close()


def _components(cell: str | None, line: int) -> bundles.Definition:
    """A ``components`` cell (``MUG-1:1,BOWL-1:2``) as a bundle definition; RowError when
    it cannot be read. Whether its SKUs exist is checked once the file's products are in."""
    try:
        parts = bundles.parse_parts([cell or ""])
    except UsageError as exc:
        raise base.RowError(f"components: {exc.message}") from None
    return bundles.Definition(line, tuple(parts))


def _item(
    sku: str, row: dict[str, str], stock_columns: dict[str, str], currency: str | None
) -> ProductInput:
    """Every field of ``SOURCES``; the importer drops those whose columns the file lacks."""
    title = row["title"].strip()
    if not title:
        raise base.RowError("title is empty")
    code = base.currency(row.get("currency"))  # checked first: it decides the decimals
    currency = code or currency
    price = base.money(row["price"], "price", currency)
    if price is None:
        raise base.RowError("price is empty")
    fields: dict[str, object] = {
        "title": title,
        "price": price,
        "sale_price": base.money(row.get("sale_price"), "sale_price", currency),
        "gtin": base.barcode(row.get("gtin")),
        "condition": base.condition(row.get("condition")),
        "status": base.status(row.get("status")),
        "weight_grams": base.quantity(row.get("weight_grams"), "weight_grams"),
        "stock_tracking": base.stock_tracking(row.get("stock_tracking")),
    }
    for column in TEXT_COLUMNS:
        fields[column] = (row.get(column) or "").strip() or None
    fields["currency"] = code  # empty: the shop's (import --currency)
    extra = [u.strip() for u in row.get("additional_image_link", "").split("|")]
    images = [u for u in [row.get("image_link", "").strip(), *extra] if u]
    stock: dict[str, int] = {}
    plain = base.quantity(row.get("quantity"))
    if plain is not None:
        stock[DEFAULT_LOCATION] = plain
    for column, location in stock_columns.items():
        qty = base.quantity(row.get(column), column)
        if qty is not None:
            stock[location] = qty
    return ProductInput(sku=sku, fields=fields, images=images, stock=stock)
