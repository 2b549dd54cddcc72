"""Orders from the Square POS through the CLI, against the Square double checked by Prism
against Square's contract: till sales take stock at the channel's location, open orders commit
until they complete, decimal quantities are recorded without moving stock, returns restock only
with ``restock_refunds``, and an offline sale that reaches Square late is still applied once."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from multichan.orders.model import iso
from tests.conftest import run_cli
from tests.e2e.conftest import SQUARE_LOCATION, Servers, write_channels
from tests.e2e.test_pull_shopify import level, pull


def variation(ws: Path, sku: str) -> str:
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        (ids,) = db.execute(
            "SELECT remote_ids FROM push_state WHERE channel = 'pos' AND sku = ? AND "
            "kind = 'listings'",
            [sku],
        ).fetchone()
    return str(json.loads(ids)["variation_id"])


def pos_ready(servers: Servers, new_demo: Any) -> Path:
    ws = new_demo()
    write_channels(ws, servers.urls())
    assert run_cli("-w", ws, "push", "pos").code == 0
    code, first = pull(ws, "pos")
    assert (code, first["pos"]["status"]) == (0, "baseline"), first
    return ws


def test_till_sales_open_orders_and_decimal_quantities(servers: Servers, new_demo: Any) -> None:
    ws = pos_ready(servers, new_demo)
    orders = servers.pos.orders
    mug, lantern = variation(ws, "MUG-ENAMEL"), variation(ws, "LANTERN-LED")
    assert level(ws, "MUG-ENAMEL", "store") == (12, 0, 12)
    orders.add(SQUARE_LOCATION, [(mug, "2")])  # a till sale: gone at once
    ticket = orders.add(SQUARE_LOCATION, [(lantern, "1")], state="OPEN")
    weighed = orders.add(SQUARE_LOCATION, [(mug, "1.5")])
    result = run_cli("-w", ws, "pull", "pos", "--json")
    got = json.loads(result.stdout)["channels"][0]
    assert result.code == 4 and got["moves"] == 2  # the 1.5 is named, the rest applied
    assert [u["order_id"] for u in got["unmatched"]] == [weighed]
    assert "not a whole number" in got["unmatched"][0]["message"]
    assert level(ws, "MUG-ENAMEL", "store") == (10, 0, 10)
    assert level(ws, "LANTERN-LED", "store") == (3, 1, 2)
    orders.set_state(ticket, "COMPLETED")
    pull(ws, "pos")
    assert level(ws, "LANTERN-LED", "store") == (2, 0, 2)
    assert servers.pos.violations == []


def test_returns_restock_only_with_restock_refunds(servers: Servers, new_demo: Any) -> None:
    ws = pos_ready(servers, new_demo)
    orders = servers.pos.orders
    mug = variation(ws, "MUG-ENAMEL")
    sale = orders.add(SQUARE_LOCATION, [(mug, "3")])
    pull(ws, "pos")
    orders.add_return(sale, {mug: "1"})
    pull(ws, "pos")
    assert level(ws, "MUG-ENAMEL", "store") == (9, 0, 9)  # the return did not say "restock"
    text = (ws / "channels.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "    stock: {locations: [store]}",
        "    stock: {locations: [store]}\n    orders: {restock_refunds: true}",
    )
    (ws / "channels.yaml").write_text(text, encoding="utf-8")
    orders.add_return(sale, {mug: "1"})
    pull(ws, "pos")
    assert level(ws, "MUG-ENAMEL", "store") == (11, 0, 11)  # both returns now count
    assert servers.pos.violations == []


def test_an_offline_sale_that_arrives_late_is_applied_once(servers: Servers, new_demo: Any) -> None:
    ws = pos_ready(servers, new_demo)
    orders = servers.pos.orders
    mug = variation(ws, "MUG-ENAMEL")
    orders.add(SQUARE_LOCATION, [(mug, "1")])
    pull(ws, "pos")
    # the channel was baselined long ago and last swept over an hour ago; a sale rung up
    # offline five hours ago reaches Square now with its original times, behind the cursor
    swept = iso(datetime.now(UTC) - timedelta(hours=2))
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db, db:
        db.execute(
            "UPDATE order_cursors SET baseline_at = ?, swept_at = ? WHERE channel = 'pos'",
            ["2026-01-01T00:00:00.000Z", swept],
        )
    stamp = datetime.now(UTC) - timedelta(hours=5)
    orders.add(SQUARE_LOCATION, [(mug, "2")], created_at=stamp)
    code, got = pull(ws, "pos")  # the hourly 72-hour sweep finds it behind the cursor
    assert code == 0 and got["pos"]["moves"] == 1
    assert level(ws, "MUG-ENAMEL", "store") == (9, 0, 9)
    code, again = pull(ws, "pos")
    assert again["pos"]["moves"] == 0
    assert level(ws, "MUG-ENAMEL", "store") == (9, 0, 9)


def test_a_pull_records_what_the_buyer_pays_per_line_and_the_currency(
    servers: Servers, new_demo: Any
) -> None:
    ws = pos_ready(servers, new_demo)
    servers.pos.orders.add(SQUARE_LOCATION, [(variation(ws, "MUG-ENAMEL"), "2")])
    assert pull(ws, "pos")[0] == 0
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        unit, total = db.execute("SELECT unit_price, line_total FROM order_lines").fetchone()
        currency = db.execute("SELECT currency FROM orders").fetchone()[0]
    assert currency == "USD" and Decimal(total) == 2 * Decimal(unit) > 0
