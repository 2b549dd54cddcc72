"""What was pulled, for ``multichan orders``: orders with their lines' state, the stock moves
each order caused, and its parcels (multichan's and the channel's own). Read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from multichan.catalog import ledger
from multichan.errors import NotFound

LIST_SQL = """
SELECT o.channel, o.order_id, o.number, o.status, o.channel_status, o.created_at,
       o.updated_at, o.baseline,
       COUNT(l.line_id) AS lines, COALESCE(SUM(l.ordered), 0) AS units,
       COALESCE(SUM(l.committed_applied), 0) AS committed,
       COALESCE(SUM(l.consumed_applied), 0) AS shipped,
       SUM(l.sku IS NULL) AS unmatched
FROM orders o LEFT JOIN order_lines l USING (channel, order_id)
{where}
GROUP BY o.channel, o.order_id
ORDER BY o.created_at DESC, o.channel, o.order_id
LIMIT ?
"""


def list_orders(
    db: sqlite_utils.Database,
    *,
    channel: str | None = None,
    status: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> Iterator[dict[str, Any]]:
    """Recorded orders, newest first, filtered by channel, status and creation time."""
    where, params = [], []
    for clause, value in (("o.channel = ?", channel), ("o.status = ?", status),
                          ("o.created_at >= ?", since)):  # fmt: skip
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = LIST_SQL.format(where=f"WHERE {' AND '.join(where)}" if where else "")
    for row in db.query(sql, [*params, limit]):
        yield {**row, "baseline": bool(row["baseline"])}


def order_detail(db: sqlite_utils.Database, channel: str, order: str) -> dict[str, Any]:
    """One order (by the channel's id or its number), its lines and its stock moves."""
    rows = list(
        db.query(
            "SELECT * FROM orders WHERE channel = ? AND (order_id = ? OR number = ? OR "
            "number = ?) ORDER BY order_id LIMIT 2",
            [channel, order, order, f"#{order}"],
        )
    )
    if not rows:
        raise NotFound(f"no order {order!r} from channel {channel!r} was pulled")
    found = {**rows[0], "baseline": bool(rows[0]["baseline"])}
    lines = []
    for line in db.query(
        "SELECT * FROM order_lines WHERE channel = ? AND order_id = ? ORDER BY line_id",
        [channel, found["order_id"]],
    ):
        line = dict(line)
        line["remote_ids"] = json.loads(line["remote_ids"] or "{}")
        lines.append(line)
    found["lines"] = lines
    found["moves"] = list(reversed(ledger.moves(db, channel=channel, order_id=found["order_id"])))
    found["shipments"] = order_shipments(db, channel, found["order_id"])
    return found


def order_shipments(db: sqlite_utils.Database, channel: str, order_id: str) -> list[dict[str, Any]]:
    """The order's parcels, oldest first: multichan's (``source`` multichan: recorded with
    ``ship`` or ``import shipments``, sent or not) and those the channel reports it shipped
    itself (``source`` channel), each with its units per line."""
    found = []
    for row in db.query(
        "SELECT id, shipment_key AS shipment, source, status, carrier, tracking_number,"
        " tracking_url, shipped_at, remote_id, last_error FROM shipments WHERE channel = ?"
        " AND order_id = ? ORDER BY shipped_at, id",
        [channel, order_id],
    ):
        row = dict(row)
        row["lines"] = [
            dict(x)
            for x in db.query(
                "SELECT line_id, sku, quantity FROM shipment_lines WHERE shipment_id = ?"
                " ORDER BY line_id",
                [row.pop("id")],
            )
        ]
        found.append(row)
    return found
