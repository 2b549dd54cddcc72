"""WooCommerce's built-in product CSV export (Products > Export) turned into catalog rows.

Row types (``Type`` is a comma list such as ``simple, downloadable, virtual``):

- ``simple`` (virtual and downloadable ones too): one SKU.
- ``variable``: a parent, not a SKU. Its name, descriptions, categories, tags, images, brand,
  weight and status feed its variations, and so does its price when a variation has none. Its SKU
  (``id:N`` when it has none) is their ``item_group_id``.
- ``variation``: one SKU; ``Parent`` names the parent by SKU or ``id:N``. The title is the
  parent's name, " - ", then the variation's attribute values (WooCommerce's own style); an
  empty value means "any" and is left out. The variation's own description wins over the parent's.
- ``grouped`` and ``external`` rows are not stock the seller ships: skipped with a warning, as are
  types this module does not know (bundles, subscriptions...).

Stock: a number in ``Stock`` is the quantity at location ``default`` (stock tracking
``tracked``, or ``continue`` when ``Backorders allowed?`` is 1 or notify, or ``In stock?`` says
backorder: still sold when out of stock). An empty ``Stock`` means WooCommerce does not count
this product: with ``In stock?`` 0 it is tracked at quantity 0 (out of stock); otherwise (in
stock, backorder) it imports as ``untracked``, offered as in stock, and no quantity is written
(a count we do not have must not be invented). ``Stock`` = ``parent`` (one pool shared by all
variations, which the export does not give per variation) writes no quantity and no tracking;
one warning lists these SKUs. A file with neither ``Stock`` nor ``In stock?`` leaves stock and
its tracking alone.

A file with only some columns leaves the fields it lacks alone (``SOURCES``); an empty cell
clears its field. The export has no condition: new SKUs are new, existing ones keep theirs.

Undone exporter quirks: the ``'`` put before values starting with = + - @ (``'-1``), ``\\,``
inside comma lists, description newlines written as a literal ``\\n``, prices with the store's
decimal comma, HTML entities in names (descriptions stay HTML). A sale price whose schedule
(``Date sale price starts/ends``) does not include today is not applied. Simple products take
color/size/... from attributes that have exactly one value. Weights are converted to grams from
the unit in the header. The file names no currency: the shop's (import --currency) applies.
Headers must be the English ones WooCommerce writes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from multichan.catalog.importers import base
from multichan.catalog.store import DEFAULT_LOCATION, ProductInput

REQUIRED = {"Type", "SKU", "Name"}
KIND = "WooCommerce product export"
SKIPPED = {
    "grouped": "grouped products only gather other products, which import from their own rows",
    "external": "external/affiliate products are sold and shipped by another site",
}
PUBLISHED = {"1": "active", "0": "draft", "-1": "draft"}  # publish, private, draft
OUT_OF_STOCK = {"0", "outofstock", "no", "false"}
GTIN_COLUMNS = ("GTIN, UPC, EAN, or ISBN", "Meta: _global_unique_id", "GTIN", "EAN", "UPC", "ISBN")
GRAMS = {"kg": Decimal(1000), "g": Decimal(1), "lbs": Decimal("453.59237"),
         "oz": Decimal("28.349523125")}  # fmt: skip
WEIGHT_HEADER = re.compile(r"Weight \((kg|g|lbs|oz)\)")
ATTRIBUTE_HEADER = re.compile(r"Attribute (\d+) name")
BRAND_ATTRIBUTES = {"brand", "brands"}
UNESCAPED_COMMA = re.compile(r"(?<!\\),")
VARIANT_COLUMNS = sorted(set(base.ATTRIBUTE_COLUMNS.values()))
ATTRIBUTES = ("Attribute * name",)
SOURCES: base.Sources = {
    "item_group_id": ("Type",), "handle": ("Name",), "title": ("Name",),
    "description": ("Description", "Short description"), "brand": ("Brands", *ATTRIBUTES),
    "gtin": GTIN_COLUMNS, "condition": (), "price": ("Regular price",),
    "sale_price": ("Sale price",), "currency": (),
    "weight_grams": tuple(f"Weight ({unit})" for unit in GRAMS), "product_type": ("Categories",),
    **dict.fromkeys(VARIANT_COLUMNS, ATTRIBUTES), "options": ATTRIBUTES, "tags": ("Tags",),
    "status": ("Published",), "images": ("Images",), "quantity": ("Stock", "In stock?"),
    "stock_tracking": ("Stock", "In stock?", "Backorders allowed?"),
}  # fmt: skip
BACKORDERS = {"1", "notify", "yes", "true"}  # Backorders allowed?: sold when out of stock
ON_BACKORDER = {"backorder", "onbackorder"}  # In stock?: a managed count sold past zero


@dataclass
class _Parent:
    """A variable product as its variations see it."""

    line: int
    group: str
    row: dict[str, str]
    status: str
    price: str | None
    sale_price: str | None
    grams: int | None
    used: bool = False


@dataclass
class _File:
    weight: tuple[str, str] | None  # (column, unit)
    gtin_columns: list[str]
    attribute_numbers: list[str]
    has_images: bool
    counts_stock: bool  # a Stock or In stock? column
    currency: str | None  # for messages
    result: base.ParseResult


def parse(path: Path, currency: str | None = None) -> base.ParseResult:
    header, rows = base.read_csv(
        path,
        REQUIRED,
        KIND,
        skus={"sku", "parent"},
        multiline={"description", "short description"},
    )
    known = {h.lower(): h for h in header}
    weight = next(((h, m.group(1)) for h in header if (m := WEIGHT_HEADER.fullmatch(h))), None)
    numbers = [m.group(1) for h in header if (m := ATTRIBUTE_HEADER.fullmatch(h))]
    gtins = [known[c.lower()] for c in GTIN_COLUMNS if c.lower() in known]
    columns = [*header, *(c for c in GTIN_COLUMNS if c.lower() in known)]  # any case
    counts_stock = "Stock" in header or "In stock?" in header
    result = base.ParseResult(columns=columns)
    f = _File(weight, gtins, numbers, "Images" in header, counts_stock, currency, result)
    records = [(line, row, _kind(cell(row, "Type"))) for line, row in rows]

    first_line: dict[str, int] = {}  # SKUs are unique across a WooCommerce store
    for line, row, kind in records:
        sku = cell(row, "SKU")
        if sku and (kind in {"simple", "variation", "variable"}) and sku not in first_line:
            first_line[sku] = line
    kinds: dict[str, tuple[int, str]] = {}  # "id:N" and SKU -> (line, kind)
    parents: dict[str, _Parent | str] = {}  # key -> parent, or why it is unusable
    for line, row, kind in records:
        sku, keys = cell(row, "SKU"), _keys(row)
        for key in keys:
            kinds.setdefault(key, (line, kind))
        if kind != "variable" or (sku and first_line[sku] != line):
            continue
        try:
            parent: _Parent | str = _parent(line, row, keys[0] if keys else "", f)
        except base.RowError as exc:
            f.result.rejected.append(base.Rejection(line, sku, str(exc)))
            parent = f"line {line} was rejected: {exc}"
        for key in keys:
            parents.setdefault(key, parent)

    f.result.items = _items(records, first_line, parents, kinds, f)
    return f.result


def _items(
    records: list[tuple[int, dict[str, str], str]],
    first_line: dict[str, int],
    parents: dict[str, _Parent | str],
    kinds: dict[str, tuple[int, str]],
    f: _File,
) -> Iterator[ProductInput]:
    """The SKUs of simple products and variations, in file order, as the upsert asks for them
    (the rows are in memory: a variation may come before its parent); the warnings about
    parents without variations and uncounted stock come once all are read."""
    uncounted: list[str] = []
    for line, row, kind in records:
        sku, name = cell(row, "SKU"), html.unescape(cell(row, "Name"))
        if kind == "variable" and sku and first_line[sku] != line:
            f.result.rejected.append(base.Rejection(line, sku, _twice(first_line[sku])))
        if kind == "variable":
            continue
        if kind not in {"simple", "variation"}:
            why = SKIPPED.get(kind, f"product type {kind!r} is not supported")
            f.result.warnings.append(f"line {line}: skipped {name!r} ({sku or 'no SKU'}): {why}")
            continue
        try:
            if not sku:
                ref = cell(row, "ID")
                raise base.RowError("SKU is empty" + (f" (WooCommerce ID {ref})" if ref else ""))
            base.check_sku(sku)
            if first_line[sku] != line:
                raise base.RowError(_twice(first_line[sku]))
            if kind == "variation":
                item = _variation(sku, row, _find_parent(row, parents, kinds), f, uncounted)
            else:
                item = _simple(sku, row, f, uncounted)
        except base.RowError as exc:
            f.result.rejected.append(base.Rejection(line, sku, str(exc)))
            continue
        yield item

    for key, parent in parents.items():
        if isinstance(parent, _Parent) and not parent.used and key == parent.group:
            f.result.warnings.append(
                f"line {parent.line}: variable product {cell(parent.row, 'Name')!r} has no "
                "variation in this file; nothing was imported for it"
            )
    if uncounted:
        shown = ", ".join(uncounted[:10]) + (", ..." if len(uncounted) > 10 else "")
        f.result.warnings.append(
            f"{len(uncounted)} SKU(s) share their parent's stock (Stock = parent), which the "
            "export does not give per variation: no quantity was imported (new SKUs start at 0; "
            f"set one with 'multichan stock set SKU QTY'): {shown}"
        )


def cell(row: dict[str, str], column: str) -> str:
    """A cell without surrounding space and without the exporter's anti-formula apostrophe."""
    text = (row.get(column) or "").strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        return text[1:]
    return text


