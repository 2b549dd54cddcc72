"""The BigCommerce channel's orders and shipments: V2 orders by ``min_date_modified`` in pages,
their order products mapped to the common order model (statuses, shipped and refunded units,
amounts), and shipments with tracking made once, every request checked against BigCommerce's
Orders V2 contract (Prism behind the BigCommerce double)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from multichan.channels import bigcommerce_orders as bo
from multichan.channels.base import Channel
from multichan.orders.shipments import Shipment, ShipmentLine
from multichan.testing import OrdersConformance
from tests.channels.bigcommerce_conftest import TOKEN, BigCommerceDouble
from tests.channels.test_bigcommerce import jackets, make, simple
from tests.prism import Prism

STATUS_IDS = {"pending": 7, "open": 11, "cancelled": 5}


@pytest.fixture
def store(
    shared_bigcommerce: BigCommerceDouble, monkeypatch: pytest.MonkeyPatch,
    bigcommerce_products_prism: Prism, bigcommerce_variants_prism: Prism,
    bigcommerce_inventory_prism: Prism, bigcommerce_orders_prism: Prism,
) -> Iterator[BigCommerceDouble]:  # fmt: skip
    """The double checking every request against BigCommerce's contracts, with a jacket in
    two colours and a gift card in its catalog; the test fails on any violation."""
    monkeypatch.setenv("BIGCOMMERCE_TOKEN", TOKEN)
    shared_bigcommerce.reset(validate={
        "products": bigcommerce_products_prism.url, "variants": bigcommerce_variants_prism.url,
        "inventory": bigcommerce_inventory_prism.url, "orders": bigcommerce_orders_prism.url,
    })  # fmt: skip
    make(shared_bigcommerce).send("listings", [*jackets(["Black", "Moss"]), simple("GIFT-25")])
    shared_bigcommerce.requests.clear()
    yield shared_bigcommerce
    assert shared_bigcommerce.violations == []
    assert shared_bigcommerce.breaches == []


def orders(channel: Channel, since: datetime | None = None) -> list[Any]:
    start = since or datetime.now(UTC) - timedelta(hours=1)
    return [o for page in channel.fetch_orders(start) for o in page]


class TestBigCommerceOrdersConformance(OrdersConformance):
    per_page = 4

    @pytest.fixture
    def order_channel(self, store: BigCommerceDouble, monkeypatch: pytest.MonkeyPatch) -> Channel:
        monkeypatch.setattr(bo, "PER_PAGE", self.per_page)
        return make(store)

    @pytest.fixture
    def place_order(self, store: BigCommerceDouble) -> Any:
        def place(lines: list[tuple[str, int]], status: str) -> str:
            return str(store.add_order(lines, status_id=STATUS_IDS[status]))

        return place

    @pytest.fixture
    def order_skus(self) -> list[str]:
        return ["JKT-BLA", "JKT-MOS", "GIFT-25"]


def test_orders_are_listed_by_change_in_pages_with_their_products(
    store: BigCommerceDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bo, "PER_PAGE", 2)
    for n in range(3):
        store.add_order([("JKT-BLA", 1 + n), ("GIFT-25", 1)])
    channel = make(store)
    since = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    pages = list(channel.fetch_orders(since))
    assert [len(p) for p in pages] == [2, 1]
    lists = [r for r in store.requests if r["path"] == "/v2/orders"]
    assert [r["query"] for r in lists] == [
        {"min_date_modified": "2026-12-01T08:30:00+00:00", "sort": "date_modified",
         "limit": "2", "page": str(n)} for n in (1, 2)
    ]  # fmt: skip
    products = [r for r in store.requests if r["path"].endswith("/products")]
    # two lines an order fill a page of two: the next page (204, empty) ends it
    assert len(products) == 6 and all(r["headers"]["Content-Type"] for r in products)
    first = pages[0][0]
    assert (first.status, first.channel_status, first.currency) == (
        "open",
        "Awaiting Fulfillment",
        "USD",
    )
    assert [(x.sku, x.ordered, x.unshipped, x.shipped) for x in first.lines] == [
        ("JKT-BLA", 1, 1, 0), ("GIFT-25", 1, 1, 0)
    ]  # fmt: skip
    assert (first.lines[0].unit_price, first.lines[0].line_total) == (Decimal("80"), Decimal("80"))
    variant = store.by_sku("JKT-BLA")[1]  # type: ignore[index]
    assert first.lines[0].remote_ids["variant_id"] == str(variant["id"])


def test_statuses_map_to_what_they_mean_for_stock(store: BigCommerceDouble) -> None:
    statuses = (0, 7, 11, 9, 3, 2, 10, 5, 6, 12, 14)
    placed = {s: store.add_order([("JKT-BLA", 2)], status_id=s) for s in statuses}
    found = {int(o.order_id): o.status for o in orders(make(store))}
    assert {s: found[oid] for s, oid in placed.items()} == {
        0: "pending", 7: "pending", 11: "open", 9: "open", 3: "open", 2: "closed", 10: "closed",
        5: "cancelled", 6: "cancelled", 12: "open", 14: "open",
    }  # fmt: skip


def test_refunds_are_refunded_units_not_restocked_by_bigcommerce(store: BigCommerceDouble) -> None:
    before = store.add_order([("JKT-BLA", 3)])  # refunded before anything shipped
    store.refund(before, "JKT-BLA", 1)
    after = store.add_order([("JKT-MOS", 2)], status_id=2)  # refunded after it shipped
    store.order_products[after][0]["quantity_shipped"] = 2
    store.refund(after, "JKT-MOS", 2)
    store.touch(after, status_id=4)
    whole = store.add_order([("GIFT-25", 1)])  # refunded whole, never shipped
    store.refund(whole, "GIFT-25", 1)
    store.touch(whole, status_id=4)
    found = {int(o.order_id): o for o in orders(make(store))}
    line = found[before].lines[0]
    assert (found[before].status, line.unshipped, line.shipped, line.refunded) == ("open", 2, 1, 1)
    line = found[after].lines[0]
    assert (found[after].status, line.unshipped, line.shipped, line.refunded) == ("closed", 0, 2, 2)
    line = found[whole].lines[0]
    assert (found[whole].status, line.unshipped, line.refunded) == ("cancelled", 0, 1)
    assert all(x.returned == 0 for o in found.values() for x in o.lines)  # restock_refunds decides


def test_a_line_of_a_deleted_product_still_comes_with_its_sku(store: BigCommerceDouble) -> None:
    oid = store.add_order([("GONE-1", 1), ("JKT-BLA", 1)])
    [order] = [o for o in orders(make(store)) if o.order_id == str(oid)]
    assert [x.sku for x in order.lines] == ["GONE-1", "JKT-BLA"]  # the pull parks GONE-1


def test_the_contract_check_is_live(store: BigCommerceDouble) -> None:
    """Prism really refuses what the contract forbids: ``sort=date_modified:asc``."""
    channel = make(store)
    with pytest.raises(Exception, match="422"):
        channel.api.request("GET", "/v2/orders", params={"sort": "date_modified:asc"})
    assert len(store.violations) == 1 and "sort" in store.violations[0]
    store.violations.clear()


# --- shipments ---------------------------------------------------------------------------------
def parcel(oid: int, store: BigCommerceDouble, **fields: Any) -> Shipment:
    lines = [ShipmentLine(str(r["id"]), r["sku"], r["quantity"]) for r in store.order_products[oid]]
    values: dict[str, Any] = {
        "id": 1, "channel": "bc", "order_id": str(oid), "number": f"#{oid}",
        "key": f"bc:{oid}:1", "carrier": "Royal Mail", "tracking_number": "RM123456789GB",
        "tracking_url": None, "shipped_at": datetime(2026, 12, 3, 9, tzinfo=UTC), "lines": lines,
        **fields,
    }  # fmt: skip
    return Shipment(**values)


def test_a_shipment_is_made_once_with_its_items_carrier_and_tracking(
    store: BigCommerceDouble,
) -> None:
    oid = store.add_order([("JKT-BLA", 2), ("GIFT-25", 1)])
    shipment = parcel(oid, store)
    result = make(store).send_shipment(shipment)
    assert result.ok, result.message
    [body] = store.calls("POST", f"/v2/orders/{oid}/shipments")
    rows = store.order_products[oid]
    assert body == {
        "order_address_id": oid * 10, "comments": f"[multichan: bc:{oid}:1]",
        "items": [{"order_product_id": rows[0]["id"], "quantity": 2},
                  {"order_product_id": rows[1]["id"], "quantity": 1}],
        "shipping_provider": "royalmail", "tracking_carrier": "royal-mail",
        "tracking_number": "RM123456789GB",
    }  # fmt: skip
    assert result.remote_ids == {"fulfillment_id": str(store.shipments[oid][0]["id"])}
    assert store.orders[oid]["status_id"] == 2
    # sent again (a rerun after a lost answer, another process): found, not made again
    again = make(store).send_shipment(shipment)
    assert again.ok and again.remote_ids == result.remote_ids
    assert len(store.calls("POST", f"/v2/orders/{oid}/shipments")) == 1


def test_a_shipment_the_seller_made_with_the_same_tracking_is_answered(
    store: BigCommerceDouble,
) -> None:
    oid = store.add_order([("JKT-BLA", 1)])
    store.shipments[oid].append({"id": 999, "order_id": oid, "tracking_number": "RM 1234 56789GB"})
    result = make(store).send_shipment(parcel(oid, store, tracking_number="rm123456789gb"))
    assert result.remote_ids == {"fulfillment_id": "999"}
    assert store.calls("POST", f"/v2/orders/{oid}/shipments") == []


def test_tracking_given_later_updates_the_same_shipment(store: BigCommerceDouble) -> None:
    oid = store.add_order([("JKT-BLA", 1)])
    channel = make(store)
    first = channel.send_shipment(parcel(oid, store, carrier=None, tracking_number=None))
    sid = first.remote_ids["fulfillment_id"]
    later = parcel(oid, store, carrier="UPS", tracking_number="1Z999AA10123456784",
                   tracking_url="https://ups.example/1Z999", remote_id=sid)  # fmt: skip
    assert channel.send_shipment(later).remote_ids == {"fulfillment_id": sid}
    assert store.calls("PUT", f"/v2/orders/{oid}/shipments/{sid}") == [{
        "shipping_provider": "ups", "tracking_carrier": "ups",
        "tracking_number": "1Z999AA10123456784", "tracking_link": "https://ups.example/1Z999",
    }]  # fmt: skip
    assert channel.send_shipment(later).ok  # nothing new to say: no second PUT
    assert len(store.calls("PUT", f"/v2/orders/{oid}/shipments/{sid}")) == 1


def test_carriers_are_mapped_and_an_unknown_one_is_kept_as_text() -> None:
    assert bo.carrier_fields("DHL Express") == {"shipping_provider": "", "tracking_carrier": "dhl"}
    assert bo.carrier_fields("USPS") == {"shipping_provider": "usps", "tracking_carrier": "usps"}
    assert bo.carrier_fields(" Speedy  Bee ") == {
        "shipping_provider": "", "tracking_carrier": "", "shipping_method": "Speedy Bee"
    }  # fmt: skip
    assert bo.carrier_fields(None) == {"shipping_provider": "", "tracking_carrier": ""}


def test_unshippable_parcels_are_rejected_with_the_reason(store: BigCommerceDouble) -> None:
    channel = make(store)
    cancelled = store.add_order([("JKT-BLA", 1)], status_id=5)
    result = channel.send_shipment(parcel(cancelled, store))
    assert result.message == f"order #{cancelled} is Cancelled on BigCommerce: nothing to ship"
    oid = store.add_order([("JKT-BLA", 1)])
    long = channel.send_shipment(parcel(oid, store, tracking_number="X" * 51))
    assert long.message == "BigCommerce takes a tracking number of at most 50 characters"
    too_many = parcel(oid, store)
    too_many.lines[0] = dataclasses.replace(too_many.lines[0], quantity=5)
    refused = channel.send_shipment(too_many)
    assert not refused.ok and "not enough left to ship" in str(refused.message)
    missing = channel.send_shipment(parcel(oid, store, order_id="424242", number="#424242"))
    assert missing.message == "BigCommerce: The requested resource was not found."
    assert [len(v) for v in store.shipments.values()] == [0, 0]


def test_a_parcel_goes_to_its_lines_address_and_never_spans_two(store: BigCommerceDouble) -> None:
    oid = store.add_order([("JKT-BLA", 1), ("JKT-MOS", 1)])
    rows = store.order_products[oid]
    rows[1]["order_address_id"] = oid * 10 + 1  # a gift sent to another address
    channel = make(store)
    refused = channel.send_shipment(parcel(oid, store))
    assert refused.message == (
        f"the parcel's lines of order #{oid} go to 2 addresses on BigCommerce: ship each "
        "address's lines as its own parcel"
    )
    first = parcel(oid, store)
    first.lines = first.lines[:1]
    assert channel.send_shipment(first).ok
    [made] = store.shipments[oid]
    assert made["order_address_id"] == oid * 10 and store.orders[oid]["status_id"] == 3
