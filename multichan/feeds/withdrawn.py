"""What an updating feed sent last, so the next one can withdraw what it no longer offers.

Amazon's JSON_LISTINGS_FEED and Google's local inventory feed change what the channel holds;
they do not replace it. A SKU that drops out of such a feed (archived, filtered out, left out
for a problem) is not delisted: the channel keeps selling its last quantity. So each written
feed records the (SKU, store) pairs it sent (``feed_items``), and the next export sends every
pair it no longer offers through the template's ``withdrawn(sku, stores, index)`` macro, with
quantity 0. A withdrawn pair is sent once: the feed that withdrew it records it no more.

The pairs of the feed being rendered are collected in a temporary table of the catalog's
connection, a chunk at a time, so a large feed is never held in memory; the feed's record
replaces the channel's rows in the transaction that records the export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

import sqlite_utils


def start(db: sqlite_utils.Database) -> None:
    """Begin collecting the pairs of the feed being rendered."""
    with db.conn:  # committed at once: the export's own transaction comes later
        db.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS feed_now (sku TEXT NOT NULL, store TEXT NOT NULL,"
            " PRIMARY KEY (sku, store)) WITHOUT ROWID"
        )
        db.conn.execute("DELETE FROM temp.feed_now")


def add(db: sqlite_utils.Database, pairs: Iterable[tuple[str, str]]) -> None:
    """Collect (sku, store) pairs the feed sends."""
    with db.conn:
        db.conn.executemany("INSERT OR IGNORE INTO temp.feed_now VALUES (?, ?)", pairs)


def gone(db: sqlite_utils.Database, channel: str) -> Iterator[tuple[str, list[str]]]:
    """Each SKU the channel's last feed sent and this one does not, with its stores, in SKU
    order (read as it goes)."""
    cursor = db.conn.execute(
        "SELECT f.sku, f.store FROM feed_items f WHERE f.channel = ? AND NOT EXISTS"
        " (SELECT 1 FROM temp.feed_now n WHERE n.sku = f.sku AND n.store = f.store)"
        " ORDER BY f.sku, f.store",
        [channel],
    )

    def rows() -> Iterator[Any]:
        while batch := cursor.fetchmany(1000):
            yield from batch

    for sku, pairs in groupby(rows(), key=lambda r: r[0]):
        yield sku, [store for _, store in pairs if store]


def record(conn: Any, channel: str) -> None:
    """Make the collected pairs the channel's last feed (inside the export's transaction)."""
    conn.execute("DELETE FROM feed_items WHERE channel = ?", [channel])
    conn.execute(
        "INSERT INTO feed_items (channel, sku, store) SELECT ?, sku, store FROM temp.feed_now",
        [channel],
    )
