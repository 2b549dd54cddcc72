"""The Shopify channel against a test endpoint that checks every request with Shopify's own
2025-01 schema (tests/servers/shopify.py): listings, prices and stock of demo-like offers with
zero contract violations, the 250-item input limit, prices of many products in one request
(aliased mutations, within the 1,000-point query cost), cost-based throttling, userErrors,
settings, the conformance suite, and a real ``multichan push`` of the demo catalog. Failures
(auth, outages, faults in the middle of a send) are in test_shopify_failures.py."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from multichan.channels import registry, shopify_orders
from multichan.channels.base import Channel, Fatal, Retriable
from multichan.channels.shopify import Shopify
from multichan.sync.batching import group_chunks
from multichan.sync.plan import Change
from multichan.testing import ChannelConformance, OrdersConformance, sample_offers
from tests.channels import shopify_conftest as fx
from tests.channels.shopify_conftest import IDS, ids_of, jackets, make, seeded
from tests.conftest import run_cli, write_config
from tests.servers.shopify import API_PATH, LOCATION, TOKEN, Bucket, Clock, ShopifyServer

_shopify_session, clock, server, session, channel = (
    fx._shopify_session, fx.clock, fx.server, fx.session, fx.channel)  # fmt: skip


def test_demo_like_offers_follow_shopifys_contract(server: ShopifyServer, channel: Shopify) -> None:
    offers = sample_offers(5) + jackets()
    listed = channel.send("listings", offers)
    assert [r.message for r in listed if not r.ok] == []
    ids = ids_of(listed)
    assert all(set(i) == IDS and all(v.startswith("gid://shopify/") for v in i.values())
               for i in ids.values())  # fmt: skip
    assert len(server.shop.products) == 6 and len(server.calls("productSet")) == 6
    jacket = server.shop.products[ids["NW-JKT-BLA-S"]["product_id"]]
    assert (jacket["title"], jacket["handle"]) == ("Rain Jacket", "nw-jkt")
    assert jacket["options"] == [("Color", ["Black", "Olive"]), ("Size", ["S", "M", "L"])]
    assert len(jacket["variants"]) == 6
    assert jacket["files"] == [f"https://cdn.example.com/jkt/{c}.jpg"
                               for c in ("black", "detail", "olive")]  # fmt: skip
    olive, black = server.shop.by_sku("NW-JKT-OLI-M"), server.shop.by_sku("NW-JKT-BLA-M")
    assert (olive["price"], olive["compareAtPrice"]) == ("99.00", "120.00")  # was 120, now 99
    assert (black["price"], black["compareAtPrice"], black["barcode"]) == (
        "120.00",
        None,
        "400638133391",
    )
    assert server.shop.items[black["item"]]["tracked"] is True

    offers[0].sale_price = Decimal("19.00")
    priced = channel.send("prices", offers, ids)
    assert all(r.ok for r in priced) and ids_of(priced) == ids
    tee = server.shop.by_sku(offers[0].sku)
    assert (tee["price"], tee["compareAtPrice"]) == ("19.00", "29.00")
    [call] = server.calls("productVariantsBulkUpdate")  # six products, one request
    assert len(call["fields"]) == 6 and call["cost"] == 60

    stocked = channel.send("quantities", offers, ids)
    assert all(r.ok for r in stocked)
    assert {o.sku: server.shop.available(o.sku) for o in offers} == {
        o.sku: o.quantity for o in offers
    }
    [call] = server.calls("inventorySetQuantities")
    sent = call["variables"]["input"]
    assert (sent["name"], sent["reason"], sent["ignoreCompareQuantity"]) == (
        "available",
        "correction",
        True,
    )
    assert server.violations == []
    assert {e["outcome"] for e in server.log} == {"ok"}


def test_a_partial_push_keeps_the_other_variants_in_their_order(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers = jackets()
    ids = ids_of(channel.send("listings", offers))
    product = server.shop.products[ids[offers[0].sku]["product_id"]]
    order = list(product["variants"])
    changed = dataclasses.replace(offers[1], price=Decimal("130.00"))
    [again] = channel.send("listings", [changed], {changed.sku: ids[changed.sku]})
    assert again.ok and again.remote_ids == ids[changed.sku]
    assert product["variants"] == order and len(server.shop.products) == 1
    assert server.shop.by_sku(changed.sku)["price"] == "130.00"
    assert server.shop.by_sku(offers[4].sku)["price"] == "99.00"  # untouched
    assert server.violations == []


def test_split_batches_lost_state_and_admin_made_products_make_no_duplicates(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers = jackets()
    first = channel.send("listings", offers[:3])
    second = channel.send("listings", offers[3:])  # no ids known: found by handle
    assert len(server.shop.products) == 1
    [product] = server.shop.products.values()
    assert len(product["variants"]) == 6
    assert {r.remote_ids["product_id"] for r in first + second} == {product["id"]}
    made_in_admin = server.shop.seed("Enamel Mug", ["NW-MUG-BLA-002"])
    [mug] = channel.send("listings", [sample_offers(3)[2]])  # found by its SKU
    assert mug.ok and mug.remote_ids["product_id"] == made_in_admin["id"]
    plain = [dataclasses.replace(o, item_group_id="PLAIN", color=None, size=None)
             for o in sample_offers(2)]  # fmt: skip
    assert all(r.ok for r in channel.send("listings", plain))
    assert channel.send("listings", plain[1:])[0].ok  # one variant alone: options still fit
    assert len(server.shop.products) == 3 and server.violations == []
    assert server.shop.products[server.shop.by_sku(plain[0].sku)["product"]]["options"] == [
        ("Variant", [o.sku for o in plain])]  # fmt: skip


def test_no_argument_list_ever_exceeds_250(server: ShopifyServer, channel: Shopify) -> None:
    skus = [f"BULK-{i:03d}" for i in range(600)]
    server.shop.seed("Bulk", skus)
    base = sample_offers(1)[0]
    offers = [dataclasses.replace(base, sku=s, item_group_id="BULK", quantity=i % 9)
              for i, s in enumerate(skus)]  # fmt: skip
    with pytest.raises(ValueError, match="takes at most 250"):
        channel.send("quantities", offers[:251])
    assert server.log == []
    # a caller that bypasses max_batch still never sends more than 250 per argument
    assert all(r.ok for r in channel.update_quantities(offers))
    assert all(r.ok for r in channel.update_prices(offers))
    sizes = [len(c["variables"]["input"]["quantities"])
             for c in server.calls("inventorySetQuantities")]  # fmt: skip
    assert sizes == [250, 250, 100]
    sizes = [len(c["variables"]["v0"]) for c in server.calls("productVariantsBulkUpdate")]
    assert sizes == [250, 250, 100]
    assert max(e["largest_list"] for e in server.log) == 250
    assert server.shop.available("BULK-599") == 599 % 9
    assert server.violations == []


def test_a_low_cost_bucket_makes_the_channel_wait_instead_of_failing(
    server: ShopifyServer, clock: Clock, session: requests.Session
) -> None:
    offers = sample_offers(5)  # five products: one price request of 5 x 10 points
    ids = ids_of(make(server, clock, session).send("listings", offers))
    server.bucket = Bucket(maximum=60, restore=10, available=60)
    clock.sleeps.clear()
    server.log.clear()
    channel = make(server, clock, session)
    assert all(r.ok for r in channel.send("prices", offers, ids))  # 50 of the 60 points
    assert channel.send("prices", offers[:1], ids)[0].ok  # 10 points: still there
    assert all(r.ok for r in channel.send("prices", offers, ids))  # 50 points: 5 s of restore
    assert clock.sleeps == [5.0]
    assert [(e["cost"], e["outcome"]) for e in server.log] == [(50, "ok"), (10, "ok"), (50, "ok")]
    assert server.violations == []


def test_throttled_is_retriable_with_the_time_the_bucket_needs(
    server: ShopifyServer, clock: Clock, channel: Shopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    offers = sample_offers(1)
    ids = ids_of(channel.send("listings", offers))
    server.bucket = Bucket(maximum=30, restore=10, available=5)
    fresh = make(server, clock, channel.session)
    assert fresh.send("prices", offers, ids)[0].ok  # sent again once the bucket holds it
    assert clock.sleeps == [0.5]  # (10 requested - 5 available) / 10 per second
    assert [e["outcome"] for e in server.log[-2:]] == ["throttled", "ok"]
    assert server.log[-2]["response"]["errors"][0]["extensions"]["code"] == "THROTTLED"
    server.bucket = Bucket(maximum=30, restore=10, available=5)
    monkeypatch.setattr(Shopify, "request_attempts", 1)  # the client gives up at once:
    with pytest.raises(Retriable, match="throttled") as caught:  # the engine gets the wait
        make(server, clock, channel.session).send("prices", offers, ids)
    assert caught.value.retry_after == 0.5
    assert server.violations == []


def test_user_errors_become_rejections_of_the_skus_they_name(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers = [*jackets(), sample_offers(3)[2]]
    ids = ids_of(channel.send("listings", offers))
    offers[2].price = Decimal("-1.00")
    results = {r.sku: r for r in channel.send("prices", offers, ids)}
    assert results[offers[2].sku].message == "Price must be greater than or equal to 0"
    others = [results[o.sku] for o in offers[:6] if o is not offers[2]]
    assert all(not r.ok and r.retriable and "not saved" in (r.message or "") for r in others)
    assert results[offers[6].sku].ok  # another product of the same request was saved
    stale = {**ids, offers[0].sku: {**ids[offers[0].sku], "inventory_item_id":
                                    "gid://shopify/InventoryItem/999999"}}  # fmt: skip
    stock = channel.send("quantities", offers[:2], stale)
    assert stock[0].message == "The specified inventory item could not be found."
    assert stock[1].retriable
    untitled = [dataclasses.replace(o, sku=o.sku + "-X", item_group_id="NEW", title="")
                for o in offers[:2]]  # fmt: skip
    listed = channel.send("listings", [*untitled, sample_offers(2)[1]])
    assert [r.message for r in listed[:2]] == ["Title can't be blank (input.title)"] * 2
    assert listed[2].ok
    assert server.violations == []


def test_prices_of_120_products_go_out_in_2_requests_not_120(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers, ids = seeded(server, 120, 2)
    results = channel.send("prices", offers, ids)
    assert all(r.ok for r in results) and ids_of(results) == ids
    calls = server.calls("productVariantsBulkUpdate")
    assert [len(c["fields"]) for c in calls] == [100, 20]  # products per request
    assert [c["cost"] for c in calls] == [1000, 200]  # Shopify's single-query max is 1,000
    assert [sum(len(v) for v in c["variables"].values() if isinstance(v, list))
            for c in calls] == [200, 40]  # fmt: skip
    assert {server.shop.by_sku(o.sku)["price"] for o in offers} == {"12.50"}
    assert server.violations == []


def test_the_engine_makes_batches_that_shopify_takes_in_one_request_each(
    server: ShopifyServer, channel: Shopify
) -> None:
    """300 variants of 120 products (3 each for 60 of them): 2 batches of at most 250 variants
    and 100 products, each one request, as few as Shopify's limits allow."""
    offers, ids = seeded(server, 120, 3)
    offers = [o for o in offers if int(o.sku[1:4]) < 60 or not o.sku.endswith("2")]
    changes = [Change(o.sku, "prices", "update", o, {}, "") for o in offers]
    batches = group_chunks(changes, Shopify.max_batch["prices"], Shopify.max_groups["prices"])
    assert len(batches) == 2
    for batch in batches:
        assert all(r.ok for r in channel.send("prices", [c.offer for c in batch], ids))
    assert len(server.calls("productVariantsBulkUpdate")) == 2
    assert max(e["cost"] for e in server.log) <= 1000 and server.violations == []


