"""eBay's orders and shipments through the channel, every request checked against eBay's Sell
Fulfillment contract (Prism) by the eBay double: the status mapping of
../shared/ORDERS-NOTES.md section 2.4 (cancellations read with getOrder, since getOrders never
lists their requests), refunds, paging, and shipping fulfillments sent once, with eBay's
carrier codes and tracking numbers as eBay takes them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from multichan.channels import ebay_orders as eo
from multichan.channels.base import Channel
from multichan.orders.model import Order
from multichan.orders.shipments import Shipment, ShipmentLine
from multichan.testing import OrdersConformance
from tests.channels.ebay_conftest import FULFILLMENT, EbayDouble
from tests.channels.test_ebay import _credentials, listed, make, singles  # noqa: F401
from tests.prism import Prism

SKUS = ["NW-TEE-BLA-000", "NW-HOOD-BLA-001", "NW-MUG-BLA-002"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def ebay_api(
    shared_ebay: EbayDouble, ebay_inventory_prism: Prism, ebay_fulfillment_prism: Prism
) -> Iterator[EbayDouble]:
    shared_ebay.reset(
        validate={"inventory": ebay_inventory_prism.url, "fulfillment": ebay_fulfillment_prism.url}
    )
    yield shared_ebay
    assert shared_ebay.violations == []


def pull(channel: Channel, since: datetime = EPOCH) -> dict[str, Order]:
    return {o.order_id: o for page in channel.fetch_orders(since) for o in page}


class TestEbayOrdersConformance(OrdersConformance):
    per_page = 4  # eBay pages 200 orders; 4 here, so that 9 orders take three pages

    @pytest.fixture
    def order_channel(self, ebay_api: EbayDouble, monkeypatch: pytest.MonkeyPatch) -> Channel:
        monkeypatch.setattr(eo, "PER_PAGE", self.per_page)
        return make(ebay_api.url)

    @pytest.fixture
    def order_skus(self) -> Sequence[str]:
        return SKUS

    @pytest.fixture
    def place_order(self, ebay_api: EbayDouble):  # type: ignore[no-untyped-def]
        def place(lines: list[tuple[str, int]], status: str) -> str:
            payment = "PENDING" if status == "pending" else "PAID"
            order_id = ebay_api.orders.add(lines, payment=payment)
            if status == "cancelled":
                ebay_api.orders.cancel(order_id)
            return order_id

        return place


def test_status_follows_payment_fulfillment_and_cancellation(ebay_api: EbayDouble) -> None:
    orders = ebay_api.orders
    paid = orders.add([(SKUS[0], 2)])
    unpaid = orders.add([(SKUS[1], 1)], payment="PENDING")
    failed = orders.add([(SKUS[1], 1)], payment="FAILED")
    asked = orders.add([(SKUS[2], 1)])
    orders.cancel(asked, state="IN_PROGRESS", reason="BUYER_ASKED_CANCEL")
    gone = orders.add([(SKUS[2], 3)])
    orders.cancel(gone)
    channel = make(ebay_api.url)
    got = pull(channel)
    assert {k: v.status for k, v in got.items()} == {
        paid: "open",
        unpaid: "pending",
        failed: "pending",
        asked: "open",
        gone: "cancelled",
    }
    # getOrders hides cancel requests: the two orders with a cancellation were read again
    reads = [r["path"] for r in ebay_api.requests if r["method"] == "GET"]
    assert sorted(p for p in reads if p != f"{FULFILLMENT}/order") == sorted(
        [f"{FULFILLMENT}/order/{asked}", f"{FULFILLMENT}/order/{gone}"]
    )
    assert got[asked].channel_status == (
        "PAID/NOT_STARTED/cancel IN_PROGRESS (REQUESTED by BUYER: BUYER_ASKED_CANCEL)"
    )
    assert got[gone].channel_status.startswith("FULLY_REFUNDED/NOT_STARTED/cancel CANCELED (")
    [line] = got[paid].lines
    assert (line.sku, line.ordered, line.unshipped, line.shipped) == (SKUS[0], 2, 2, 0)
    assert line.line_id == ebay_api.orders.get(paid)["lineItems"][0]["lineItemId"]
    assert (line.unit_price, line.line_total, got[paid].currency) == (10, 20, "USD")
    assert got[paid].number == paid
    query = next(r["query"] for r in ebay_api.requests if r["path"] == f"{FULFILLMENT}/order")
    assert "filter=lastmodifieddate%3A%5B2026-01-01T00%3A00%3A00.000Z..%5D" in query
    assert "limit=200" in query and "offset=0" in query


def test_refunds_release_or_write_off_units(ebay_api: EbayDouble) -> None:
    orders = ebay_api.orders
    before = orders.add([(SKUS[0], 2), (SKUS[1], 1)])
    orders.refund(before, 0)  # the tee refunded before anything left: back on the shelf
    after = orders.add([(SKUS[2], 1)])
    ebay_api.orders.fulfill(
        after,
        {
            "lineItems": [
                {"lineItemId": orders.get(after)["lineItems"][0]["lineItemId"], "quantity": 1}
            ]
        },
        "",
    )
    orders.refund(after, 0)  # refunded once it was sent: the buyer may keep it
    partly = orders.add([(SKUS[1], 2)])
    orders.refund(partly, 0, amount="5.00")
    got = pull(make(ebay_api.url))
    tee, hood = got[before].lines
    assert got[before].status == "open"  # PARTIALLY_REFUNDED: the hood still goes out
    assert (tee.unshipped, tee.shipped, tee.refunded) == (0, 0, 0)
    assert (hood.unshipped, hood.shipped) == (1, 0)
    [mug] = got[after].lines
    assert got[after].status == "closed"
    assert (mug.unshipped, mug.shipped, mug.refunded) == (0, 1, 1)
    [two] = got[partly].lines
    assert got[partly].status == "open" and (two.unshipped, two.refunded) == (2, 0)


def test_a_line_without_sku_is_matched_by_its_listing(ebay_api: EbayDouble) -> None:
    channel = listed(ebay_api, singles(1))
    order = ebay_api.orders.add([(SKUS[0], 1)])
    ebay_api.orders.get(order)["lineItems"][0].pop("sku")  # listed outside the Inventory API
    [line] = pull(channel)[order].lines
    listing = channel.known[SKUS[0]]["listing_id"]  # type: ignore[attr-defined]
    assert line.sku is None and line.remote_ids == {"listing_id": listing}


def test_the_cursor_skips_orders_that_did_not_change(ebay_api: EbayDouble) -> None:
    old = ebay_api.orders.add([(SKUS[0], 1)])
    channel = make(ebay_api.url)
    first = pull(channel)
    later = first[old].updated_at + timedelta(milliseconds=1)
    assert pull(channel, later) == {}
    ebay_api.orders.set_payment(old, "PAID")
    assert list(pull(channel, later)) == [old]


# --- shipments ----------------------------------------------------------------------------------
def parcel(
    double: EbayDouble,
    order_id: str,
    carrier: str | None = "ups",
    tracking: str | None = "1Z 999-AA1 0123456784",
    remote_id: str | None = None,
    units: dict[int, int] | None = None,
) -> Shipment:
    items = double.orders.get(order_id)["lineItems"]
    picked = units or {i: x["quantity"] for i, x in enumerate(items)}
    lines = [ShipmentLine(items[i]["lineItemId"], items[i]["sku"], n) for i, n in picked.items()]
    return Shipment(
        1,
        "ebay",
        order_id,
        order_id,
        tracking or "parcel-1",
        carrier,
        tracking,
        None,
        datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        lines,
        remote_id,
    )


def fulfillments(double: EbayDouble, order_id: str) -> list[dict]:  # type: ignore[type-arg]
    return double.orders.fulfillments[order_id]


def test_a_parcel_is_one_shipping_fulfillment_sent_once(ebay_api: EbayDouble) -> None:
    order = ebay_api.orders.add([(SKUS[0], 2), (SKUS[1], 1)])
    channel = make(ebay_api.url)
    shipment = parcel(ebay_api, order)
    result = channel.send_shipment(shipment)
    assert result.ok and result.remote_ids == {"fulfillment_id": "1Z999AA10123456784"}
    [made] = fulfillments(ebay_api, order)
    assert made["shippingCarrierCode"] == "UPS"
    assert made["shipmentTrackingNumber"] == "1Z999AA10123456784"  # eBay: letters and digits
    assert made["shippedDate"] == "2026-12-03T09:30:00.000Z"
    assert ebay_api.orders.get(order)["orderFulfillmentStatus"] == "FULFILLED"
    again = channel.send_shipment(shipment)  # a rerun after a lost answer: found, not made
    assert again.ok and again.remote_ids == result.remote_ids
    assert len(fulfillments(ebay_api, order)) == 1
    posts = [
        r
        for r in ebay_api.requests
        if r["method"] == "POST" and r["path"].endswith("/shipping_fulfillment")
    ]
    assert len(posts) == 1


def test_carriers_map_to_ebays_codes_and_unknown_ones_to_other(ebay_api: EbayDouble) -> None:
    assert [
        eo.carrier_code(c)
        for c in (
            "Royal Mail",
            "royalmail",
            "DHL Express",
            "fedex",
            "Canada Post",
            "Kangaroo Couriers",
            None,
        )
    ] == [
        "RoyalMail",
        "RoyalMail",
        "DHL",
        "FedEx",
        "CanadaPost",
        "Other",
        "Other",
    ]
    order = ebay_api.orders.add([(SKUS[0], 1)])
    assert (
        make(ebay_api.url)
        .send_shipment(parcel(ebay_api, order, carrier="Kangaroo Couriers", tracking="KC123"))
        .ok
    )
    assert fulfillments(ebay_api, order)[0]["shippingCarrierCode"] == "Other"


def test_part_of_an_order_then_the_rest(ebay_api: EbayDouble) -> None:
    order = ebay_api.orders.add([(SKUS[0], 2), (SKUS[1], 1)])
    channel = make(ebay_api.url)
    assert channel.send_shipment(parcel(ebay_api, order, tracking="AA1", units={0: 2})).ok
    assert ebay_api.orders.get(order)["orderFulfillmentStatus"] == "IN_PROGRESS"
    got = pull(channel)[order]
    assert [ln.shipped for ln in got.lines] == [2, 0] and got.status == "open"
    assert channel.send_shipment(parcel(ebay_api, order, tracking="BB2", units={1: 1})).ok
    assert pull(channel)[order].status == "closed"


def test_tracking_given_later_is_one_more_fulfillment(ebay_api: EbayDouble) -> None:
    order = ebay_api.orders.add([(SKUS[0], 1)])
    channel = make(ebay_api.url)
    first = channel.send_shipment(parcel(ebay_api, order, carrier=None, tracking=None))
    assert first.ok
    [untracked] = fulfillments(ebay_api, order)
    assert "shipmentTrackingNumber" not in untracked  # no carrier without tracking
    fid = first.remote_ids["fulfillment_id"]
    assert channel.send_shipment(
        parcel(ebay_api, order, carrier=None, tracking=None, remote_id=fid)
    ).ok
    assert len(fulfillments(ebay_api, order)) == 1  # nothing new to say
    late = channel.send_shipment(parcel(ebay_api, order, "usps", "9400111899223", remote_id=fid))
    assert late.ok and late.remote_ids["fulfillment_id"] == "9400111899223"
    assert [f.get("shipmentTrackingNumber") for f in fulfillments(ebay_api, order)] == [
        None,
        "9400111899223",
    ]


def test_ebays_refusal_keeps_the_parcel_with_ebays_message(ebay_api: EbayDouble) -> None:
    order = ebay_api.orders.add([(SKUS[0], 1)])
    ebay_api.orders.cancel(order)
    result = make(ebay_api.url).send_shipment(parcel(ebay_api, order))
    assert not result.ok
    assert result.message == "eBay error 32600: Invalid input data: the order is cancelled"
    unknown = make(ebay_api.url).send_shipment(
        Shipment(
            2,
            "ebay",
            "99-99999-99999",
            "99-99999-99999",
            "k",
            "ups",
            "1Z1",
            None,
            datetime(2026, 12, 3, tzinfo=UTC),
            [ShipmentLine("1", SKUS[0], 1)],
        )
    )
    assert unknown.message == "eBay error 32100: Invalid order ID: 99-99999-99999"


def test_a_start_older_than_ebay_keeps_orders_is_moved_up(ebay_api: EbayDouble) -> None:
    order = ebay_api.orders.add([(SKUS[0], 1)])
    assert list(pull(make(ebay_api.url), datetime(2019, 1, 1, tzinfo=UTC))) == [order]
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert eo.list_params(datetime(2019, 1, 1, tzinfo=UTC), now) == {
        "filter": "lastmodifieddate:[2024-12-04T00:00:00.000Z..]"
    }
