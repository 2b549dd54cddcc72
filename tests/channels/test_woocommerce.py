"""The woocommerce channel against a shop written from WooCommerce's REST API docs
(tests/servers/woocommerce.py): simple and variable products, absolute prices and stock, per-SKU
rejections in WooCommerce's words, and batches within the documented 100 objects. Whole-batch
failures and faults in the middle of a send are in test_woocommerce_failures.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from multichan.channels import registry, woocommerce_orders
from multichan.channels.base import Channel, Fatal
from multichan.channels.woocommerce import NOT_LISTED, WooCommerce
from multichan.testing import ChannelConformance, OrdersConformance
from tests.channels import woocommerce_conftest as fx
from tests.channels.woocommerce_conftest import BASE, ids, offer, posts, woo
from tests.conftest import SHARED
from tests.servers.woocommerce import API, KEY, SECRET, WooServer

_shop, shop, session = fx._shop, fx.shop, fx.session


# --- the conformance suite ------------------------------------------------------------------------
class TestWooCommerceConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("woocommerce")

    @pytest.fixture
    def channel(self, shop: WooServer, session: requests.Session) -> Channel:
        return woo(shop, session)


# --- listings -------------------------------------------------------------------------------------
def test_listings_create_simple_and_variable_products(shop: WooServer, session) -> None:
    offers = [
        offer("MUG-1", price=Decimal("14.95"), sale_price=Decimal("12.00"), quantity=7),
        offer("TEE-BLK", "NW-TEE", "Black", size="M"),
        offer("BTL-1", quantity=0),
        offer("TEE-NAV", "NW-TEE", "Navy", size="M", quantity=2),
        offer("TEE-OLV", "NW-TEE", "Olive", size="L"),
    ]
    results = woo(shop, session).send("listings", offers)
    assert [r.ok for r in results] == [True] * 5
    mug, bottle, parent = shop.by_sku("MUG-1"), shop.by_sku("BTL-1"), shop.by_sku("NW-TEE")
    assert mug and bottle and parent
    assert (mug["type"], mug["regular_price"], mug["sale_price"], mug["price"]) == (
        "simple", "14.95", "12.00", "12.00",
    )  # fmt: skip
    assert (mug["manage_stock"], mug["stock_quantity"], mug["stock_status"]) == (True, 7, "instock")
    assert bottle["stock_status"] == "outofstock"
    assert [i["src"] for i in mug["images"]] == [BASE.image_link, *BASE.additional_image_links]
    assert (parent["type"], parent["name"]) == ("variable", "Organic Cotton Tee")
    assert [(a["name"], a["options"], a["variation"]) for a in parent["attributes"]] == [
        ("Color", ["Black", "Navy", "Olive"], True),
        ("Size", ["M", "L"], True),
    ]
    variations = shop.variations_of(parent["id"])
    assert [v["sku"] for v in variations] == ["TEE-BLK", "TEE-NAV", "TEE-OLV"]
    navy = variations[1]
    assert [(a["name"], a["option"]) for a in navy["attributes"]] == [
        ("Color", "Navy"),
        ("Size", "M"),
    ]
    assert (navy["regular_price"], navy["stock_quantity"], navy["image"]["src"]) == (
        "29.00", 2, BASE.image_link,
    )  # fmt: skip
    assert ids(results) == {
        "MUG-1": {"product_id": str(mug["id"])},
        "TEE-BLK": {"parent_id": str(parent["id"]), "variation_id": str(variations[0]["id"])},
        "BTL-1": {"product_id": str(bottle["id"])},
        "TEE-NAV": {"parent_id": str(parent["id"]), "variation_id": str(navy["id"])},
        "TEE-OLV": {"parent_id": str(parent["id"]), "variation_id": str(variations[2]["id"])},
    }
    # one products/batch (2 simple + 1 parent), one variations/batch for the parent, no lookups
    assert posts(shop) == [
        ("/products/batch", 3),
        (f"/products/{parent['id']}/variations/batch", 3),
    ]
    assert len(shop.log) == 2


def test_a_second_push_updates_in_place_and_adds_new_options(shop: WooServer, session) -> None:
    channel = woo(shop, session)
    first = channel.send("listings", [offer("TEE-BLK", "NW-TEE", "Black")])
    parent = shop.by_sku("NW-TEE")
    assert parent
    black_id = parent["variations"][0]
    renamed = offer("TEE-BLK", "NW-TEE", "Black", title="Organic Tee - Black")
    results = channel.send(
        "listings", [renamed, offer("TEE-SND", "NW-TEE", "Sand")], known_ids=ids(first)
    )
    assert [r.ok for r in results] == [True, True]
    assert list(shop.products) == [parent["id"]]  # no second parent
    assert parent["name"] == "Organic Tee"
    assert parent["attributes"][0]["options"] == ["Black", "Sand"]  # Black kept, Sand added
    assert [v["sku"] for v in shop.variations_of(parent["id"])] == ["TEE-BLK", "TEE-SND"]
    assert results[0].remote_ids == {"parent_id": str(parent["id"]), "variation_id": str(black_id)}
    batches = shop.batches()[2:]  # after the first push's products and variations
    assert [set(b.body) for b in batches] == [{"update"}, {"update", "create"}]
    assert shop.log[2].method == "GET" and shop.log[2].query["include"] == str(parent["id"])


def test_existing_skus_are_taken_over_not_duplicated(shop: WooServer, session) -> None:
    """Products made by hand, by an import or by an attempt whose answer was lost."""
    mug = shop.create(
        None, {"name": "Mug", "sku": "MUG-1", "regular_price": "1.00", "images": [{"src": "a.jpg"}]}
    )
    color = {"name": "Color", "options": ["Black"], "variation": True}
    parent = shop.create(
        None, {"name": "Tee", "type": "variable", "sku": "NW-TEE", "status": "draft",
               "attributes": [color]}
    )  # fmt: skip
    shop.create(parent, {"sku": "TEE-BLK", "attributes": [{"name": "Color", "option": "Black"}]})
    offers = [offer("MUG-1", price=Decimal("14.95")), offer("TEE-NAV", "NW-TEE", "Navy")]
    results = woo(shop, session).send("listings", offers)
    assert [r.ok for r in results] == [True, True]
    assert results[0].remote_ids == {"product_id": str(mug["id"])}
    assert results[1].remote_ids["parent_id"] == str(parent["id"])
    assert len(shop.products) == 2
    assert (mug["regular_price"], mug["stock_quantity"]) == ("14.95", 5)
    assert [i["src"] for i in mug["images"]] == ["a.jpg"]  # not downloaded again
    assert parent["status"] == "draft"  # the shop's choice stays
    assert parent["attributes"][0]["options"] == ["Black", "Navy"]
    assert [v["sku"] for v in shop.variations_of(parent["id"])] == ["TEE-BLK", "TEE-NAV"]


def test_a_product_deleted_in_the_shop_is_created_again(shop: WooServer, session) -> None:
    results = woo(shop, session).send(
        "listings", [offer("MUG-1")], known_ids={"MUG-1": {"product_id": "99999"}}
    )
    mug = shop.by_sku("MUG-1")
    assert mug and results[0].ok and results[0].remote_ids == {"product_id": str(mug["id"])}


def test_one_duplicate_sku_is_rejected_with_woocommerces_message(shop: WooServer, session) -> None:
    size = {"name": "Size", "options": ["S"], "variation": True}
    other = shop.create(
        None, {"name": "Other", "type": "variable", "sku": "OTHER", "attributes": [size]}
    )
    shop.create(other, {"sku": "DUP-1"})
    offers = [offer("A-1"), offer("DUP-1"), offer("OTHER"), offer("B-1")]
    results = woo(shop, session).send("listings", offers)
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[1].message == "Invalid or duplicated SKU. (product_invalid_sku)"
    assert results[2].message == (
        f"Invalid or duplicated SKU. (the SKU belongs to variable product #{other['id']}) "
        "(product_invalid_sku)"
    )
    assert shop.by_sku("A-1") and shop.by_sku("B-1")
    # a variable product whose SKU is taken: its variants say why
    [tee] = woo(shop, session).send("listings", [offer("TEE-1", "A-1", "Black")])
    assert not tee.ok and (tee.message or "").startswith(
        "variable product A-1: Invalid or duplicated SKU."
    )


# --- prices and quantities ------------------------------------------------------------------------
def test_prices_and_quantities_are_absolute_updates_by_known_ids(shop: WooServer, session) -> None:
    channel = woo(shop, session)
    listed = [
        offer("MUG-1"),
        offer("TEE-BLK", "NW-TEE", "Black"),
        offer("TEE-NAV", "NW-TEE", "Navy"),
    ]
    known = ids(channel.send("listings", listed))
    parent, mug = shop.by_sku("NW-TEE"), shop.by_sku("MUG-1")
    assert parent and mug
    black, navy = shop.variations_of(parent["id"])
    del shop.log[:]
    priced = [
        offer("MUG-1", price=Decimal("15.50")),
        offer("TEE-BLK", "NW-TEE", "Black", price=Decimal("31.00"), sale_price=Decimal("24.99")),
        offer("NEW-1"),
    ]
    results = channel.send("prices", priced, known_ids=known)
    assert [(r.ok, r.message) for r in results] == [(True, None), (True, None), (False, NOT_LISTED)]
    assert [(b.path.removeprefix(API), b.body) for b in shop.batches()] == [
        ("/products/batch",
         {"update": [{"id": mug["id"], "regular_price": "15.50", "sale_price": ""}]}),
        (f"/products/{parent['id']}/variations/batch",
         {"update": [{"id": black["id"], "regular_price": "31.00", "sale_price": "24.99"}]}),
    ]  # fmt: skip
    assert (black["price"], black["on_sale"], mug["price"]) == ("24.99", True, "15.50")
    del shop.log[:]
    counted = [offer("TEE-NAV", "NW-TEE", "Navy", quantity=0), offer("MUG-1", quantity=42)]
    results = channel.send("quantities", counted, known_ids=known)
    assert [r.ok for r in results] == [True, True]
    assert [b.body for b in shop.batches()] == [
        {"update": [{"id": navy["id"], "manage_stock": True, "stock_quantity": 0}]},
        {"update": [{"id": mug["id"], "manage_stock": True, "stock_quantity": 42}]},
    ]
    assert (navy["stock_quantity"], navy["stock_status"], mug["stock_quantity"]) == (
        0, "outofstock", 42,
    )  # fmt: skip
    assert results[0].remote_ids == known["TEE-NAV"]


def test_server_enforces_the_documented_types_and_limit(shop: WooServer, session) -> None:
    """The test shop refuses what WooCommerce's property tables and batch limit rule out."""
    url = shop.url.replace("http://", "https://") + API + "/products/batch"
    bad = {"sku": "X", "regular_price": 9.99, "stock_quantity": "5", "manage_stock": "yes"}
    answer = session.post(url, auth=(KEY, SECRET), json={"create": [bad, {"sku": "Y"}]}).json()
    assert answer["create"][0]["id"] == 0
    assert answer["create"][0]["error"]["code"] == "rest_invalid_param"
    assert set(answer["create"][0]["error"]["data"]["params"]) == set(bad) - {"sku"}
    assert answer["create"][1]["sku"] == "Y"
    too_many = session.post(url, auth=(KEY, SECRET), json={"create": [{}] * 100, "delete": [1]})
    assert too_many.status_code == 413
    assert too_many.json()["code"] == "woocommerce_rest_request_entity_too_large"


