"""Every default template, rendered from the demo catalog, yields a file its channel accepts;
values are escaped for the format (XML, CSV with a formula guard, TSV, JSON)."""

from __future__ import annotations

import csv
import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED, run_cli, write_config
from tests.feeds.helpers import catalog, sql
from tests.google_rules import check_google_tsv, check_google_xml, check_local_inventory

G = "{http://base.google.com/ns/1.0}"
AMAZON_SPECS = SHARED / "specs" / "amazon"
SHOP = """\
version: 1
shop:
  name: Northwind Outfitters
  url: https://shop.example.com
  currency: USD
  country: US
  language: en
"""
META_REQUIRED = (
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
    "brand",
)
PRICE_RE = re.compile(r"^\d+\.\d{2} [A-Z]{3}$")


def configure(ws: Path, channels: str) -> None:
    body = textwrap.indent(textwrap.dedent(channels).strip("\n"), "  ")
    write_config(ws, SHOP + "channels:\n" + body + "\n")


def export(ws: Path, *channels: str) -> None:
    result = run_cli("-w", ws, "export", *channels)
    assert result.code == 0, result.output


def stock_of(ws: Path, sku: str) -> dict[str, int]:
    result = run_cli("-w", ws, "catalog", "show", sku, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)["stock"]


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


# --- Google ----------------------------------------------------------------------------------
def test_google_merchant_xml(demo: Path) -> None:
    configure(demo, "google: {type: google_merchant, output: feeds/google.xml}")
    export(demo, "google")
    feed = demo / "feeds" / "google.xml"
    assert check_google_xml(feed) == []
    items = ET.parse(feed).getroot().findall("channel/item")
    assert len(items) == 60


def test_google_merchant_tsv(demo: Path) -> None:
    configure(demo, "gtsv: {type: google_merchant_tsv, output: feeds/google.tsv}")
    export(demo, "gtsv")
    feed = demo / "feeds" / "google.tsv"
    assert check_google_tsv(feed) == []
    rows = read_csv(feed, "\t")
    assert len(rows) == 60
    mug = next(r for r in rows if r["id"] == "MUG-ENAMEL")
    assert mug["price"] == "14.00 USD"
    assert "<" not in mug["description"]  # HTML stripped for Google