def test_user_errors_of_one_product_reject_its_skus_only(
    server: ShopifyServer, channel: Shopify
) -> None:
    offers, ids = seeded(server, 3, 2)
    offers[2].price = Decimal("-1.00")  # the second product's first variant
    gone = "gid://shopify/Product/999999"  # the third product was deleted in the admin
    ids |= {o.sku: {**ids[o.sku], "product_id": gone} for o in offers[4:]}
    results = channel.send("prices", offers, ids)
    [call] = server.calls("productVariantsBulkUpdate")
    assert len(call["fields"]) == 3  # one request; each product answers for itself
    assert [(r.ok, r.retriable, r.message) for r in results] == [
        (True, False, None),
        (True, False, None),
        (False, False, "Price must be greater than or equal to 0"),
        (False, True, "not saved: Shopify refused another item of the same call"),
        (False, False, "Product does not exist (productId)"),
        (False, False, "Product does not exist (productId)"),
    ]
    assert [server.shop.by_sku(o.sku)["price"] for o in offers] == ["12.50"] * 2 + ["10.00"] * 4
    assert server.violations == []


def test_a_throttled_price_request_wrote_nothing(
    server: ShopifyServer, clock: Clock, channel: Shopify
) -> None:
    offers, ids = seeded(server, 3, 2)
    server.bucket = Bucket(maximum=2000, restore=100, available=25)
    assert all(r.ok for r in channel.send("prices", offers, ids))
    assert clock.sleeps == [0.05]  # (30 requested - 25 available) / 100 a second
    assert [e["outcome"] for e in server.log] == ["throttled", "ok"]  # sent once more
    assert {server.shop.by_sku(o.sku)["price"] for o in offers} == {"12.50"}
    assert server.violations == []


