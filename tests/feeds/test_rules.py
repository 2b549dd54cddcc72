"""A channel's rules as a seller sees them: edit channels.yaml, export, read the feed file.

Every expected price and quantity below is worked out by hand from the demo catalog (read back
through `multichan catalog show --json`), never by calling the rules engine.
"""

from __future__ import annotations

import csv
import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from tests.feeds.helpers import catalog, configure, show, sql

G = "{http://base.google.com/ns/1.0}"
APPAREL_GROUPS = ("TEE-MERINO", "HOODIE-FLEECE", "SOCK-HIKE", "JACKET-RAIN", "CAP-WOOL",
                  "PANTS-TREK", "SHIRT-FLANNEL")  # fmt: skip
SIMPLE_ACTIVE = {
    "MUG-ENAMEL",
    "BOTTLE-STEEL-750",
    "LANTERN-LED",
    "KNIFE-FOLD",
    "BLANKET-WOOL",
    "STOVE-GAS",
    "MAP-CASE",
    "HEADLAMP-200",
    "SEAT-PAD",
    "FIRST-AID",
    "TARP-3X3",
}


# --- helpers ---------------------------------------------------------------------------------


def export(ws: Path, *channels: str, code: int = 0) -> str:
    result = run_cli("-w", ws, "export", *channels)
    assert result.code == code, result.output
    return result.output


def jsonl(ws: Path, rules: str = "", *, name: str = "j", defaults: str = "") -> dict[str, dict]:
    """Export one JSON Lines channel with ``rules`` (YAML under the channel) -> offers by SKU."""
    configure(
        ws,
        f"{name}:\n  type: jsonl\n  output: feeds/{name}.jsonl\n"
        + textwrap.indent(textwrap.dedent(rules), "  "),
        defaults,
    )
    export(ws, name)
    lines = (ws / "feeds" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    offers = [json.loads(line) for line in lines]
    return {o["sku"]: o for o in offers}


def csv_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["sku"]: row for row in csv.DictReader(fh)}


def google_items(path: Path) -> dict[str, dict[str, str]]:
    root = ET.parse(path).getroot()
    items = {}
    for item in root.iter("item"):
        fields = {child.tag.removeprefix(G): child.text or "" for child in item}
        items[fields["id"]] = fields
    return items


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


# --- filters ---------------------------------------------------------------------------------
def test_status_filter(demo: Path) -> None:
    assert show(demo, "GIFT-CARD-50")["status"] == "draft"
    active = jsonl(demo, "", name="active")
    assert "GIFT-CARD-50" not in active and len(active) == 60
    both = jsonl(demo, "filters: {status: [active, draft]}", name="both")
    assert "GIFT-CARD-50" in both and len(both) == 61
    drafts = jsonl(demo, "filters: {status: [draft]}", name="drafts")
    assert set(drafts) == {"GIFT-CARD-50"}


def test_defaults_status_is_kept_when_a_channel_sets_other_filters(demo: Path) -> None:
    offers = jsonl(
        demo,
        "filters: {in_stock_only: true}",
        defaults="defaults:\n  filters:\n    status: [active, draft]\n",
    )
    assert "GIFT-CARD-50" in offers  # draft, 100 in the store
    assert "KNIFE-FOLD" not in offers  # sold out


def test_product_type_filters(demo: Path) -> None:
    sql(
        demo,
        "UPDATE products SET product_type = 'Sporting Goods > Camping Gear' WHERE sku = 'MAP-CASE'",
    )
    no_apparel = jsonl(demo, 'filters: {exclude_product_types: ["Apparel"]}', name="noapp")
    assert set(no_apparel) == SIMPLE_ACTIVE
    camping = jsonl(
        demo, 'filters: {include_product_types: ["Sporting Goods > Camping"]}', name="camping"
    )
    # "Sporting Goods > Camping Gear" is not within "Sporting Goods > Camping"
    assert set(camping) == {
        "LANTERN-LED",
        "KNIFE-FOLD",
        "STOVE-GAS",
        "HEADLAMP-200",
        "SEAT-PAD",
        "TARP-3X3",
    }


