"""``multichan drift`` against the BigCommerce double (every request checked by Prism against
BigCommerce's contracts), end to end through the CLI: right after a push nothing drifted; a
price and a stock count changed in the control panel behind multichan's back are named by SKU
and field (exit 4); ``drift --fix`` restores them with one push, after which ``drift`` exits
0; a deleted product is missing (and made again by the fix), a hidden one is not for sale, a
product of the merchant's own is unknown and left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.channels.bigcommerce_conftest import BigCommerceDouble
from tests.conftest import run_cli
from tests.e2e.test_bigcommerce import clean, state, store, write_channels

__all__ = ["store"]  # the fixture
pytestmark = pytest.mark.slow
READS = ["/v3/catalog/variants", "/v3/catalog/products", "/v3/inventory/locations/1/items"]


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``multichan drift bc --json ARGS``: its exit code and its document."""
    result = run_cli("-w", ws, "drift", "bc", "--json", *args)
    assert result.stdout.strip(), result.output
    return result.code, json.loads(result.stdout)


def findings(doc: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    [channel] = doc["channels"]
    assert channel["error"] is None, channel["error"]
    return {(f["sku"], f["field"]): f for f in channel["drift"]}


def pushed(store: BigCommerceDouble, new_demo: Any) -> Path:
    ws = new_demo()
    write_channels(ws, store.url)
    result = run_cli("-w", ws, "push", "bc")
    assert result.code == 0, result.output
    return ws


def test_nothing_drifted_right_after_a_push(store: BigCommerceDouble, new_demo: Any) -> None:
    ws = pushed(store, new_demo)
    store.requests.clear()
    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    [channel] = doc["channels"]
    assert channel["checked"] == len(state(store)["skus"]) > 50
    assert [r["path"] for r in store.requests] == READS  # one page of 250 variants
    clean(store)


def test_a_price_and_a_count_changed_in_the_control_panel_are_named_and_fixed_with_one_push(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = pushed(store, new_demo)
    expected = state(store)
    start = store.quantity("LANTERN-LED")
    assert start is not None
    store.tamper("MUG-ENAMEL", price=3.33)  # the merchant, in the control panel
    store.tamper("TEE-MERINO-NAV-M", sale_price=30)
    store.tamper("LANTERN-LED", quantity=start + 5)

    code, doc = drift(ws)
    assert code == 4 and doc["drift"] == 3, doc
    found = findings(doc)
    assert set(found) == {("MUG-ENAMEL", "price"), ("TEE-MERINO-NAV-M", "sale_price"),
                          ("LANTERN-LED", "quantity")}  # fmt: skip
    price = found[("MUG-ENAMEL", "price")]
    assert (price["finding"], price["pushed"], price["remote"], price["offer"]) == (
        "changed", "14.00", "3.33", "14.00"
    )  # fmt: skip
    sale = found[("TEE-MERINO-NAV-M", "sale_price")]
    assert (sale["pushed"], sale["remote"]) == (None, "30.00")
    quantity = found[("LANTERN-LED", "quantity")]
    assert (quantity["finding"], quantity["pushed"], quantity["remote"]) == (
        "changed", start, start + 5
    )  # fmt: skip

    store.requests.clear()
    fixed = run_cli("-w", ws, "drift", "bc", "--fix")
    assert fixed.code == 0, fixed.output
    assert state(store) == expected  # all three restored, nothing else moved
    writes = [(r["method"], r["path"]) for r in store.requests if r["method"] != "GET"]
    assert writes == [("PUT", "/v3/catalog/variants"),
                      ("PUT", "/v3/inventory/adjustments/absolute")]  # one push  # fmt: skip
    [prices] = store.calls("PUT", "/v3/catalog/variants")
    assert len(prices) == 2  # only the two SKUs whose price drifted

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    assert run_cli("-w", ws, "drift", "bc").code == 0
    clean(store)


def test_a_deleted_product_is_missing_and_made_again_an_unknown_one_is_left_alone(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = pushed(store, new_demo)
    store.delete_product("KNIFE-FOLD")
    store.hide("MAP-CASE")
    store.seed("MERCHANT-1", "The merchant's own product", 30.0, 1)
    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    assert found[("KNIFE-FOLD", None)]["finding"] == "missing"
    assert found[("MAP-CASE", "listed")]["finding"] == "missing"
    assert found[("MERCHANT-1", None)]["finding"] == "unknown"
    assert len(found) == 3

    fixed = run_cli("-w", ws, "drift", "bc", "--fix")
    assert store.by_sku("KNIFE-FOLD") is not None  # made again
    assert store.by_sku("MERCHANT-1") is not None  # never deleted
    code, doc = drift(ws)
    left = findings(doc)
    assert ("KNIFE-FOLD", None) not in left
    assert left[("MERCHANT-1", None)]["finding"] == "unknown"
    assert code == 4 and fixed.code in (0, 4), fixed.output
    clean(store)
