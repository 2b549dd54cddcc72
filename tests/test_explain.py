"""`multichan explain SKU`: each rule step behind a SKU's price and quantity, with the engine's
own numbers. Tracing never changes an offer (traced and untraced offers are equal on every
demo product under many rule sets, memoised prices and the summed-stock path included); the
table shows each step's value for a SKU with every rule configured and ends at what `export`
writes; stock moves, committed units, bundles, overrides and left-out SKUs are explained;
unknown SKUs and channels exit 2 with the names to use."""

from __future__ import annotations

import csv
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config

SHOP = """\
version: 1
shop:
  name: Northwind
  url: https://shop.example.com
  link_template: "https://shop.example.com/products/{handle}"
  currency: USD
channels:
"""
EVERY_BODY = """\
    type: csv
    price:
      currency: EUR
      rates: {USD: "0.92"}
      markup_percent: 15
      add: "0.50"
      round: "0.99"
      min_price: 30
    stock:
      locations: [warehouse]
      buffer: 2
      percent: 50
      cap: 4
      out_of_stock_below: 2
"""
EVERY_RULE = "  every:\n    output: feeds/every.csv\n" + EVERY_BODY
RULE_SETS = {
    "plain": "    type: csv\n",
    "every": EVERY_BODY,
    "rounded": "    type: csv\n    price: {round: '0.95', markup_percent: 7}\n"
    "    stock: {percent: 30, untracked_quantity: 4}\n",
    "nickel": "    type: csv\n    price: {round: '0.05', add: '-1.13', min_price: 12}\n"
    "    stock: {locations: [store], cap: 1}\n",
    "whole": "    type: csv\n    price: {round: '1.00', use_sale_price: false}\n"
    "    stock: {out_of_stock_below: 20}\n",
    "filtered": "    type: csv\n    filters:\n      in_stock_only: true\n      price_min: 20\n"
    "      price_max: 80\n      exclude_product_types: [Apparel]\n",
    "tagged": "    type: csv\n    filters: {include_tags: [outdoor], status: [active, draft]}\n"
    "    content: {title: '{{ brand }} {{ title }}'}\n",
    "yen": "    type: csv\n    price: {currency: JPY, rates: {USD: 151.3}, markup_percent: 3}\n",
    "floor": "    type: csv\n    price: {min_price: 95}\n",
}


def config_text(*names: str) -> str:
    return SHOP + "".join(f"  {n}:\n    output: feeds/{n}.csv\n{RULE_SETS[n]}" for n in names)


def explained(ws: Path, sku: str, *channels: str) -> dict[str, Any]:
    args = [a for c in channels for a in ("--channel", c)]
    result = run_cli("-w", ws, "explain", sku, *args, "--json")
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def by_channel(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["channel"]: c for c in doc["channels"]}


def steps_of(channel: dict[str, Any]) -> dict[str, Any]:
    return {s["step"]: s for s in channel["steps"]}


