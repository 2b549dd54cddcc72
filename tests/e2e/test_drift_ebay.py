"""``multichan drift`` against the eBay double (every Inventory API request checked by Prism
against eBay's contract), end to end through the CLI: right after a push nothing drifted (a
SKU on sale too: eBay's one price is the sale price); a price and a quantity revised in Seller
Hub behind multichan's back are named by SKU and field (exit 4); ``drift --fix`` restores them
with one push (bulk_update_price_quantity only), after which ``drift`` exits 0; a deleted item is
missing (and made again by the fix), an ended listing is not for sale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.channels.ebay_conftest import INVENTORY, EbayDouble
from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json
from tests.e2e.test_ebay import ebay, state, write

__all__ = ["ebay"]  # the fixture
pytestmark = pytest.mark.slow
ITEMS, OFFERS = f"{INVENTORY}/inventory_item", f"{INVENTORY}/offer"
PRICE_QTY = f"{INVENTORY}/bulk_update_price_quantity"


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``multichan drift ebay --json ARGS``: its exit code and its document."""
    code, doc, _ = drift_json(ws, "ebay", *args)
    return code, doc


findings = drift_findings  # by (sku, field)


def pushed(ebay: EbayDouble, new_demo: Any) -> Path:
    ws = new_demo()
    write(ws, ebay.url)
    result = run_cli("-w", ws, "push", "ebay")
    assert result.code == 0, result.output
    ebay.requests.clear()
    return ws


def api_calls(ebay: EbayDouble) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in ebay.requests if "oauth2" not in r["path"]]


def test_nothing_drifted_right_after_a_push(ebay: EbayDouble, new_demo: Any) -> None:
    ws = pushed(ebay, new_demo)
    assert ebay.listing("BLANKET-WOOL")["price"] == "79.00"  # on sale: eBay's one price
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {}), doc
    [channel] = doc["channels"]
    assert channel["checked"] == len(ebay.items) > 50
    # a page of 200 inventory items, then getOffers per SKU (eBay has no bulk offer read)
    calls = api_calls(ebay)
    assert calls.count(("GET", ITEMS)) == -(-len(ebay.items) // 200)
    assert calls.count(("GET", OFFERS)) == len(ebay.items)
    assert len(calls) == calls.count(("GET", ITEMS)) + len(ebay.items)
    assert ebay.violations == []


def test_a_price_and_a_quantity_revised_in_seller_hub_are_named_and_fixed_with_one_push(
    ebay: EbayDouble, new_demo: Any
) -> None:
    ws = pushed(ebay, new_demo)
    expected = state(ebay)
    price = ebay.listing("MUG-ENAMEL")["price"]
    start = ebay.listing("LANTERN-LED")["quantity"]
    ebay.set_price("MUG-ENAMEL", "3.33")  # the seller, in Seller Hub
    ebay.set_quantity("LANTERN-LED", start + 5)

    code, doc = drift(ws)
    assert code == 4 and doc["drift"] == 2, doc
    found = findings(doc)
    assert set(found) == {("MUG-ENAMEL", "price"), ("LANTERN-LED", "quantity")}
    mug = found[("MUG-ENAMEL", "price")]
    assert (mug["finding"], mug["pushed"], mug["remote"], mug["offer"]) == (
        "changed",
        price,
        "3.33",
        price,
    )
    lantern = found[("LANTERN-LED", "quantity")]
    assert (lantern["finding"], lantern["pushed"], lantern["remote"]) == (
        "changed",
        start,
        start + 5,
    )

    ebay.requests.clear()
    fixed = run_cli("-w", ws, "drift", "ebay", "--fix")
    assert fixed.code == 0, fixed.output
    assert state(ebay) == expected  # both restored, nothing else moved
    # one push: a bulk_update_price_quantity per kind (the price of one, the stock of the
    # other), nothing relisted
    writes = [(r["method"], r["path"], r["body"]) for r in ebay.requests if r["method"] != "GET"]
    writes = [w for w in writes if "oauth2" not in w[1]]
    assert all(w[:2] == ("POST", PRICE_QTY) for w in writes)
    sent = sorted((e["sku"], sorted(e["offers"][0])) for w in writes for e in w[2]["requests"])
    assert sent == [
        ("LANTERN-LED", ["availableQuantity", "offerId"]),
        ("MUG-ENAMEL", ["offerId", "price"]),
    ]

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    assert run_cli("-w", ws, "drift", "ebay").code == 0
    assert ebay.violations == []


def test_a_deleted_item_is_missing_and_made_again_an_ended_listing_is_not_for_sale(
    ebay: EbayDouble, new_demo: Any
) -> None:
    ws = pushed(ebay, new_demo)
    singles = sorted(
        s for s in ebay.items if not ebay.listing(s)["group"] and ebay.listing(s)["quantity"]
    )
    gone, ended = singles[0], singles[1]
    ebay.delete(gone)
    ebay.end_listing(ended)

    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    assert found[(gone, None)]["finding"] == "missing"
    assert found[(ended, "listed")]["finding"] == "missing"
    assert len(found) == 2

    fixed = run_cli("-w", ws, "drift", "ebay", "--fix")
    assert gone in ebay.items and ebay.listing(gone)["listing_id"]  # listed again
    code, doc = drift(ws)
    left = findings(doc)
    assert (gone, None) not in left
    # the ended listing stays the seller's to relist (its listing id is kept): not for sale
    assert left == {(ended, "listed"): left[(ended, "listed")]} and code == 4
    assert fixed.code == 0, fixed.output  # the fix's push went through
    assert ebay.violations == []
