"""Shopify's product CSV export: one ``ProductInput`` per variant.

Owns reading both header sets Shopify has used (the classic ``Handle`` / ``Variant SKU`` /
``Variant Price`` names and the 2024+ ``URL handle`` / ``SKU`` / ``Price`` names), grouping rows
by handle (the first row with a Title carries the product; later rows add variants or images, and
need not be contiguous), Shopify's compare-at price (the original price when it is higher), image
order, and stock per location (``Variant Inventory Qty`` counts for ``default``; when the file
has ``Inventory Available: <Location>`` columns, as Matrixify exports do, those are used instead).
Stock tracking: an empty ``Variant Inventory Tracker`` (2024+: ``Inventory tracker``) means
Shopify does not count the variant: it imports as ``untracked`` and its exported quantity (a
meaningless 0) is not written; ``Variant Inventory Policy`` ``continue`` (2024+: ``Continue
selling when out of stock``) imports as ``continue``: counted, still sold when out of stock.
Shopify exports carry no currency: the shop's applies to new SKUs (import --currency to all).
A file with only some columns (an edited export, Matrixify) leaves the fields it lacks alone
(``SOURCES``); an empty cell clears its field. Without option columns, a variant's title (which
names its options) and a single variant's item group are left alone too; new SKUs get the
product's Title.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from multichan.catalog.checks import gtin_valid
from multichan.catalog.importers import base
from multichan.catalog.store import DEFAULT_LOCATION, ProductInput
from multichan.errors import InputError

KIND = "Shopify product export"
REQUIRED = ("Handle", "Title", "Variant SKU")
CLASSIC = (
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name",
    "Option3 Value", "Variant SKU", "Variant Grams", "Variant Inventory Tracker",
    "Variant Inventory Qty", "Variant Inventory Policy", "Variant Price",
    "Variant Compare At Price", "Variant Barcode", "Image Src", "Image Position", "Variant Image",
    "Status", "Google Shopping / Google Product Category", "Google Shopping / Gender",
    "Google Shopping / Age Group", "Google Shopping / MPN", "Google Shopping / Condition",
)  # fmt: skip
ALIASES = {  # the 2024+ export names -> the classic names read below
    "url handle": "Handle", "description": "Body (HTML)", "published on online store": "Published",
    "sku": "Variant SKU", "barcode": "Variant Barcode", "price": "Variant Price",
    "compare-at price": "Variant Compare At Price", "inventory quantity": "Variant Inventory Qty",
    "weight value (grams)": "Variant Grams", "product image url": "Image Src",
    "variant image url": "Variant Image", "inventory tracker": "Variant Inventory Tracker",
    "continue selling when out of stock": "Variant Inventory Policy",
    "google shopping / manufacturer part number (mpn)": "Google Shopping / MPN",
    **{name.lower(): name for name in CLASSIC},
}  # fmt: skip
LOCATION_PREFIX = "inventory available:"
VARIANT_COLUMNS = (
    "Variant SKU", "Variant Price", "Variant Compare At Price", "Variant Barcode",
    "Option1 Value", "Option2 Value", "Option3 Value",
)  # fmt: skip
NO_OPTION = {("title", "default title"), ("title", ""), ("", "default title")}
OPTIONS = tuple(f"Option{i} {part}" for i in (1, 2, 3) for part in ("Name", "Value"))
SOURCES: base.Sources = {  # the classic names (ALIASES maps the 2024+ ones to them)
    "item_group_id": ("Handle",), "handle": ("Handle",), "title": ("Title",),
    "description": ("Body (HTML)",), "brand": ("Vendor",),
    "gtin": ("Variant Barcode",), "mpn": ("Google Shopping / MPN",),
    "condition": ("Google Shopping / Condition",),
    "price": ("Variant Price", "Variant Compare At Price"),
    # the sale price is Variant Price when a higher compare-at price is the original one
    "sale_price": ("Variant Price", "Variant Compare At Price"),
    "currency": (), "weight_grams": ("Variant Grams",), "product_type": ("Type",),
    "google_product_category": ("Google Shopping / Google Product Category", "Product Category"),
    "color": OPTIONS, "size": OPTIONS, "material": OPTIONS, "pattern": OPTIONS,
    "gender": ("Google Shopping / Gender",), "age_group": ("Google Shopping / Age Group",),
    "options": OPTIONS, "tags": ("Tags",), "status": ("Status", "Published"),
    "images": ("Image Src", "Variant Image"),
    "quantity": ("Variant Inventory Qty", "Inventory Available:*"),
    "stock_tracking": ("Variant Inventory Tracker", "Variant Inventory Policy"),
}  # fmt: skip
CONTINUE = {"continue", "true", "yes", "1"}  # Variant Inventory Policy: sell when out of stock


@dataclass
class _Product:
    handle: str
    first_line: int
    line: int = 0
    row: dict[str, str] | None = None  # the first row with a Title
    variants: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    images: list[tuple[float, int, str]] = field(default_factory=list)  # position, line, url

    def option_names(self, row: dict[str, str]) -> list[str]:
        first = self.row or {}
        return [_get(first, f"Option{i} Name") or _get(row, f"Option{i} Name") for i in (1, 2, 3)]

    def options(self, row: dict[str, str]) -> dict[str, str]:
        values = [_get(row, f"Option{i} Value") for i in (1, 2, 3)]
        pairs = zip(self.option_names(row), values, strict=True)
        return {n or f"Option{i}": v for i, (n, v) in enumerate(pairs, 1) if _real(n, v)}

    def grouped(self) -> bool:
        return len(self.variants) > 1 or bool(self.row and self.options(self.row))

    def image_urls(self) -> list[str]:
        return list(dict.fromkeys(url for _, _, url in sorted(self.images)))


def parse(path: Path, currency: str | None = None) -> base.ParseResult:
    header, raw_rows = base.read_csv(
        path, set(), KIND, skus={"variant sku", "sku"}, multiline={"body (html)", "description"}
    )
    try:
        names = _canonical(path, header)
    except InputError:
        raw_rows.close()
        raise
    locations = {h: h[len(LOCATION_PREFIX) :].strip() for h in header if _is_location(h)}
    columns = [*names.values(), *(f"Inventory Available: {loc}" for loc in locations.values())]
    has_options = any(c in OPTIONS for c in columns)
    result = base.ParseResult(columns=columns)
    products = _group(((line, _rename(row, names)) for line, row in raw_rows), result)
    variants = sorted((line, row, p) for p in products.values() for line, row in p.variants)
    result.items = _items(variants, locations, has_options, currency, result)
    return result


def _items(
    variants: list[tuple[int, dict[str, str], _Product]],
    locations: dict[str, str],
    has_options: bool,
    currency: str | None,
    result: base.ParseResult,
) -> Iterator[ProductInput]:
    """One item per variant, in file order, as the upsert asks for them (the rows are in
    memory: a product's variants and images need not be contiguous in the file)."""
    seen: set[str] = set()
    for line, row, product in variants:
        sku = _get(row, "Variant SKU")
        try:
            if product.row is None:
                raise base.RowError(
                    f"Handle {product.handle!r} has no product row with a Title "
                    "(the first row of each product carries its Title)"
                )
            if not sku:
                raise base.RowError("variant has no SKU")
            base.check_sku(sku)
            if sku in seen:
                raise base.RowError("SKU appears twice in this file; the first row was kept")
            item = _item(sku, row, product, locations, has_options, currency)
        except base.RowError as exc:
            result.rejected.append(base.Rejection(line, sku, str(exc)))
            continue
        seen.add(sku)
        result.warnings.extend(_barcode_warnings(line, sku, _get(row, "Variant Barcode")))
        yield item


def _canonical(path: Path, header: list[str]) -> dict[str, str]:
    """Raw column -> classic name; raise InputError when the file is not a Shopify export."""
    names: dict[str, str] = {}
    for raw in header:
        name = ALIASES.get(raw.lower(), raw)
        if name not in names.values():
            names[raw] = name
    missing = [c for c in REQUIRED if c not in names.values()]
    if missing:
        lowered = {h.lower() for h in header}
        hint = "export it from Shopify admin > Products > Export (CSV for Excel, Numbers...)"
        if {"regular price", "name"} <= lowered:
            hint = "this looks like a WooCommerce export: run 'multichan import woocommerce'"
        raise InputError(
            f"{path} is not a {KIND}: missing column(s) {', '.join(missing)}", hint=hint
        )
    return names


def _is_location(column: str) -> bool:
    return column.lower().startswith(LOCATION_PREFIX) and bool(column[len(LOCATION_PREFIX) :])


def _rename(row: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    return {**row, **{name: row[raw] for raw, name in names.items() if raw in row}}


def _get(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _real(name: str, value: str) -> bool:
    return bool(value) and (name.lower(), value.lower()) not in NO_OPTION


def _group(
    rows: Iterable[tuple[int, dict[str, str]]], result: base.ParseResult
) -> dict[str, _Product]:
    """Handle -> product, in order of first appearance; variant rows keep their line numbers."""
    products: dict[str, _Product] = {}
    for line, row in rows:
        handle, title = _get(row, "Handle"), _get(row, "Title")
        is_variant = any(_get(row, c) for c in VARIANT_COLUMNS)
        if not handle and title:
            handle = base.slugify(title)  # the 2024+ format lets Shopify derive the handle
        if not handle:
            if is_variant:
                sku = _get(row, "Variant SKU")
                result.rejected.append(base.Rejection(line, sku, "row has no Handle"))
            else:
                result.warnings.append(f"line {line}: no Handle, no Title and no variant; ignored")
            continue
        product = products.setdefault(handle.lower(), _Product(handle.lower(), line))
        if title and product.row is None:
            product.line, product.row = line, row
        if is_variant:
            product.variants.append((line, row))
        if url := _get(row, "Image Src"):
            product.images.append((_position(_get(row, "Image Position")), line, url))
    for product in products.values():
        if product.row is not None and not product.variants:
            product.variants.append((product.line, product.row))  # rejected: no SKU
        elif not product.variants:
            result.warnings.append(
                f"line {product.first_line}: Handle {product.handle!r} has no row with a Title "
                "and no variant; ignored"
            )
    return products


def _position(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")  # no position: after the numbered images, in file order


def _item(
    sku: str,
    row: dict[str, str],
    product: _Product,
    locations: dict[str, str],
    has_options: bool,
    currency: str | None,
) -> ProductInput:
    """Every field of ``SOURCES``; the importer drops those whose columns the file lacks."""
    first = product.row or {}
    body = first.get("Body (HTML)") or ""
    price = base.money(_get(row, "Variant Price"), "Variant Price", currency)
    if price is None:
        raise base.RowError("Variant Price is empty")
    compare = base.money(
        _get(row, "Variant Compare At Price"), "Variant Compare At Price", currency
    )
    sale = None
    if compare is not None and Decimal(compare) > Decimal(price):
        price, sale = compare, price  # Shopify's compare-at is the original price
    status_text = _get(first, "Status") or _get(first, "Published")
    options = product.options(row)
    title = _get(first, "Title")
    if len(product.variants) > 1 and options:
        title = f"{title} - {' / '.join(options.values())}"

    def google(column: str) -> str:  # per variant in newer exports, per product in older
        name = f"Google Shopping / {column}"
        return _get(row, name) or _get(first, name)

    category = google("Google Product Category") or _get(first, "Product Category")

    fields: dict[str, object] = {
        "item_group_id": product.handle if product.grouped() else None,
        "handle": product.handle,
        "title": title,
        "description": body if body.strip() else None,  # HTML kept as is
        "brand": _get(first, "Vendor") or None,
        "product_type": _get(first, "Type") or None,
        "google_product_category": category or None,
        "gtin": base.barcode(_get(row, "Variant Barcode")),
        "mpn": google("MPN") or None,
        "condition": base.condition(google("Condition")),
        "gender": google("Gender").lower() or None,
        "age_group": google("Age Group").lower() or None,
        "price": price,
        "sale_price": sale,
        "weight_grams": _grams(_get(row, "Variant Grams")),
        "tags": _get(first, "Tags") or None,
        "status": base.status(status_text),
        "options": base.options_json(options),
        "stock_tracking": _tracking(row),
        **dict.fromkeys(("color", "size", "material", "pattern")),
        **base.variant_attributes(options),
    }
    images = list(dict.fromkeys(u for u in [_get(row, "Variant Image")] if u))
    images += [u for u in product.image_urls() if u not in images]
    defaults: dict[str, object] = {}
    if not has_options:  # the variant's options are unknown: so are its title and group
        if len(product.variants) > 1:
            defaults["title"] = fields.pop("title")
        else:
            del fields["item_group_id"]
    stock = {} if fields["stock_tracking"] == "untracked" else _stock(row, locations)
    return ProductInput(sku, fields, images, stock, defaults)


def _tracking(row: dict[str, str]) -> str:
    """untracked (an empty tracker: Shopify does not count it), continue (sold when out of
    stock) or tracked; a file without the tracker column is read from the policy alone."""
    if "Variant Inventory Tracker" in row and not _get(row, "Variant Inventory Tracker"):
        return "untracked"
    if _get(row, "Variant Inventory Policy").lower() in CONTINUE:
        return "continue"
    return "tracked"


def _grams(text: str) -> int | None:
    if not text:
        return None
    try:
        grams = Decimal(text)
    except InvalidOperation:
        raise base.RowError(f"Variant Grams {text!r} is not a number") from None
    if not grams.is_finite() or grams < 0:
        raise base.RowError(f"Variant Grams {text!r} is not a weight")
    if grams > base.MAX_QUANTITY:  # a billion grams; SQLite's integers end at 2^63
        raise base.RowError(f"Variant Grams {text!r} is out of range")
    return int(grams.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _stock(row: dict[str, str], locations: dict[str, str]) -> dict[str, int]:
    stock: dict[str, int] = {}
    if not locations:
        qty = base.quantity(_get(row, "Variant Inventory Qty"), "Variant Inventory Qty")
        return {} if qty is None else {DEFAULT_LOCATION: qty}
    for column, location in locations.items():
        qty = base.quantity(_get(row, column), column)
        if qty is not None:
            stock[location] = qty
    return stock


def _barcode_warnings(line: int, sku: str, raw: str) -> list[str]:
    code = base.barcode(raw)
    if raw and code is None:
        return [
            f"line {line} (SKU {sku}): barcode {raw!r} was turned into a number by a "
            "spreadsheet and its digits are lost; fix it in Shopify and export again"
        ]
    if code and not gtin_valid(code):
        return [
            f"line {line} (SKU {sku}): barcode {code} is not a valid GTIN (wrong length or "
            "check digit); imported as is, 'multichan catalog check' lists it"
        ]
    return []
