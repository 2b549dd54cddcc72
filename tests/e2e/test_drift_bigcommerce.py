"""``multichan drift`` against the BigCommerce double (every request checked by Prism against
BigCommerce's contracts), end to end through the CLI: right after a push nothing drifted; a
price and a stock count changed in the control panel behind multichan's back are named by SKU
and field (exit 4); ``drift --fix`` restores them with one push, after which ``drift`` exits
0; a deleted product is missing (and made again by the fix), a hidden one, one made
unpurchasable or a variant whose purchasing is disabled is not for sale (and put back on sale
by the fix), a product of the merchant's own is unknown and left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.channels.bigcommerce_conftest import BigCommerceDouble
from tests.conftest import run_cli
from tests.e2e.conftest import drift_findings, drift_json
from tests.e2e.test_bigcommerce import clean, state, store, write_channels

__all__ = ["store"]  # the fixture
pytestmark = pytest.mark.slow
READS = ["/v3/catalog/variants", "/v3/catalog/products", "/v3/inventory/locations/1/items"]


def drift(ws: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``multichan drift bc --json ARGS``: its exit code and its document."""
    code, doc, _ = drift_json(ws, "bc", *args)
    return code, doc


findings = drift_findings  # by (sku, field)


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
    left = findings(doc)  # the hidden one on sale again, the merchant's own left alone
    assert {k: f["finding"] for k, f in left.items()} == {("MERCHANT-1", None): "unknown"}
    assert code == 0 and fixed.code == 0, fixed.output  # unknown is no drift
    clean(store)


def test_products_taken_off_sale_in_the_control_panel_are_on_sale_again_after_the_fix(
    store: BigCommerceDouble, new_demo: Any
) -> None:
    ws = pushed(store, new_demo)
    expected = state(store)
    store.hide("MAP-CASE")  # hidden from the storefront
    store.hide("TEE-MERINO-NAV-M", purchasing_disabled=True)  # one variant not for sale
    store.hide("MUG-ENAMEL", purchasing_disabled=True)  # a simple product's base variant
    lantern = store.by_sku("LANTERN-LED")
    assert lantern is not None
    lantern[0]["availability"] = "disabled"  # shown, but "cannot be purchased"
    code, doc = drift(ws)
    assert code == 4
    found = findings(doc)
    assert {k: f["finding"] for k, f in found.items()} == {
        ("MAP-CASE", "listed"): "missing", ("TEE-MERINO-NAV-M", "listed"): "missing",
        ("LANTERN-LED", "listed"): "missing", ("MUG-ENAMEL", "listed"): "missing",
    }  # fmt: skip

    store.requests.clear()
    fixed = run_cli("-w", ws, "drift", "bc", "--fix")
    assert fixed.code == 0, fixed.output
    products = {b["id"]: b for batch in store.calls("PUT", "/v3/catalog/products") for b in batch}
    relisted = {int(p[0]["id"]) for s in ("MAP-CASE", "LANTERN-LED", "TEE-MERINO-NAV-M",
                "MUG-ENAMEL") if (p := store.by_sku(s))}  # fmt: skip
    assert {i for i, b in products.items() if b.get("is_visible") is True} == relisted
    assert all(products[i]["availability"] == "available" for i in relisted)
    map_case, lantern = store.by_sku("MAP-CASE"), store.by_sku("LANTERN-LED")
    tee, mug = store.by_sku("TEE-MERINO-NAV-M"), store.by_sku("MUG-ENAMEL")
    assert map_case and lantern and tee and mug and mug[1] is None
    assert map_case[0]["is_visible"] is True and lantern[0]["availability"] == "available"
    assert tee[1] is not None and tee[1]["purchasing_disabled"] is False
    assert mug[0]["variants"][0]["purchasing_disabled"] is False
    assert state(store) == expected  # nothing else moved

    code, doc = drift(ws)
    assert (code, findings(doc)) == (0, {})
    store.requests.clear()
    assert run_cli("-w", ws, "push", "bc").code == 0
    assert store.calls("PUT", "/v3/catalog/products") == []  # a later push relists nothing
    clean(store)
