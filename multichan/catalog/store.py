"""Catalog reads and writes: upsert imported products, look products up, change stock and price.

Everything here takes an open ``sqlite_utils.Database`` and returns plain data; nothing prints.
The upsert streams: it takes its items a batch at a time (one query per table to read a batch's
SKUs, ``executemany`` to write them) inside one transaction, so memory stays flat and a failed
or killed import leaves the catalog as it was.

Seller edits (``edits``) win over imports: the upsert leaves an edited field alone, keeps the
value the file brought with the edit and counts it as held back when it differs.

Stock tracking (``products.stock_tracking``): ``tracked`` SKUs are offered what their count
allows; ``untracked`` ones (the shop does not count them: WooCommerce without managed stock,
Shopify without inventory tracking) are offered as in stock whatever their count, and
``continue`` ones (Shopify's "continue selling when out of stock", WooCommerce backorders) are
counted but offered as in stock when the count runs out (``offers``: ``stock.untracked_quantity``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from multichan.catalog import bundles, ledger
from multichan.catalog.schema import transaction
from multichan.errors import NotFound, UsageError
from multichan.money import normalize

PRODUCT_FIELDS = (
    "item_group_id", "handle", "title", "description", "brand", "gtin", "mpn", "condition",
    "price", "sale_price", "currency", "weight_grams", "product_type",
    "google_product_category", "link", "color", "size", "material", "pattern", "gender",
    "age_group", "options", "tags", "status", "stock_tracking",
)  # fmt: skip
DEFAULT_LOCATION = "default"
BATCH = 500  # SKUs read and written together by upsert
EXAMPLES = 1000  # SKUs an UpsertResult lists by name (added, changed); the rest are counted


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
    """What an upsert did: counts, and the first ``EXAMPLES`` SKUs added and changed (with the
    names of the fields that changed), so a million-SKU import reports in flat memory."""

    added: list[str] = field(default_factory=list)  # the first EXAMPLES added SKUs
    changed: dict[str, list[str]] = field(default_factory=dict)  # sku -> changed field names
    unchanged: int = 0
    added_count: int = 0
    changed_count: int = 0
    held: dict[str, list[str]] = field(default_factory=dict)  # sku -> fields seller edits kept
    held_count: int = 0  # incoming values held back by seller edits (differing from them)
    # bundle definitions the file gave (a ``components`` field: ``bundles.Definition``):
    # how many were written, and those refused as (definition, SKU, reason)
    bundles_set: int = 0
    bundles_refused: list[tuple[Any, str, str]] = field(default_factory=list)
    import_id: int | None = None  # the full import stamped in last_import (importers.base)

    def add(self, sku: str) -> None:
        self.added_count += 1
        if len(self.added) < EXAMPLES:
            self.added.append(sku)

    def change(self, sku: str, fields: list[str]) -> None:
        self.changed_count += 1
        if len(self.changed) < EXAMPLES:
            self.changed[sku] = fields

    def hold(self, sku: str, fields: list[str]) -> None:
        self.held_count += len(fields)
        if sku in self.held or len(self.held) < EXAMPLES:
            self.held.setdefault(sku, []).extend(fields)


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
    db: sqlite_utils.Database,
    items: Iterable[ProductInput],
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    import_id: int | None = None,
) -> UpsertResult:
    """Insert new SKUs and update changed ones; an unchanged SKU is not touched at all.

    Only the fields an item carries are compared and written: the others keep their stored
    values. Idempotent: importing the same file twice changes nothing the second time.
    ``items`` is read ``batch`` at a time, so it may be a generator of any length; everything
    is one transaction (a savepoint of the caller's, when one is open), also when ``items``
    raises part way: then nothing was written.

    ``import_id`` (a full import, ``importers.base.recorded_upsert``) is written to
    ``last_import`` of every SKU of ``items``: in the same statement for added and changed
    ones, by ``_stamp_kept`` for unchanged ones, which stay unchanged for the channels.
    """
    from multichan.catalog import edits

    result = UpsertResult(import_id=None if dry_run else import_id)
    edited = edits.any_edits(db.conn)
    definitions: dict[str, bundles.Definition] = {}
    items = _definitions(db, items, definitions)
    if dry_run:
        for chunk in _batches(items, batch):
            _read_badly_written(db, chunk, result, write=False, edited=edited)
        return result
    with transaction(db, "upsert"):
        for chunk in _batches(items, batch):
            _read_badly_written(db, chunk, result, write=True, edited=edited)
        if definitions:  # after every product: a bundle may come before its components
            result.bundles_refused = bundles.apply_definitions(db, definitions)
            result.bundles_set = len(definitions) - len(result.bundles_refused)
    return result


def _definitions(
    db: sqlite_utils.Database, items: Iterable[ProductInput], found: dict[str, Any]
) -> Iterator[ProductInput]:
    """``items``, keeping the bundle definitions they carry (``fields["components"]``) in
    ``found``: every one that defines a bundle, and the empty ones of SKUs that are bundles
    now (to remove), so a million rows with an empty cell hold nothing."""
    known = {b for (b,) in db.conn.execute("SELECT DISTINCT bundle FROM bundle_components")}
    for item in items:
        definition = item.fields.get("components")
        if definition is not None and (definition.parts or item.sku in known):
            found[item.sku] = definition
        yield item


def _read_badly_written(
    db: sqlite_utils.Database,
    chunk: list[ProductInput],
    result: UpsertResult,
    *,
    write: bool,
    edited: bool,
) -> None:
    """``_upsert_batch``; a batch whose stored text is not UTF-8 (another tool wrote it) is
    read again with those bytes as U+FFFD, so the import replaces them. The batch fails in
    its reads, before it counted or wrote anything."""
    import sqlite3

    from multichan.catalog.checks import DECODE_RE, tolerant

    try:
        _upsert_batch(db, chunk, result, write=write, edited=edited)
    except sqlite3.OperationalError as exc:
        if not DECODE_RE.match(str(exc)):
            raise
        with tolerant(db.conn):
            _upsert_batch(db, chunk, result, write=write, edited=edited)


def _batches(items: Iterable[ProductInput], size: int) -> Iterator[list[ProductInput]]:
    """``items`` in lists of up to ``size``; a SKU seen again starts a new list, so it is
    compared with what its earlier item wrote."""
    chunk: dict[str, ProductInput] = {}
    for item in items:
        if len(chunk) >= size or item.sku in chunk:
            yield list(chunk.values())
            chunk = {}
        chunk[item.sku] = item
    if chunk:
        yield list(chunk.values())


def _upsert_batch(
    db: sqlite_utils.Database,
    chunk: list[ProductInput],
    result: UpsertResult,
    *,
    write: bool,
    edited: bool = False,
) -> None:
    """Compare one batch of distinct SKUs with the catalog (three queries, a fourth when
    the catalog has seller edits) and, when ``write``, insert and update them with one
    ``executemany`` per statement shape."""
    conn = db.conn
    skus = [item.sku for item in chunk]
    marks = ", ".join("?" * len(skus))
    cursor = conn.execute(f"SELECT * FROM products WHERE sku IN ({marks})", skus)
    columns = [d[0] for d in cursor.description]
    key = columns.index("sku")
    current = {row[key]: dict(zip(columns, row, strict=True)) for row in cursor}
    known = [item.sku for item in chunk if item.sku in current]
    images: dict[str, list[str]] = {}
    stock: dict[str, dict[str, int]] = {}
    kept: dict[str, dict[str, Any]] = {}
    if edited and known:
        from multichan.catalog.edits import for_skus

        kept = for_skus(conn, known)
    brought: list[tuple[str, str, str, str]] = []  # imported, imported_at, sku, field
    if known and any(item.images is not None for item in chunk):
        for sku, url in conn.execute(
            f"SELECT sku, url FROM images WHERE sku IN ({', '.join('?' * len(known))}) "
            "ORDER BY sku, position",
            known,
        ):
            images.setdefault(sku, []).append(url)
    if known and any(item.stock for item in chunk):
        for sku, location, quantity in conn.execute(
            f"SELECT sku, location, quantity FROM stock WHERE sku IN "
            f"({', '.join('?' * len(known))})",
            known,
        ):
            stock.setdefault(sku, {})[location] = quantity

    inserts: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    new_images: list[tuple[str, int, str]] = []
    replaced: list[tuple[str]] = []
    counts: list[tuple[str, str, int]] = []
    unchanged: list[str] = []  # to stamp with result.import_id
    stamp = now()
    for item in chunk:
        sku = item.sku
        fields = {k: v for k, v in item.fields.items() if k in PRODUCT_FIELDS}
        row = current.get(sku)
        if row is None:
            result.add(sku)
            if not write:
                continue
            values = {k: v for k, v in item.defaults.items() if k in PRODUCT_FIELDS} | fields
            if result.import_id is not None:
                values["last_import"] = result.import_id
            inserts.setdefault(tuple(values), []).append((sku, *values.values(), stamp, stamp))
            stored_stock: dict[str, int] = {}
            images_changed = bool(item.images)
        else:
            mine = kept.get(sku)
            if mine:
                held = []
                for name in [k for k in fields if k in mine]:
                    incoming = fields.pop(name)
                    brought.append((json.dumps(incoming), stamp, sku, name))
                    if incoming != mine[name]:
                        held.append(name)
                if held:
                    result.hold(sku, held)
            changed = [k for k, v in fields.items() if row.get(k) != v]
            images_changed = item.images is not None and item.images != images.get(sku, [])
            if images_changed:
                changed.append("images")
            stored_stock = stock.get(sku, {})
            changed += [
                f"quantity:{loc}" for loc, qty in item.stock.items() if stored_stock.get(loc) != qty
            ]
            if not changed:
                result.unchanged += 1
                if result.import_id is not None and row.get("last_import") != result.import_id:
                    unchanged.append(sku)
                continue
            result.change(sku, changed)
            if not write:
                continue
            if result.import_id is not None:
                fields["last_import"] = result.import_id
            updates.setdefault(tuple(fields), []).append((*fields.values(), stamp, sku))
            if images_changed:
                replaced.append((sku,))
        if images_changed and item.images:
            new_images += [(sku, n, url) for n, url in enumerate(item.images, 1)]
        counts += [
            (sku, loc, qty) for loc, qty in item.stock.items() if stored_stock.get(loc) != qty
        ]
    if not write:
        return

    if brought:
        conn.executemany(
            "UPDATE product_edits SET imported = ?, imported_at = ? WHERE sku = ? AND field = ?",
            brought,
        )
    for names, rows in inserts.items():
        cols = ", ".join(f'"{name}"' for name in ("sku", *names, "created_at", "updated_at"))
        marks = ", ".join("?" * (len(names) + 3))
        conn.executemany(f"INSERT INTO products ({cols}) VALUES ({marks})", rows)
    for names, rows in updates.items():
        sets = ", ".join(f'"{name}" = ?' for name in (*names, "updated_at"))
        conn.executemany(f"UPDATE products SET {sets} WHERE sku = ?", rows)
    if replaced:
        conn.executemany("DELETE FROM images WHERE sku = ?", replaced)
    if new_images:
        conn.executemany("INSERT INTO images (sku, position, url) VALUES (?, ?, ?)", new_images)
    for sku, location, quantity in counts:
        ledger.set_on_hand(db, sku, location, quantity, reason="import", at=stamp)
    if unchanged and result.import_id is not None:
        _stamp_kept(conn, unchanged, result.import_id)


def _stamp_kept(conn: Any, skus: list[str], import_id: int) -> None:
    """Write ``import_id`` to ``last_import`` of ``skus``, which an import kept unchanged,
    and put back their ``dirty_skus`` stamps as they were: the products' update triggers
    stamp every written row, but which import last listed a SKU is no change a channel sees
    (a nightly import of an unchanged file must not make the next push plan everything)."""
    marks = ", ".join("?" * len(skus))
    before = dict(conn.execute(f"SELECT sku, seq FROM dirty_skus WHERE sku IN ({marks})", skus))
    conn.execute(f"UPDATE products SET last_import = ? WHERE sku IN ({marks})", [import_id, *skus])
    fresh = [sku for sku in skus if sku not in before]
    if fresh:
        conn.execute(f"DELETE FROM dirty_skus WHERE sku IN ({', '.join('?' * len(fresh))})", fresh)
    if before:
        conn.executemany(
            "UPDATE dirty_skus SET seq = ? WHERE sku = ?", [(q, s) for s, q in before.items()]
        )


def ensure_location(db: sqlite_utils.Database, code: str, name: str | None = None) -> None:
    db.conn.execute(
        "INSERT OR IGNORE INTO locations (code, name) VALUES (?, ?)", [code, name or code]
    )


def _require_sku(db: sqlite_utils.Database, sku: str) -> None:
    if db.execute("SELECT 1 FROM products WHERE sku = ?", [sku]).fetchone() is None:
        raise NotFound(f"no product with SKU {sku!r} in the catalog")


def require_product(db: sqlite_utils.Database, sku: str) -> dict[str, Any]:
    """The products row of ``sku``, or NotFound."""
    cursor = db.conn.execute("SELECT * FROM products WHERE sku = ?", [sku])
    row = cursor.fetchone()
    if row is None:
        raise NotFound(f"no product with SKU {sku!r} in the catalog")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


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
    bundles.refuse_stock_change(db, sku)
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
    """Set the regular price (and optionally the sale price) in the product's currency, to
    its minor units (JPY 1500, KWD 1.250); returns (old, new)."""
    _require_sku(db, sku)
    old, currency = db.execute(
        "SELECT price, currency FROM products WHERE sku = ?", [sku]
    ).fetchone()
    try:
        new = normalize(price, currency)
    except ValueError as exc:
        raise UsageError(f"price {price!r}: {exc}") from None
    if new is None:
        raise UsageError("price is required")
    values: dict[str, Any] = {"price": new, "updated_at": now()}
    if sale_price is not None:
        try:
            values["sale_price"] = normalize(sale_price, currency)
        except ValueError as exc:
            raise UsageError(f"sale price {sale_price!r}: {exc}") from None
    from multichan.catalog.edits import follow_price

    with db.conn:
        db.table("products").update(sku, values)
        follow_price(db, sku, values)
    return old, new


LIST_SQL = """
SELECT p.sku, p.title, p.status, p.price, p.sale_price, p.currency, p.gtin, p.item_group_id,
       p.stock_tracking,
       COALESCE((SELECT SUM(quantity - committed) FROM stock s WHERE s.sku = p.sku), 0)
           AS quantity
FROM products p
{where}
ORDER BY p.sku
"""


def list_products(db: sqlite_utils.Database, search: str | None = None) -> list[dict[str, Any]]:
    """Products with their total available quantity (a bundle's derived from its
    components'), filtered by a case-insensitive text search."""
    where, params = "", {}
    if search:
        where = (
            "WHERE p.sku LIKE :q OR p.title LIKE :q OR p.brand LIKE :q "
            "OR p.gtin LIKE :q OR p.item_group_id LIKE :q"
        )
        params = {"q": f"%{search}%"}
    rows = list(db.query(LIST_SQL.format(where=where), params))
    made = bundles.levels_all(db.conn) if bundles.present(db.conn) else {}
    for row in rows if made else ():
        if row["sku"] in made:
            row["quantity"] = sum(made[row["sku"]].values())
    return rows


def get_product(db: sqlite_utils.Database, sku: str) -> dict[str, Any]:
    """One product with its images, its stock per location (``stock``: on hand, ``committed``
    and ``available``), ``quantity`` (the total available) and overrides. A bundle has
    ``components`` (SKU, quantity) and its stock is derived from theirs (``stock`` and
    ``available``: the whole sets available, nothing ``committed`` of its own), its own
    stock rows shown as ``own_stock_ignored``."""
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
    parts = bundles.components(db, sku)
    if parts:  # its stock is its components': its own rows (if any) are ignored
        product["components"] = [{"sku": c, "quantity": q} for c, q in parts]
        own = bundles.own_stock(db.conn, sku)
        if own:
            product["own_stock_ignored"] = own
        product["available"] = bundles.levels_of(db.conn, sku) or {}
        product["stock"], product["committed"] = dict(product["available"]), {}
        product["quantity"] = sum(product["available"].values())
    from multichan.catalog.edits import edits_of

    product["edits"] = edits_of(db, sku)
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


def stock_of(db: sqlite_utils.Database, sku: str) -> dict[str, int]:
    """The available units of ``sku`` per location (ordered by location), as ``iter_catalog``
    gives them: a bundle's derived from its components'."""
    conn = db.conn
    derived = bundles.levels_of(conn, sku) if bundles.present(conn) else None
    if derived is not None:
        return derived
    return dict(
        conn.execute(
            "SELECT location, quantity - committed FROM stock WHERE sku = ? ORDER BY location",
            [sku],
        ).fetchall()
    )


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
    a SKU's stock is one number, summed by SQLite over the locations ``summed`` counts.
    A bundle's stock is derived from its components' (``bundles.levels_between``, read only
    when the catalog has bundles)."""
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
    with_bundles = bundles.present(conn)  # else not one query more per batch
    while rows := cursor.fetchmany(size):
        span = (rows[0][0], rows[-1][0])
        made = bundles.levels_between(conn, *span) if with_bundles else None
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
            totals = dict(conn.execute(summed.query, (*span, *(summed.locations or ()))))
            for bundle, derived in (made or {}).items():
                totals[bundle] = bundles.summed(derived, summed.locations)
            yield rows, images, totals
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
        if made:
            stock.update(made)  # a bundle's stock is its components', never its own rows
        yield rows, images, stock