def table_rows(text: str, title: str) -> dict[str, tuple[str, str]]:
    """The rows (step -> (rule, value)) of the table titled ``title`` in ``text``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[start + 4 :]:
        if not line.startswith("│"):
            break
        step, rule, value = (cell.strip() for cell in line.strip("│").split("│"))
        rows[step] = (rule, value)
    return rows


def commit(ws: Path, sku: str, location: str, units: int) -> None:
    """An open order line holding ``units`` of ``sku``, through the stock ledger."""
    from multichan.catalog import ledger
    from multichan.catalog.schema import open_catalog

    db = open_catalog(ws / "catalog.db")
    with db.conn:
        ledger.move(db, sku, location, reason="order", committed=units, channel="shop",
                    order_id="1001", line_id="L1", note="shop order #1001")  # fmt: skip
    db.close()


def sql(ws: Path, statement: str, params: list[Any]) -> None:
    with sqlite3.connect(ws / "catalog.db") as conn:
        conn.execute(statement, params)


# --- the engine: tracing never changes an offer -------------------------------------------------
def test_traced_offers_equal_untraced_ones_under_every_rule_set(demo: Path) -> None:
    from multichan.catalog.schema import open_catalog
    from multichan.catalog.store import iter_catalog
    from multichan.config import load
    from multichan.feeds.run import known_types
    from multichan.offers import load_overrides, rules_for

    sql(demo, "UPDATE products SET stock_tracking = 'untracked' WHERE sku LIKE 'MUG%'", [])
    sql(demo, "UPDATE products SET stock_tracking = 'continue' WHERE sku LIKE 'CAP%'", [])
    sql(demo, "UPDATE products SET status = 'draft' WHERE sku LIKE 'KNIFE%'", [])
    commit(demo, "BLANKET-WOOL", "warehouse", 5)
    write_config(demo, config_text(*RULE_SETS))
    for name in RULE_SETS:
        sql(demo, "INSERT INTO overrides (channel, sku, price, title) VALUES (?, ?, ?, ?)",
            [name, "LANTERN-LED", "41.00", "Override lantern"])  # fmt: skip
        sql(demo, "INSERT INTO overrides (channel, sku, excluded) VALUES (?, ?, 1)",
            [name, "BOTTLE-STEEL-750"])  # fmt: skip
    config = load(demo / "channels.yaml", known_types())
    db = open_catalog(demo / "catalog.db")
    products = list(iter_catalog(db))
    compared = traced_prices = 0
    for name, channel in config.channels.items():
        rules, overrides = rules_for(channel, config), load_overrides(db, name)
        plain = [_attempt(rules.offer, p, overrides.get(p["sku"])) for p in products]
        summed = rules.totals()  # the export's path: one total per SKU, summed by SQLite
        for p, untraced in zip(products, plain, strict=True):
            with rules.tracing() as steps:  # after the untraced pass: its prices are memoised
                traced = _attempt(rules.offer, p, overrides.get(p["sku"]))
            assert traced == untraced, (name, p["sku"])
            compared += 1
            if summed is not None and not isinstance(untraced, str):
                total = sum(q for loc, q in p["stock"].items()
                            if summed.locations is None or loc in summed.locations)  # fmt: skip
                row = tuple(map(p.get, rules.columns))
                fast = rules.offer_row(row, p["images"], total, overrides.get(p["sku"]))
                assert (fast and (fast.price, fast.sale_price, fast.quantity)) == (
                    untraced and (untraced.price, untraced.sale_price, untraced.quantity)
                ), (name, p["sku"])
            if untraced is None or isinstance(untraced, str):
                continue
            names = [s.step for s in steps]
            if p["sku"] == "LANTERN-LED":
                assert names.count("price: override") == 1
                continue
            # memoised or not, each price was computed while tracing, and traced to its value
            assert names[names.index("price: catalog") :][:6] == [
                "price: catalog", "price: conversion", "price: markup percent", "price: add",
                "price: round", "price: min price",
            ]  # fmt: skip
            assert steps[names.index("price: min price")].value == untraced.price
            traced_prices += 1
        # tracing over, the fast paths are back
        assert rules.trace is None and type(rules.prices) is dict and rules.prices
        assert rules.plain_stock == (name in ("plain", "filtered", "tagged", "yen", "floor"))
    assert compared == len(RULE_SETS) * len(products) and traced_prices > 200
    db.close()


def _attempt(make: Any, *args: Any) -> Any:
    """The offer, or the rules' message when they cannot make one."""
    try:
        return make(*args)
    except ValueError as exc:
        return str(exc)