def test_the_docs_still_say_100_objects() -> None:
    docs = SHARED / "specs" / "woocommerce" / "rest-api-docs"
    if not docs.is_dir():
        pytest.skip(f"WooCommerce REST API docs not found at {docs}")
    for name in ("_products.md", "_product-variations.md"):
        assert "limited to up to 100 objects" in (docs / name).read_text(encoding="utf-8")
    assert WooCommerce.max_batch["prices"] == WooServer().batch_limit == 100


# --- batch sizes ----------------------------------------------------------------------------------
def test_full_batches_never_exceed_100_objects_per_request(shop: WooServer, session) -> None:
    channel = woo(shop, session)
    size = channel.max_batch["listings"]
    simple = [offer(f"S-{i:03d}") for i in range(100)]
    variants = [offer(f"V-{i:03d}", "BIG", f"C{i:03d}") for i in range(100)]
    mixed = [
        offer(f"M-{i:03d}", f"G{i % 3}", f"C{i}") if i % 2 else offer(f"M-{i:03d}")
        for i in range(size)
    ]
    known: dict[str, dict[str, str]] = {}
    for batch in [mixed, *(simple[i : i + size] for i in range(0, 100, size)),
                  *(variants[i : i + size] for i in range(0, 100, size))]:  # fmt: skip
        results = channel.send("listings", batch, known_ids=known)
        assert all(r.ok for r in results)
        known |= ids(results)
    results = channel.send("prices", simple, known_ids=known) + channel.send(
        "quantities", variants, known_ids=known
    )
    assert all(r.ok for r in results)
    big = shop.by_sku("BIG")
    assert big and len(big["attributes"][0]["options"]) == 100
    assert posts(shop)[-2:] == [
        ("/products/batch", 100),
        (f"/products/{big['id']}/variations/batch", 100),
    ]
    assert max(n for _, n in posts(shop)) <= 100
    assert {r.status for r in shop.log} == {200}


