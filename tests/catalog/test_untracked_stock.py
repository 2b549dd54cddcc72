"""Untracked stock (issue 14, item 7), through the CLI: WooCommerce products in stock without a
managed count and Shopify variants without inventory tracking import as untracked (not 0), and
"continue selling" / backorders as continue; feeds offer them in stock, with
`stock.untracked_quantity` where a channel needs a number; counts and committed units never
take them out of stock; `catalog show`, `catalog list` and `report stock` say so."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.feeds.helpers import SHOP, configure, google_items, jsonl, show, sql

WOO = [
    ["ID", "Type", "SKU", "Name", "Published", "Regular price", "In stock?", "Stock",
     "Backorders allowed?"],
    ["1", "simple", "SOAP", "Soap", "1", "5", "1", "", "0"],  # in stock, no managed count
    ["2", "simple", "CANDLE", "Candle", "1", "9", "1", "4", "0"],  # counted: 4
    ["3", "simple", "VASE", "Vase", "1", "30", "0", "", "0"],  # not counted, out of stock
    ["4", "simple", "PRINT", "Print", "1", "20", "backorder", "0", "1"],  # counted, backorders
]  # fmt: skip
SHOPIFY = [
    ["Handle", "Title", "Variant SKU", "Variant Price", "Variant Inventory Tracker",
     "Variant Inventory Qty", "Variant Inventory Policy", "Status"],
    ["tea", "Tea", "TEA", "8", "", "0", "deny", "active"],  # not tracked: exported as 0
    ["mat", "Mat", "MAT", "15", "shopify", "0", "continue", "active"],  # continue selling
    ["rug", "Rug", "RUG", "99", "shopify", "50", "continue", "active"],
    ["cup", "Cup", "CUP", "6", "shopify", "3", "deny", "active"],
]  # fmt: skip
PUSH_CHANNEL = """\
channels:
  shop:
    type: shopify
    settings: {base_url: "https://x.myshopify.com", token: "${T}", location_id: "1"}
    stock: {untracked_quantity: 4}
