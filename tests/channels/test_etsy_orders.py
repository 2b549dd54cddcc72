"""Etsy receipts and shipments at the channel level: getShopReceipts paged within Etsy's limit,
receipts mapped to the common order model (status, lines, amounts in Etsy's Money), and the
answers ``ship`` gives (createReceiptShipment once per tracking code, a whole receipt only,
tracking where Etsy requires it), against the Etsy double checked by Prism."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from multichan.channels import etsy_orders as eo
from multichan.channels.etsy import Etsy
from multichan.orders.shipments import Shipment, ShipmentLine
from multichan.testing import OrdersConformance, sample_offers
from tests.channels.etsy_conftest import SHOP_ID, EtsyDouble, etsy, make

__all__ = ["etsy"]  # the fixture
RECEIPTS = rf"/v3/application/shops/{SHOP_ID}/receipts"
TRACKING = rf"{RECEIPTS}/\d+/tracking"


def stocked(etsy: EtsyDouble, skus: list[str]) -> tuple[Any, dict[str, dict[str, str]]]:
    """A channel whose SKUs are listed on the double (as one push would leave them)."""
    channel = make(etsy.url, upload_images=False)
    base = sample_offers(1)[0]
    offers = [dataclasses.replace(base, sku=s, item_group_id="G", title=f"Mug - {s}",
                                  color=s, size=None, quantity=20) for s in skus]  # fmt: skip
    results = channel.send("listings", offers)
    assert all(r.ok for r in results)
    return channel, {r.sku: r.remote_ids for r in results}


class TestEtsyOrdersConformance(OrdersConformance):
    per_page = eo.PER_PAGE

    @pytest.fixture
    def order_skus(self) -> list[str]:
        return ["MUG-A", "MUG-B", "MUG-C"]

    @pytest.fixture
    def order_channel(self, etsy: EtsyDouble) -> Any:
        return make(etsy.url)

    @pytest.fixture
    def place_order(self, etsy: EtsyDouble) -> Any:
        def place(lines: list[tuple[str, int]], status: str) -> str | None:
            receipt = etsy.place(lines, "open" if status == "pending" else "paid")
            if status == "cancelled":
                etsy.change(receipt, status="canceled")
            return str(receipt)

        return place


def test_receipts_are_read_100_at_a_time_oldest_change_first(etsy: EtsyDouble) -> None:
    channel = make(etsy.url)
    now = int(datetime.now(UTC).timestamp())
    for i in range(205):
        etsy.place([("MUG-A", 1)], at=now - 1000 + i)
    since = datetime.now(UTC) - timedelta(hours=1)
    pages = list(channel.fetch_orders(since))
    assert [len(p) for p in pages] == [100, 100, 5]
    stamps = [o.updated_at for p in pages for o in p]
    assert stamps == sorted(stamps)
    queries = [parse_qs(urlsplit(r["path"]).query) for r in etsy.calls("GET", RECEIPTS)]
    assert [q["offset"] for q in queries] == [["0"], ["100"], ["200"]]
    assert {q["limit"][0] for q in queries} == {"100"}
    assert {q["sort_on"][0] for q in queries} == {"updated"}
    assert {q["min_last_modified"][0] for q in queries} == {str(int(since.timestamp()))}


def test_a_paid_receipt_maps_lines_amounts_and_status(etsy: EtsyDouble) -> None:
    channel, _ = stocked(etsy, ["MUG-A", "MUG-B"])
    receipt = etsy.place([("MUG-A", 2), ("MUG-B", 1)])
    [order] = [o for p in channel.fetch_orders(datetime.now(UTC) - timedelta(minutes=5))
               for o in p]  # fmt: skip
    assert (order.order_id, order.status, order.channel_status) == (str(receipt), "open", "paid")
    assert order.currency == "USD"
    a, b = order.lines
    held = etsy.receipts[receipt]["transactions"]
    assert (a.line_id, a.sku, a.ordered, a.unshipped, a.shipped) == (
        str(held[0]["transaction_id"]), "MUG-A", 2, 2, 0,
    )  # fmt: skip
    assert a.unit_price == Decimal("29.00") and a.line_total == Decimal("58.00")
    assert a.remote_ids["listing_id"] == str(held[0]["listing_id"])
    assert b.sku == "MUG-B" and b.ordered == 1


@pytest.mark.parametrize(
    ("fields", "status", "counts"),
    [
        ({"status": "open", "is_paid": False}, "pending", (1, 1, 0, 0)),
        ({"status": "payment processing", "is_paid": False}, "pending", (1, 1, 0, 0)),
        ({"status": "paid"}, "open", (1, 1, 0, 0)),
        ({"status": "completed", "is_shipped": True}, "closed", (1, 0, 1, 0)),
        ({"status": "canceled"}, "cancelled", (1, 1, 0, 0)),
        ({"status": "fully refunded"}, "cancelled", (1, 1, 0, 0)),
        ({"status": "fully refunded", "is_shipped": True}, "closed", (1, 0, 0, 1)),
        ({"status": "partially refunded"}, "open", (1, 1, 0, 0)),  # money only
    ],
)
def test_receipt_status_maps_to_the_common_model(
    fields: dict[str, Any], status: str, counts: tuple[int, ...]
) -> None:
    receipt = {"receipt_id": 7, "status": "paid", "is_paid": True, "is_shipped": False,
               "created_timestamp": 1_790_000_000, "updated_timestamp": 1_790_000_100,
               "transactions": [{"transaction_id": 70, "sku": "MUG-A", "quantity": 1,
                                 "price": {"amount": 1500, "divisor": 1,
                                           "currency_code": "JPY"}}]}  # fmt: skip
    order = eo.to_order({**receipt, **fields})
    [line] = order.lines
    assert order.status == status
    assert (line.ordered, line.unshipped, line.shipped, line.refunded) == counts
    assert line.unit_price == Decimal("1500") and order.updated_at.year == 2026


def test_etsy_money_uses_its_divisor_and_the_currencys_minor_units() -> None:
    assert eo.money({"amount": 1999, "divisor": 100, "currency_code": "USD"}) == Decimal("19.99")
    assert eo.money({"amount": 12500, "divisor": 1000, "currency_code": "KWD"}) == Decimal("12.500")
    assert eo.money({"amount": 5, "divisor": 0, "currency_code": "USD"}) is None
    assert eo.money(None) is None


def test_late_cancellations_are_read_again_for_48_hours() -> None:
    assert Etsy.late_orders == timedelta(hours=48)


# --- shipments ------------------------------------------------------------------------------
def parcel(
    etsy: EtsyDouble, receipt: int, tracking: str | None = "9400111899223", **kw: Any
) -> Shipment:
    lines = [ShipmentLine(str(t["transaction_id"]), t["sku"], t["quantity"])
             for t in etsy.receipts[receipt]["transactions"]]  # fmt: skip
    values: dict[str, Any] = {"id": 1, "channel": "etsy", "order_id": str(receipt),
                              "number": str(receipt), "key": tracking or "shipment-1",
                              "carrier": "USPS", "tracking_number": tracking,
                              "tracking_url": None, "shipped_at": datetime.now(UTC),
                              "lines": lines}  # fmt: skip
    return Shipment(**{**values, **kw})


def test_tracking_is_sent_once_and_a_resend_is_answered_from_the_receipt(
    etsy: EtsyDouble,
) -> None:
    channel, _ = stocked(etsy, ["MUG-A", "MUG-B"])
    receipt = etsy.place([("MUG-A", 2), ("MUG-B", 1)])
    result = channel.send_shipment(parcel(etsy, receipt))
    [post] = etsy.calls("POST", TRACKING)
    assert parse_qs(post["body"].decode()) == {
        "tracking_code": ["9400111899223"], "carrier_name": ["usps"],
    }  # fmt: skip
    [shipped] = etsy.receipts[receipt]["shipments"]
    assert result.ok and result.remote_ids["fulfillment_id"] == str(shipped["receipt_shipping_id"])
    assert etsy.receipts[receipt]["is_shipped"]
    again = make(etsy.url).send_shipment(parcel(etsy, receipt))  # a rerun after a lost answer
    assert again.ok and again.remote_ids == result.remote_ids
    assert len(etsy.calls("POST", TRACKING)) == 1
    [order] = [o for p in channel.fetch_orders(datetime.now(UTC) - timedelta(minutes=5))
               for o in p if o.order_id == str(receipt)]  # fmt: skip
    assert order.status == "closed" and {x.shipped for x in order.lines} == {2, 1}


def test_a_partial_parcel_is_refused_with_the_reason_and_nothing_sent(etsy: EtsyDouble) -> None:
    channel, _ = stocked(etsy, ["MUG-A", "MUG-B"])
    receipt = etsy.place([("MUG-A", 2), ("MUG-B", 1)])
    part = parcel(etsy, receipt)
    part.lines = part.lines[:1]
    result = channel.send_shipment(part)
    assert not result.ok
    assert "Etsy ships a whole receipt" in str(result.message)
    assert "2 of receipt" in str(result.message) and "3 units" in str(result.message)
    assert etsy.calls("POST", TRACKING) == []
    # once the receipt is shipped, a second parcel adds its tracking code
    assert channel.send_shipment(parcel(etsy, receipt)).ok
    second = parcel(etsy, receipt, tracking="1Z999AA10123456784", carrier="UPS")
    second.lines = second.lines[1:]
    assert channel.send_shipment(second).ok
    assert [s["tracking_code"] for s in etsy.receipts[receipt]["shipments"]] == [
        "9400111899223", "1Z999AA10123456784",
    ]  # fmt: skip


def test_no_tracking_where_etsy_requires_it_is_refused_before_sending(etsy: EtsyDouble) -> None:
    channel, _ = stocked(etsy, ["MUG-A"])
    us = etsy.place([("MUG-A", 1)])  # 29.00 USD to the US
    result = channel.send_shipment(parcel(etsy, us, tracking=None))
    assert not result.ok and "requires a tracking code" in str(result.message)
    uk = etsy.place([("MUG-A", 1)], country="GB")
    assert channel.send_shipment(parcel(etsy, uk, tracking=None)).ok  # marked shipped only
    [post] = etsy.calls("POST", TRACKING)
    assert post["body"] == b""
    assert etsy.receipts[uk]["is_shipped"]


def test_a_cancelled_or_unknown_receipt_is_refused_with_etsys_word(etsy: EtsyDouble) -> None:
    channel, _ = stocked(etsy, ["MUG-A"])
    receipt = etsy.place([("MUG-A", 1)])
    etsy.change(receipt, status="canceled")
    cancelled = channel.send_shipment(parcel(etsy, receipt))
    assert not cancelled.ok and "cancelled on Etsy" in str(cancelled.message)
    gone = parcel(etsy, receipt, order_id="999999")
    missing = channel.send_shipment(gone)
    assert not missing.ok and "Receipt 999999 not found" in str(missing.message)
    assert etsy.calls("POST", TRACKING) == []


def test_an_etsy_refusal_of_the_tracking_keeps_etsys_message(etsy: EtsyDouble) -> None:
    channel, _ = stocked(etsy, ["MUG-A"])
    receipt = etsy.place([("MUG-A", 1)])
    etsy.fail_on.append(("POST", TRACKING, 400))
    result = channel.send_shipment(parcel(etsy, receipt))
    assert not result.ok and result.message == "Etsy: induced"
    assert channel.send_shipment(parcel(etsy, receipt)).ok  # the next run sends it