def test_settings_are_checked_and_used(
    server: ShopifyServer, clock: Clock, session: requests.Session
) -> None:
    _, problems = Shopify.validate_settings({"token": "shpat_literal"}, "channels.yaml:7: x")
    assert problems == [
        "channels.yaml:7: x.base_url is required (url): https://my-shop.myshopify.com",
        "channels.yaml:7: x.token must name an environment variable as ${VAR}, never hold the "
        "secret itself",
    ]
    settings, _ = Shopify.validate_settings(
        {"base_url": server.url + "/", "token": "${SHOPIFY_TOKEN}"}, "x"
    )
    assert settings["api_version"] == "2025-01" and not settings["location_id"]
    assert Shopify("s", settings, session=session).endpoint == server.url + API_PATH
    nowhere = make(server, clock, session, location_id=None)
    with pytest.raises(Fatal, match="location_id is required"):
        nowhere.send("quantities", sample_offers(1))
    numeric = make(server, clock, session, location_id="1")
    ids = ids_of(numeric.send("listings", sample_offers(1)))
    assert numeric.send("quantities", sample_offers(1), ids)[0].ok  # "1" -> the Location gid
    with pytest.raises(Fatal, match="HTTP 404"):
        make(server, clock, session, api_version="1999-01").send("listings", sample_offers(1))