"""


def write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_untracked_products_import_as_untracked_and_are_offered_in_stock(
    workspace: Path, tmp_path: Path
) -> None:
    result = run_cli("-w", workspace, "import", "woocommerce", write(tmp_path / "w.csv", WOO))
    assert result.code == 0, result.output
    assert "stock count" not in result.output  # nothing left to warn about: it is modelled
    result = run_cli("-w", workspace, "import", "shopify", write(tmp_path / "s.csv", SHOPIFY))
    assert result.code == 0, result.output
    tracking = {
        sku: show(workspace, sku)["stock_tracking"]
        for sku in ("SOAP", "CANDLE", "VASE", "PRINT", "TEA", "MAT", "RUG", "CUP")
    }
    assert tracking == {
        "SOAP": "untracked", "CANDLE": "tracked", "VASE": "tracked", "PRINT": "continue",
        "TEA": "untracked", "MAT": "continue", "RUG": "continue", "CUP": "tracked",
    }  # fmt: skip
    assert show(workspace, "TEA")["stock"] == {}  # Shopify's 0 for an uncounted variant: unused

    offers = jsonl(workspace)  # untracked_quantity defaults to 10
    got = {sku: (o["quantity"], o["availability"]) for sku, o in offers.items()}
    assert got == {
        "SOAP": (10, "in_stock"), "TEA": (10, "in_stock"),  # untracked: the configured number
        "CANDLE": (4, "in_stock"), "CUP": (3, "in_stock"), "VASE": (0, "out_of_stock"),
        "PRINT": (10, "in_stock"), "MAT": (10, "in_stock"),  # continue, none counted
        "RUG": (50, "in_stock"),  # continue: its count when that is more
    }  # fmt: skip

    # per channel (or in defaults), capped by the channel's cap
    offers = jsonl(workspace, "stock:\n  untracked_quantity: 3\n")
    assert (offers["SOAP"]["quantity"], offers["RUG"]["quantity"]) == (3, 50)
    offers = jsonl(workspace, "stock:\n  cap: 2\n", defaults="defaults:\n  stock:\n"
                   "    untracked_quantity: 25\n")  # fmt: skip
    assert (offers["SOAP"]["quantity"], offers["CANDLE"]["quantity"]) == (2, 2)


def test_a_google_feed_says_in_stock_for_an_untracked_sku(demo: Path) -> None:
    assert show(demo, "KNIFE-FOLD")["quantity"] == 0  # the demo's sold-out knife
    assert run_cli("-w", demo, "export", "google").code == 0
    items = google_items(demo / "feeds" / "google.xml")
    assert items["KNIFE-FOLD"]["availability"] == "out_of_stock"
    assert run_cli("-w", demo, "catalog", "set", "KNIFE-FOLD", "stock_tracking=untracked").code == 0
    assert run_cli("-w", demo, "export", "google").code == 0
    items = google_items(demo / "feeds" / "google.xml")
    assert items["KNIFE-FOLD"]["availability"] == "in_stock"


def test_counts_and_orders_never_take_an_untracked_sku_out_of_stock(
    workspace: Path, tmp_path: Path
) -> None:
    assert (
        run_cli("-w", workspace, "import", "woocommerce", write(tmp_path / "w.csv", WOO)).code == 0
    )
    assert run_cli("-w", workspace, "stock", "set", "SOAP", "0").code == 0
    sql(workspace, "UPDATE stock SET committed = 7 WHERE sku = 'SOAP'")  # open orders hold 7
    sql(workspace, "UPDATE stock SET committed = 1 WHERE sku = 'PRINT'")  # sold past zero
    offers = jsonl(workspace, "filters:\n  in_stock_only: true\n")
    assert (offers["SOAP"]["quantity"], offers["SOAP"]["availability"]) == (10, "in_stock")
    assert offers["PRINT"]["availability"] == "in_stock" and "VASE" not in offers

    check = run_cli("-w", workspace, "catalog", "check", "--json")
    stock_problems = [p for p in json.loads(check.stdout)["problems"] if p["field"] == "stock"]
    assert [p["sku"] for p in stock_problems] == ["PRINT"]  # counted: -1 is a real problem

    table = run_cli("-w", workspace, "catalog", "show", "SOAP").stdout
    assert "untracked: not counted, offered as in stock" in table
    assert "(not counted: ignored)" in table
    listing = run_cli("-w", workspace, "catalog", "list").stdout
    assert "untracked" in listing and "(continue)" in listing
    report = json.loads(run_cli("-w", workspace, "report", "stock", "--all", "--json").stdout)
    soap = next(r for r in report["rows"] if r["sku"] == "SOAP")
    assert (soap["stock_tracking"], soap["cover_days"], soap["suggestion"]) == (
        "untracked", None, None,
    )  # fmt: skip
    text = run_cli("-w", workspace, "report", "stock", "--all").stdout
    assert any("SOAP" in line and "untracked" in line for line in text.splitlines())


def test_a_seller_marks_stock_untracked_and_the_import_leaves_it(
    workspace: Path, tmp_path: Path
) -> None:
    file = write(tmp_path / "w.csv", WOO)
    assert run_cli("-w", workspace, "import", "woocommerce", file).code == 0
    assert (
        run_cli("-w", workspace, "catalog", "set", "CANDLE", "stock_tracking=untracked").code == 0
    )
    again = run_cli("-w", workspace, "import", "woocommerce", file)
    assert "1 incoming value(s) held back by seller edits" in again.stdout
    assert show(workspace, "CANDLE")["stock_tracking"] == "untracked"
    assert jsonl(workspace)["CANDLE"]["quantity"] == 10


def test_untracked_quantity_must_be_a_positive_number_at_its_line(workspace: Path) -> None:
    configure(workspace, "j:\n  type: jsonl\n  output: feeds/j.jsonl\n  stock:\n"
              "    untracked_quantity: 0\n")  # fmt: skip
    result = run_cli("-w", workspace, "export", "j")
    assert result.code == 3, result.output
    assert "channels.yaml:13: " in result.stderr  # the key's own line
    assert "channels.j.stock.untracked_quantity must be 1 or more" in result.stderr


def test_a_push_would_send_the_untracked_quantity(demo: Path) -> None:
    """What `push` sends is what `plan` lists: an untracked SKU's count at the channel is
    stock.untracked_quantity (here 4), not its 0 on hand."""
    write_config(demo, SHOP + PUSH_CHANNEL)

    def planned() -> int:
        result = run_cli("-w", demo, "plan", "--json", env={"T": "shpat_test"})
        assert result.code == 0, result.output
        changes = json.loads(result.stdout)["channels"][0]["changes"]
        [qty] = [c for c in changes if c["sku"] == "KNIFE-FOLD" and c["kind"] == "quantities"]
        return int(qty["fields"][0]["new"])

    assert planned() == 0  # the demo's sold-out knife
    assert run_cli("-w", demo, "catalog", "set", "KNIFE-FOLD", "stock_tracking=untracked").code == 0
    assert planned() == 4