def split_list(text: str) -> list[str]:
    """WooCommerce's ", "-joined lists, where a comma inside a value is written ``\\,``."""
    return [p.strip().replace("\\,", ",") for p in UNESCAPED_COMMA.split(text) if p.strip()]


def _twice(first: int) -> str:
    return f"SKU appears twice in this file (first at line {first}); only the first row is used"


def _kind(type_cell: str) -> str:
    types = {t.strip().lower() for t in type_cell.split(",") if t.strip()}
    types -= {"downloadable", "virtual"}
    return ", ".join(sorted(types)) or "simple"


def _keys(row: dict[str, str]) -> list[str]:
    """The names other rows may use for this one: its SKU, then ``id:N``."""
    ref = cell(row, "ID")
    return [k for k in (cell(row, "SKU"), f"id:{ref}" if ref else "") if k]


def _find_parent(
    row: dict[str, str], parents: dict[str, _Parent | str], kinds: dict[str, tuple[int, str]]
) -> _Parent:
    ref = cell(row, "Parent")
    if not ref:
        raise base.RowError("variation has no Parent")
    key = ref if ref in kinds or not ref.isdigit() else f"id:{ref}"
    parent = parents.get(key)
    if isinstance(parent, _Parent):
        parent.used = True
        return parent
    if parent is not None:
        raise base.RowError(f"parent {ref!r} is unusable ({parent})")
    if key in kinds:
        line, kind = kinds[key]
        raise base.RowError(f"parent {ref!r} (line {line}) is a {kind} product, not a variable one")
    raise base.RowError(
        f"parent {ref!r} is not in this file; export the variable product with its variations"
    )


