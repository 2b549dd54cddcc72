"""Feeds that update what a channel holds (Amazon's JSON_LISTINGS_FEED, Google local inventory)
send a SKU they stop offering with quantity 0, once: otherwise the channel keeps selling its
last count (issue 14, item 3)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import run_cli
from tests.feeds.helpers import sql
from tests.feeds.test_templates import _amazon_validators, configure
from tests.google_rules import check_local_inventory

AMAZON = """\
amazon:
  type: amazon_listings
  output: feeds/amazon.json
  settings: {seller_id: A1EXAMPLE, marketplace_id: ATVPDKIKX0DER}
"""
LOCAL = """\
local:
  type: google_local_inventory
  output: feeds/local.tsv
"""


def _export(ws: Path, channel: str, *more: str) -> dict:
    result = run_cli("-w", ws, "export", channel, "--json", *more)
    assert result.code == 0, result.output
    return json.loads(result.stdout)["channels"][0]


def _amazon(ws: Path) -> list[dict]:
    document = json.loads((ws / "feeds" / "amazon.json").read_text(encoding="utf-8"))
    feed, message = _amazon_validators()
    assert [e.message for e in feed.iter_errors(document)] == []
    for m in document["messages"]:
        assert [e.message for e in message.iter_errors(m)] == [], m["sku"]
    ids = [m["messageId"] for m in document["messages"]]
    assert ids == list(range(1, len(ids) + 1))
    return document["messages"]


def test_a_sku_archived_after_an_amazon_feed_is_sent_once_with_quantity_0(demo: Path) -> None:
    configure(demo, AMAZON)
    first = _export(demo, "amazon")
    assert first["withdrawn"] == 0 and len(_amazon(demo)) == first["items"]
    sql(demo, "UPDATE products SET status = 'archived' WHERE sku = 'MUG-ENAMEL'")
    second = _export(demo, "amazon")
    messages = _amazon(demo)
    assert second["withdrawn"] == 1 and len(messages) == second["items"] + 1
    gone = [m for m in messages if m["sku"] == "MUG-ENAMEL"]
    assert gone == [
        {
            "messageId": len(messages),
            "sku": "MUG-ENAMEL",
            "operationType": "PATCH",
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
                }
            ],
        }
    ]
    assert any("no longer offered: sent with quantity 0" in n["reason"] for n in second["notes"])
    # withdrawn once: the next feed no longer mentions it
    third = _export(demo, "amazon")
    assert third["withdrawn"] == 0
    assert "MUG-ENAMEL" not in {m["sku"] for m in _amazon(demo)}
    # offered again: an ordinary message with its count
    sql(demo, "UPDATE products SET status = 'active' WHERE sku = 'MUG-ENAMEL'")
    fourth = _export(demo, "amazon")
    back = [m for m in _amazon(demo) if m["sku"] == "MUG-ENAMEL"]
    assert fourth["withdrawn"] == 0 and back[0]["operationType"] == "UPDATE"


def test_a_check_or_a_refused_export_does_not_forget_what_was_sent(demo: Path) -> None:
    configure(demo, AMAZON)
    _export(demo, "amazon")
    sql(demo, "UPDATE products SET status = 'archived' WHERE sku = 'MUG-ENAMEL'")
    checked = _export(demo, "amazon", "--check")
    assert checked["withdrawn"] == 1
    sql(demo, "UPDATE products SET status = 'archived' WHERE sku != 'MUG-ENAMEL'")
    refused = run_cli("-w", demo, "export", "amazon", "--json")
    assert refused.code == 4  # nothing offered: the empty feed is refused, nothing recorded
    sql(demo, "UPDATE products SET status = 'active' WHERE sku != 'MUG-ENAMEL'")
    again = _export(demo, "amazon")
    assert again["withdrawn"] == 1
    assert [m["sku"] for m in _amazon(demo) if m["operationType"] == "PATCH"] == ["MUG-ENAMEL"]


def _rows(ws: Path) -> list[dict[str, str]]:
    path = ws / "feeds" / "local.tsv"
    assert check_local_inventory(path) == []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_local_inventory_zeroes_each_store_a_dropped_sku_was_listed_at(demo: Path) -> None:
    configure(demo, LOCAL)
    _export(demo, "local")
    stores = {r["store_code"] for r in _rows(demo) if r["id"] == "MUG-ENAMEL"}
    assert stores
    sql(demo, "UPDATE products SET status = 'draft' WHERE sku = 'MUG-ENAMEL'")
    result = _export(demo, "local")
    gone = [r for r in _rows(demo) if r["id"] == "MUG-ENAMEL"]
    assert result["withdrawn"] == 1
    assert {r["store_code"] for r in gone} == stores
    assert {(r["quantity"], r["availability"]) for r in gone} == {("0", "out_of_stock")}
    _export(demo, "local")
    assert [r for r in _rows(demo) if r["id"] == "MUG-ENAMEL"] == []


def test_an_updating_feed_template_without_a_withdrawn_macro_is_a_config_error(
    demo: Path,
) -> None:
    (demo / "templates").mkdir(exist_ok=True)
    (demo / "templates" / "my_amazon.json.j2").write_text(
        '{% macro item(o, index) %}{"sku": {{ o.sku }}}{% endmacro %}', encoding="utf-8"
    )
    configure(demo, AMAZON + "  template: my_amazon.json.j2\n")
    result = run_cli("-w", demo, "export", "amazon")
    assert result.code == 3, result.output
    assert "defines no" not in result.output
    assert "withdrawn(sku, stores, index) macro" in result.output
    assert "would keep selling its last quantity" in result.output
    assert not (demo / "feeds" / "amazon.json").exists()


def test_a_template_looping_over_offers_itself_withdraws_after_them(demo: Path) -> None:
    (demo / "templates").mkdir(exist_ok=True)
    (demo / "templates" / "own.tsv.j2").write_text(
        "store_code\tid\tquantity\n"
        "{% for o in offers %}{% for s, q in o.location_quantities.items() %}"
        "{{ s }}\t{{ o.sku }}\t{{ q }}\n{% endfor %}{% endfor %}"
        "{% for sku, stores in withdrawn %}{% for s in stores %}{{ s }}\t{{ sku }}\t0\n"
        "{% endfor %}{% endfor %}",
        encoding="utf-8",
    )
    configure(demo, LOCAL + "  template: own.tsv.j2\n")
    _export(demo, "local")
    before = {(r["store_code"], r["quantity"]) for r in _rows(demo) if r["id"] == "MUG-ENAMEL"}
    sql(demo, "UPDATE products SET status = 'archived' WHERE sku = 'MUG-ENAMEL'")
    assert _export(demo, "local")["withdrawn"] == 1
    after = {(r["store_code"], r["quantity"]) for r in _rows(demo) if r["id"] == "MUG-ENAMEL"}
    assert after == {(store, "0") for store, _ in before}
    # reading withdrawn first would withdraw what is still offered: refused
    (demo / "templates" / "own.tsv.j2").write_text(
        "{% for sku, stores in withdrawn %}{{ sku }}\n{% endfor %}"
        "{% for o in offers %}{{ o.sku }}\n{% endfor %}",
        encoding="utf-8",
    )
    result = run_cli("-w", demo, "export", "local")
    assert result.code == 3 and "reads withdrawn before it has looped over every offer" in (
        result.output
    )
