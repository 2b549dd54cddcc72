"""What the BigCommerce channel reads back for ``multichan drift`` (``remote_listings``): every
variant of the catalog (``GET /v3/catalog/variants``, 250 a page), its product's name and
visibility, and its count at the location multichan writes, every request checked against
BigCommerce's contracts (Prism behind the double); a merchant's edits in the control panel
show, a deleted product is gone, a hidden one is not listed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from multichan.channels.bigcommerce import BigCommerce
from tests.channels.bigcommerce_conftest import BigCommerceDouble
from tests.channels.test_bigcommerce import bc, jackets, make, simple, store

__all__ = ["bc", "store"]  # the fixtures


def pushed(store: BigCommerceDouble, **settings: Any) -> BigCommerce:
    """A channel that pushed a jacket (two variants, on sale) and a gift card, with stock."""
    channel = make(store, **settings)
    offers = [*jackets(["Black", "Moss"]), simple("GIFT-25", price="25.00", quantity=9)]
    offers[1].sale_price = Decimal("64.50")
    listed = channel.send("listings", offers)
    assert all(r.ok for r in listed), listed
    ids = {r.sku: r.remote_ids for r in listed}
    for kind in ("prices", "quantities"):
        results = channel.send(kind, offers, ids)
        assert all(r.ok for r in results), results
    store.requests.clear()
    return channel


def remote(channel: BigCommerce) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for sku, fields in channel.remote_listings():
        assert sku not in found, f"{sku} yielded twice"
        found[sku] = fields
    return found


def test_every_pushed_sku_comes_back_with_the_contracts_fields_and_types(
    store: BigCommerceDouble,
) -> None:
    found = remote(pushed(store))
    assert found == {
        "JKT-BLA": {"price": "80.00", "sale_price": None, "quantity": 2, "listed": True},
        "JKT-MOS": {"price": "80.00", "sale_price": "64.50", "quantity": 3, "listed": True},
        "GIFT-25": {"price": "25.00", "sale_price": None, "quantity": 9, "listed": True,
                    "title": "Gift card GIFT-25"},
    }  # fmt: skip
    for fields in found.values():
        assert isinstance(fields["price"], str) and Decimal(fields["price"]) > 0
        assert type(fields["quantity"]) is int and type(fields["listed"]) is bool
    # one page of variants, then the page's products and its stock at the location
    assert [(r["method"], r["path"]) for r in store.requests] == [
        ("GET", "/v3/catalog/variants"), ("GET", "/v3/catalog/products"),
        ("GET", "/v3/inventory/locations/1/items"),
    ]  # fmt: skip
    assert store.requests[0]["query"]["limit"] == "250"


def test_variants_page_by_250(store: BigCommerceDouble) -> None:
    for n in range(520):
        store.seed(f"OWN-{n:03d}", f"Merchant product {n}", 10 + n % 3, n % 7)
    found = remote(make(store))
    assert len(found) == 520
    assert found["OWN-519"] == {"price": "10.00", "sale_price": None, "quantity": 1,
                                "listed": True, "title": "Merchant product 519"}  # fmt: skip
    pages = [r["query"]["page"] for r in store.requests if r["path"] == "/v3/catalog/variants"]
    assert pages == ["1", "2", "3"]  # the short third page ends it
    assert len(store.requests) == 9  # three requests per page of 250


def test_a_price_and_stock_changed_in_the_control_panel_show_their_new_values(
    store: BigCommerceDouble,
) -> None:
    channel = pushed(store)
    store.tamper("JKT-BLA", price=77.5, sale_price=70)
    store.tamper("GIFT-25", quantity=4)
    store.tamper("JKT-MOS", quantity=50, location=2)  # another location: not ours
    found = remote(channel)
    assert found["JKT-BLA"]["price"] == "77.50" and found["JKT-BLA"]["sale_price"] == "70.00"
    assert found["GIFT-25"]["quantity"] == 4 and found["GIFT-25"]["price"] == "25.00"
    assert found["JKT-MOS"]["quantity"] == 3  # counted at location_id only
    assert channel.fetch_remote(["GIFT-25"]) == {"GIFT-25": found["GIFT-25"]}


def test_the_count_is_read_at_the_channels_location(store: BigCommerceDouble) -> None:
    channel = pushed(store, location_id=2)
    store.tamper("JKT-MOS", quantity=50, location=1)
    assert remote(channel)["JKT-MOS"]["quantity"] == 3
    assert store.requests[-1]["path"] == "/v3/inventory/locations/2/items"


def test_a_deleted_product_is_absent_and_the_others_remain(store: BigCommerceDouble) -> None:
    channel = pushed(store)
    store.delete_product("JKT-BLA")  # the jacket, both variants
    assert set(remote(channel)) == {"GIFT-25"}


def test_a_hidden_product_or_a_variant_not_for_sale_is_not_listed(
    store: BigCommerceDouble,
) -> None:
    channel = pushed(store)
    store.hide("GIFT-25")
    store.hide("JKT-MOS", purchasing_disabled=True)
    found = remote(channel)
    assert found["GIFT-25"]["listed"] is False and found["GIFT-25"]["quantity"] == 9
    assert found["JKT-MOS"]["listed"] is False
    assert found["JKT-BLA"]["listed"] is True


def test_long_skus_split_the_stock_filter_and_every_count_is_read(
    store: BigCommerceDouble,
) -> None:
    for n in range(200):
        store.seed(f"LONG-{'X' * 24}-{n:04d}", f"Product {n}", 5.0, n)
    found = remote(make(store))
    assert [found[f"LONG-{'X' * 24}-{n:04d}"]["quantity"] for n in range(200)] == list(range(200))
    reads = [r for r in store.requests if r["path"] == "/v3/inventory/locations/1/items"]
    assert len(reads) == 2 and all(len(r["query"]["sku:in"]) <= 4000 for r in reads)