# --- a SKU with every rule step: each value printed, the last one what export writes -----------
def test_every_step_of_a_fully_configured_channel_is_printed_with_its_value(demo: Path) -> None:
    write_config(demo, SHOP + EVERY_RULE)
    commit(demo, "BOTTLE-STEEL-750", "warehouse", 3)  # 55 on hand there, 8 at the store
    shown = run_cli("-w", demo, "explain", "BOTTLE-STEEL-750")
    assert shown.code == 0, shown.output
    rows = table_rows(shown.stdout, "every (csv)")
    assert rows["on hand"] == ("stock table", "store 8, warehouse 55")
    assert rows["committed"] == ("open order lines", "store 0, warehouse 3")
    assert rows["available"] == ("on hand - committed", "store 8, warehouse 52")
    assert rows["locations"] == ("warehouse", "warehouse 52")
    assert rows["locations summed"][1] == "52"
    assert rows["buffer"] == ("2", "50")
    assert rows["percent"] == ("50", "25")
    assert rows["cap"] == ("4", "4")
    assert rows["out of stock below"] == ("2", "4")
    assert rows["stock tracking"] == ("tracked", "4")
    # 29.90 USD -> x0.92 = 27.508 EUR -> +15% = 31.6342 -> +0.50 = 32.1342 -> .99 -> 32.99
    assert rows["price: catalog"] == ("USD", "29.90")
    assert rows["price: conversion"] == ("1 USD = 0.92 EUR", "27.5080")
    assert rows["price: markup percent"] == ("15", "31.634200")
    assert rows["price: add"] == ("0.50", "32.134200")
    assert rows["price: round"] == ("0.99", "32.99")
    assert rows["price: min price"] == ("30", "32.99")
    # the sale price, 24.90 USD: 22.908 -> 26.3442 -> 26.8442 -> 26.99 -> the 30.00 floor
    assert rows["sale price: round"] == ("0.99", "26.99")
    assert rows["sale price: min price"] == ("30", "30.00")
    assert rows["= offer price"] == ("EUR", "32.99")
    assert rows["= offer sale price"] == ("EUR", "30.00")
    assert rows["= offer quantity"] == ("in_stock", "4")
    assert "every: price 32.99 EUR (sale 30.00), quantity 4, in_stock" in shown.stdout
    assert "every: never exported" in shown.stdout

    exported = run_cli("-w", demo, "export", "every")
    assert exported.code == 0, exported.output
    with (demo / "feeds/every.csv").open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["sku"] == "BOTTLE-STEEL-750")
    assert (row["price"], row["sale_price"], row["currency"], row["quantity"]) == (
        "32.99", "30.00", "EUR", "4"
    )  # fmt: skip
    doc = by_channel(explained(demo, "BOTTLE-STEEL-750"))["every"]
    export = doc["last_sent"]["export"]
    assert export["path"].endswith("every.csv") and export["items"] > 40


def test_the_json_has_steps_offer_last_sent_and_ledger_per_channel(demo: Path) -> None:
    write_config(demo, config_text("plain", "every", "nickel"))
    run_cli("-w", demo, "stock", "adjust", "MUG-ENAMEL", "-2", "--location", "store")
    doc = explained(demo, "MUG-ENAMEL")
    assert [c["channel"] for c in doc["channels"]] == ["plain", "every", "nickel"]
    for c in doc["channels"]:
        assert {"steps", "offer", "last_sent", "ledger"} <= set(c)
        assert all(set(s) == {"step", "rule", "value"} for s in c["steps"])
        final = [s for s in c["steps"] if s["step"] == "out of stock below"][-1]
        assert final["value"] == c["offer"]["quantity"]
    chans = by_channel(doc)
    # the ledger lines behind each channel's quantity: newest first, at the locations it counts
    assert chans["plain"]["ledger"][0]["reason"] == "manual"
    assert chans["plain"]["ledger"][0]["on_hand_change"] == -2
    assert {m["location"] for m in chans["every"]["ledger"]} == {"warehouse"}
    assert {m["location"] for m in chans["nickel"]["ledger"]} == {"store"}
    assert chans["nickel"]["offer"]["quantity"] == 1  # cap 1
    assert steps_of(chans["nickel"])["cap"] == {"step": "cap", "rule": 1, "value": 1}
    assert [s["ledger_agrees"] for s in doc["stock"]] == [True, True]
    assert doc["product"]["sku"] == "MUG-ENAMEL" and doc["product"]["price"] == "14.00"
    only = explained(demo, "MUG-ENAMEL", "nickel")
    assert [c["channel"] for c in only["channels"]] == ["nickel"]
    assert run_cli("-w", demo, "explain", "MUG-ENAMEL", "--moves", "1", "--json").code == 0
    one = json.loads(run_cli("-w", demo, "explain", "MUG-ENAMEL", "--moves", "1", "--json").stdout)
    assert [len(c["ledger"]) for c in one["channels"]] == [1, 1, 1]