def _parent(line: int, row: dict[str, str], group: str, f: _File) -> _Parent:
    price = base.money(cell(row, "Regular price"), "Regular price", f.currency)
    sale = _sale(row, group, f) if price else None
    return _Parent(line, group, row, _status(row), price, sale, _grams(row, f))


def _simple(sku: str, row: dict[str, str], f: _File, uncounted: list[str]) -> ProductInput:
    """Every field of ``SOURCES``; the importer drops those whose columns the file lacks."""
    name = html.unescape(cell(row, "Name"))
    if not name:
        raise base.RowError("Name is empty")
    price = base.money(cell(row, "Regular price"), "Regular price", f.currency)
    if price is None:
        raise base.RowError("Regular price is empty")
    single = {n: v[0] for n, values in _attributes(row, f) if len(v := split_list(values)) == 1}
    fields = _shared(row, f) | {
        "item_group_id": None,
        "handle": base.slugify(name),
        "title": name,
        "gtin": _gtin(row, f),
        "price": price,
        "sale_price": _sale(row, sku, f),
        "weight_grams": _grams(row, f),
        "options": None,
        "status": _status(row),
        **base.variant_attributes(single),
    }
    stock, tracking = _stock(row, sku, f, uncounted)
    if tracking:
        fields["stock_tracking"] = tracking
    return ProductInput(sku, fields, _images(row, f), stock)


def _variation(
    sku: str, row: dict[str, str], parent: _Parent, f: _File, uncounted: list[str]
) -> ProductInput:
    name = html.unescape(cell(parent.row, "Name"))
    options = {
        n: v.replace("\\,", ",") for n, v in _attributes(row, f) if v and n not in BRAND_ATTRIBUTES
    }
    own_name = html.unescape(cell(row, "Name"))
    title = f"{name} - {', '.join(options.values())}" if options else own_name or name
    price = base.money(cell(row, "Regular price"), "Regular price", f.currency)
    if price is not None:
        sale = _sale(row, sku, f)
    elif parent.price is not None:
        price, sale = parent.price, parent.sale_price
    else:
        raise base.RowError(f"Regular price is empty, and the parent {parent.group!r} has none")
    own_status = _status(row)
    grams = _grams(row, f)
    fields = _shared(parent.row, f) | {
        "item_group_id": parent.group,
        "handle": base.slugify(name),
        "title": title,
        "description": _description(row) or _description(parent.row),
        "brand": _brand(row, f) or _brand(parent.row, f),
        "gtin": _gtin(row, f),
        "price": price,
        "sale_price": sale,
        "weight_grams": parent.grams if grams is None else grams,
        "options": base.options_json(options),
        "status": own_status if own_status != "active" else parent.status,
        **base.variant_attributes(options),
    }
    images = None
    if f.has_images:
        own, inherited = _images(row, f) or [], _images(parent.row, f) or []
        images = list(dict.fromkeys(own + inherited))
    stock, tracking = _stock(row, sku, f, uncounted)
    if tracking:
        fields["stock_tracking"] = tracking
    return ProductInput(sku, fields, images, stock)


