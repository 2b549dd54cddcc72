"""``multichan drift`` against the Amazon double (every SP-API request checked by Prism against
Amazon's Listings Items and Feeds contracts), end to end through the CLI: right after a push
nothing drifted; a price and a quantity changed in Seller Central behind multichan's back are
named by SKU and field (exit 4); ``drift --fix`` restores them with one push (two patches),
after which ``drift`` exits 0; a deleted listing is missing (and made again by the fix), a
closed one is not for sale, a listing of the seller's own is unknown and left alone."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.channels.amazon_conftest import LISTINGS, SELLER_ID, AmazonDouble
from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json
from tests.e2e.test_amazon import amazon, feeds_sent, patches, state, write

__all__ = ["amazon"]  # the fixture
pytestmark = pytest.mark.slow
SEARCH = f"{LISTINGS}/items/{SELLER_ID}"


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``multichan drift amazon --json ARGS``: its exit code and its document."""
    code, doc, _ = drift_json(ws, "amazon", *args)
    return code, doc


findings = drift_findings  # by (sku, field)


def pushed(amazon: AmazonDouble, new_demo: Any) -> Path:
    ws = new_demo()
    write(ws, amazon.url)
    result = run_cli("-w", ws, "push", "amazon")
    assert result.code == 0, result.output
    amazon.requests.clear()
    return ws


def test_nothing_drifted_right_after_a_push(amazon: AmazonDouble, new_demo: Any) -> None:
    ws = pushed(amazon, new_demo)
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    [channel] = doc["channels"]
    assert channel["checked"] == len(amazon.listings) > 20
    # searchListingsItems, 20 a page: no request per listing
    searches = amazon.count("GET", SEARCH)
    assert searches == -(-len(amazon.listings) // 20)
    assert len([r for r in amazon.requests if r["path"] != "/auth/o2/token"]) == searches
    assert amazon.violations == []


def test_a_price_and_a_quantity_changed_in_seller_central_are_named_and_fixed_with_one_push(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    ws = pushed(amazon, new_demo)
    expected = state(amazon)
    price = f"{amazon.price_of('MUG-ENAMEL'):.2f}"
    start = amazon.quantity_of("LANTERN-LED")
    assert start is not None
    amazon.set_price("MUG-ENAMEL", "3.33")  # the seller, in Seller Central
    amazon.set_quantity("LANTERN-LED", start + 5)

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

    amazon.requests.clear()
    fixed = run_cli("-w", ws, "drift", "amazon", "--fix")
    assert fixed.code == 0, fixed.output
    assert state(amazon) == expected  # both restored, nothing else moved
    # one push: a patch each (a few changes go by patchListingsItem), no feed
    assert sorted(patches(amazon)) == ["LANTERN-LED", "MUG-ENAMEL"] and feeds_sent(amazon) == 0

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    assert run_cli("-w", ws, "drift", "amazon").code == 0
    assert amazon.violations == []


def test_a_deleted_listing_is_missing_and_made_again_an_unknown_one_is_left_alone(
    amazon: AmazonDouble, new_demo: Any
) -> None:
    ws = pushed(amazon, new_demo)
    stocked = sorted(s for s in amazon.listings if (amazon.quantity_of(s) or 0) > 0)
    gone, closed = stocked[0], stocked[1]
    amazon.delete(gone)
    amazon.deactivate(closed)
    own = copy.deepcopy(amazon.listings[stocked[2]])
    own["createdDate"] = own["lastUpdatedDate"] = amazon.moment()
    amazon.listings["SELLERS-OWN-1"] = own  # listed by the seller, not by multichan

    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    assert found[(gone, None)]["finding"] == "missing"
    assert found[(closed, "listed")]["finding"] == "missing"
    assert found[("SELLERS-OWN-1", None)]["finding"] == "unknown"
    assert len(found) == 3

    fixed = run_cli("-w", ws, "drift", "amazon", "--fix")
    assert fixed.code == 0, fixed.output  # the fix's push went through
    assert gone in amazon.listings  # listed again
    assert "SELLERS-OWN-1" in amazon.listings  # never deleted
    code, doc = drift(ws)
    left = findings(doc)
    assert (gone, None) not in left
    assert left[("SELLERS-OWN-1", None)]["finding"] == "unknown"  # still reported
    assert amazon.violations == []
