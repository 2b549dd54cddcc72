"""Catalog reads and writes: upsert imported products, look products up, change stock and price.

Everything here takes an open ``sqlite_utils.Database`` and returns plain data; nothing prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from multichan.catalog import ledger
from multichan.errors import NotFound, UsageError
from multichan.money import normalize

PRODUCT_FIELDS = (
    "item_group_id", "handle", "title", "description", "brand", "gtin", "mpn", "condition",
    "price", "sale_price", "currency", "weight_grams", "product_type",
    "google_product_category", "link", "color", "size", "material", "pattern", "gender",
    "age_group", "options", "tags", "status",
)  # fmt: skip
DEFAULT_LOCATION = "default"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ProductInput:
    """One SKU as an importer read it: product fields, ordered images, stock per location.

    A field missing from ``fields`` is left alone on an existing SKU (a new one gets the
    schema's default, or the one in ``defaults``); a field set to None is cleared.
    """

    sku: str
    fields: dict[str, Any]
    images: list[str] | None = None  # None: leave the stored images alone
    stock: dict[str, int] = field(default_factory=dict)  # location -> quantity; absent: unchanged
    defaults: dict[str, Any] = field(default_factory=dict)  # used only when the SKU is new


@dataclass
class UpsertResult:
    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # sku -> changed field names
    unchanged: int = 0


def _existing(db: sqlite_utils.Database, sku: str) -> tuple[dict | None, list[str], dict[str, int]]:
    row = db.execute("SELECT * FROM products WHERE sku = ?", [sku]).fetchone()
    if row is None:
        return None, [], {}
    cols = [d[0] for d in db.execute("SELECT * FROM products LIMIT 0").description]
    product = dict(zip(cols, row, strict=True))
    images = [
        r[0] for r in db.execute("SELECT url FROM images WHERE sku = ? ORDER BY position", [sku])
    ]
    stock = dict(db.execute("SELECT location, quantity FROM stock WHERE sku = ?", [sku]).fetchall())
    return product, images, stock


def upsert(
    db: sqlite_utils.Database, items: Iterable[ProductInput], *, dry_run: bool = False
) -> UpsertResult:
    """Insert new SKUs and update changed ones; an unchanged SKU is not touched at all.

    Only the fields an item carries are compared and written: the others keep their stored
    values. Idempotent: importing the same file twice changes nothing the second time.
    """
    result = UpsertResult()
    conn = db.conn
    with conn:
        for item in items:
            fields = {k: v for k, v in item.fields.items() if k in PRODUCT_FIELDS}
            current, images, stock = _existing(db, item.sku)
            if current is None:
                result.added.append(item.sku)
                changed_fields: list[str] = []
            else:
                changed_fields = [k for k, v in fields.items() if current.get(k) != v]
                if item.images is not None and item.images != images:
                    changed_fields.append("images")
                changed_fields += [
                    f"quantity:{loc}" for loc, qty in item.stock.items() if stock.get(loc) != qty
                ]
                if changed_fields:
                    result.changed[item.sku] = changed_fields
                else:
                    result.unchanged += 1
                    continue
            if dry_run:
                continue
            stamp = now()
            if current is None:
                defaults = {k: v for k, v in item.defaults.items() if k in PRODUCT_FIELDS}
                db.table("products").insert(
                    {
                        "sku": item.sku,
                        **defaults,
                        **fields,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                )
            else:
                db.table("products").update(item.sku, {**fields, "updated_at": stamp})
            if item.images is not None and (current is None or item.images != images):
                conn.execute("DELETE FROM images WHERE sku = ?", [item.sku])
                conn.executemany(
                    "INSERT INTO images (sku, position, url) VALUES (?, ?, ?)",
                    [(item.sku, n, url) for n, url in enumerate(item.images, 1)],
                )
            for loc, qty in item.stock.items():
                ledger.set_on_hand(db, item.sku, loc, qty, reason="import", at=stamp)
    return result


def ensure_location(db: sqlite_utils.Database, code: str, name: str | None = None) -> None:
    db.conn.execute(
        "INSERT OR IGNORE INTO locations (code, name) VALUES (?, ?)", [code, name or code]
    )


def _require_sku(db: sqlite_utils.Database, sku: str) -> None:
    if db.execute("SELECT 1 FROM products WHERE sku = ?", [sku]).fetchone() is None:
        raise NotFound(f"no product with SKU {sku!r} in the catalog")


def _pick_location(
    db: sqlite_utils.Database, sku: str, location: str | None, create: bool = False
) -> str:
    if location:
        known = [r[0] for r in db.execute("SELECT code FROM locations ORDER BY code")]
        if location not in known and not create:
            raise UsageError(
                f"no location {location!r} (known: {', '.join(known) or 'none'}); "
                "use --new-location to add it"
            )
        return location
    known = [r[0] for r in db.execute("SELECT location FROM stock WHERE sku = ?", [sku])]
    if len(known) > 1:
        raise UsageError(
            f"SKU {sku} has stock in {len(known)} locations ({', '.join(sorted(known))}); "
            "name one with --location"
        )
    return known[0] if known else DEFAULT_LOCATION


def set_stock(
    db: sqlite_utils.Database,
    sku: str,
    qty: int,
    location: str | None = None,
    create: bool = False,
) -> tuple[str, int, int]:
    """Set the on-hand quantity at one location (a count); returns (location, old, new)."""
    return _change_stock(db, sku, location, create, lambda old: qty)


def adjust_stock(
    db: sqlite_utils.Database,
    sku: str,
    delta: int,
    location: str | None = None,
    create: bool = False,
) -> tuple[str, int, int]:
    """Add ``delta`` (may be negative) to the on-hand quantity at one location; returns
    (location, old, new)."""
    return _change_stock(db, sku, location, create, lambda old: old + delta)


def _change_stock(
    db: sqlite_utils.Database,
    sku: str,
    location: str | None,
    create: bool,
    new_quantity: Callable[[int], int],
) -> tuple[str, int, int]:
    _require_sku(db, sku)
    with db.conn:
        loc = _pick_location(db, sku, location, create)
        old = stock_at(db, sku, loc)
        new = new_quantity(old)
        stamp = now()
        ensure_location(db, loc)
        ledger.set_on_hand(db, sku, loc, new, reason="manual", at=stamp)
        db.conn.execute("UPDATE products SET updated_at = ? WHERE sku = ?", [stamp, sku])
    return loc, old, new


def stock_at(db: sqlite_utils.Database, sku: str, location: str) -> int:
    """The on-hand quantity of ``sku`` at ``location``."""
    return ledger.level(db, sku, location)[0]


def set_price(
    db: sqlite_utils.Database, sku: str, price: str, sale_price: str | None = None
) -> tuple[str, str]:
    """Set the regular price (and optionally the sale price); returns (old, new)."""
    _require_sku(db, sku)
    try:
        new = normalize(price)
    except ValueError as exc:
        raise UsageError(f"price {price!r}: {exc}") from None
    if new is None:
        raise UsageError("price is required")
    old = db.execute("SELECT price FROM products WHERE sku = ?", [sku]).fetchone()[0]
    values: dict[str, Any] = {"price": new, "updated_at": now()}
    if sale_price is not None:
        try:
            values["sale_price"] = normalize(sale_price)
        except ValueError as exc:
            raise UsageError(f"sale price {sale_price!r}: {exc}") from None
    with db.conn:
        db.table("products").update(sku, values)
    return old, new


LIST_SQL = """
SELECT p.sku, p.title, p.status, p.price, p.sale_price, p.currency, p.gtin, p.item_group_id,
       COALESCE((SELECT SUM(quantity - committed) FROM stock s WHERE s.sku = p.sku), 0)
           AS quantity
FROM products p
{where}
ORDER BY p.sku
"""


def list_products(db: sqlite_utils.Database, search: str | None = None) -> list[dict[str, Any]]:
    """Products with their total available quantity, filtered by a case-insensitive text
    search."""
    where, params = "", {}
    if search:
        where = (
            "WHERE p.sku LIKE :q OR p.title LIKE :q OR p.brand LIKE :q "
            "OR p.gtin LIKE :q OR p.item_group_id LIKE :q"
        )
        params = {"q": f"%{search}%"}
    return list(db.query(LIST_SQL.format(where=where), params))


def get_product(db: sqlite_utils.Database, sku: str) -> dict[str, Any]:
    """One product with its images, its stock per location (``stock``: on hand, ``committed``
    and ``available``), ``quantity`` (the total available) and overrides."""
    product, images, stock = _existing(db, sku)
    if product is None:
        raise NotFound(f"no product with SKU {sku!r} in the catalog")
    if product.get("options"):
        product["options"] = json.loads(product["options"])
    committed = dict(
        db.execute(
            "SELECT location, committed FROM stock WHERE sku = ? ORDER BY location", [sku]
        ).fetchall()
    )
    product["images"] = images
    product["stock"] = stock
    product["committed"] = committed
    product["available"] = {loc: q - committed.get(loc, 0) for loc, q in stock.items()}
    product["quantity"] = sum(product["available"].values())
    product["overrides"] = list(
        db.query(
            "SELECT channel, title, description, price, excluded FROM overrides WHERE sku = ? "
            "ORDER BY channel",
            [sku],
        )
    )
    return product


def iter_catalog(db: sqlite_utils.Database) -> Iterator[dict[str, Any]]:
    """Every product ordered by SKU, with ``images`` (list) and ``stock`` (location ->
    available quantity, ordered by location).

    Reads a batch of products at a time with the images and stock of that SKU range: a few
    index range scans per batch, memory flat however large the catalog.
    """
    columns = [d[0] for d in db.conn.execute("SELECT * FROM products LIMIT 0").description]
    for rows, images, stock in iter_batches(db, columns):
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            record["images"] = images.get(row[0]) or []
            record["stock"] = stock.get(row[0]) or {}
            yield record


Batch = tuple[list[tuple[Any, ...]], dict[str, list[str]], dict[str, Any]]


@dataclass(frozen=True)
class Totals:
    """Stock read as one total per SKU over ``locations`` (None: all of them), for a feed
    that shows no per-location stock: SQLite sums it, Python sees one number per product."""

    locations: tuple[str, ...] | None = None

    @property
    def query(self) -> str:
        where = "sku BETWEEN ? AND ?"
        if self.locations is not None:
            where += f" AND location IN ({', '.join('?' * len(self.locations))})"
        return f"SELECT sku, SUM(quantity - committed) FROM stock WHERE {where} GROUP BY sku"


def iter_batches(
    db: sqlite_utils.Database,
    columns: Sequence[str],
    *,
    start: str | None = None,
    stop: str | None = None,
    size: int = 1000,
    summed: Totals | None = None,
) -> Iterator[Batch]:
    """``iter_catalog`` for the export's fast path: batches of (rows, images by SKU, stock by
    SKU), each row a tuple of ``columns`` (sku first), no dict per product. With ``summed``,
    a SKU's stock is one number, summed by SQLite over the locations ``summed`` counts."""
    if not columns or columns[0] != "sku":
        raise ValueError("iter_batches needs sku as the first column")
    conn = db.conn
    where, params = [], []
    if start is not None:
        where.append("sku >= ?")
        params.append(start)
    if stop is not None:
        where.append("sku < ?")
        params.append(stop)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM products{clause} ORDER BY sku", params)
    while rows := cursor.fetchmany(size):
        span = (rows[0][0], rows[-1][0])
        images: dict[str, list[str]] = {}
        for sku, url in conn.execute(
            "SELECT sku, url FROM images WHERE sku BETWEEN ? AND ? ORDER BY sku, position", span
        ):
            urls = images.get(sku)
            if urls is None:
                images[sku] = [url]
            else:
                urls.append(url)
        if summed is not None:
            yield rows, images, dict(conn.execute(summed.query, (*span, *(summed.locations or ()))))
            continue
        stock: dict[str, dict[str, int]] = {}
        for sku, location, quantity in conn.execute(
            "SELECT sku, location, quantity - committed FROM stock WHERE sku BETWEEN ? AND ? "
            "ORDER BY sku, location",
            span,
        ):
            levels = stock.get(sku)
            if levels is None:
                stock[sku] = {location: quantity}
            else:
                levels[location] = quantity
        yield rows, images, stock
