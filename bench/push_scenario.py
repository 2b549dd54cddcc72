"""The push benchmark's scenario: the catalog it imports, the changes it makes, and the check
that a server shows them afterwards (used by push_bench.py).

The catalog is make_catalog.py's (groups of 8 variants), imported with the generic CSV importer
through the CLI; the changes are plain SQL on catalog.db, as a seller's tool would make them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from make_catalog import write

LOCATION_SQ = "L8Z5BENCH"


def build(tmp: Path, skus: int) -> Path:
    csv_path, root = tmp / "catalog.csv", tmp / "ws"
    write(csv_path, skus)
    multichan = [sys.executable, "-m", "multichan"]
    identity = ["--name", "Bench Shop", "--url", "https://bench.example.com"]
    subprocess.run([*multichan, "init", str(root), *identity], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run([*multichan, "-w", str(root), "import", "csv", str(csv_path)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return root


def distinct_variants(root: Path) -> int:
    """make_catalog.py repeats each Color/Size pair twice in a group of 8 (n % 4 for both);
    the second four become "<size> Tall" (size and title) so every variant has its own options.
    ``--as-written`` skips this (see the README for what Shopify then rejects)."""
    with sqlite3.connect(root / "catalog.db") as conn:
        return conn.execute(
            "UPDATE products SET size = size || ' Tall', title = title || ' Tall' "
            "WHERE CAST(substr(sku, 5) AS INTEGER) % 8 >= 4"
        ).rowcount


def changed_skus(root: Path, percent: int, layout: str) -> list[str]:
    """``percent`` of the active SKUs: chosen by SKU number (scattered: most products get one or
    more changed variants) or by product group (grouped: every variant of the chosen products).
    n * 61 mod 100 picks exactly ``percent`` of any hundred consecutive numbers, spread out."""
    with sqlite3.connect(root / "catalog.db") as conn:
        rows = conn.execute("SELECT sku FROM products WHERE status = 'active' ORDER BY sku")
        skus = [r[0] for r in rows]
    key = (lambda n: n * 61 % 100) if layout == "scattered" else (lambda n: n // 8 * 61 % 100)
    return [s for s in skus if key(int(s.split("-")[1])) < percent]


def apply_changes(root: Path, skus: list[str]) -> None:
    """Every chosen SKU: price + 1.00 (its sale price, when it has one, stays) and 3 more in
    the store (absolute quantities, so nothing is delisted)."""
    with sqlite3.connect(root / "catalog.db") as conn:
        conn.execute("CREATE TEMP TABLE chosen (sku TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO chosen VALUES (?)", [(s,) for s in skus])
        prices = conn.execute(
            "UPDATE products SET price = printf('%.2f', CAST(price AS REAL) + 1.0) "
            "WHERE sku IN (SELECT sku FROM chosen)"
        ).rowcount
        stock = conn.execute(
            "UPDATE stock SET quantity = quantity + 3 WHERE location = 'store' "
            "AND sku IN (SELECT sku FROM chosen)"
        ).rowcount
    if prices != len(skus) or stock != len(skus):
        raise SystemExit(f"changed {prices} prices and {stock} stock rows for {len(skus)} SKUs")


def expected(root: Path, sku: str) -> tuple[Decimal, Decimal | None, int]:
    with sqlite3.connect(root / "catalog.db") as conn:
        price, sale = conn.execute(
            "SELECT price, sale_price FROM products WHERE sku = ?", [sku]
        ).fetchone()
        (qty,) = conn.execute("SELECT SUM(quantity) FROM stock WHERE sku = ?", [sku]).fetchone()
    return Decimal(price), Decimal(sale) if sale else None, int(qty)


def check_server(name: str, server: Any, root: Path, skus: list[str]) -> int:
    """How many of ``skus`` show the new price and quantity on the server (must be all)."""
    ok = 0
    with sqlite3.connect(root / "catalog.db") as conn:
        ids = {r[0]: json.loads(r[1]) for r in conn.execute(
            "SELECT sku, remote_ids FROM push_state WHERE channel = ? AND kind = 'listings'",
            [name])}  # fmt: skip
    for sku in skus:
        price, sale, qty = expected(root, sku)
        if name == "shopify":
            v = server.shop.by_sku(sku)
            shown = Decimal(v["compareAtPrice"] or v["price"])
            ok += shown == price and server.shop.available(sku) == qty
        elif name == "woocommerce":
            o = server.by_sku(sku)
            ok += Decimal(o["regular_price"]) == price and o["stock_quantity"] == qty
        else:
            var_id = ids[sku]["variation_id"]
            money = server.variation(var_id)["item_variation_data"]["price_money"]["amount"]
            count = server.counts.get((var_id, LOCATION_SQ))
            ok += money == int((sale or price) * 100) and count == str(qty)
    return ok
