"""Orders from Shopify through the CLI, against the schema-checked Shopify endpoint: the
baseline, commit on payment, ship on fulfilment, returns and refunds, cancellations, edits,
exactly once however often an order is seen, and unknown SKUs that never block the rest."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from tests.e2e.conftest import Servers, write_channels


def cli_json(ws: Path, *args: str) -> tuple[int, Any]:
    result = run_cli("-w", ws, *args, "--json")
    assert result.stdout, result.output
    return result.code, json.loads(result.stdout)


def pull(ws: Path, *names: str) -> tuple[int, dict[str, Any]]:
    code, body = cli_json(ws, "pull", *names)
    assert body["exit_code"] == code
    return code, {c["channel"]: c for c in body["channels"]}


def level(ws: Path, sku: str, location: str = "warehouse") -> tuple[int, int, int]:
    """(on hand, committed, available) as ``catalog show --json`` reports them."""
    code, product = cli_json(ws, "catalog", "show", sku)
    assert code == 0
    return (product["stock"].get(location, 0), product["committed"].get(location, 0),
            product["available"].get(location, 0))  # fmt: skip


def shop_ready(servers: Servers, new_demo: Any) -> Path:
    """A demo workspace whose Shopify channel is listed and baselined."""
    ws = new_demo()
    write_channels(ws, servers.urls())
    assert run_cli("-w", ws, "push", "shop").code == 0
    code, first = pull(ws, "shop")
    assert (code, first["shop"]["status"], first["shop"]["moves"]) == (0, "baseline", 0)
    return ws


def test_a_paid_order_commits_then_ships_once(servers: Servers, new_demo: Any) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    before = level(ws, "MUG-ENAMEL")
    assert before == (40, 0, 40)
    order = orders.add([("MUG-ENAMEL", 3)], financial_status="PENDING")
    code, got = pull(ws, "shop")
    assert code == 0 and got["shop"]["moves"] == 0  # unpaid: holds nothing
    orders.set_financial_status(order, "PAID")
    code, got = pull(ws, "shop")
    assert (code, got["shop"]["moves"]) == (0, 1)
    assert level(ws, "MUG-ENAMEL") == (40, 3, 37)
    for _ in range(2):  # seen again: nothing moves
        code, got = pull(ws, "shop")
        assert (code, got["shop"]["moves"]) == (0, 0)
    assert level(ws, "MUG-ENAMEL") == (40, 3, 37)
    orders.fulfill(order, {"MUG-ENAMEL": 2})
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL") == (38, 1, 37)
    orders.fulfill(order)
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37)
    code, shown = cli_json(ws, "orders", "show", "shop", "#1001")
    assert code == 0 and shown["status"] == "closed"
    assert [(m["reason"], m["on_hand_change"], m["committed_change"]) for m in shown["moves"]] == [
        ("order", 0, 3), ("ship", -2, -2), ("ship", -1, -1)]  # fmt: skip
    assert servers.violations()["shop"] == []


def test_edits_returns_refunds_and_cancellations(servers: Servers, new_demo: Any) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    a = orders.add([("MUG-ENAMEL", 2), ("MAP-CASE", 1)])
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL")[1:] == (2, 38) and level(ws, "MAP-CASE")[1:] == (1, 59)
    orders.edit(a, "MUG-ENAMEL", 3)  # the buyer adds one: one more unit committed
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL") == (40, 3, 37)
    orders.fulfill(a)
    pull(ws, "shop")
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37) and level(ws, "MAP-CASE") == (59, 0, 59)
    orders.refund(a, {"MUG-ENAMEL": 1}, restock_type="RETURN")  # back on the shelf
    orders.refund(a, {"MAP-CASE": 1}, restock_type="NO_RESTOCK")  # refunded, not restocked
    code, got = pull(ws, "shop")
    assert code == 0 and got["shop"]["moves"] == 1
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38) and level(ws, "MAP-CASE") == (59, 0, 59)
    b = orders.add([("LANTERN-LED", 4)])
    pull(ws, "shop")
    assert level(ws, "LANTERN-LED") == (20, 4, 16)
    orders.cancel(b, restock=True)  # cancelled before it shipped: the units come back
    pull(ws, "shop")
    assert level(ws, "LANTERN-LED") == (20, 0, 20)
    code, rows = cli_json(ws, "orders", "--channel", "shop", "--status", "cancelled")
    assert code == 0 and [r["number"] for r in rows] == ["#1002"]
    assert servers.violations()["shop"] == []


def test_an_order_first_seen_cancelled_moves_nothing(servers: Servers, new_demo: Any) -> None:
    ws = shop_ready(servers, new_demo)
    orders = servers.shop.shop.orders
    order = orders.add([("MUG-ENAMEL", 5)])
    orders.cancel(order, restock=True)  # paid and cancelled between two pulls
    code, got = pull(ws, "shop")
    assert (code, got["shop"]["orders"], got["shop"]["moves"]) == (0, 1, 0)
    assert level(ws, "MUG-ENAMEL") == (40, 0, 40)


def test_an_unknown_sku_is_parked_and_never_blocks_the_rest(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    servers.shop.shop.orders.add([("GHOST-1", 1), ("MUG-ENAMEL", 1)])
    result = run_cli("-w", ws, "pull", "shop")
    assert result.code == 4, result.output
    assert "unmatched shop order #1001: SKU GHOST-1 is not in the catalog" in result.stderr
    assert level(ws, "MUG-ENAMEL") == (40, 1, 39)  # the known line moved
    # the SKU is added to the catalog: the parked line is matched and applied on the next pull
    csv = ws / "ghost.csv"
    csv.write_text("sku,title,price,quantity:warehouse\nGHOST-1,Lamp,9.00,5\n", encoding="utf-8")
    assert run_cli("-w", ws, "import", "csv", csv).code == 0
    code, got = pull(ws, "shop")
    assert (code, got["shop"]["unmatched"], got["shop"]["moves"]) == (0, [], 1)
    code, product = cli_json(ws, "catalog", "show", "GHOST-1")
    assert product["committed"] == {"warehouse": 1}


def test_orders_before_the_baseline_are_recorded_but_move_nothing(
    servers: Servers, new_demo: Any
) -> None:
    ws = new_demo()
    write_channels(ws, servers.urls())
    assert run_cli("-w", ws, "push", "shop").code == 0
    from datetime import UTC, datetime, timedelta

    old = datetime.now(UTC) - timedelta(days=3)
    servers.shop.shop.orders.add([("MUG-ENAMEL", 2)], created_at=old)
    code, got = pull(ws, "shop")
    assert (code, got["shop"]["status"], got["shop"]["moves"]) == (0, "baseline", 0)
    code, got = pull(ws, "shop")
    assert got["shop"]["orders"] == 0  # the old order is behind the cursor
    since = (old - timedelta(hours=1)).isoformat()
    result = run_cli("-w", ws, "pull", "shop", "--since", since, "--json")
    assert json.loads(result.stdout)["channels"][0]["orders"] == 1
    assert level(ws, "MUG-ENAMEL") == (40, 0, 40)
    code, rows = cli_json(ws, "orders")
    assert [(r["number"], r["baseline"]) for r in rows] == [("#1001", True)]


def test_a_pull_records_what_the_buyer_pays_per_line_and_the_currency(
    servers: Servers, new_demo: Any
) -> None:
    ws = shop_ready(servers, new_demo)
    price = servers.shop.shop.by_sku("MUG-ENAMEL")["price"]
    servers.shop.shop.orders.add([("MUG-ENAMEL", 3)])
    assert pull(ws, "shop")[0] == 0
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        line = db.execute("SELECT unit_price, line_total FROM order_lines").fetchone()
        currency = db.execute("SELECT currency FROM orders").fetchone()[0]
    assert line == (f"{Decimal(price):.2f}", f"{Decimal(price) * 3:.2f}") and currency == "USD"