def _shared(row: dict[str, str], f: _File) -> dict[str, object]:
    """Fields a variation takes from its parent and a simple product from its own row."""
    categories = split_list(cell(row, "Categories"))
    tags = split_list(cell(row, "Tags"))
    return {
        "description": _description(row),
        "brand": _brand(row, f),
        "product_type": categories[0] if categories else None,
        "tags": ", ".join(tags) or None,
        **dict.fromkeys(VARIANT_COLUMNS),
    }


def _attributes(row: dict[str, str], f: _File) -> list[tuple[str, str]]:
    """(name, raw value) of each attribute; ``pa_color`` becomes ``color``, brand lower-cased."""
    out = []
    for n in f.attribute_numbers:
        name = cell(row, f"Attribute {n} name")
        if name.lower().startswith("pa_"):
            name = name[3:]
        if name:
            name = name.lower() if name.lower() in BRAND_ATTRIBUTES else name
            out.append((name, cell(row, f"Attribute {n} value(s)")))
    return out


def _description(row: dict[str, str]) -> str | None:
    for column in ("Description", "Short description"):
        text = cell(row, column)
        if text:  # the exporter writes a newline as \n and a typed "\n" as \\n
            return "\\n".join(p.replace("\\n", "\n") for p in text.split("\\\\n"))
    return None


def _brand(row: dict[str, str], f: _File) -> str | None:
    brands = split_list(cell(row, "Brands"))
    if brands:
        return brands[0].split(" > ")[0].strip()
    for name, value in _attributes(row, f):
        if name in BRAND_ATTRIBUTES and (values := split_list(value)):
            return values[0]
    return None


def _gtin(row: dict[str, str], f: _File) -> str | None:
    for column in f.gtin_columns:
        if code := base.barcode(cell(row, column)):
            return code
    return None


def _status(row: dict[str, str]) -> str:
    text = cell(row, "Published")
    if text in PUBLISHED:
        return PUBLISHED[text]
    try:
        return base.status(text)
    except base.RowError:
        raise base.RowError(
            f"Published {text!r} is not 1 (published), 0 (private) or -1 (draft)"
        ) from None


def _sale(row: dict[str, str], sku: str, f: _File) -> str | None:
    sale = base.money(cell(row, "Sale price"), "Sale price", f.currency)
    if sale is None:
        return None
    start, end = _date(row, "Date sale price starts"), _date(row, "Date sale price ends")
    today = date.today()
    if (start and start > today) or (end and end < today):
        f.result.warnings.append(
            f"{sku}: sale price {sale} is scheduled from {start or 'now'} to {end or 'open end'}, "
            "not today: the regular price was imported"
        )
        return None
    return sale


def _date(row: dict[str, str], column: str) -> date | None:
    text = cell(row, column)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise base.RowError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def _grams(row: dict[str, str], f: _File) -> int | None:
    if f.weight is None:
        return None
    column, unit = f.weight
    text = cell(row, column).replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise base.RowError(f"{column} {text!r} is not a weight")
    if value.adjusted() > 9:  # over a billion of any unit (and before it can overflow)
        raise base.RowError(f"{column} {text[:30]!r} is out of range")
    grams = int((value * GRAMS[unit]).to_integral_value(ROUND_HALF_UP))
    if grams > base.MAX_QUANTITY:
        raise base.RowError(f"{column} {text!r} is out of range")
    return grams


def _images(row: dict[str, str], f: _File) -> list[str] | None:
    return split_list(cell(row, "Images")) if f.has_images else None


def _stock(
    row: dict[str, str], sku: str, f: _File, uncounted: list[str]
) -> tuple[dict[str, int], str | None]:
    """The row's stock and its stock tracking (None: leave it alone)."""
    if not f.counts_stock:
        return {}, None  # the file has no stock columns: stock is left alone
    text = cell(row, "Stock")
    if text and text.lower() != "parent":
        quantity = base.quantity(text, "Stock")
        sells_out = (
            cell(row, "Backorders allowed?").lower() in BACKORDERS
            or cell(row, "In stock?").lower() in ON_BACKORDER
        )
        stock = {DEFAULT_LOCATION: quantity} if quantity is not None else {}
        return stock, "continue" if sells_out else "tracked"
    if text:  # parent: one pool on the variable product
        uncounted.append(sku)
        return {}, None
    if cell(row, "In stock?").lower() in OUT_OF_STOCK:
        return {DEFAULT_LOCATION: 0}, "tracked"
    if "Stock" not in row:  # no Stock column: whether WooCommerce counts it is unknown
        return {}, None
    return {}, "untracked"  # an empty Stock: WooCommerce does not count it, and it is for sale