def test_untracked_and_continue_stock_and_an_override_price_are_steps(demo: Path) -> None:
    write_config(demo, config_text("rounded"))
    sql(demo, "UPDATE products SET stock_tracking = 'untracked' WHERE sku = 'MUG-ENAMEL'", [])
    sql(demo, "UPDATE products SET stock_tracking = 'continue' WHERE sku = 'KNIFE-FOLD'", [])
    sql(demo, "INSERT INTO overrides (channel, sku, price) VALUES ('rounded', 'MUG-ENAMEL', "
        "'9.50')", [])  # fmt: skip
    mug = by_channel(explained(demo, "MUG-ENAMEL"))["rounded"]
    steps = steps_of(mug)
    assert steps["untracked: untracked quantity"]["value"] == 4 == mug["offer"]["quantity"]
    assert steps["price: override"] == {"step": "price: override", "rule": "9.50",
                                        "value": "9.50"}  # fmt: skip
    assert "price: catalog" not in steps and mug["offer"]["price"] == "9.50"
    knife = steps_of(by_channel(explained(demo, "KNIFE-FOLD"))["rounded"])
    assert knife["stock tracking"] == {"step": "stock tracking", "rule": "continue", "value": 0}
    assert knife["continue: untracked quantity"]["value"] == 4


def test_a_sale_price_the_rules_lift_to_the_price_is_dropped_and_says_so(demo: Path) -> None:
    write_config(demo, config_text("floor"))
    floor = by_channel(explained(demo, "BLANKET-WOOL"))["floor"]  # 89.00 and 79.00: both 95
    steps = steps_of(floor)
    assert steps["price: min price"]["value"] == "95.00"
    assert steps["sale price: min price"]["value"] == "95.00"
    assert steps["sale price: dropped"]["rule"] == "not below 95.00"
    assert floor["offer"]["sale_price"] is None and floor["outcome"].startswith("price 95.00 USD,")


def test_a_left_out_sku_says_why(demo: Path) -> None:
    write_config(demo, config_text("filtered", "plain"))
    sql(demo, "UPDATE products SET status = 'draft' WHERE sku = 'BLANKET-WOOL'", [])
    chans = by_channel(explained(demo, "BLANKET-WOOL"))
    assert chans["plain"]["offer"] is None
    assert chans["plain"]["outcome"] == "left out: filters.status: status 'draft' is not active"
    knife = by_channel(explained(demo, "KNIFE-FOLD"))["filtered"]  # no stock anywhere
    assert knife["outcome"] == "left out: filters.in_stock_only: out of stock"
    shown = run_cli("-w", demo, "explain", "KNIFE-FOLD", "--channel", "filtered")
    assert "filtered: left out: filters.in_stock_only: out of stock" in shown.stdout
    write_config(demo, config_text("filtered", "tagged"))
    hoodie = by_channel(explained(demo, "HOODIE-FLEECE-GRE-S"))
    assert hoodie["filtered"]["outcome"] == (
        "left out: filters.exclude_product_types: product type 'Apparel > Outerwear'"
    )
    assert hoodie["tagged"]["outcome"] == (
        "left out: filters.include_tags / exclude_tags: tags ['apparel', 'demo']"
    )
    sql(demo, "INSERT INTO overrides (channel, sku, excluded) VALUES ('tagged', 'MUG-ENAMEL', 1)",
        [])  # fmt: skip
    mug = by_channel(explained(demo, "MUG-ENAMEL"))
    assert mug["tagged"]["outcome"] == "left out: excluded by the overrides table"
    assert mug["filtered"]["offer"] is None  # 14.00 is below its price_min of 20
    assert mug["filtered"]["outcome"] == (
        "left out: filters.price_min / price_max: price 14.00 is outside 20 - 80"
    )


