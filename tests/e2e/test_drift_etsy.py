"""``multichan drift`` against the Etsy double (every request checked by Prism against Etsy's
contract), end to end through the CLI: right after a push nothing drifted; a price and a
quantity changed on Etsy.com behind multichan's back are named by SKU and field (exit 4);
``drift --fix`` restores them with one push, after which ``drift`` exits 0; a deleted listing
is missing (and made again by the fix), a deactivated one is not for sale, a listing of the
seller's own is unknown and left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.channels.etsy_conftest import EtsyDouble
from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json
from tests.e2e.test_etsy import configure, etsy, etsy_state

__all__ = ["etsy"]  # the fixture
pytestmark = pytest.mark.slow
INVENTORY = r"/v3/application/listings/\d+/inventory"
LISTINGS = r"/v3/application/shops/\d+/listings"


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``multichan drift etsy --json ARGS``: its exit code and its document."""
    code, doc, _ = drift_json(ws, "etsy", *args)
    return code, doc


findings = drift_findings  # by (sku, field)


def pushed(etsy: EtsyDouble, shared_woo: Any, new_demo: Any) -> Path:
    ws = new_demo()
    configure(ws, etsy.url, shared_woo.url)
    result = run_cli("-w", ws, "push", "etsy")
    assert result.code == 0, result.output
    return ws


def test_nothing_drifted_right_after_a_push(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = pushed(etsy, shared_woo, new_demo)
    etsy.requests.clear()
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    [channel] = doc["channels"]
    assert channel["checked"] == len(etsy.by_sku()) > 50
    # read with the listings' inventory, a page per state: no request per listing
    assert etsy.calls("GET", INVENTORY) == []
    assert len(etsy.api_calls()) == len(etsy.calls("GET", LISTINGS)) == 5


def test_a_price_and_a_quantity_changed_on_etsy_are_named_and_fixed_with_one_push(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = pushed(etsy, shared_woo, new_demo)
    expected = etsy_state(etsy)
    start = etsy.by_sku()["LANTERN-LED"]["quantity"]
    etsy.tamper("MUG-ENAMEL", price="3.33")  # the seller, on Etsy.com
    etsy.tamper("LANTERN-LED", quantity=start + 5)

    code, doc = drift(ws)
    assert code == 4 and doc["drift"] == 2, doc
    found = findings(doc)
    assert set(found) == {("MUG-ENAMEL", "price"), ("LANTERN-LED", "quantity")}
    price = found[("MUG-ENAMEL", "price")]
    assert (price["finding"], price["pushed"], price["remote"], price["offer"]) == (
        "changed", "14.00", "3.33", "14.00"
    )  # fmt: skip
    quantity = found[("LANTERN-LED", "quantity")]
    assert (quantity["finding"], quantity["pushed"], quantity["remote"]) == (
        "changed", start, start + 5
    )  # fmt: skip

    etsy.requests.clear()
    fixed = run_cli("-w", ws, "drift", "etsy", "--fix")
    assert fixed.code == 0, fixed.output
    assert etsy_state(etsy) == expected  # both restored, nothing else moved
    # one push: each of the two listings read and written once, no listing made
    assert len(etsy.calls("PUT", INVENTORY)) == 2
    assert etsy.calls("POST", LISTINGS) == []

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    assert run_cli("-w", ws, "drift", "etsy").code == 0


def test_a_deleted_listing_is_missing_and_made_again_an_unknown_one_is_left_alone(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = pushed(etsy, shared_woo, new_demo)
    etsy.delete_listing("KNIFE-FOLD")
    etsy.set_state("MAP-CASE", "inactive")
    etsy.seed("HANDMADE-1", "A seller's own listing", "30.00", 1)
    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    assert found[("KNIFE-FOLD", None)]["finding"] == "missing"
    assert found[("MAP-CASE", "listed")]["finding"] == "missing"
    assert found[("HANDMADE-1", None)]["finding"] == "unknown"
    assert len(found) == 3

    fixed = run_cli("-w", ws, "drift", "etsy", "--fix")
    assert "KNIFE-FOLD" in etsy.by_sku()  # listed again
    assert "HANDMADE-1" in etsy.by_sku()  # never deleted
    code, doc = drift(ws)
    left = findings(doc)
    assert ("KNIFE-FOLD", None) not in left and left[("HANDMADE-1", None)]["finding"] == "unknown"
    # the deactivated listing stays the seller's to publish: still not for sale
    assert left[("MAP-CASE", "listed")]["finding"] == "missing"
    assert code == 4 and fixed.code in (0, 4), fixed.output


def test_a_sale_pulled_from_etsy_is_no_drift(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = pushed(etsy, shared_woo, new_demo)
    start = etsy.by_sku()["LANTERN-LED"]["quantity"]
    etsy.place([("LANTERN-LED", 2)])  # Etsy takes the units off the listing itself
    assert run_cli("-w", ws, "pull", "etsy").code == 0
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    assert etsy.by_sku()["LANTERN-LED"]["quantity"] == start - 2


def test_a_listing_sold_out_by_sales_pulled_from_etsy_is_no_drift(
    etsy: EtsyDouble, shared_woo: Any, new_demo: Any
) -> None:
    ws = pushed(etsy, shared_woo, new_demo)
    start = etsy.by_sku()["LANTERN-LED"]["quantity"]
    etsy.place([("LANTERN-LED", start)])  # the last units sold on Etsy
    etsy.set_state("LANTERN-LED", "sold_out")  # as Etsy marks a listing with none left
    pulled = run_cli("-w", ws, "pull", "etsy")  # 4: more sold than the warehouse holds
    assert pulled.code in (0, 4) and "1 new" in pulled.stdout, pulled.output
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
