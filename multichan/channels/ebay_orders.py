"""eBay's orders (Sell Fulfillment API v1, ``sell_fulfillment_v1_oas3.json`` 1.20.7), mapped to
the common order model, and what a shipment sends as a shipping fulfillment. Pure: the list
parameters, the mapping, the carrier codes and the reading of fulfillments already there; the
channel module (``multichan.channels.ebay``) sends them.

Listing: ``GET /order?filter=lastmodifieddate:[<ISO, ms, Z>..]&limit=200&offset=N`` (limit
at most 200; offsets; eBay keeps orders two years, so a start further back is moved up).
eBay documents no sort order for this filter, so the cursor moves once the last page is read
(``orders_sorted = False``). ``getOrders`` returns
``cancelStatus.cancelRequests`` always empty: an order whose ``cancelState`` is not
NONE_REQUESTED is read again with ``GET /order/{orderId}``, whose answer (with the requests)
is the one mapped.

Status mapping (``orderPaymentStatus``, ``orderFulfillmentStatus``, ``cancelStatus.cancelState``):
cancelState CANCELED -> cancelled; payment PENDING or FAILED -> pending (unpaid: holds
nothing); FULLY_REFUNDED -> closed when something was sent (IN_PROGRESS / FULFILLED), else
cancelled (refunded before it left: nothing goes out); PAID or PARTIALLY_REFUNDED -> closed
once FULFILLED, else open. A cancel request IN_PROGRESS keeps the order open (its units stay
committed until eBay completes the cancellation); ``channel_status`` says who asked and why.

Per line (``lineItems[]``: ``lineItemId``, ``sku``, ``quantity``, ``lineItemFulfillmentStatus``,
``refunds[]``): FULFILLED sent all its units; NOT_STARTED and IN_PROGRESS none (eBay does not
say per line how many of a partly shipped line left: they stay committed until FULFILLED).
``refunds[]`` carry amounts, not units: a line refunded in full (refunds >= what the buyer
paid for it) is refunded unit for unit: before it was sent it releases its units (they never
left the shelf), after it they count as ``refunded`` (sent, not restocked: ``restock_refunds``
brings them back). A partial refund moves no units. Amounts: ``lineItemCost`` is the unit
price times the quantity, before discounts; ``discountedLineItemCost`` (when given) is what
the buyer pays for the line. A line without a SKU (a listing not made through the Inventory
API) is matched by its listing id (``legacyItemId``) when it is not a variation.

Shipments: ``POST /order/{orderId}/shipping_fulfillment {lineItems: [{lineItemId, quantity}],
shippedDate, shippingCarrierCode, trackingNumber}``; carrier and tracking are mutually
required, tracking numbers are alphanumeric only (spaces and hyphens are taken out here), and
the fulfillment id (``Location`` header) is the tracking number. Carrier codes are the
Trading API's ShippingCarrierCodeType values (``CARRIERS``); a carrier not in the table is
sent as ``Other``, eBay's code for an unlisted carrier (the call has no carrier-name field).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from multichan.money import api_amount, quantize
from multichan.orders.model import Order, OrderLine, iso, parse_time, units

PER_PAGE = 200  # getOrders' documented maximum limit
MAX_AGE = timedelta(days=730) - timedelta(days=1)  # "orders ... up to two years old"
OTHER = "Other"
# carrier names as people write them (lower case) -> eBay's ShippingCarrierCodeType values
CARRIERS = {
    "ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL", "dhl express": "DHL",
    "dhl ecommerce": "DHLGlobalMail", "royal mail": "RoyalMail", "parcelforce": "Parcelforce",
    "canada post": "CanadaPost", "australia post": "AustraliaPost", "dpd": "DPD", "gls": "GLS",
    "hermes": "Hermes", "evri": "Hermes", "la poste": "LaPoste", "colissimo": "Colissimo",
    "deutsche post": "DeutschePost", "tnt": "TNT", "ontrac": "OnTrac", "postnl": "PostNL",
    "chronopost": "Chronopost", "poste italiane": "PosteItaliane", "correos": "Correos",
    "japan post": "JapanPost", "yodel": "Yodel", "purolator": "Purolator",
}  # fmt: skip
NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def list_params(since: datetime, now: datetime | None = None) -> dict[str, Any]:
    """The getOrders filter for orders changed at or after ``since``; eBay keeps orders two
    years and refuses an older start (30830), so the start is at most that far back."""
    oldest = (now or datetime.now(UTC)) - MAX_AGE
    return {"filter": f"lastmodifieddate:[{iso(max(since, oldest))}..]"}


def needs_detail(order: dict[str, Any]) -> bool:
    """Whether the order must be read again with getOrder: a cancellation is requested or
    done, and getOrders never shows its requests."""
    state = (order.get("cancelStatus") or {}).get("cancelState") or "NONE_REQUESTED"
    return state != "NONE_REQUESTED"


def _value(amount: Any) -> Decimal | None:
    return api_amount(amount.get("value")) if isinstance(amount, dict) else None


def status(order: dict[str, Any]) -> tuple[str, str]:
    """(common status, eBay's own words for it)."""
    pay = str(order.get("orderPaymentStatus") or "")
    sent = str(order.get("orderFulfillmentStatus") or "")
    cancel = order.get("cancelStatus") or {}
    state = str(cancel.get("cancelState") or "NONE_REQUESTED")
    words = f"{pay or '?'}/{sent or '?'}"
    if state != "NONE_REQUESTED":
        words += f"/cancel {state}"
        for req in cancel.get("cancelRequests") or []:
            who = req.get("cancelInitiator") or "someone"
            why = req.get("cancelReason") or "no reason given"
            words += f" ({req.get('cancelRequestState') or 'requested'} by {who}: {why})"
    if state == "CANCELED":
        return "cancelled", words
    if pay in ("PENDING", "FAILED"):
        return "pending", words
    if pay == "FULLY_REFUNDED":
        return ("closed" if sent in ("IN_PROGRESS", "FULFILLED") else "cancelled"), words
    return ("closed" if sent == "FULFILLED" else "open"), words


def to_order(order: dict[str, Any]) -> Order:
    """The common order for one eBay order (as getOrders or getOrder answers it)."""
    common, words = status(order)
    currency = None
    lines = []
    for item in order.get("lineItems") or []:
        count, problem = units(item.get("quantity") or 0)
        cost = item.get("lineItemCost") or {}
        currency = currency or cost.get("currency")
        paid = _value(item.get("discountedLineItemCost")) or _value(cost)
        refunded = sum((_value(r.get("amount")) or Decimal(0) for r in item.get("refunds") or []),
                       Decimal(0))  # fmt: skip
        whole = paid is not None and paid > 0 and refunded >= paid
        fulfilled = item.get("lineItemFulfillmentStatus") == "FULFILLED"
        shipped = count if fulfilled else 0
        if whole and not fulfilled:  # refunded before it left: the units never went
            unshipped, back = 0, 0
        else:
            unshipped, back = count - shipped, count if whole else 0
        unit = _value(cost)
        ids = {}
        if item.get("legacyItemId") and not item.get("legacyVariationId"):
            ids["listing_id"] = str(item["legacyItemId"])
        elif item.get("legacyVariationId"):
            ids["legacy_variation_id"] = str(item["legacyVariationId"])
        lines.append(
            OrderLine(
                line_id=str(item.get("lineItemId")), sku=str(item.get("sku") or "") or None,
                ordered=count, unshipped=unshipped, shipped=shipped, refunded=back,
                title=str(item.get("title") or ""), remote_ids=ids, problem=problem,
                unit_price=quantize(unit / count, currency) if unit is not None and count
                else None,
                line_total=paid,
            )
        )  # fmt: skip
    total = (order.get("pricingSummary") or {}).get("total") or {}
    created = order.get("creationDate") or order.get("lastModifiedDate")
    return Order(
        order_id=str(order["orderId"]), number=str(order["orderId"]), status=common,
        channel_status=words, created_at=parse_time(created),
        updated_at=parse_time(order.get("lastModifiedDate") or created), lines=lines,
        currency=str(total.get("currency") or currency or "") or None,
    )  # fmt: skip


# --- shipments -------------------------------------------------------------------------------
def carrier_code(carrier: str | None) -> str:
    """eBay's code for ``carrier``: a known name's, else ``Other``."""
    name = " ".join((carrier or "").split()).lower()
    if name in CARRIERS:
        return CARRIERS[name]
    codes = {code.lower(): code for code in CARRIERS.values()}
    return codes.get(name.replace(" ", ""), OTHER)


def tracking_number(number: str | None) -> str | None:
    """The tracking number as eBay takes it: letters and digits only (the label's spaces and
    hyphens taken out); None when nothing is left."""
    return NOT_ALNUM.sub("", number or "") or None


def fulfillment_body(shipment: Any) -> dict[str, Any]:
    """ShippingFulfillmentDetails for a parcel (``multichan.orders.shipments.Shipment``)."""
    wanted: dict[str, int] = {}
    for line in shipment.lines:
        wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
    body: dict[str, Any] = {
        "lineItems": [{"lineItemId": k, "quantity": v} for k, v in wanted.items()],
        "shippedDate": iso(shipment.shipped_at),
    }
    tracking = tracking_number(shipment.tracking_number)
    if tracking:  # mutually required with the carrier
        body["shippingCarrierCode"] = carrier_code(shipment.carrier)
        body["trackingNumber"] = tracking
    return body


def already_sent(fulfillments: list[dict[str, Any]], body: dict[str, Any]) -> str | None:
    """The id of a fulfillment the order already has for this parcel (a send whose answer was
    lost): the same tracking number, or, for a parcel without one, the same lines and units
    without tracking. None when there is none."""
    tracking = body.get("trackingNumber")
    lines = sorted((x["lineItemId"], x["quantity"]) for x in body["lineItems"])
    for f in fulfillments:
        there = tracking_number(f.get("shipmentTrackingNumber"))
        if tracking and there == tracking:
            return str(f.get("fulfillmentId") or tracking)
        theirs = sorted((str(x.get("lineItemId")), int(x.get("quantity") or 0))
                        for x in f.get("lineItems") or [])  # fmt: skip
        if not tracking and not there and theirs == lines:
            return str(f.get("fulfillmentId"))
    return None