def test_brand_filters(demo: Path) -> None:
    for sku in ("MUG-ENAMEL", "SEAT-PAD"):
        sql(demo, "UPDATE products SET brand = 'Acme' WHERE sku = ?", sku)
    acme = jsonl(demo, 'filters: {include_brands: ["ACME"]}', name="acme")
    assert set(acme) == {"MUG-ENAMEL", "SEAT-PAD"}
    others = jsonl(demo, 'filters: {exclude_brands: ["acme"]}', name="others")
    assert len(others) == 58 and not {"MUG-ENAMEL", "SEAT-PAD"} & set(others)


def test_sku_filters(demo: Path) -> None:
    offers = jsonl(demo, "filters: {exclude_skus: [MUG-ENAMEL, TARP-3X3]}", name="ex")
    assert len(offers) == 58 and "MUG-ENAMEL" not in offers and "TARP-3X3" not in offers
    only = jsonl(demo, "filters: {include_skus: [MUG-ENAMEL, TARP-3X3]}", name="inc")
    assert set(only) == {"MUG-ENAMEL", "TARP-3X3"}


def test_in_stock_only(demo: Path) -> None:
    rows = catalog(demo)
    offers = jsonl(demo, "filters: {in_stock_only: true}", name="instock")
    expected = {sku for sku, r in rows.items() if r["status"] == "active" and r["quantity"] > 0}
    assert "KNIFE-FOLD" in rows and "KNIFE-FOLD" not in expected
    assert set(offers) == expected
    # with a buffer, "in stock" means in stock after the buffer
    buffered = jsonl(demo, "filters: {in_stock_only: true}\nstock: {buffer: 2}", name="buf")
    assert "TARP-3X3" in buffered  # 8 - 2
    sold_out_after_buffer = {sku for sku, r in rows.items() if 0 < r["quantity"] <= 2}
    assert sold_out_after_buffer, "the demo should have SKUs with 1 or 2 units"
    assert not sold_out_after_buffer & set(buffered)
    assert set(buffered) == {sku for sku in expected if rows[sku]["quantity"] > 2}


def test_price_min_and_max(demo: Path) -> None:
    rows = catalog(demo)
    offers = jsonl(demo, "filters: {price_min: 20, price_max: 60}", name="band")

    def shown(r: dict[str, Any]) -> float:
        return float(r["sale_price"] or r["price"])

    inside = {
        s
        for s, r in rows.items()
        if r["status"] == "active" and 20 <= float(r["price"]) <= 60 and 20 <= shown(r) <= 60
    }
    outside = {
        s
        for s, r in rows.items()
        if not (20 <= float(r["price"]) <= 60) and not (20 <= shown(r) <= 60)
    }
    assert {"LANTERN-LED", "STOVE-GAS", "HEADLAMP-200"} <= inside
    assert {"MUG-ENAMEL", "TARP-3X3", "BLANKET-WOOL"} <= outside
    assert inside <= set(offers)
    assert not outside & set(offers)
    assert all(20 <= float(o["sale_price"] or o["price"]) <= 60 for o in offers.values())


def test_tag_filters(demo: Path) -> None:
    outdoor = jsonl(demo, "filters: {include_tags: [Outdoor]}", name="outdoor")
    assert set(outdoor) == SIMPLE_ACTIVE
    not_apparel = jsonl(demo, "filters: {exclude_tags: [apparel]}", name="notapp")
    assert set(not_apparel) == SIMPLE_ACTIVE
    apparel = jsonl(demo, "filters: {include_tags: [apparel]}", name="app")
    assert apparel and all(sku.startswith(APPAREL_GROUPS) for sku in apparel)


