"""`multichan report stock`: units sold per day, days of cover and the suggested transfers
and reorders, against numbers worked out by hand from conftest.ORDERS (window: the 30 days of
November 2026) and the demo catalog's stock."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

NOVEMBER = ("--until", "2026-11-30", "--days", "30")


def stock(ws: Path, *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    result = run_cli("-w", ws, "report", "stock", *NOVEMBER, *args, "--json")
    assert result.code == 0, result.output
    return {(r["sku"], r["location"]): r for r in json.loads(result.stdout)["rows"]}


def set_stock(ws: Path, sku: str, location: str, on_hand: int, committed: int = 0) -> None:
    conn = sqlite3.connect(ws / "catalog.db")
    with conn:
        conn.execute(
            "UPDATE stock SET quantity = ?, committed = ? WHERE sku = ? AND location = ?",
            [on_hand, committed, sku, location],
        )
    conn.close()


def test_units_sold_per_day_and_days_of_cover(shop: Path) -> None:
    got = stock(shop)
    mug = got[("MUG-ENAMEL", "warehouse")]
    # #1001: 2, #1002: 3 less 1 returned; the pending #1004 and the December #1100 take none
    assert (mug["sold"], mug["per_day"], mug["available"]) == (4, 0.133, 40)
    assert mug["cover_days"] == 300.0  # 40 units at 4 every 30 days
    assert got[("MUG-ENAMEL", "store")]["sold"] == 1
    # P2: 3; R1 refunded a unit without restocking it: it stays sold
    lantern = got[("LANTERN-LED", "store")]
    assert (lantern["sold"], lantern["per_day"], lantern["cover_days"]) == (3, 0.1, 30.0)
    # #1003: 4 units, 1 refunded and not restocked: 4 left stock
    assert got[("BOTTLE-STEEL-750", "warehouse")]["sold"] == 4
    # the cancelled #1005 took nothing
    assert got[("LANTERN-LED", "warehouse")]["sold"] == 1
    assert got[("MAP-CASE", "store")]["cover_days"] is None  # nothing sold: no end in sight


def test_a_short_location_gets_a_transfer_from_one_with_surplus(shop: Path) -> None:
    set_stock(shop, "MUG-ENAMEL", "store", 1, committed=1)  # on hand 1, all of it committed
    got = stock(shop)
    store = got[("MUG-ENAMEL", "store")]
    assert (store["on_hand"], store["committed"], store["available"]) == (1, 1, 0)
    # 14 days at 1 unit per 30 days: 1 unit wanted; the warehouse keeps 2 and gives the rest
    assert store["transfers"] == [{"from": "warehouse", "units": 1}] and store["reorder"] == 0
    assert store["suggestion"] == "transfer 1 from warehouse"
    assert got[("MUG-ENAMEL", "warehouse")]["suggestion"] is None


def test_a_reorder_when_no_location_can_spare_any(shop: Path) -> None:
    set_stock(shop, "LANTERN-LED", "store", 0)
    set_stock(shop, "LANTERN-LED", "warehouse", 1)
    got = stock(shop, "--cover", "20")
    # store: 3 a month, 20 days: 2 wanted; warehouse: 1 a month, 20 days: 1 wanted, holds 1
    assert got[("LANTERN-LED", "store")]["reorder"] == 2
    assert got[("LANTERN-LED", "store")]["transfers"] == []
    assert got[("LANTERN-LED", "warehouse")]["suggestion"] is None


def test_an_oversold_location_asks_for_the_deficit_too(shop: Path) -> None:
    set_stock(shop, "BOTTLE-STEEL-750", "warehouse", 0, committed=2)  # -2 available
    set_stock(shop, "BOTTLE-STEEL-750", "store", 3)
    row = stock(shop)[("BOTTLE-STEEL-750", "warehouse")]
    # 4 a month, 14 days: 2 wanted, plus the 2 owed: 4; the store (no sales) gives its 3
    assert row["cover_days"] == 0.0
    assert row["transfers"] == [{"from": "store", "units": 3}] and row["reorder"] == 1


def test_the_table_lists_what_sold_and_says_what_it_left_out(shop: Path) -> None:
    set_stock(shop, "MUG-ENAMEL", "store", 0)
    result = run_cli("-w", shop, "report", "stock", *NOVEMBER)
    assert result.code == 0, result.output
    first = next(line for line in result.stdout.splitlines() if "MUG-ENAMEL" in line)
    assert "store" in first and "transfer 1" in first  # the most urgent row comes first
    assert "MAP-CASE" not in result.stdout
    assert "Not shown: 117 SKU/location pair(s)" in result.stdout
    assert "units ordered less units returned" in result.stdout
    assert "1 sales line(s) (1 units) have no catalog SKU" in result.stdout
    every = run_cli("-w", shop, "report", "stock", *NOVEMBER, "--all")
    assert "MAP-CASE" in every.stdout and "Not shown" not in every.stdout


def test_csv_lists_every_sku_and_location(shop: Path) -> None:
    result = run_cli("-w", shop, "report", "stock", *NOVEMBER, "--csv")
    assert result.code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == 122  # the demo's 61 SKUs at 2 locations
    mug = next(r for r in table if (r["sku"], r["location"]) == ("MUG-ENAMEL", "warehouse"))
    assert (mug["sold"], mug["cover_days"]) == ("4", "300.0")
    assert "counted: units sold per day over 30 day(s)" in result.stderr


def test_bad_options_exit_2(shop: Path) -> None:
    assert run_cli("-w", shop, "report", "stock", "--until", "soon").code == 2
    result = run_cli("-w", shop, "report", "stock", "--days", "0")
    assert result.code == 2 and "at least 1" in result.stderr
