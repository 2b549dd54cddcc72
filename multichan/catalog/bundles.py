"""Bundles (kits): a SKU sold as a set of other SKUs, each so many times.

A bundle is a product like any other (title, price, images, its own listing on every channel)
whose stock is its components': at each location, its available units are the fewest whole
sets its components' available units make there, ``min(floor(available / quantity))`` over
its components (a component with no stock row at a location has 0 there). The locations of a
bundle are those where any of its components has a stock row. Only the components' counts are
read, not their status or stock tracking: the bundle's own ``stock_tracking`` and ``status``
decide as for any product.

Definitions live in ``bundle_components`` (schema V11: bundle, component, quantity). Rules,
checked on every write (``define``):

- every component is a product of the catalog (else ``NotFound``, exit 2), named once, with a
  whole quantity of at least 1 (else ``UsageError``, exit 2);
- one level only: a bundle is never its own component nor a component of another bundle, and
  a component is never a bundle itself (refused: ``Nested``, exit 4);
- a bundle's own stock rows, if it has any (an import that counts the bundle, stock set before
  it became a bundle), are kept as they are but ignored: offers, order lines and alerts follow
  the components; ``stock set``/``stock adjust`` on a bundle are refused.

An order line for a bundle commits, ships and restocks its components: for each component,
the line's units times the component's quantity, through the stock ledger (each move's note
names the bundle), applied exactly once like any line (``orders.pull.apply_line`` keeps the
line's applied state in bundle units; ``move_line`` here turns a difference into component
moves, in the same transaction). When a definition changes (``define``, ``remove``), the
committed units of the bundle's open order lines move to what the line holds under the new
definition (``rebalance``), so no unit stays committed to a component the order no longer
takes; units already shipped stay where they left from, and a later return restocks the
components the bundle has then.

The catalog's triggers (schema V11) stamp a bundle in ``dirty_skus`` whenever a component's
stock row or the bundle's definition is written, so incremental plans re-plan it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from multichan.errors import ItemsRejected, MultichanError, NotFound, UsageError

Parts = list[tuple[str, int]]  # (component SKU, units of it in one bundle), by component


class Nested(ItemsRejected):
    """A definition that would put a bundle inside a bundle (exit 4: refused)."""


@dataclass(frozen=True)
class Definition:
    """A bundle definition as an import read it: the file's line (for a rejection) and its
    parts; no parts: the SKU is not a bundle (its definition, if any, is removed)."""

    line: int
    parts: tuple[tuple[str, int], ...]


# --- reading --------------------------------------------------------------------------------
def present(conn: sqlite3.Connection) -> bool:
    """Whether the catalog defines any bundle (one index probe)."""
    return conn.execute("SELECT 1 FROM bundle_components LIMIT 1").fetchone() is not None


def components(db: sqlite_utils.Database | sqlite3.Connection, sku: str) -> Parts:
    """The components of ``sku`` with their quantities, in SKU order; [] when it is no bundle."""
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    return [
        (str(c), int(q))
        for c, q in conn.execute(
            "SELECT component, quantity FROM bundle_components WHERE bundle = ? ORDER BY component",
            [sku],
        )
    ]


def used_by(db: sqlite_utils.Database | sqlite3.Connection, sku: str) -> list[str]:
    """The bundles ``sku`` is a component of, in SKU order."""
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    return [
        str(b)
        for (b,) in conn.execute(
            "SELECT bundle FROM bundle_components WHERE component = ? ORDER BY bundle", [sku]
        )
    ]


def describe(parts: Sequence[tuple[str, int]]) -> str:
    """``MUG-1 x1, BOWL-1 x2``."""
    return ", ".join(f"{c} x{q}" for c, q in parts)


def derive(parts: Sequence[tuple[str, int]], levels: dict[str, dict[str, int]]) -> dict[str, int]:
    """A bundle's available units per location (ordered by location) from its ``parts`` and
    their components' available units per location (``levels``: SKU -> location -> units)."""
    locations = sorted({loc for c, _ in parts for loc in levels.get(c, {})})
    return {
        loc: min(levels.get(c, {}).get(loc, 0) // q for c, q in parts) for loc in locations
    }  # floor division: a component oversold by 1 of 2 per bundle makes the bundle -1


LEVELS_SQL = (
    "SELECT b.bundle, b.component, b.quantity, s.location, s.quantity - s.committed"
    " FROM bundle_components b LEFT JOIN stock s ON s.sku = b.component"
    " WHERE {where} ORDER BY b.bundle, b.component"
)


def _levels(
    conn: sqlite3.Connection, where: str, params: Sequence[Any]
) -> dict[str, dict[str, int]]:
    parts: dict[str, dict[str, int]] = {}
    stock: dict[str, dict[str, dict[str, int]]] = {}
    for bundle, component, quantity, location, available in conn.execute(
        LEVELS_SQL.format(where=where), params
    ):
        parts.setdefault(bundle, {})[component] = int(quantity)
        levels = stock.setdefault(bundle, {}).setdefault(component, {})
        if location is not None:
            levels[location] = int(available)
    return {b: derive(list(p.items()), stock[b]) for b, p in parts.items()}


def levels_between(conn: sqlite3.Connection, first: str, last: str) -> dict[str, dict[str, int]]:
    """Available per location of every bundle whose SKU is in [first, last] (one range scan of
    ``bundle_components`` and an index lookup of each component's stock)."""
    return _levels(conn, "b.bundle BETWEEN ? AND ?", [first, last])


def levels_all(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Available per location of every bundle."""
    return _levels(conn, "1", [])


def levels_of(conn: sqlite3.Connection, sku: str) -> dict[str, int] | None:
    """Available per location of the bundle ``sku``; None when it is no bundle."""
    return _levels(conn, "b.bundle = ?", [sku]).get(sku)


def summed(levels: dict[str, int], locations: Iterable[str] | None) -> int:
    """A bundle's units over ``locations`` (None: all), as ``store.Totals`` sums a SKU's."""
    if locations is None:
        return sum(levels.values())
    wanted = set(locations)
    return sum(q for loc, q in levels.items() if loc in wanted)


def own_stock(conn: sqlite3.Connection, sku: str) -> dict[str, dict[str, int]]:
    """The bundle's own stock rows (ignored), by location: on hand and committed."""
    return {
        loc: {"on_hand": int(q), "committed": int(c)}
        for loc, q, c in conn.execute(
            "SELECT location, quantity, committed FROM stock WHERE sku = ? ORDER BY location",
            [sku],
        )
        if q or c
    }


def show(db: sqlite_utils.Database, sku: str) -> dict[str, Any]:
    """One bundle: its components (with their available units per location), its available
    units per location and in total, and its own stock rows (ignored)."""
    from multichan.catalog.store import require_product

    product = require_product(db, sku)
    parts = components(db, sku)
    if not parts:
        raise NotFound(f"{sku} is not a bundle", hint=f"define it: multichan bundle set {sku} "
                       "COMPONENT:QTY ...")  # fmt: skip
    conn = db.conn
    available = levels_of(conn, sku) or {}
    items = []
    for component, quantity in parts:
        levels = dict(conn.execute(
            "SELECT location, quantity - committed FROM stock WHERE sku = ? ORDER BY location",
            [component],
        ).fetchall())  # fmt: skip
        title = conn.execute("SELECT title FROM products WHERE sku = ?", [component]).fetchone()
        items.append({"sku": component, "quantity": quantity, "title": title[0] if title else None,
                      "available": levels})  # fmt: skip
    return {
        "sku": sku, "title": product["title"], "status": product["status"],
        "components": items, "available": available, "quantity": sum(available.values()),
        "own_stock_ignored": own_stock(conn, sku),
    }  # fmt: skip


def list_bundles(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every bundle in SKU order, with its components and its total available units."""
    conn = db.conn
    found: dict[str, Parts] = {}
    for bundle, component, quantity in conn.execute(
        "SELECT bundle, component, quantity FROM bundle_components ORDER BY bundle, component"
    ):
        found.setdefault(bundle, []).append((component, int(quantity)))
    rows = []
    for bundle, parts in found.items():
        available = levels_of(conn, bundle) or {}
        title = conn.execute("SELECT title FROM products WHERE sku = ?", [bundle]).fetchone()
        rows.append({
            "sku": bundle, "title": title[0] if title else None,
            "components": [{"sku": c, "quantity": q} for c, q in parts],
            "available": available, "quantity": sum(available.values()),
        })  # fmt: skip
    return rows


# --- parsing --------------------------------------------------------------------------------
def parse_part(text: str) -> tuple[str, int]:
    """``SKU:QTY`` (``SKU`` alone: 1) as (SKU, QTY); UsageError naming the text otherwise.
    A SKU holding a colon is split at its last one."""
    sku, sep, qty = text.strip().rpartition(":")
    if not sep:
        sku, qty = qty, "1"
    sku, qty = sku.strip(), qty.strip()
    if not sku:
        raise UsageError(f"{text!r}: a component is SKU:QUANTITY, such as MUG-1:2")
    try:
        number = int(qty)
    except ValueError:
        raise UsageError(
            f"{text!r}: the quantity {qty!r} is not a whole number (SKU:QUANTITY, such as MUG-1:2)"
        ) from None
    if number < 1:
        raise UsageError(f"{text!r}: the quantity must be at least 1")
    return sku, number


def parse_parts(texts: Iterable[str]) -> Parts:
    """Components as the command line or a CSV cell gives them: ``SKU:QTY`` items, each an
    argument or separated by commas (``MUG-1:1,BOWL-1:2``); a SKU named twice is refused."""
    parts: dict[str, int] = {}
    for text in texts:
        for piece in text.split(","):
            if not piece.strip():
                continue
            sku, qty = parse_part(piece)
            if sku in parts:
                raise UsageError(f"component {sku} is named twice; give it once with its "
                                 "total quantity")  # fmt: skip
            parts[sku] = qty
    return sorted(parts.items())


# --- writing --------------------------------------------------------------------------------
def check(db: sqlite_utils.Database, bundle: str, parts: Sequence[tuple[str, int]]) -> None:
    """Refuse a definition that breaks the rules (module docstring): NotFound (exit 2) for a
    SKU the catalog does not have, Nested (exit 4) for a bundle inside a bundle, UsageError
    (exit 2) for the rest."""
    conn = db.conn
    if conn.execute("SELECT 1 FROM products WHERE sku = ?", [bundle]).fetchone() is None:
        raise NotFound(
            f"no product with SKU {bundle!r} in the catalog",
            hint="import the bundle as a product first, then define its components",
        )
    if not parts:
        raise UsageError(f"bundle {bundle} needs at least one component (SKU:QUANTITY)")
    for component, quantity in parts:
        if quantity < 1:
            raise UsageError(f"bundle {bundle}: component {component} needs a quantity of at "
                             "least 1")  # fmt: skip
        if component == bundle:
            raise Nested(f"bundle {bundle} cannot be a component of itself")
        if conn.execute("SELECT 1 FROM products WHERE sku = ?", [component]).fetchone() is None:
            raise NotFound(f"bundle {bundle}: component {component!r} is not in the catalog")
        inner = components(conn, component)
        if inner:
            raise Nested(
                f"bundle {bundle}: component {component} is a bundle itself ({describe(inner)});"
                " bundles inside bundles are not supported: list its components instead"
            )
    outer = used_by(conn, bundle)
    if outer:
        raise Nested(
            f"{bundle} is a component of bundle {', '.join(outer)}: a bundle cannot be part of "
            "another bundle; remove it from there first"
        )


def define(db: sqlite_utils.Database, bundle: str, parts: Sequence[tuple[str, int]]) -> Parts:
    """Make ``bundle`` a bundle of ``parts`` (replacing its earlier definition) after
    ``check``; its open order lines' committed units follow (``rebalance``). Returns the
    earlier definition ([] when it was none). In one transaction (a savepoint of the caller's)."""
    from multichan.catalog.schema import transaction

    parts = sorted(parts)
    with transaction(db, "bundle_define"):
        check(db, bundle, parts)
        before = components(db, bundle)
        if before != parts:
            _write(db.conn, bundle, parts)
            rebalance(db, bundle)
    return before


def remove(db: sqlite_utils.Database, bundle: str) -> Parts:
    """``bundle`` is no bundle any more: its stock is its own stock rows again, and its open
    order lines' committed units move back to it. Returns the definition it had."""
    from multichan.catalog.schema import transaction

    with transaction(db, "bundle_remove"):
        before = components(db, bundle)
        if not before:
            from multichan.catalog.store import require_product

            require_product(db, bundle)
            raise NotFound(f"{bundle} is not a bundle")
        db.conn.execute("DELETE FROM bundle_components WHERE bundle = ?", [bundle])
        rebalance(db, bundle)
    return before


def _write(conn: sqlite3.Connection, bundle: str, parts: Sequence[tuple[str, int]]) -> None:
    keep = [c for c, _ in parts]
    conn.execute(
        f"DELETE FROM bundle_components WHERE bundle = ? AND component NOT IN "
        f"({', '.join('?' * len(keep))})",
        [bundle, *keep],
    )
    conn.executemany(
        "INSERT INTO bundle_components (bundle, component, quantity) VALUES (?, ?, ?)"
        " ON CONFLICT (bundle, component) DO UPDATE SET quantity = excluded.quantity"
        " WHERE quantity != excluded.quantity",
        [(bundle, c, q) for c, q in parts],
    )


def apply_definitions(
    db: sqlite_utils.Database, found: dict[str, Definition]
) -> list[tuple[Definition, str, str]]:
    """Write the definitions an import read (SKU -> Definition), in the import's
    transaction, after all its products: a definition that breaks the rules is left out and
    returned as (definition, SKU, reason); the SKU's earlier definition stays."""
    from multichan.catalog.schema import transaction

    refused = []
    for sku, definition in found.items():
        parts = list(definition.parts)
        try:
            with transaction(db, "bundle_import"):
                if parts:
                    define(db, sku, parts)
                elif components(db, sku):
                    remove(db, sku)
        except MultichanError as exc:
            refused.append((definition, sku, f"components: {exc.message}; the bundle's "
                            "definition was left as it was"))  # fmt: skip
    return refused


# --- orders -----------------------------------------------------------------------------------
def move_line(
    db: sqlite_utils.Database,
    bundle: str,
    parts: Sequence[tuple[str, int]],
    location: str,
    *,
    reason: str,
    on_hand: int,
    committed: int,
    channel: str,
    order_id: str,
    line_id: str,
    note: str,
) -> None:
    """An order line's stock difference, in bundle units, moved on each of ``parts`` (units
    times its quantity) at ``location``; each move's note names the bundle. In the caller's
    transaction."""
    from multichan.catalog import ledger

    for component, quantity in parts:
        ledger.move(
            db, component, location, reason=reason, on_hand=on_hand * quantity,
            committed=committed * quantity, channel=channel, order_id=order_id,
            line_id=line_id, note=f"{note}: bundle {bundle} x{quantity}",
        )  # fmt: skip


def rebalance(db: sqlite_utils.Database, sku: str) -> int:
    """Move the committed units of ``sku``'s order lines to what each line holds now: its
    units (``committed_applied``) times each component's quantity when ``sku`` is a bundle,
    else on ``sku`` itself. What a line holds is read from its stock moves, so this is exact
    whatever the definition was when it was applied. Returns how many moves it wrote."""
    from multichan.catalog import ledger

    conn = db.conn
    parts = components(conn, sku)
    written = 0
    lines = conn.execute(
        "SELECT l.channel, l.order_id, l.line_id, l.location, l.committed_applied, o.number"
        " FROM order_lines l JOIN orders o USING (channel, order_id) WHERE l.sku = ?"
        " AND l.committed_applied > 0 ORDER BY l.channel, l.order_id, l.line_id",
        [sku],
    ).fetchall()
    for channel, order_id, line_id, location, units, number in lines:
        held: dict[tuple[str, str], int] = {}
        for moved_sku, moved_at, change in conn.execute(
            "SELECT sku, location, sum(committed_change) FROM stock_moves WHERE channel = ?"
            " AND order_id = ? AND line_id = ? GROUP BY sku, location",
            [channel, order_id, line_id],
        ):
            if change:
                held[(moved_sku, moved_at)] = int(change)
        want = {(c, location): units * q for c, q in parts} if parts else {(sku, location): units}
        note = (f"{channel} order {number}: bundle {sku} is now {describe(parts)}" if parts
                else f"{channel} order {number}: {sku} is no bundle any more")  # fmt: skip
        for key in sorted(set(held) | set(want)):
            change = want.get(key, 0) - held.get(key, 0)
            if not change:
                continue
            ledger.move(
                db, key[0], key[1], reason="order" if change > 0 else "cancel",
                committed=change, channel=channel, order_id=order_id, line_id=line_id,
                note=note,
            )  # fmt: skip
            written += 1
    return written


def refuse_stock_change(db: sqlite_utils.Database, sku: str) -> None:
    """UsageError when ``sku`` is a bundle: its stock is its components'."""
    parts = components(db, sku)
    if parts:
        raise UsageError(
            f"{sku} is a bundle: its stock is its components' ({describe(parts)}); change "
            "theirs (or `multichan bundle remove` it first)"
        )