# --- per-channel overrides -------------------------------------------------------------------
def test_overrides_table(demo: Path) -> None:
    sql(demo, "INSERT INTO overrides (channel, sku, excluded) VALUES ('j', 'MUG-ENAMEL', 1)")
    sql(
        demo,
        "INSERT INTO overrides (channel, sku, price) VALUES ('j', 'BOTTLE-STEEL-750', '19.5')",
    )
    sql(
        demo,
        "INSERT INTO overrides (channel, sku, title) VALUES ('j', 'LANTERN-LED', "
        "'Lantern, special edition')",
    )
    sql(demo, "INSERT INTO overrides (channel, sku, excluded) VALUES ('other', 'SEAT-PAD', 1)")
    offers = jsonl(demo, 'price: {markup_percent: 15, round: "0.99"}')
    assert "MUG-ENAMEL" not in offers
    assert "SEAT-PAD" in offers  # excluded on another channel only
    # the override price is used as given (in cents): no markup, no rounding, no sale price
    assert offers["BOTTLE-STEEL-750"]["price"] == "19.50"
    assert offers["BOTTLE-STEEL-750"]["sale_price"] is None
    assert offers["LANTERN-LED"]["title"] == "Lantern, special edition"
    assert offers["TARP-3X3"]["price"] == "136.99"  # the others still get the rules
    assert len(offers) == 59


# --- content ---------------------------------------------------------------------------------
def test_strip_html_for_google_but_not_for_generic_csv(demo: Path) -> None:
    raw = show(demo, "MUG-ENAMEL")["description"]
    assert raw.startswith("<p>") and "&amp;" in raw
    configure(
        demo,
        """\
        google: {type: google_merchant}
        c: {type: csv, output: feeds/c.csv}
        stripped: {type: csv, output: feeds/stripped.csv, content: {strip_html: true}}
        """,
    )
    export(demo)
    google = google_items(demo / "feeds" / "google.xml")
    assert google["MUG-ENAMEL"]["description"] == (
        "Steel mug with a chip-resistant enamel coat & rolled rim. Dishwasher safe."
    )
    assert google["LANTERN-LED"]["description"] == "300 lumen\nUSB-C charging"
    assert csv_rows(demo / "feeds" / "c.csv")["MUG-ENAMEL"]["description"] == raw
    stripped = csv_rows(demo / "feeds" / "stripped.csv")["MUG-ENAMEL"]["description"]
    assert stripped == "Steel mug with a chip-resistant enamel coat & rolled rim. Dishwasher safe."


def test_strip_html_keeps_angle_brackets_that_are_not_tags(demo: Path) -> None:
    sql(demo, "UPDATE products SET title = 'Adapter USB-A <-> USB-C' WHERE sku = 'MUG-ENAMEL'")
    configure(demo, "google: {type: google_merchant}")
    export(demo, "google")
    assert google_items(demo / "feeds" / "google.xml")["MUG-ENAMEL"]["title"] == (
        "Adapter USB-A <-> USB-C"
    )


def test_title_template(demo: Path) -> None:
    offers = jsonl(demo, 'content:\n  title: "{{ brand }} {{ title }}"\n')
    assert offers["MUG-ENAMEL"]["title"] == "Northwind Outfitters Enamel Camp Mug 350 ml"
    assert offers["TEE-MERINO-BLA-M"]["title"] == (
        "Northwind Outfitters Merino T-Shirt - Black / M"
    )


def test_title_template_with_a_product_without_brand(demo: Path) -> None:
    sql(demo, "UPDATE products SET brand = NULL WHERE sku = 'MUG-ENAMEL'")
    offers = jsonl(demo, 'content:\n  title: "{{ brand }} {{ title }}"\n')
    assert offers["MUG-ENAMEL"]["title"] == "Enamel Camp Mug 350 ml"


def test_category_map(demo: Path) -> None:
    configure(
        demo,
        """\
        google:
          type: google_merchant
          content:
            category_map: {"Apparel": "166", "Apparel > Outerwear": "203"}
        """,
    )
    export(demo, "google")
    items = google_items(demo / "feeds" / "google.xml")
    assert items["TEE-MERINO-BLA-M"]["google_product_category"] == "166"
    assert items["SOCK-HIKE-OLI-L"]["google_product_category"] == "166"
    # the longest matching product type wins
    assert items["HOODIE-FLEECE-GRE-M"]["google_product_category"] == "203"
    assert items["JACKET-RAIN-BLU-S"]["google_product_category"] == "203"
    # products outside the map keep their own category
    assert items["MUG-ENAMEL"]["google_product_category"] == "2169"
