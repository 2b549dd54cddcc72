"""Orders from WooCommerce through the CLI, against the shop written from WooCommerce's REST
docs: status transitions move stock once, refunds restock only when WooCommerce restocked
them (or ``restock_refunds: true``), pages of 100 with X-WP-TotalPages, and a pull with
nothing new costs one request."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from tests.e2e.conftest import Servers, write_channels
from tests.e2e.test_pull_shopify import cli_json, level, pull


def woo_ready(servers: Servers, new_demo: Any, restock_refunds: bool = False) -> Path:
    ws = new_demo()
    write_channels(ws, servers.urls())
    if restock_refunds:
        text = (ws / "channels.yaml").read_text(encoding="utf-8")
        text = text.replace(
            "    orders: {location: warehouse}\n  pos:",
            "    orders: {location: warehouse, restock_refunds: true}\n  pos:",
        )
        (ws / "channels.yaml").write_text(text, encoding="utf-8")
    assert run_cli("-w", ws, "push", "woo").code == 0
    code, first = pull(ws, "woo")
    assert (code, first["woo"]["status"]) == (0, "baseline")
    return ws


def test_pending_processing_completed_moves_stock_once(servers: Servers, new_demo: Any) -> None:
    ws = woo_ready(servers, new_demo)
    orders = servers.woo.orders
    tee, _, _ = level(ws, "TEE-MERINO-NAV-M")
    order = orders.add([("MUG-ENAMEL", 2), ("TEE-MERINO-NAV-M", 1)], status="pending")
    code, got = pull(ws, "woo")
    assert (code, got["woo"]["moves"]) == (0, 0)
    orders.set_status(order, "processing")
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (40, 2, 38)
    orders.set_status(order, "completed")
    pull(ws, "woo")
    pull(ws, "woo")  # and again: nothing more
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)
    assert level(ws, "TEE-MERINO-NAV-M") == (tee - 1, 0, tee - 1)
    code, shown = cli_json(ws, "orders", "show", "woo", str(order))
    assert [(m["sku"], m["reason"]) for m in shown["moves"]] == [
        ("MUG-ENAMEL", "order"), ("TEE-MERINO-NAV-M", "order"),
        ("MUG-ENAMEL", "ship"), ("TEE-MERINO-NAV-M", "ship"),
    ]  # fmt: skip


def test_refunds_restock_only_when_woocommerce_did(servers: Servers, new_demo: Any) -> None:
    ws = woo_ready(servers, new_demo)
    orders = servers.woo.orders
    a = orders.add([("MUG-ENAMEL", 3)], status="completed")
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (37, 0, 37)
    orders.refund(a, {"MUG-ENAMEL": 1}, restock=True)
    orders.refund(a, {"MUG-ENAMEL": 1}, restock=False)
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (38, 0, 38)  # one back, one refunded without restock
    b = orders.add([("LANTERN-LED", 2)], status="processing")
    pull(ws, "woo")
    orders.set_status(b, "cancelled")
    pull(ws, "woo")
    assert level(ws, "LANTERN-LED") == (20, 0, 20)


def test_restock_refunds_true_counts_every_refund_as_restocked(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo, restock_refunds=True)
    orders = servers.woo.orders
    a = orders.add([("MUG-ENAMEL", 3)], status="completed")
    pull(ws, "woo")
    orders.refund(a, {"MUG-ENAMEL": 2}, restock=False)
    pull(ws, "woo")
    assert level(ws, "MUG-ENAMEL") == (39, 0, 39)


def test_pages_of_100_and_one_request_when_nothing_is_new(servers: Servers, new_demo: Any) -> None:
    ws = woo_ready(servers, new_demo)
    orders = servers.woo.orders
    for _ in range(130):
        orders.add([("MAP-CASE", 1)], status="processing")
    code, got = pull(ws, "woo")
    assert (code, got["woo"]["orders"], got["woo"]["pages"], got["woo"]["requests"]) == (
        4, 130, 2, 2)  # fmt: skip
    assert level(ws, "MAP-CASE") == (60, 130, -70)  # oversold: every order still recorded
    [oversold] = got["woo"]["oversold"]
    assert (oversold["sku"], oversold["available"], len(oversold["orders"])) == (
        "MAP-CASE", -70, 130)  # fmt: skip
    code, again = pull(ws, "woo")  # the overlap window reads the last minutes again
    assert (again["woo"]["orders"], again["woo"]["moves"], again["woo"]["requests"]) == (
        130, 0, 2)  # fmt: skip
    later = datetime.now(UTC) + timedelta(hours=1)
    orders.now = lambda: later  # an hour on: the 130 orders are behind the window
    orders.add([("MUG-ENAMEL", 1)], status="processing")
    pull(ws, "woo")
    code, idle = pull(ws, "woo")
    assert (idle["woo"]["orders"], idle["woo"]["moves"], idle["woo"]["requests"]) == (1, 0, 1)


def test_a_pull_records_what_the_buyer_pays_per_line_and_the_currency(
    servers: Servers, new_demo: Any
) -> None:
    ws = woo_ready(servers, new_demo)
    servers.woo.orders.add([("MAP-CASE", 2)], status="processing")
    assert pull(ws, "woo")[0] == 0
    with contextlib.closing(sqlite3.connect(ws / "catalog.db")) as db:
        unit, total = db.execute("SELECT unit_price, line_total FROM order_lines").fetchone()
        currency = db.execute("SELECT currency FROM orders").fetchone()[0]
    assert currency == "USD" and Decimal(total) == 2 * Decimal(unit) > 0
