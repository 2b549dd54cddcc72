"""Fixtures for the report tests: a demo workspace with a small, hand-countable set of orders
written straight into the orders tables (the reports read nothing else)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli

# (channel, order_id, status, created_at, baseline, [(line_id, sku, location, ordered,
# returned, refunded, problem)]); the totals the tests expect are worked out beside them
ORDERS = [
    # shop: 3 sales orders (one before the baseline), 1 pending, 1 cancelled
    ("shop", "1001", "closed", "2026-11-02T09:00:00.000Z", 1,
     [("a", "MUG-ENAMEL", "warehouse", 2, 0, 0, None),
      ("b", "LANTERN-LED", "warehouse", 1, 0, 0, None)]),
    ("shop", "1002", "open", "2026-11-03T23:59:59.999Z", 0,
     [("a", "MUG-ENAMEL", "warehouse", 3, 1, 0, None)]),
    ("shop", "1003", "closed", "2026-11-10T12:00:00.000Z", 0,
     [("a", "BOTTLE-STEEL-750", "warehouse", 4, 0, 1, None),
      ("b", None, "warehouse", 1, 0, 0, None)]),  # SKU not in the catalog
    ("shop", "1004", "pending", "2026-11-04T08:00:00.000Z", 0,
     [("a", "MUG-ENAMEL", "warehouse", 5, 0, 0, None)]),
    ("shop", "1005", "cancelled", "2026-11-05T08:00:00.000Z", 0,
     [("a", "LANTERN-LED", "warehouse", 2, 0, 0, None)]),
    # pos (a till): 2 sales orders at the store, and a return order of its own
    ("pos", "P1", "closed", "2026-11-03T10:00:00.000Z", 0,
     [("a", "MUG-ENAMEL", "store", 1, 0, 0, None)]),
    ("pos", "P2", "closed", "2026-11-09T10:00:00.000Z", 0,
     [("a", "LANTERN-LED", "store", 3, 0, 0, None)]),
    ("pos", "R1", "closed", "2026-11-09T11:00:00.000Z", 0,
     [("return:a", "LANTERN-LED", "store", 0, 0, 1, None)]),
    # outside November: before and after
    ("shop", "0999", "closed", "2026-10-31T23:59:59.999Z", 1,
     [("a", "MUG-ENAMEL", "warehouse", 7, 0, 0, None)]),
    ("shop", "1100", "closed", "2026-12-01T00:00:00.000Z", 0,
     [("a", "MUG-ENAMEL", "warehouse", 11, 0, 0, None)]),
]  # fmt: skip


def insert_orders(ws: Path, orders: list = ORDERS) -> None:
    conn = sqlite3.connect(ws / "catalog.db")
    with conn:
        for channel, order_id, status, created, baseline, lines in orders:
            conn.execute(
                "INSERT INTO orders (channel, order_id, number, status, channel_status, "
                "created_at, updated_at, baseline, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [channel, order_id, f"#{order_id}", status, status, created, created,
                 baseline, created, created],
            )  # fmt: skip
            for line_id, sku, location, ordered, returned, refunded, problem in lines:
                conn.execute(
                    "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, ordered, "
                    "returned, refunded, problem, sku, location) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [channel, order_id, line_id, sku or "GHOST-1", ordered, returned,
                     refunded, problem, sku, location],
                )  # fmt: skip
    conn.close()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The demo workspace holding the orders above."""
    ws = tmp_path / "demo"
    result = run_cli("init", "--demo", ws)
    assert result.code == 0, result.output
    insert_orders(ws)
    return ws
