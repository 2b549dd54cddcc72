"""Amazon's orders (Selling Partner API, Orders v0, ``ordersV0.json``), mapped to the common
order model, and what a shipment sends as ``confirmShipment``. Pure: the list parameters, the
mapping, the carrier codes and the reading of Amazon's answers; the channel module
(``multichan.channels.amazon``) sends them.

Listing: ``GET /orders/v0/orders?MarketplaceIds=M&LastUpdatedAfter=<ISO>&FulfillmentChannels=MFN
&MaxResultsPerPage=N`` then ``NextToken`` pages (a NextToken page takes only MarketplaceIds
and NextToken). Amazon refuses a ``LastUpdatedAfter`` later than two minutes before the
request: the request asks from ``min(since, now - 2 min 10 s)`` and the orders updated before
``since`` are left out of the pages, so a pull right after a sale still reads it and a cursor
in the last two minutes returns nothing twice. Amazon documents no order of the results
(``orders_sorted = False``). AFN orders (fulfilled by Amazon, from Amazon's stock) are not
asked for. Each order's lines come from ``getOrderItems`` (its own ``NextToken`` pages).

Status mapping (``OrderStatus``): Pending and PendingAvailability -> open: Amazon already takes
the units off the listing while payment is authorised, so multichan commits them too (other
channels must not sell them meanwhile); Canceled gives them back. Unshipped and
PartiallyShipped -> open; Shipped and InvoiceUnconfirmed -> closed; Canceled and
Unfulfillable -> cancelled. Per line: ``QuantityOrdered`` ordered, ``QuantityShipped``
shipped, the rest unshipped (none in a cancelled order). ``ItemPrice`` is the line's total
(units times price, tax aside) and is absent while the order is Pending: no amounts then.
Returns and refunds are not in the Orders API (Reports and Finances APIs): not read.

Shipments: ``POST /orders/v0/orders/{id}/shipmentConfirmation {marketplaceId, packageDetail:
{packageReferenceId, carrierCode, carrierName, trackingNumber, shipDate, orderItems: [{orderItemId,
quantity}]}}``. ``packageReferenceId`` must be a positive number: the shipment's own id in the
catalog, so a resend names the same package. A carrier Amazon has no code for is ``Other``
with its name in ``carrierName``. A confirmation Amazon answers "order already fulfilled" is
the one a lost answer left: once the order's items show the units shipped, it is answered.
A package confirmed before keeps the tracking it was confirmed with: a changed number is
refused with where to change it (Seller Central), never answered as sent. Amazon requires a
tracking number: a parcel without one is refused until it has one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from multichan.money import api_amount, quantize
from multichan.orders.model import Order, OrderLine, iso, parse_time, units

PER_PAGE = 100  # MaxResultsPerPage: 1 to 100
NOT_BEFORE = timedelta(minutes=2, seconds=10)  # Amazon: at least 2 minutes before now
STATUSES = {
    "PendingAvailability": "open", "Pending": "open", "Unshipped": "open",
    "PartiallyShipped": "open", "Shipped": "closed", "InvoiceUnconfirmed": "closed",
    "Canceled": "cancelled", "Unfulfillable": "cancelled",
}  # fmt: skip
OTHER = "Other"
# carrier names as people write them (lower case) -> Amazon's carrierCode values
CARRIERS = {
    "ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL", "dhl express": "DHL",
    "dhl ecommerce": "DHL eCommerce", "royal mail": "Royal Mail", "parcelforce": "Parcelforce",
    "canada post": "Canada Post", "australia post": "Australia Post", "dpd": "DPD",
    "gls": "GLS", "hermes": "Hermes", "evri": "Evri", "la poste": "La Poste",
    "colissimo": "Colissimo", "deutsche post": "Deutsche Post", "tnt": "TNT",
    "ontrac": "OnTrac", "yodel": "Yodel", "amazon shipping": "Amazon Shipping",
}  # fmt: skip
ALREADY_SHIPPED = ("already fulfilled", "already shipped")


def ask_from(since: datetime, now: datetime | None = None) -> datetime:
    """The ``LastUpdatedAfter`` Amazon takes for a pull from ``since``: never later than two
    minutes (and a margin) before now."""
    return min(since, (now or datetime.now(UTC)) - NOT_BEFORE)


def list_params(
    marketplace: str, since: datetime, per_page: int, now: datetime | None = None
) -> dict[str, Any]:
    """getOrders' query for orders changed at or after ``since`` (see the module docstring)."""
    return {
        "MarketplaceIds": marketplace,
        "LastUpdatedAfter": iso(ask_from(since, now)),
        "FulfillmentChannels": "MFN",
        "MaxResultsPerPage": per_page,
    }