class TestShopifyConformance(ChannelConformance):
    @pytest.fixture
    def channel_class(self) -> type[Channel]:
        return registry.load("shopify")

    @pytest.fixture
    def channel(self, server: ShopifyServer, clock: Clock, session: requests.Session) -> Channel:
        return make(server, clock, session)

    def test_and_nothing_broke_the_contract(self, channel: Channel, server: Any) -> None:
        self.test_batches(channel)
        assert server.violations == []


class TestShopifyOrdersConformance(OrdersConformance):
    per_page = shopify_orders.ORDERS_PER_PAGE

    @pytest.fixture
    def order_skus(self, server: ShopifyServer) -> list[str]:
        skus = ["ORD-A", "ORD-B", "ORD-C"]
        server.shop.seed("Order test", skus)
        return skus

    @pytest.fixture
    def order_channel(self, server: ShopifyServer, clock: Clock, session: requests.Session):
        return make(server, clock, session)

    @pytest.fixture
    def place_order(self, server: ShopifyServer) -> Any:
        orders = server.shop.orders

        def place(lines: list[tuple[str, int]], status: str) -> str:
            order = orders.add(lines, financial_status="PENDING" if status == "pending" else "PAID")
            if status == "cancelled":
                orders.cancel(order, restock=True)
            return order

        return place

    def test_and_the_reads_kept_to_the_contract(
        self, order_channel: Channel, place_order: Any, order_skus: list[str], server: Any
    ) -> None:
        self.test_orders(order_channel, place_order, order_skus)
        assert server.violations == []
        assert max(e["cost"] for e in server.log) <= 1000


def test_push_of_the_demo_catalog(
    demo: Path, server: ShopifyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.reset(maximum=1e9, restore=1e9)  # real clock; this test is about the whole flow
    write_config(demo, f"""shop:
  link_template: "https://shop.example.com/products/{{{{handle}}}}"
channels:
  shop:
    type: shopify
    settings:
      base_url: {server.url}
      token: ${{SHOPIFY_TOKEN}}
      location_id: "{LOCATION}"
""")  # fmt: skip
    result = run_cli("--workspace", demo, "push")
    assert result.code == 0, result.output
    assert server.violations == [] and server.shop.products
    assert TOKEN not in result.output
    server.log.clear()
    assert run_cli("--workspace", demo, "push").code == 0
    assert server.log == []  # nothing changed, nothing sent
    variant = next(iter(server.shop.variants.values()))
    sku, price = variant["sku"], str(Decimal(variant["price"]) - 1)
    assert run_cli("--workspace", demo, "price", "set", sku, price).code == 0
    assert run_cli("--workspace", demo, "push").code == 0
    [call] = [e for e in server.log if e["outcome"] == "ok"]
    assert call["fields"] == ["productVariantsBulkUpdate"]
    assert server.shop.by_sku(sku)["price"] == price and server.violations == []
    with contextlib.closing(sqlite3.connect(demo / "catalog.db")) as conn, conn:
        conn.execute("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) + 1.0)")
    server.log.clear()
    result = run_cli("--workspace", demo, "push")
    assert result.code == 0, result.output
    [call] = [e for e in server.log if e["outcome"] == "ok"]  # every price: one request
    assert len(call["fields"]) == len(server.shop.products) and server.violations == []