def test_google_local_inventory(demo: Path) -> None:
    configure(
        demo,
        """\
        local:
          type: google_local_inventory
          output: feeds/local.tsv
          stock: {locations: [store, warehouse]}
        """,
    )
    export(demo, "local")
    feed = demo / "feeds" / "local.tsv"
    assert check_local_inventory(feed) == []
    rows = read_csv(feed, "\t")
    products = {sku for sku, r in catalog(demo).items() if r["status"] == "active"}
    assert len(products) == 60
    # one row per SKU and store, nothing else
    pairs = [(r["id"], r["store_code"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 2 * len(products)
    assert {sku for sku, _ in pairs} == products
    assert {store for _, store in pairs} == {"store", "warehouse"}
    for sku in ("MUG-ENAMEL", "HEADLAMP-200", "KNIFE-FOLD", "TEE-MERINO-BLA-M"):
        stock = stock_of(demo, sku)
        for row in (r for r in rows if r["id"] == sku):
            quantity = stock[row["store_code"]]
            assert int(row["quantity"]) == quantity, (sku, row)
            assert row["availability"] == ("in_stock" if quantity > 0 else "out_of_stock")
    assert stock_of(demo, "HEADLAMP-200") == {"store": 10, "warehouse": 0}


def test_google_local_inventory_for_the_shop_floor_only(demo: Path) -> None:
    configure(
        demo,
        """\
        local:
          type: google_local_inventory
          output: feeds/local.tsv
          stock: {locations: [store]}
        """,
    )
    export(demo, "local")
    rows = read_csv(demo / "feeds" / "local.tsv", "\t")
    assert {r["store_code"] for r in rows} == {"store"} and len(rows) == 60
    assert check_local_inventory(demo / "feeds" / "local.tsv") == []


# --- Meta ------------------------------------------------------------------------------------
def test_meta_catalog_csv(demo: Path) -> None:
    configure(demo, "meta: {type: meta_catalog, output: feeds/meta.csv}")
    export(demo, "meta")
    rows = read_csv(demo / "feeds" / "meta.csv")
    assert len(rows) == 60
    assert len({r["id"] for r in rows}) == 60
    quantities = {sku: r["quantity"] for sku, r in catalog(demo).items()}
    for row in rows:
        for column in META_REQUIRED:
            assert row[column].strip(), (row["id"], column)
        assert row["availability"] in ("in stock", "out of stock"), row
        assert row["condition"] in ("new", "refurbished", "used")
        assert PRICE_RE.match(row["price"]), row["price"]
        assert row["sale_price"] == "" or PRICE_RE.match(row["sale_price"])
        assert row["link"].startswith("https://") and row["image_link"].startswith("https://")
        expected = "in stock" if quantities[row["id"]] > 0 else "out of stock"
        assert row["availability"] == expected, row["id"]
        assert int(row["quantity_to_sell_on_facebook"]) == quantities[row["id"]]
    bottle = next(r for r in rows if r["id"] == "BOTTLE-STEEL-750")
    assert (bottle["price"], bottle["sale_price"]) == ("29.90 USD", "24.90 USD")
    knife = next(r for r in rows if r["id"] == "KNIFE-FOLD")
    assert knife["availability"] == "out of stock"


# --- Amazon ----------------------------------------------------------------------------------
def _amazon_validators():  # -> tuple[Draft7Validator, Draft7Validator]
    """The feed schema and the message schema, the message schema resolvable by the name the
    feed schema uses for it (its $ref, where it has one), all from local files."""
    if not (AMAZON_SPECS / "listings-feed-schema-v2.json").exists():
        pytest.skip(f"Amazon's JSON schemas are not available in {AMAZON_SPECS}")
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    feed_schema = json.loads((AMAZON_SPECS / "listings-feed-schema-v2.json").read_text())
    message_schema = json.loads((AMAZON_SPECS / "listings-feed-message-schema-v2.json").read_text())
    message = Resource.from_contents(message_schema, default_specification=DRAFT7)
    names = {
        "listings-feed-message-schema-v2.json",
        (AMAZON_SPECS / "listings-feed-message-schema-v2.json").as_uri(),
    }
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(feed_schema)
    names.update(r.split("#")[0] for r in refs if "listings-feed-message" in r)
    registry = Registry().with_resources((name, message) for name in names)
    Draft7Validator.check_schema(feed_schema)
    Draft7Validator.check_schema(message_schema)
    return (
        Draft7Validator(feed_schema, registry=registry),
        Draft7Validator(message_schema, registry=registry),
    )


def test_amazon_listings_feed_matches_amazons_schema(demo: Path) -> None:
    feed_validator, message_validator = _amazon_validators()
    configure(
        demo,
        """\
        amazon:
          type: amazon_listings
          output: feeds/amazon.json
          settings: {seller_id: A1EXAMPLE, marketplace_id: ATVPDKIKX0DER}
          price: {markup_percent: 15, round: "0.99"}
          stock: {buffer: 2, cap: 10}
        """,
    )
    export(demo, "amazon")
    document = json.loads((demo / "feeds" / "amazon.json").read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in feed_validator.iter_errors(document)]
    assert errors == []
    for message in document["messages"]:
        assert [e.message for e in message_validator.iter_errors(message)] == []
    assert document["header"]["sellerId"] == "A1EXAMPLE"
    messages = {m["sku"]: m for m in document["messages"]}
    assert len(messages) == 60
    assert [m["messageId"] for m in document["messages"]] == list(range(1, 61))
    mug = messages["MUG-ENAMEL"]["attributes"]
    offer = mug["purchasable_offer"][0]
    assert offer["currency"] == "USD"
    assert offer["our_price"][0]["schedule"][0]["value_with_tax"] == pytest.approx(16.99)
    assert mug["fulfillment_availability"][0]["quantity"] == 10  # 52 - 2, capped at 10
    conditions = _amazon_condition_types()
    for m in document["messages"]:
        assert m["attributes"]["condition_type"][0]["value"] in conditions, m["sku"]


def test_example_amazon_feed_passes_the_same_validator() -> None:
    """The validator itself works: Amazon's own example passes, a broken copy does not."""
    feed_validator, _ = _amazon_validators()
    example = json.loads((AMAZON_SPECS / "listings-feed-schema-v2.example.json").read_text())
    assert list(feed_validator.iter_errors(example)) == []
    example["messages"][0].pop("sku")
    assert list(feed_validator.iter_errors(example)) != []


def _amazon_condition_types() -> set[str]:
    """Amazon's condition values, from the Listings Items API model (conditionType enum)."""
    model = json.loads((AMAZON_SPECS / "listingsItems_2021-08-01.json").read_text())
    summary = model["definitions"]["ItemSummaryByMarketplace"]["properties"]
    return set(summary["conditionType"]["enum"])


@pytest.mark.parametrize("condition", ["used", "refurbished"])
def test_amazon_condition_of_refurbished_and_used_products(demo: Path, condition: str) -> None:
    _amazon_validators()  # skips when the specs are absent
    sql(demo, "UPDATE products SET condition = ?", condition)
    configure(
        demo,
        "amazon: {type: amazon_listings, output: feeds/amazon.json, "
        "settings: {seller_id: A1EXAMPLE}}",
    )
    export(demo, "amazon")
    document = json.loads((demo / "feeds" / "amazon.json").read_text(encoding="utf-8"))
    values = {m["attributes"]["condition_type"][0]["value"] for m in document["messages"]}
    assert values <= _amazon_condition_types()


# --- generic CSV and JSON Lines --------------------------------------------------------------
def test_generic_csv_formula_guard_and_quoting(demo: Path) -> None:
    sql(
        demo,
        "UPDATE products SET title = '=HYPERLINK(\"http://evil.example\")' "
        "WHERE sku = 'MUG-ENAMEL'",
    )
    sql(
        demo,
        "UPDATE products SET title = '+1 Cup', description = ? WHERE sku = 'SEAT-PAD'",
        'Line one, with a comma\nLine "two"; quoted',
    )
    configure(demo, "c: {type: csv, output: feeds/c.csv}")
    export(demo, "c")
    rows = {r["sku"]: r for r in read_csv(demo / "feeds" / "c.csv")}
    assert len(rows) == 60
    assert rows["MUG-ENAMEL"]["title"] == '\'=HYPERLINK("http://evil.example")'
    assert rows["SEAT-PAD"]["title"] == "'+1 Cup"
    assert rows["SEAT-PAD"]["description"] == 'Line one, with a comma\nLine "two"; quoted'
    assert rows["BOTTLE-STEEL-750"]["price"] == "29.90"
    assert rows["BOTTLE-STEEL-750"]["sale_price"] == "24.90"
    assert rows["MUG-ENAMEL"]["sale_price"] == ""
    # the HTML of the seller's description is kept in a generic feed
    assert rows["MUG-ENAMEL"]["description"].startswith("<p>Steel mug")


def test_meta_csv_has_the_formula_guard_too_unless_the_channel_turns_it_off(demo: Path) -> None:
    sql(demo, "UPDATE products SET title = '@SUM(A1:A9)' WHERE sku = 'MUG-ENAMEL'")
    sql(demo, "UPDATE products SET title = '-20% Sale, Tee' WHERE sku = 'SEAT-PAD'")
    configure(demo, "meta: {type: meta_catalog, output: feeds/meta.csv}")
    export(demo, "meta")
    rows = {r["id"]: r for r in read_csv(demo / "feeds" / "meta.csv")}
    assert rows["MUG-ENAMEL"]["title"] == "'@SUM(A1:A9)"
    # a feed only Meta reads: the title stays as written (still quoted as CSV)
    configure(demo, "meta: {type: meta_catalog, output: feeds/meta.csv, "
              "content: {formula_guard: false}}")  # fmt: skip
    export(demo, "meta")
    rows = {r["id"]: r for r in read_csv(demo / "feeds" / "meta.csv")}
    assert rows["MUG-ENAMEL"]["title"] == "@SUM(A1:A9)"
    assert rows["SEAT-PAD"]["title"] == "-20% Sale, Tee"
    for value in ("maybe", "1.5"):
        configure(demo, f"meta: {{type: meta_catalog, content: {{formula_guard: {value}}}}}")
        result = run_cli("-w", demo, "export", "meta")
        assert result.code == 3 and "formula_guard" in result.output, result.output


def test_generic_jsonl(demo: Path) -> None:
    sql(
        demo,
        "UPDATE products SET title = ? WHERE sku = 'MUG-ENAMEL'",
        'Mug "Enamel", 350 ml \\ blue\tnew',
    )
    configure(demo, "j: {type: jsonl, output: feeds/j.jsonl}")
    export(demo, "j")
    lines = (demo / "feeds" / "j.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 60
    offers = {}
    for line in lines:
        offer = json.loads(line)
        offers[offer["sku"]] = offer
    rows = catalog(demo)
    for sku, offer in offers.items():
        assert isinstance(offer["price"], str) and offer["price"] == rows[sku]["price"]
        assert offer["sale_price"] == rows[sku]["sale_price"]
        assert offer["quantity"] == rows[sku]["quantity"]
    assert offers["BOTTLE-STEEL-750"]["price"] == "29.90"
    assert offers["BOTTLE-STEEL-750"]["sale_price"] == "24.90"
    assert offers["MUG-ENAMEL"]["title"] == 'Mug "Enamel", 350 ml \\ blue new'
    assert offers["MUG-ENAMEL"]["images"] == [
        "https://cdn.example.com/demo/mug-enamel-1.jpg",
        "https://cdn.example.com/demo/mug-enamel-2.jpg",
    ]


# --- escaping --------------------------------------------------------------------------------
def test_xml_special_and_control_characters(demo: Path) -> None:
    title = 'Tom & Jerry\'s "Best" 2 > 1 < 3\x07 mug'
    sql(
        demo,
        "UPDATE products SET title = ?, description = ? WHERE sku = 'MUG-ENAMEL'",
        title,
        "Bell\x07 & <b>whistle</b>\x1b",
    )
    configure(
        demo,
        """\
        google: {type: google_merchant, output: feeds/google.xml}
        raw: {type: google_merchant, output: feeds/raw.xml, content: {strip_html: false}}
        """,
    )
    export(demo)
    for name in ("google.xml", "raw.xml"):
        feed = demo / "feeds" / name
        text = feed.read_text(encoding="utf-8")
        assert "\x07" not in text and "\x1b" not in text
        root = ET.parse(feed).getroot()  # well-formed
        items = {i.findtext(f"{G}id"): i for i in root.iter("item")}
        assert items["MUG-ENAMEL"].findtext(f"{G}title") == 'Tom & Jerry\'s "Best" 2 > 1 < 3 mug'
        assert check_google_xml(feed) == []
    raw = ET.parse(demo / "feeds" / "raw.xml").getroot()
    mug = next(i for i in raw.iter("item") if i.findtext(f"{G}id") == "MUG-ENAMEL")
    assert mug.findtext(f"{G}description") == "Bell & <b>whistle</b>"
    stripped = ET.parse(demo / "feeds" / "google.xml").getroot()
    mug = next(i for i in stripped.iter("item") if i.findtext(f"{G}id") == "MUG-ENAMEL")
    assert mug.findtext(f"{G}description") == "Bell & whistle"


def test_tsv_values_never_break_the_row(demo: Path) -> None:
    sql(
        demo,
        "UPDATE products SET description = ? WHERE sku = 'MUG-ENAMEL'",
        "Tabs\there and\nnew lines\r\nthere",
    )
    configure(demo, "gtsv: {type: google_merchant_tsv, output: feeds/google.tsv}")
    export(demo, "gtsv")
    feed = demo / "feeds" / "google.tsv"
    assert check_google_tsv(feed) == []
    lines = feed.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 61
    header = lines[0].split("\t")
    assert all(len(line.split("\t")) == len(header) for line in lines)
    mug = next(
        dict(zip(header, line.split("\t"), strict=True))
        for line in lines
        if line.startswith("MUG-ENAMEL\t")
    )
    assert mug["description"] == "Tabs here and new lines there"
