"""The Amazon channel's orders and shipments: getOrders by LastUpdatedAfter (never within the two
minutes Amazon refuses) with NextToken pages, getOrderItems for the lines, Amazon's statuses on
the common model (Pending holds stock, as Amazon does), and confirmShipment sent once: a second
confirmation Amazon answers "already fulfilled" for is recognised, not a failure. Every request
is checked against Amazon's Orders v0 contract (Prism)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from multichan.channels import amazon_orders as ao
from multichan.channels.amazon import Amazon
from multichan.orders.model import HOLDING, parse_time
from multichan.orders.shipments import Shipment, ShipmentLine
from multichan.testing import OrdersConformance
from tests.channels.amazon_conftest import ORDERS, AmazonDouble
from tests.channels.test_amazon import amazon, make  # noqa: F401  (the fixture)

SKUS = ["NW-TEE-BLA-000", "NW-MUG-BLA-002", "NW-CAP-BLA-003"]
PLACED = {"pending": "Pending", "open": "Unshipped", "cancelled": "Canceled"}


class TestAmazonOrdersConformance(OrdersConformance):
    per_page = 4

    @pytest.fixture
    def order_channel(self, amazon: AmazonDouble) -> Any:  # noqa: F811
        yield make(amazon.url, page_size=4)
        assert amazon.violations == [] and amazon.too_recent == 0

    @pytest.fixture
    def place_order(self, amazon: AmazonDouble) -> Any:  # noqa: F811
        def place(lines: list[tuple[str, int]], status: str) -> str | None:
            if status == "pending":
                return None  # Amazon's Pending orders hold stock: no order that does not
            return amazon.orders.add(lines, PLACED[status])

        return place

    @pytest.fixture
    def order_skus(self) -> list[str]:
        return SKUS


def pull(channel: Amazon, since: datetime) -> list[Any]:
    return [o for page in channel.fetch_orders(since) for o in page]


def test_statuses_lines_and_amounts_on_the_common_model(amazon: AmazonDouble) -> None:  # noqa: F811
    channel = make(amazon.url)
    start = datetime.now(UTC) - timedelta(minutes=1)
    pending = amazon.orders.add([("NW-TEE-BLA-000", 2)], "Pending")
    paid = amazon.orders.add([("NW-TEE-BLA-000", 1), ("NW-MUG-BLA-002", 3)], price="14.95")
    part = amazon.orders.add([("NW-CAP-BLA-003", 2)], "PartiallyShipped")
    amazon.orders.items[part][0]["QuantityShipped"] = 1
    shipped = amazon.orders.add([("NW-CAP-BLA-003", 1)], "Shipped")
    amazon.orders.items[shipped][0]["QuantityShipped"] = 1
    gone = amazon.orders.add([("NW-MUG-BLA-002", 1)], "Canceled")
    fba = amazon.orders.add([("NW-MUG-BLA-002", 5)], channel="AFN")
    orders = {o.order_id: o for o in pull(channel, start)}
    assert fba not in orders  # Amazon's own stock: not asked for
    assert {k: orders[k].status for k in (pending, paid, part, shipped, gone)} == {
        pending: "open",
        paid: "open",
        part: "open",
        shipped: "closed",
        gone: "cancelled",
    }
    assert orders[pending].status in HOLDING  # Amazon reserves the units: so do we
    [p] = orders[pending].lines
    assert (p.ordered, p.unshipped, p.unit_price) == (2, 2, None)  # pricing hidden while Pending
    _tee, mug = orders[paid].lines
    assert (mug.sku, mug.ordered, mug.unshipped, mug.shipped) == ("NW-MUG-BLA-002", 3, 3, 0)
    assert mug.line_total == Decimal("44.85") and mug.unit_price == Decimal("14.95")
    assert mug.line_id == amazon.orders.items[paid][1]["OrderItemId"]
    assert orders[paid].currency == "USD"
    [c] = orders[part].lines
    assert (c.shipped, c.unshipped) == (1, 1)
    assert orders[gone].lines[0].unshipped == 0
    assert amazon.violations == [] and amazon.too_recent == 0


def test_last_updated_after_is_never_within_two_minutes_and_pages_follow_next_token(
    amazon: AmazonDouble,  # noqa: F811
) -> None:
    channel = make(amazon.url, page_size=2)
    ids = [amazon.orders.add([("NW-TEE-BLA-000", 1)]) for _ in range(5)]
    since = datetime.now(UTC) - timedelta(seconds=5)  # a cursor inside Amazon's two minutes
    pages = list(channel.fetch_orders(since - timedelta(seconds=60)))
    assert sorted(o.order_id for page in pages for o in page) == sorted(ids)
    assert len(pages) == 3 and amazon.too_recent == 0
    searches = [r for r in amazon.requests if r["path"] == f"{ORDERS}/orders"]
    first = dict(p.split("=", 1) for p in searches[0]["query"].split("&"))
    asked = parse_time(first["LastUpdatedAfter"].replace("%3A", ":"))
    assert asked <= datetime.now(UTC) - timedelta(minutes=2)
    assert first["FulfillmentChannels"] == "MFN" and first["MaxResultsPerPage"] == "2"
    assert all(
        "NextToken=" in r["query"] and "LastUpdatedAfter" not in r["query"] for r in searches[1:]
    )
    # a cursor newer than every change: asked two minutes back, nothing returned twice
    later = parse_time(amazon.orders.orders[ids[-1]]["LastUpdateDate"]) + timedelta(seconds=1)
    assert pull(channel, later) == []
    assert amazon.violations == [] and amazon.too_recent == 0


def test_an_order_line_for_an_unknown_sku_keeps_its_sku(amazon: AmazonDouble) -> None:  # noqa: F811
    channel = make(amazon.url)
    order_id = amazon.orders.add([("GONE-FROM-CATALOG", 1), ("NW-TEE-BLA-000", 1)])
    [order] = [
        o for o in pull(channel, datetime.now(UTC) - timedelta(minutes=1)) if o.order_id == order_id
    ]
    assert [x.sku for x in order.lines] == ["GONE-FROM-CATALOG", "NW-TEE-BLA-000"]


def shipment(double: AmazonDouble, order_id: str, **extra: Any) -> Shipment:
    items = double.orders.items[order_id]
    fields: dict[str, Any] = {
        "id": 7,
        "channel": "amazon",
        "order_id": order_id,
        "number": order_id,
        "key": f"{order_id}#1",
        "carrier": "UPS",
        "tracking_number": "1Z 999 AA1 01 2345 6784",
        "tracking_url": None,
        "shipped_at": datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        "lines": [
            ShipmentLine(x["OrderItemId"], x["SellerSKU"], x["QuantityOrdered"]) for x in items
        ],
    }
    fields.update(extra)
    return Shipment(**fields)


def test_tracking_is_confirmed_once_and_a_second_confirm_is_answered(
    amazon: AmazonDouble,  # noqa: F811
) -> None:
    channel = make(amazon.url)
    order_id = amazon.orders.add([("NW-TEE-BLA-000", 2), ("NW-MUG-BLA-002", 1)])
    parcel = shipment(amazon, order_id)
    result = channel.send_shipment(parcel)
    assert result.ok and result.remote_ids == {"fulfillment_id": "7"}
    [sent] = amazon.confirmations
    detail = sent["packageDetail"]
    assert sent["marketplaceId"] == "ATVPDKIKX0DER"
    assert detail["packageReferenceId"] == "7" and detail["carrierCode"] == "UPS"
    assert detail["trackingNumber"] == "1Z 999 AA1 01 2345 6784"
    assert detail["shipDate"] == "2026-12-03T12:00:00.000Z"
    assert amazon.orders.orders[order_id]["OrderStatus"] == "Shipped"
    assert len(amazon.orders.packages[order_id]) == 1

    again = channel.send_shipment(parcel)  # the answer was lost; the push sends it again
    assert again.ok and again.remote_ids == {"fulfillment_id": "7"}
    assert len(amazon.orders.packages[order_id]) == 1  # one package at Amazon
    assert amazon.violations == []


def test_a_refused_confirmation_keeps_amazons_message(amazon: AmazonDouble) -> None:  # noqa: F811
    channel = make(amazon.url)
    order_id = amazon.orders.add([("NW-TEE-BLA-000", 1)])
    wrong = shipment(amazon, order_id, lines=[ShipmentLine("99999999999999", "NW-TEE-BLA-000", 1)])
    result = channel.send_shipment(wrong)
    assert not result.ok and "OrderItemId is invalid, please obtain" in (result.message or "")
    amazon.orders.set_status(order_id, "Canceled")
    cancelled = channel.send_shipment(shipment(amazon, order_id))
    assert not cancelled.ok and "canceled" in (cancelled.message or "")
    untracked = channel.send_shipment(shipment(amazon, order_id, tracking_number=None))
    assert not untracked.ok and "needs a tracking number" in (untracked.message or "")
    assert amazon.violations == []


def test_a_carrier_amazon_has_no_code_for_is_other_with_its_name(amazon: AmazonDouble) -> None:  # noqa: F811
    channel = make(amazon.url)
    order_id = amazon.orders.add([("NW-TEE-BLA-000", 1)])
    assert channel.send_shipment(shipment(amazon, order_id, carrier="Speedy Couriers")).ok
    detail = amazon.confirmations[-1]["packageDetail"]
    assert (detail["carrierCode"], detail["carrierName"]) == ("Other", "Speedy Couriers")
    assert ao.carrier("fedex") == ("FedEx", None) and ao.carrier("Royal Mail") == (
        "Royal Mail",
        None,
    )
    assert amazon.violations == []


def test_a_changed_tracking_number_after_confirmation_is_refused_with_the_reason(
    amazon: AmazonDouble,  # noqa: F811
) -> None:
    channel = make(amazon.url)
    order_id = amazon.orders.add([("NW-TEE-BLA-000", 1)])
    first = channel.send_shipment(shipment(amazon, order_id))
    assert first.ok
    fixed = shipment(amazon, order_id, remote_id="7", tracking_number="1ZNEW",
                     sent_tracking="1Z 999 AA1 01 2345 6784")  # fmt: skip
    result = channel.send_shipment(fixed)
    assert not result.ok and "correct it in Seller Central" in (result.message or "")
    assert len(amazon.confirmations) == 1  # nothing sent


def test_settings_outside_amazons_limits_are_named() -> None:
    raw = {"seller_id": "A1", "refresh_token": "${A}", "client_id": "${B}",
           "client_secret": "${C}", "page_size": 500, "feed_threshold": -1}  # fmt: skip
    _, problems = Amazon.validate_settings(raw, "channels.yaml:3: channels.amazon.settings")
    assert problems == [
        "channels.yaml:3: channels.amazon.settings.page_size must be 1 to 100 (Amazon's "
        "MaxResultsPerPage), not 500",
        "channels.yaml:3: channels.amazon.settings.feed_threshold must be 0 or more, not -1",
    ]