def test_a_price_the_rules_cannot_convert_is_explained_not_fatal(demo: Path) -> None:
    write_config(demo, SHOP + "  eu:\n    type: csv\n    output: feeds/eu.csv\n"
                 "    price: {currency: EUR, rates: {USD: 0.92}}\n")  # fmt: skip
    sql(demo, "UPDATE products SET currency = 'GBP' WHERE sku = 'MUG-ENAMEL'", [])
    shown = run_cli("-w", demo, "explain", "MUG-ENAMEL")
    assert shown.code == 0, shown.output
    assert "eu: left out: price in GBP, channel sells in EUR: add price.rates.GBP" in shown.stdout
    rows = table_rows(shown.stdout, "eu (csv)")
    assert rows["price: catalog"] == ("GBP", "14.00")
    assert rows["price: conversion"] == ("no rate GBP -> EUR", "-")


def test_a_bundle_shows_its_components_and_the_sets_they_make(demo: Path) -> None:
    from multichan.catalog import bundles
    from multichan.catalog.schema import open_catalog

    write_config(demo, config_text("plain", "nickel"))
    db = open_catalog(demo / "catalog.db")
    bundles.define(db, "BLANKET-WOOL", [("MUG-ENAMEL", 2), ("LANTERN-LED", 1)])
    db.close()
    commit(demo, "MUG-ENAMEL", "warehouse", 6)  # 40 - 6 = 34 there: 17 sets
    doc = explained(demo, "BLANKET-WOOL")
    parts = {c["sku"]: c for c in doc["components"]}
    assert parts["MUG-ENAMEL"]["available"] == {"store": 12, "warehouse": 34}
    assert parts["MUG-ENAMEL"]["sets"] == {"store": 6, "warehouse": 17}
    assert parts["LANTERN-LED"]["sets"] == {"store": 3, "warehouse": 20}
    plain = by_channel(doc)["plain"]
    steps = steps_of(plain)
    assert steps["bundle: fewest sets"]["value"] == {"store": 3, "warehouse": 17}
    assert steps["available"]["value"] == {"store": 3, "warehouse": 17}
    assert plain["offer"]["quantity"] == 20
    assert {m["sku"] for m in plain["ledger"]} == {"MUG-ENAMEL", "LANTERN-LED"}
    assert by_channel(doc)["nickel"]["offer"]["quantity"] == 1
    assert {s["sku"] for s in doc["stock"]} == {"MUG-ENAMEL", "LANTERN-LED"}
    exported = run_cli("-w", demo, "export", "plain")
    assert exported.code == 0, exported.output
    with (demo / "feeds/plain.csv").open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["sku"] == "BLANKET-WOOL")
    assert row["quantity"] == "20"
    shown = run_cli("-w", demo, "explain", "BLANKET-WOOL", "-c", "plain")
    assert "BLANKET-WOOL is a bundle" in shown.stdout
    assert "component MUG-ENAMEL x2" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NO-SUCH-SKU"], "no product with SKU 'NO-SUCH-SKU' in the catalog"),
        (["MUG-ENAMEL", "--channel", "evry"],
         "no channel 'evry' in channels.yaml (configured: plain, every); did you mean 'every'?"),
    ],
)  # fmt: skip
def test_an_unknown_sku_or_channel_is_a_usage_error(
    demo: Path, args: list[str], message: str
) -> None:
    write_config(demo, config_text("plain", "every"))
    result = run_cli("-w", demo, "explain", *args)
    assert result.code == 2  # README: usage error (bad option or argument, unknown SKU)
    assert message in " ".join(result.stderr.split())
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    as_json = run_cli("-w", demo, "explain", *args, "--json")
    assert as_json.code == 2 and json.loads(as_json.stdout)["exit_code"] == 2


def test_explain_writes_nothing(demo: Path) -> None:
    write_config(demo, config_text("every"))
    before = (demo / "catalog.db").read_bytes()
    assert run_cli("-w", demo, "explain", "MUG-ENAMEL").code == 0
    assert (demo / "catalog.db").read_bytes() == before
    assert not (demo / "feeds/every.csv").exists()


def test_decimal_rules_read_as_given() -> None:
    from multichan.cli.explain_cmd import shown

    assert shown({"store": 2, "warehouse": Decimal("1.50")}) == "store 2, warehouse 1.50"
    assert shown(None) == "-" and shown([]) == "(none)"
