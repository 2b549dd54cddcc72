"""Parcels a channel reports itself (shipped outside multichan: in the shop's admin, by a
fulfilment service, at the till): recorded by the pull as ``shipments`` rows of source
``channel``, so the catalog can say which parcel left, with which carrier and tracking, and
``multichan ship`` does not send the same units again.

- **Pulled, never sent**: a channel parcel is recorded ``sent``, with the channel's id of it
  (``remote_id``) and what it says of carrier, tracking and units per line. It moves no stock
  of its own (the pull's ``line_targets`` takes the units the channel reports shipped; a
  parcel's units only tell them from multichan's own parcels not reported yet) and is never
  sent (``shipments.due`` takes multichan's own only).
- **Exactly once**: keyed by (channel, order, ``channel:<remote id>``); a re-pull updates the
  row (tracking added later on the channel, a changed carrier) and never adds a second one. A
  parcel the channel stops reporting (a cancelled fulfillment, a deleted tracking item) is
  taken off; stock follows the channel's counts as always.
- **multichan's own parcels**: a fulfillment multichan sent comes back in every pull. It is
  recognised by its remote id (recorded when the channel answered) or, when the answer was lost
  before the catalog recorded it, by its tracking number, or (no tracking) by its units: the
  same units as a parcel multichan has not heard back about. It is not recorded a second time.
  Once a send learns the remote id of a parcel the pull had recorded as the channel's, that row
  gives way to multichan's (``claim``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from multichan.catalog.store import now
from multichan.orders.model import Parcel, iso

KEY_PREFIX = "channel:"


def _same_tracking(a: str | None, b: str | None) -> bool:
    """Tracking numbers compare without spaces and case (as carriers print them)."""
    x, y = ("".join((v or "").split()).casefold() for v in (a, b))
    return bool(x) and x == y


def record(db: sqlite_utils.Database, channel: str, order_id: str, parcels: list[Parcel]) -> None:
    """Record ``parcels``, every parcel the channel reports for the order now (see the module
    docstring). In the caller's transaction."""
    conn = db.conn
    rows = conn.execute(
        "SELECT id, source, remote_id, tracking_number, status FROM shipments WHERE"
        " channel = ? AND order_id = ?",
        [channel, order_id],
    ).fetchall()
    mine = [(sid, remote, tracking, status) for sid, source, remote, tracking, status in rows
            if source == "multichan"]  # fmt: skip
    theirs = {remote: sid for sid, source, remote, _, _ in rows if source == "channel"}
    untracked = {  # multichan's parcels the channel has not answered for, without tracking
        sid: _units(conn, sid)
        for sid, remote, tracking, status in mine
        if remote is None and tracking is None and status != "sent"
    }
    kept: set[int] = set()
    stamp = now()
    skus = dict(conn.execute(
        "SELECT line_id, coalesce(sku, channel_sku) FROM order_lines WHERE channel = ? AND"
        " order_id = ?", [channel, order_id],
    ).fetchall())  # fmt: skip
    for parcel in parcels:
        if any(
            remote == parcel.remote_id or _same_tracking(tracking, parcel.tracking_number)
            for _, remote, tracking, _ in mine
        ):
            continue  # multichan's own parcel, seen again
        lost = [sid for sid, units in untracked.items() if parcel.lines and units == parcel.lines]
        if lost:  # multichan's own, untracked, its answer lost: the same units (each once)
            del untracked[lost[0]]
            continue
        shipped = iso(parcel.shipped_at) if parcel.shipped_at else None
        values = [parcel.carrier, parcel.tracking_number, parcel.tracking_url, shipped]
        sid = theirs.get(parcel.remote_id)
        if sid is None:
            cursor = conn.execute(
                "INSERT INTO shipments (channel, order_id, shipment_key, carrier,"
                " tracking_number, tracking_url, shipped_at, source, status, remote_id,"
                " sent_tracking, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,'channel','sent',?,?,?,?)",
                [channel, order_id, KEY_PREFIX + parcel.remote_id, *values[:3],
                 shipped or iso(datetime.now(UTC)), parcel.remote_id, parcel.tracking_number,
                 stamp, stamp],
            )  # fmt: skip
            sid = theirs[parcel.remote_id] = int(cursor.lastrowid or 0)
        else:
            conn.execute(
                "UPDATE shipments SET carrier = ?, tracking_number = ?, tracking_url = ?,"
                " shipped_at = coalesce(?, shipped_at), sent_tracking = ?, updated_at = ?"
                " WHERE id = ? AND NOT (carrier IS ? AND tracking_number IS ? AND"
                " tracking_url IS ? AND shipped_at = coalesce(?, shipped_at))",
                [*values, parcel.tracking_number, stamp, sid, *values],
            )
            conn.execute("DELETE FROM shipment_lines WHERE shipment_id = ?", [sid])
        kept.add(sid)
        conn.executemany(
            "INSERT INTO shipment_lines (shipment_id, line_id, sku, quantity) VALUES (?,?,?,?)",
            [(sid, line, skus.get(line), units) for line, units in sorted(parcel.lines.items())
             if units > 0],
        )  # fmt: skip
    gone = [sid for sid in theirs.values() if sid not in kept]
    conn.executemany("DELETE FROM shipments WHERE id = ?", [(sid,) for sid in gone])


def _units(conn: Any, shipment_id: int) -> dict[str, int]:
    return {
        str(line): int(n)
        for line, n in conn.execute(
            "SELECT line_id, quantity FROM shipment_lines WHERE shipment_id = ?", [shipment_id]
        )
    }


def claim(db: sqlite_utils.Database, channel: str, order_id: str, remote_id: str) -> None:
    """multichan's own parcel was answered with ``remote_id``: a row the pull recorded for it
    as the channel's (the answer had been lost) goes. In the caller's transaction."""
    db.conn.execute(
        "DELETE FROM shipments WHERE channel = ? AND order_id = ? AND source = 'channel' AND"
        " remote_id = ?",
        [channel, order_id, remote_id],
    )


def reported(db: sqlite_utils.Database, channel: str, order_id: str) -> list[dict[str, Any]]:
    """The parcels the channel reported for the order, oldest first."""
    keys = ("shipment", "carrier", "tracking_number", "remote_id", "shipped_at")
    return [
        dict(zip(keys, row, strict=True))
        for row in db.conn.execute(
            "SELECT shipment_key, carrier, tracking_number, remote_id, shipped_at FROM"
            " shipments WHERE channel = ? AND order_id = ? AND source = 'channel'"
            " ORDER BY shipped_at, id",
            [channel, order_id],
        )
    ]


def describe(parcel: dict[str, Any]) -> str:
    """One reported parcel for people: carrier and tracking, else the channel's id."""
    said = " ".join(str(parcel[k]) for k in ("carrier", "tracking_number") if parcel.get(k))
    return said or f"parcel {parcel['remote_id']} (no tracking)"


def find(
    db: sqlite_utils.Database, channel: str, order_id: str, tracking_number: str
) -> int | None:
    """The id of the channel's reported parcel of the order with this tracking number."""
    for sid, tracking in db.conn.execute(
        "SELECT id, tracking_number FROM shipments WHERE channel = ? AND order_id = ? AND"
        " source = 'channel' ORDER BY id",
        [channel, order_id],
    ):
        if _same_tracking(tracking, tracking_number):
            return int(sid)
    return None