def changed_since(order: dict[str, Any], since: datetime) -> bool:
    """Whether the order changed at or after ``since`` (the pull asks from earlier)."""
    stamp = order.get("LastUpdateDate") or order.get("PurchaseDate")
    try:
        return parse_time(stamp) >= since
    except (TypeError, ValueError):
        return True  # a time Amazon garbled: read it rather than miss it


def orders_of(body: Any) -> list[dict[str, Any]]:
    payload = body.get("payload") if isinstance(body, dict) else None
    found = payload.get("Orders") if isinstance(payload, dict) else None
    return [o for o in found or [] if isinstance(o, dict) and o.get("AmazonOrderId")]


def next_token(body: Any) -> str | None:
    payload = body.get("payload") if isinstance(body, dict) else None
    token = payload.get("NextToken") if isinstance(payload, dict) else None
    return str(token) if token else None


def items_of(body: Any) -> list[dict[str, Any]]:
    payload = body.get("payload") if isinstance(body, dict) else None
    found = payload.get("OrderItems") if isinstance(payload, dict) else None
    return [i for i in found or [] if isinstance(i, dict)]


def to_order(order: dict[str, Any], items: list[dict[str, Any]]) -> Order:
    """The common order for one Amazon order and its items (getOrderItems)."""
    words = str(order.get("OrderStatus") or "")
    common = STATUSES.get(words, "open")  # an unknown status keeps its units committed
    if words not in STATUSES:
        words = f"{words or '?'} (not a status multichan knows: its units stay committed)"
    total = order.get("OrderTotal") or {}
    currency = str(total.get("CurrencyCode") or "") or None
    lines = []
    for item in items:
        ordered, problem = units(item.get("QuantityOrdered") or 0)
        shipped, problem2 = units(item.get("QuantityShipped") or 0)
        shipped = min(shipped, ordered)
        price = item.get("ItemPrice") or {}
        line_total = api_amount(price.get("Amount"))
        currency = currency or (str(price.get("CurrencyCode") or "") or None)
        unit = (
            quantize(line_total / ordered, currency) if line_total is not None and ordered else None
        )
        lines.append(
            OrderLine(
                line_id=str(item.get("OrderItemId")), sku=str(item.get("SellerSKU") or "") or None,
                ordered=ordered, shipped=shipped,
                unshipped=0 if common == "cancelled" else ordered - shipped,
                title=str(item.get("Title") or ""),
                remote_ids={"asin": str(item["ASIN"])} if item.get("ASIN") else {},
                problem=problem or problem2, unit_price=unit, line_total=line_total,
            )
        )  # fmt: skip
    created = order.get("PurchaseDate") or order.get("LastUpdateDate")
    return Order(
        order_id=str(order["AmazonOrderId"]), number=str(order["AmazonOrderId"]),
        status=common, channel_status=words, created_at=parse_time(created),
        updated_at=parse_time(order.get("LastUpdateDate") or created), lines=lines,
        currency=currency,
    )  # fmt: skip


# --- shipments -------------------------------------------------------------------------------
def carrier(name: str | None) -> tuple[str, str | None]:
    """(carrierCode, carrierName) for a carrier as people write it: a known one's code, else
    ``Other`` and the name as written."""
    text = " ".join((name or "").split())
    if text.lower() in CARRIERS:
        return CARRIERS[text.lower()], None
    codes = {code.lower(): code for code in CARRIERS.values()}
    if text.lower() in codes:
        return codes[text.lower()], None
    return OTHER, text or "Other"


def confirmation(shipment: Any, marketplace: str) -> dict[str, Any]:
    """ConfirmShipmentRequest for a parcel (``multichan.orders.shipments.Shipment``)."""
    wanted: dict[str, int] = {}
    for line in shipment.lines:
        wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
    code, name = carrier(shipment.carrier)
    detail: dict[str, Any] = {
        "packageReferenceId": str(shipment.id),
        "carrierCode": code,
        "trackingNumber": " ".join((shipment.tracking_number or "").split()),
        "shipDate": iso(shipment.shipped_at),
        "orderItems": [{"orderItemId": k, "quantity": v} for k, v in wanted.items()],
    }
    if name:
        detail["carrierName"] = name
    return {"marketplaceId": marketplace, "packageDetail": detail}


def says_already_shipped(message: str) -> bool:
    return any(words in message.lower() for words in ALREADY_SHIPPED)


def units_shipped(items: list[dict[str, Any]], body: dict[str, Any]) -> bool:
    """Whether Amazon's items show every unit of the confirmation ``body`` as shipped."""
    shipped = {str(i.get("OrderItemId")): int(i.get("QuantityShipped") or 0) for i in items}
    return all(
        shipped.get(str(x["orderItemId"]), 0) >= int(x["quantity"])
        for x in body["packageDetail"]["orderItems"]
    )
