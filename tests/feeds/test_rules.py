"""A channel's stock and price rules as a seller sees them: edit channels.yaml, export, read the
feed file. Filters, per-channel overrides and content rules are in test_rules_filters.py.

Every expected price and quantity below is worked out by hand from the demo catalog (read back
through `multichan catalog show --json`), never by calling the rules engine.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.feeds.helpers import catalog, configure, export, google_items, jsonl, show, sql


# --- stock -----------------------------------------------------------------------------------
def test_buffer_of_2_and_cap_of_10(demo: Path) -> None:
    # a SKU with only 2 units left: the whole stock is held back
    assert run_cli("-w", demo, "stock", "set", "HEADLAMP-200", "2", "-l", "store").code == 0
    known = {
        sku: show(demo, sku)["stock"]
        for sku in ("MUG-ENAMEL", "TARP-3X3", "KNIFE-FOLD", "HEADLAMP-200", "BLANKET-WOOL")
    }
    assert known == {
        "MUG-ENAMEL": {"store": 12, "warehouse": 40},  # 52 - 2 = 50 -> cap 10
        "TARP-3X3": {"store": 1, "warehouse": 7},  # 8 - 2 = 6
        "KNIFE-FOLD": {"store": 0, "warehouse": 0},  # 0
        "HEADLAMP-200": {"store": 2, "warehouse": 0},  # 2 - 2 = 0
        "BLANKET-WOOL": {"store": 2, "warehouse": 14},  # 16 - 2 = 14 -> cap 10
    }
    offers = jsonl(demo, "stock:\n  buffer: 2\n  cap: 10\n")
    got = {sku: (offers[sku]["quantity"], offers[sku]["availability"]) for sku in known}
    assert got == {
        "MUG-ENAMEL": (10, "in_stock"),
        "TARP-3X3": (6, "in_stock"),
        "KNIFE-FOLD": (0, "out_of_stock"),
        "HEADLAMP-200": (0, "out_of_stock"),
        "BLANKET-WOOL": (10, "in_stock"),
    }
    # and every other SKU of the feed follows the same rule
    for sku, row in catalog(demo).items():
        if sku in offers:
            assert offers[sku]["quantity"] == min(max(row["quantity"] - 2, 0), 10), sku


def test_stock_rules_apply_in_the_documented_order(demo: Path) -> None:
    """buffer -> percent (rounded down) -> cap -> out-of-stock threshold."""
    for sku, store, warehouse in (
        ("MUG-ENAMEL", 12, 40),
        ("TARP-3X3", 4, 5),
        ("MAP-CASE", 5, 5),
        ("SEAT-PAD", 3, 0),
    ):
        for location, qty in (("store", store), ("warehouse", warehouse)):
            assert run_cli("-w", demo, "stock", "set", sku, str(qty), "-l", location).code == 0
    assert show(demo, "TARP-3X3")["quantity"] == 9
    offers = jsonl(
        demo,
        """\
        stock:
          buffer: 2
          percent: 50
          cap: 10
          out_of_stock_below: 4
        """,
    )
    quantities = {
        sku: offers[sku]["quantity"] for sku in ("MUG-ENAMEL", "TARP-3X3", "MAP-CASE", "SEAT-PAD")
    }
    assert quantities == {
        "MUG-ENAMEL": 10,  # 52 -> 50 -> 25 -> 10 (a cap before the percent would give 5)
        "TARP-3X3": 0,  # 9 -> 7 -> 3 (rounded down) -> 3 -> below 4: 0
        "MAP-CASE": 4,  # 10 -> 8 -> 4 -> 4 -> 4
        "SEAT-PAD": 0,  # 3 -> 1 -> 0
    }
    assert offers["TARP-3X3"]["availability"] == "out_of_stock"
    assert offers["MAP-CASE"]["availability"] == "in_stock"


def test_percent_rounds_down(demo: Path) -> None:
    assert show(demo, "LANTERN-LED")["quantity"] == 23
    assert show(demo, "TARP-3X3")["quantity"] == 8
    offers = jsonl(demo, "stock:\n  percent: 50\n")
    assert offers["LANTERN-LED"]["quantity"] == 11  # 11.5 rounded down: never oversell
    assert offers["TARP-3X3"]["quantity"] == 4


def test_out_of_stock_below(demo: Path) -> None:
    assert show(demo, "TARP-3X3")["quantity"] == 8
    assert show(demo, "STOVE-GAS")["quantity"] == 23
    offers = jsonl(demo, "stock:\n  out_of_stock_below: 10\n")
    assert (offers["TARP-3X3"]["quantity"], offers["TARP-3X3"]["availability"]) == (
        0,
        "out_of_stock",
    )
    assert (offers["STOVE-GAS"]["quantity"], offers["STOVE-GAS"]["availability"]) == (
        23,
        "in_stock",
    )


def test_stock_locations_subset(demo: Path) -> None:
    mug, headlamp = show(demo, "MUG-ENAMEL")["stock"], show(demo, "HEADLAMP-200")["stock"]
    assert mug == {"store": 12, "warehouse": 40}
    assert headlamp == {"store": 10, "warehouse": 0}
    store = jsonl(demo, "stock:\n  locations: [store]\n", name="shop_floor")
    warehouse = jsonl(demo, "stock:\n  locations: [warehouse]\n", name="online")
    assert store["MUG-ENAMEL"]["quantity"] == 12
    assert warehouse["MUG-ENAMEL"]["quantity"] == 40
    assert (store["HEADLAMP-200"]["quantity"], store["HEADLAMP-200"]["availability"]) == (
        10,
        "in_stock",
    )
    assert (warehouse["HEADLAMP-200"]["quantity"], warehouse["HEADLAMP-200"]["availability"]) == (
        0,
        "out_of_stock",
    )


# --- price -----------------------------------------------------------------------------------
def test_markup_then_round_to_99(demo: Path) -> None:
    assert run_cli("-w", demo, "price", "set", "MAP-CASE", "13.90").code == 0
    base = {
        sku: (show(demo, sku)["price"], show(demo, sku)["sale_price"])
        for sku in ("MUG-ENAMEL", "BOTTLE-STEEL-750", "SEAT-PAD", "TARP-3X3", "MAP-CASE")
    }
    assert base == {
        "MUG-ENAMEL": ("14.00", None),
        "BOTTLE-STEEL-750": ("29.90", "24.90"),
        "SEAT-PAD": ("9.90", None),
        "TARP-3X3": ("119.00", None),
        "MAP-CASE": ("13.90", None),
    }
    offers = jsonl(demo, 'price:\n  markup_percent: 15\n  round: "0.99"\n')
    got = {
        sku: (offers[sku]["price"], offers[sku]["sale_price"], offers[sku]["currency"])
        for sku in base
    }
    assert got == {
        "MUG-ENAMEL": ("16.99", None, "USD"),  # 14.00 -> 16.10 -> 16.99
        "BOTTLE-STEEL-750": ("34.99", "28.99", "USD"),  # 34.385 -> 34.39 -> 34.99; 28.64 -> 28.99
        "SEAT-PAD": ("11.99", None, "USD"),  # 11.385 -> 11.39 -> 11.99
        "TARP-3X3": ("136.99", None, "USD"),  # 136.85 -> 136.99
        "MAP-CASE": ("15.99", None, "USD"),  # 15.985 -> 15.99: already ends in .99
    }


def test_markup_and_rounding_reach_the_google_feed(demo: Path) -> None:
    configure(
        demo, 'google:\n  type: google_merchant\n  price: {markup_percent: 15, round: "0.99"}\n'
    )
    export(demo, "google")
    items = google_items(demo / "feeds" / "google.xml")
    assert items["MUG-ENAMEL"]["price"] == "16.99 USD"
    assert items["BOTTLE-STEEL-750"]["price"] == "34.99 USD"
    assert items["BOTTLE-STEEL-750"]["sale_price"] == "28.99 USD"


def test_other_roundings(demo: Path) -> None:
    # 14.00 * 1.15 = 16.10; 29.90 * 1.15 = 34.385 -> 34.39
    p95 = jsonl(demo, 'price: {markup_percent: 15, round: "0.95"}', name="r95")
    p05 = jsonl(demo, 'price: {markup_percent: 15, round: "0.05"}', name="r05")
    p100 = jsonl(demo, 'price: {markup_percent: 15, round: "1.00"}', name="r100")
    plain = jsonl(demo, "price: {markup_percent: 15, add: 1.50}", name="radd")
    assert (p95["MUG-ENAMEL"]["price"], p95["BOTTLE-STEEL-750"]["price"]) == ("16.95", "34.95")
    assert (p05["MUG-ENAMEL"]["price"], p05["BOTTLE-STEEL-750"]["price"]) == ("16.10", "34.40")
    assert (p100["MUG-ENAMEL"]["price"], p100["BOTTLE-STEEL-750"]["price"]) == ("17.00", "35.00")
    assert (plain["MUG-ENAMEL"]["price"], plain["BOTTLE-STEEL-750"]["price"]) == (
        "17.60",
        "35.89",
    )  # 16.10 + 1.50; 34.385 + 1.50 = 35.885 -> 35.89


def test_unquoted_round_1_00_is_accepted(demo: Path) -> None:
    offers = jsonl(demo, "price: {markup_percent: 15, round: 1.00}")
    assert offers["MUG-ENAMEL"]["price"] == "17.00"


def test_currency_conversion(demo: Path) -> None:
    offers = jsonl(demo, "price:\n  currency: EUR\n  rates: {USD: 0.92}\n")
    got = {
        sku: (offers[sku]["price"], offers[sku]["sale_price"], offers[sku]["currency"])
        for sku in ("MUG-ENAMEL", "BOTTLE-STEEL-750", "SEAT-PAD")
    }
    assert got == {
        "MUG-ENAMEL": ("12.88", None, "EUR"),  # 14.00 * 0.92
        "BOTTLE-STEEL-750": ("27.51", "22.91", "EUR"),  # 27.508; 22.908
        "SEAT-PAD": ("9.11", None, "EUR"),  # 9.108
    }
    assert {o["currency"] for o in offers.values()} == {"EUR"}


def test_currency_conversion_rounding_and_min_price_in_google_feed(demo: Path) -> None:
    configure(
        demo,
        """\
        google:
          type: google_merchant
          price:
            currency: EUR
            rates: {USD: 0.92}
            round: "0.95"
            min_price: 10.00
        """,
    )
    export(demo, "google")
    items = google_items(demo / "feeds" / "google.xml")
    assert items["MUG-ENAMEL"]["price"] == "12.95 EUR"  # 12.88 -> 12.95
    assert items["MAP-CASE"]["price"] == "11.95 EUR"  # 11.50 -> 11.95
    assert items["SEAT-PAD"]["price"] == "10.00 EUR"  # 9.108 -> 9.95 -> min 10.00
    assert items["BOTTLE-STEEL-750"]["price"] == "27.95 EUR"  # 27.508 -> 27.51 -> 27.95
    assert items["BOTTLE-STEEL-750"]["sale_price"] == "22.95 EUR"
    assert all(i["price"].endswith(" EUR") for i in items.values())


def test_product_without_a_rate_is_left_out_with_a_reason(demo: Path) -> None:
    sql(demo, "UPDATE products SET currency = 'GBP' WHERE sku = 'MUG-ENAMEL'")
    configure(demo, "j:\n  type: jsonl\n  price: {currency: EUR, rates: {USD: 0.92}}\n")
    output = export(demo, "j", code=4)
    assert "MUG-ENAMEL" in output and "GBP" in output
    skus = [
        json.loads(line)["sku"]
        for line in (demo / "feeds" / "j.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert "MUG-ENAMEL" not in skus and "BOTTLE-STEEL-750" in skus


def test_min_price(demo: Path) -> None:
    offers = jsonl(demo, "price:\n  min_price: 15.00\n")
    assert offers["SEAT-PAD"]["price"] == "15.00"  # 9.90
    assert offers["MUG-ENAMEL"]["price"] == "15.00"  # 14.00
    assert offers["MAP-CASE"]["price"] == "15.00"  # 12.50
    assert offers["LANTERN-LED"]["price"] == "39.00"
    assert offers["BOTTLE-STEEL-750"]["price"] == "29.90"


def test_sale_price_kept_only_when_below_the_price(demo: Path) -> None:
    assert run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "20.00", "--sale", "25.00").code == 0
    assert run_cli("-w", demo, "price", "set", "SEAT-PAD", "10.00", "--sale", "10.00").code == 0
    assert run_cli("-w", demo, "price", "set", "MAP-CASE", "20.10", "--sale", "20.05").code == 0
    assert show(demo, "MUG-ENAMEL")["sale_price"] == "25.00"
    plain = jsonl(demo, "", name="plain")
    assert plain["BOTTLE-STEEL-750"]["sale_price"] == "24.90"
    assert plain["MUG-ENAMEL"]["sale_price"] is None  # above the price
    assert plain["SEAT-PAD"]["sale_price"] is None  # equal to the price
    assert plain["MAP-CASE"]["sale_price"] == "20.05"
    # rounded up to whole units, 20.10 and 20.05 both become 21.00: no sale left
    whole = jsonl(demo, 'price: {round: "1.00"}', name="whole")
    assert (whole["MAP-CASE"]["price"], whole["MAP-CASE"]["sale_price"]) == ("21.00", None)
    no_sales = jsonl(demo, "price: {use_sale_price: false}", name="nosale")
    assert no_sales["BOTTLE-STEEL-750"]["sale_price"] is None
    assert no_sales["BOTTLE-STEEL-750"]["price"] == "29.90"


def test_sale_price_above_price_never_reaches_google(demo: Path) -> None:
    assert run_cli("-w", demo, "price", "set", "MUG-ENAMEL", "20.00", "--sale", "25.00").code == 0
    configure(demo, "google: {type: google_merchant}")
    export(demo, "google")
    items = google_items(demo / "feeds" / "google.xml")
    assert items["MUG-ENAMEL"]["price"] == "20.00 USD"
    assert "sale_price" not in items["MUG-ENAMEL"]
    assert items["BOTTLE-STEEL-750"]["sale_price"] == "24.90 USD"
