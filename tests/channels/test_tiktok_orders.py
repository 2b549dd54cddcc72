"""TikTok Shop orders and shipments against tests/servers/tiktok.py: the orders conformance
suite, one line item per unit summed per SKU with its ordered / unshipped / shipped counts and
amounts, UNPAID holding stock (TikTok holds it from creation), cancelled units, and marking a
package shipped once (a second send finds the package by its tracking number)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from multichan.channels.base import Channel
from multichan.orders.model import Order
from multichan.orders.shipments import Shipment, ShipmentLine
from multichan.testing import OrdersConformance, PlaceOrder
from tests.channels.test_tiktok import listed, make, offer, session, tee, tiktok
from tests.servers import tiktok as srv

__all__ = ["session", "tiktok"]  # the fixtures, bound here too
STATUS = {"open": "AWAITING_SHIPMENT", "cancelled": "CANCELLED"}


class TestTikTokOrders(OrdersConformance):
    per_page = 100  # page_size's maximum

    @pytest.fixture
    def order_channel(self, tiktok: srv.TikTokServer, session: requests.Session) -> Channel:
        return make(tiktok, session)

    @pytest.fixture
    def order_skus(self) -> Sequence[str]:
        return ["MUG-1", "TEE-BLACK"]

    @pytest.fixture
    def place_order(self, tiktok: srv.TikTokServer) -> PlaceOrder:
        def place(lines: list[tuple[str, int]], status: str) -> str | None:
            if status == "pending":
                return None  # TikTok's unpaid orders hold stock: none maps to pending
            return tiktok.add_order(lines, STATUS[status])

        return place


def pulled(channel: Channel) -> dict[str, Order]:
    since = datetime.now(UTC) - timedelta(hours=1)
    return {o.order_id: o for page in channel.fetch_orders(since) for o in page}


def test_one_line_item_per_unit_is_one_line_per_sku(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    ids = listed(channel, [tee("Black"), tee("Navy"), offer("MUG-1")])
    order_id = tiktok.add_order([("TEE-BLACK", 3), ("MUG-1", 1)], "UNPAID", price="24.50")
    order = pulled(channel)[order_id]
    assert order.status == "open" and order.channel_status == "UNPAID"  # TikTok holds it too
    lines = {line.sku: line for line in order.lines}
    black = lines["TEE-BLACK"]
    assert (black.ordered, black.unshipped, black.shipped) == (3, 3, 0)
    assert black.line_id == ids["TEE-BLACK"]["sku_id"]
    assert black.remote_ids["sku_id"] == ids["TEE-BLACK"]["sku_id"]
    assert len(black.remote_ids["line_item_ids"].split(",")) == 3
    assert (black.unit_price, black.line_total, order.currency) == (
        Decimal("24.50"), Decimal("73.50"), "USD")  # fmt: skip
    tiktok.cancel_units(order_id, "TEE-BLACK", 1)
    tiktok.set_status(order_id, "AWAITING_SHIPMENT")
    black = {x.sku: x for x in pulled(channel)[order_id].lines}["TEE-BLACK"]
    assert (black.ordered, black.unshipped, black.line_total) == (2, 2, Decimal("49.00"))
    tiktok.set_status(order_id, "DELIVERED")
    done = pulled(channel)[order_id]
    assert done.status == "closed"
    assert {(x.sku, x.unshipped, x.shipped) for x in done.lines} == {
        ("TEE-BLACK", 0, 2), ("MUG-1", 0, 1)}  # fmt: skip
    tiktok.cancel_units(order_id, "TEE-BLACK", 2)
    tiktok.cancel_units(order_id, "MUG-1", 1)
    assert pulled(channel)[order_id].status == "cancelled"


def shipment(order: Order, tracking: str | None, carrier: str = "USPS", units: int = 0) -> Shipment:
    lines = [ShipmentLine(x.line_id, x.sku, units or x.unshipped, x.sku, x.remote_ids)
             for x in order.lines if x.unshipped]  # fmt: skip
    return Shipment(1, "tts", order.order_id, order.number, tracking or "shipment-1", carrier,
                    tracking, None, datetime.now(UTC), lines)  # fmt: skip


def test_a_package_is_marked_shipped_once_with_its_units(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    listed(channel, [tee("Black"), tee("Navy")])
    order_id = tiktok.add_order([("TEE-BLACK", 2), ("TEE-NAVY", 1)])
    order = pulled(channel)[order_id]
    first = shipment(order, "9400111899223197428490", units=1)  # one unit of each
    result = channel.send_shipment(first)
    assert result.ok and result.remote_ids["fulfillment_id"]
    [call] = tiktok.calls("/packages")
    assert call.body["shipping_provider_id"] == "7117858858072016686"
    assert call.body["tracking_number"] == "9400111899223197428490"
    assert len(call.body["order_line_item_ids"]) == 2
    assert tiktok.orders[order_id]["status"] == "PARTIALLY_SHIPPING"
    again = channel.send_shipment(first)  # a rerun whose answer was lost: answered
    assert again.ok and again.remote_ids == result.remote_ids
    assert len(tiktok.calls("/packages")) == 1
    rest = shipment(pulled(channel)[order_id], "1Z999AA10123456784", carrier="UPS")
    assert [x.quantity for x in rest.lines] == [1]
    assert channel.send_shipment(rest).ok
    assert tiktok.orders[order_id]["status"] == "IN_TRANSIT"
    parcels = pulled(channel)[order_id].parcels or []
    assert sorted(p.tracking_number or "" for p in parcels) == [
        "1Z999AA10123456784", "9400111899223197428490"]  # fmt: skip


def test_shipments_tiktok_cannot_take_are_rejected_with_the_reason(
    tiktok: srv.TikTokServer, session: requests.Session
) -> None:
    channel = make(tiktok, session)
    listed(channel, [offer("MUG-1")])
    order_id = tiktok.add_order([("MUG-1", 2)])
    order = pulled(channel)[order_id]
    unknown = channel.send_shipment(shipment(order, "ZX123", carrier="Pigeon Post"))
    assert not unknown.ok and "settings.shipping_providers" in str(unknown.message)
    untracked = channel.send_shipment(shipment(order, None))
    assert not untracked.ok and "tracking number" in str(untracked.message)
    tiktok.cancel_units(order_id, "MUG-1", 2)
    cancelled = channel.send_shipment(shipment(order, "9400111899223197428491"))
    assert not cancelled.ok and "cancelled" in str(cancelled.message)
    assert tiktok.calls("/packages") == []