def test_send_refuses_oversized_batches_before_any_request(shop: WooServer, session) -> None:
    channel = woo(shop, session)
    for op, limit in channel.max_batch.items():
        with pytest.raises(ValueError, match=f"takes at most {limit}"):
            channel.send(op, [offer(f"X-{i}") for i in range(limit + 1)])
    assert shop.log == []


def test_a_shop_with_a_lower_batch_limit_is_fatal(shop: WooServer, session) -> None:
    shop.batch_limit = 2  # the woocommerce_rest_batch_items_limit filter
    known = {f"X-{i}": {"product_id": str(i + 1)} for i in range(3)}
    with pytest.raises(Fatal, match="batch too large") as caught:
        woo(shop, session).send("prices", [offer(f"X-{i}") for i in range(3)], known_ids=known)
    assert "woocommerce_rest_batch_items_limit" in str(caught.value)
    assert caught.value.exit_code == 5


class TestWooCommerceOrdersConformance(OrdersConformance):
    per_page = woocommerce_orders.PER_PAGE

    @pytest.fixture
    def order_skus(self) -> list[str]:
        return ["ORD-A", "ORD-B", "ORD-C"]

    @pytest.fixture
    def order_channel(self, shop: WooServer, session: Any) -> Any:
        return woo(shop, session)

    @pytest.fixture
    def place_order(self, shop: WooServer) -> Any:
        def place(lines: list[tuple[str, int]], status: str) -> str:
            wanted = {"pending": "pending", "open": "processing", "cancelled": "processing"}
            order = shop.orders.add(lines, status=wanted[status])
            if status == "cancelled":
                shop.orders.set_status(order, "cancelled")
            return str(order)

        return place
