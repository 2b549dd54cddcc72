"""The stock ledger: every change to a SKU's stock at a location, with its reason.

Per SKU and location, ``on_hand`` (``stock.quantity``) is what a person counts and
``committed`` what open, paid, unshipped order lines hold there; ``available = on_hand -
committed`` is what offers use. Nothing else writes those two numbers: imports, ``stock
set/adjust`` and order pulls all call :func:`move`, which changes the level and appends a
``stock_moves`` row (the change, the level after it, the reason, and the channel, order and
line where one caused it) in the caller's transaction, so any number can be explained.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

REASONS = ("import", "manual", "order", "cancel", "ship", "restock")

INSERT_MOVE = (
    "INSERT INTO stock_moves (at, sku, location, on_hand_change, committed_change, on_hand_after,"
    " committed_after, reason, channel, order_id, line_id, note)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def level(db: sqlite_utils.Database, sku: str, location: str) -> tuple[int, int]:
    """(on_hand, committed) of ``sku`` at ``location``; (0, 0) when it has no stock row."""
    row = db.conn.execute(
        "SELECT quantity, committed FROM stock WHERE sku = ? AND location = ?", [sku, location]
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def move(
    db: sqlite_utils.Database,
    sku: str,
    location: str,
    *,
    reason: str,
    on_hand: int = 0,
    committed: int = 0,
    at: str | None = None,
    channel: str | None = None,
    order_id: str | None = None,
    line_id: str | None = None,
    note: str | None = None,
) -> tuple[int, int]:
    """Change ``sku``'s on-hand and committed units at ``location`` by the given amounts and
    record why; returns the level after. Runs in the caller's transaction. A move that changes
    nothing writes nothing."""
    from multichan.catalog.store import ensure_location, now

    if reason not in REASONS:
        raise ValueError(f"unknown stock move reason {reason!r}")
    old_on_hand, old_committed = level(db, sku, location)
    if not on_hand and not committed:
        return old_on_hand, old_committed
    stamp = at or now()
    after = (old_on_hand + on_hand, old_committed + committed)
    ensure_location(db, location)
    db.conn.execute(
        "INSERT INTO stock (sku, location, quantity, committed, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (sku, location) DO UPDATE SET quantity = excluded.quantity,"
        " committed = excluded.committed, updated_at = excluded.updated_at",
        [sku, location, *after, stamp],
    )
    db.conn.execute(
        INSERT_MOVE,
        [stamp, sku, location, on_hand, committed, *after, reason, channel, order_id, line_id,
         note],
    )  # fmt: skip
    return after


def set_on_hand(
    db: sqlite_utils.Database, sku: str, location: str, quantity: int, *, reason: str,
    at: str | None = None, note: str | None = None,
) -> tuple[int, int]:  # fmt: skip
    """Set the on-hand count (an import or a person counting); returns (old, new). A count
    of 0 where the SKU had no stock still records the location as counted."""
    from multichan.catalog.store import ensure_location, now

    old, _ = level(db, sku, location)
    if quantity == old:
        ensure_location(db, location)
        db.conn.execute(
            "INSERT OR IGNORE INTO stock (sku, location, quantity, committed, updated_at)"
            " VALUES (?, ?, 0, 0, ?)",
            [sku, location, at or now()],
        )
    move(db, sku, location, reason=reason, on_hand=quantity - old, at=at, note=note)
    return old, quantity


def moves(
    db: sqlite_utils.Database,
    *,
    sku: str | None = None,
    channel: str | None = None,
    order_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The latest stock moves (newest first) of a SKU, or of one channel's order."""
    where, params = [], []
    for column, value in (("sku", sku), ("channel", channel), ("order_id", order_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT * FROM stock_moves {clause} ORDER BY id DESC LIMIT ?"
    return [dict(r) for r in db.query(sql, [*params, limit])]
