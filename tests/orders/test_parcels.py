"""Parcels a channel reports itself, recorded against a small fresh catalog: once per parcel
however often they are seen, updated when the channel changes them, gone when the channel no
longer reports them, never mistaken for multichan's own; and what they mean for a line's stock
(``line_targets``: the channel's own parcels are not multichan's catching up)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from multichan.catalog.schema import open_catalog, transaction
from multichan.orders import parcels
from multichan.orders.model import Parcel
from multichan.orders.pull import line_targets

STAMP = "2026-12-01T09:00:00Z"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    found = open_catalog(tmp_path / "catalog.db")
    found.conn.execute(
        "INSERT INTO orders (channel, order_id, number, status, first_seen_at, last_seen_at)"
        " VALUES ('shop', 'o1', '#1001', 'open', ?, ?)",
        [STAMP, STAMP],
    )
    for line in ("l1", "l2"):
        found.conn.execute(
            "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, ordered)"
            " VALUES ('shop', 'o1', ?, ?, 2)",
            [line, f"SKU-{line}"],
        )
    found.conn.commit()
    yield found
    found.close()


def seen(db: sqlite_utils.Database, *found: Parcel) -> list[dict[str, Any]]:
    with transaction(db):
        parcels.record(db, "shop", "o1", list(found))
    rows = db.query(
        "SELECT shipment_key, source, status, carrier, tracking_number, remote_id, shipped_at"
        " FROM shipments ORDER BY id"
    )
    out = []
    for row in rows:
        lines = db.conn.execute(
            "SELECT sl.line_id, sl.sku, sl.quantity FROM shipment_lines sl JOIN shipments s ON"
            " s.id = sl.shipment_id WHERE s.shipment_key = ? ORDER BY sl.line_id",
            [row["shipment_key"]],
        ).fetchall()
        out.append({**row, "lines": lines})
    return out


def mine(db: sqlite_utils.Database, key: str, remote: str | None, tracking: str | None,
         status: str, lines: dict[str, int]) -> None:  # fmt: skip
    cursor = db.conn.execute(
        "INSERT INTO shipments (channel, order_id, shipment_key, tracking_number, shipped_at,"
        " status, remote_id, created_at, updated_at) VALUES ('shop','o1',?,?,?,?,?,?,?)",
        [key, tracking, STAMP, status, remote, STAMP, STAMP],
    )
    db.conn.executemany(
        "INSERT INTO shipment_lines (shipment_id, line_id, sku, quantity) VALUES (?,?,?,?)",
        [(cursor.lastrowid, line, None, n) for line, n in lines.items()],
    )
    db.conn.commit()


def test_a_parcel_is_recorded_once_updated_and_dropped(db: sqlite_utils.Database) -> None:
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    parcel = Parcel("F1", "UPS", "1Z1", None, at, {"l1": 2})
    [row] = seen(db, parcel)
    assert row == {
        "shipment_key": "channel:F1", "source": "channel", "status": "sent", "carrier": "UPS",
        "tracking_number": "1Z1", "remote_id": "F1", "shipped_at": "2026-12-02T10:00:00.000Z",
        "lines": [("l1", "SKU-l1", 2)],
    }  # fmt: skip
    assert seen(db, parcel) == [row]  # seen again
    assert seen(db, parcel, parcel) == [row]  # twice on one page
    later = Parcel("F1", "DHL", "JD1", None, None, {"l1": 1, "l2": 1})  # the channel edited it
    [changed] = seen(db, later)
    assert (changed["carrier"], changed["tracking_number"], changed["shipped_at"]) == (
        "DHL", "JD1", row["shipped_at"],
    )  # fmt: skip
    assert changed["lines"] == [("l1", "SKU-l1", 1), ("l2", "SKU-l2", 1)]
    assert seen(db) == []  # no longer reported (a cancelled fulfillment)


def test_multichan_parcels_are_never_recorded_as_the_channels(db: sqlite_utils.Database) -> None:
    mine(db, "sent", "F1", None, "sent", {"l1": 1})  # answered: its id is known
    mine(db, "lost", None, "1Z 2", "pending", {"l1": 1})  # answer lost: its tracking
    mine(db, "untracked", None, None, "pending", {"l2": 2})  # answer lost, no tracking: units
    rows = seen(
        db,
        Parcel("F1", lines={"l1": 1}),
        Parcel("F2", tracking_number="1z2", lines={"l1": 1}),
        Parcel("F3", lines={"l2": 2}),
        Parcel("F4", lines={"l2": 1}),  # other units: the channel's own
        Parcel("F5", lines={"l2": 2}),  # the same units again: one of them only is ours
    )
    assert [(r["source"], r["shipment_key"]) for r in rows] == [
        ("multichan", "sent"), ("multichan", "lost"), ("multichan", "untracked"),
        ("channel", "channel:F4"), ("channel", "channel:F5"),
    ]  # fmt: skip
    with transaction(db):
        parcels.claim(db, "shop", "o1", "F4")  # a send learnt F4 was multichan's after all
    keys = [r[0] for r in db.conn.execute("SELECT shipment_key FROM shipments ORDER BY id")]
    assert keys == ["sent", "lost", "untracked", "channel:F5"]


@pytest.mark.parametrize(
    ("unshipped", "shipped", "here", "there", "want"),
    [
        (3, 0, 0, 0, (3, 0)),  # nothing sent
        (2, 1, 0, 1, (2, 1)),  # the channel shipped 1 itself
        (2, 1, 2, 1, (0, 3)),  # ... and multichan the other 2, not reported yet
        (0, 3, 2, 1, (0, 3)),  # ... reported: nothing moves twice
        (1, 2, 2, 0, (1, 2)),  # multichan's 2, reported (no parcel of the channel's)
        (2, 1, 2, 0, (1, 2)),  # a parcel the channel did not say: its units seen as ours
    ],
)
def test_line_targets_tell_the_channels_parcels_from_multichans(
    unshipped: int, shipped: int, here: int, there: int, want: tuple[int, int]
) -> None:
    assert line_targets(unshipped, shipped, here, 0, "open", there) == want
