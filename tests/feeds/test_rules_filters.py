"""A channel's filters (which products it lists), per-channel overrides and content rules (HTML,
title templates, the category map) as a seller sees them: edit channels.yaml, export, read the
feed file. Stock and price rules are in test_rules.py.

Every expected value below is worked out by hand from the demo catalog (read back through
`multichan catalog show --json`), never by calling the rules engine.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.feeds.helpers import catalog, configure, export, google_items, jsonl, show, sql

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


def csv_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["sku"]: row for row in csv.DictReader(fh)}


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
