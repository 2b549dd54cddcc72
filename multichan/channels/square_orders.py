"""Square's orders (Orders API ``SearchOrders``, ``RetrieveOrder``, ``UpdateOrder``, api.json
2025-08-20), mapped to the common order model, and what a shipment does to an order's
fulfillment. Pure: the search body, the mapping and the shipment's plan; the channel module
sends them.

Search: ``POST /v2/orders/search`` for the channel's location, orders of state OPEN, COMPLETED
or CANCELED whose ``updated_at`` is at or after the start (inclusive, per TimeRange), sorted by
``updated_at`` ascending (the sort field must be the filtered one), ``limit`` 500 a page with
Square's ``cursor``. Offline POS orders can reach Square up to 72 hours late with their
original times, so the channel declares ``late_orders`` and the pull reads that far back once
an hour.

Status mapping (Order.state): OPEN -> open (its units are committed until it completes),
COMPLETED -> closed (a till sale: the units left with the buyer), CANCELED -> cancelled, DRAFT
-> pending. A line's units are its ``quantity``, a decimal string: whole numbers only move
stock; "1.5" (goods sold by weight) is recorded with the reason and moves nothing. Lines are
matched by ``catalog_object_id``, the item variation id push recorded (``variation_id``). An
open order whose SHIPMENT fulfillment is COMPLETED (marked shipped, on Square or by multichan)
has sent the lines it applies to (``line_item_application`` ALL, or its ``entries``); each
such fulfillment is a parcel Square reports (``parcels``), with its carrier and tracking.

Returns are their own orders (``returns[].return_line_items`` naming the source line): each
returned unit is a line of the return order with ``refunded`` units, which come back to stock
only with ``restock_refunds: true``, since a return in Square restocks only when the seller
ticks "restock" (the order does not say).

Shipments (``plan_shipment``): Square keeps fulfillments per order, not per line; the API
makes at most one per order ("Orders can only be created with at most one fulfillment using
the API") and its ``line_item_application`` / ``entries`` are read-only, so a parcel of only
some of the order's units cannot be told to Square and is refused with the reason. A parcel
of the whole order completes the order's SHIPMENT fulfillment (PROPOSED, RESERVED or PREPARED)
with ``shipment_details`` carrier, tracking_number and tracking_url, or adds one (COMPLETED,
with a uid derived from the parcel's key) to an open order that has none; ``shipped_at`` is
read-only, Square stamps it. The order itself stays OPEN, since Square changes no COMPLETED
order and tracking may come later; a COMPLETED order without a SHIPMENT fulfillment is a till
sale, which has nothing to ship. Square's ``carrier`` is free text (at most 50 characters):
``CARRIERS`` maps the common spellings to the carriers' display names, any other is sent as
written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from multichan.money import from_minor
from multichan.orders.model import Order, OrderLine, Parcel, iso, parse_time, units

PER_PAGE = 500  # SearchOrders' default limit (1,000 at most)
STATUS = {"OPEN": "open", "COMPLETED": "closed", "CANCELED": "cancelled", "DRAFT": "pending"}


def search_body(location: str, since: datetime, cursor: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location_ids": [location],
        "limit": PER_PAGE,
        "query": {
            "filter": {
                "state_filter": {"states": ["OPEN", "COMPLETED", "CANCELED"]},
                "date_time_filter": {"updated_at": {"start_at": iso(since)}},
            },
            "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
        },
    }
    if cursor:
        body["cursor"] = cursor
    return body


def to_order(order: dict[str, Any]) -> Order:
    state = str(order.get("state") or "")
    status = STATUS.get(state, "pending")
    shipped = sent_units(order)
    lines = []
    for item in order.get("line_items") or []:
        count, problem = units(item.get("quantity") or "0")
        variation = item.get("catalog_object_id")
        sent = count if status == "closed" else min(shipped.get(str(item.get("uid")), 0), count)
        lines.append(
            OrderLine(
                line_id=str(item.get("uid")), sku=None, ordered=count,
                unshipped=count - sent, shipped=sent,
                title=" ".join(str(item.get(k) or "") for k in ("name", "variation_name")).strip(),
                remote_ids={"variation_id": str(variation)} if variation else {},
                problem=problem, line_total=_amount(item.get("total_money")),
                unit_price=_amount(item.get("base_price_money")),
            )
        )  # fmt: skip
    for ret in order.get("returns") or []:
        for item in ret.get("return_line_items") or []:
            count, problem = units(item.get("quantity") or "0")
            variation = item.get("catalog_object_id")
            done = status == "closed"
            lines.append(
                OrderLine(
                    line_id=f"return:{item.get('uid')}", sku=None, ordered=0,
                    refunded=count if done else 0,
                    title=f"return of {ret.get('source_order_id') or 'an order'}: "
                    f"{item.get('name') or ''}".strip(),
                    remote_ids={"variation_id": str(variation)} if variation else {},
                    problem=problem,
                )
            )  # fmt: skip
    created = parse_time(order["created_at"])
    return Order(
        order_id=str(order["id"]),
        number=str(order.get("reference_id") or order.get("ticket_name") or order["id"]),
        status=status, channel_status=state + (" (return)" if order.get("returns") else ""),
        created_at=created, updated_at=parse_time(order.get("updated_at") or order["created_at"]),
        lines=lines, currency=_currency(order), parcels=parcels(order),
    )  # fmt: skip


def parcels(order: dict[str, Any]) -> list[Parcel]:
    """The order's COMPLETED SHIPMENT fulfillments, whoever marked them shipped: uid,
    ``shipment_details`` carrier, tracking number and URL, ``shipped_at``, and the units of the
    lines they apply to."""
    found = []
    for f in order.get("fulfillments") or []:
        if f.get("type") != "SHIPMENT" or f.get("state") != "COMPLETED" or not f.get("uid"):
            continue
        details = f.get("shipment_details") or {}
        shipped = details.get("shipped_at")
        found.append(Parcel(
            remote_id=str(f["uid"]), carrier=details.get("carrier") or None,
            tracking_number=details.get("tracking_number") or None,
            tracking_url=details.get("tracking_url") or None,
            shipped_at=parse_time(shipped) if shipped else None,
            lines=sent_units({**order, "fulfillments": [f]}),
        ))  # fmt: skip
    return found


def sent_units(order: dict[str, Any]) -> dict[str, int]:
    """Units per line uid that the order's COMPLETED SHIPMENT fulfillments apply to."""
    sent: dict[str, int] = {}
    for f in order.get("fulfillments") or []:
        if f.get("type") != "SHIPMENT" or f.get("state") != "COMPLETED":
            continue
        if f.get("line_item_application") == "ENTRY_LIST":
            pairs = [(e.get("line_item_uid"), e.get("quantity")) for e in f.get("entries") or []]
        else:
            pairs = [(x.get("uid"), x.get("quantity")) for x in order.get("line_items") or []]
        for uid, quantity in pairs:
            count, _ = units(quantity or "0")
            sent[str(uid)] = sent.get(str(uid), 0) + count
    return sent


# --- shipments: the order's SHIPMENT fulfillment --------------------------------------------
# Square's carrier is free text; these are the display names the carriers use themselves
CARRIERS = {
    "ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL", "dhl express": "DHL Express",
    "dhl ecommerce": "DHL eCommerce", "royal mail": "Royal Mail", "canada post": "Canada Post",
    "australia post": "Australia Post", "dpd": "DPD", "gls": "GLS", "postnord": "PostNord",
    "la poste": "La Poste", "colissimo": "Colissimo", "deutsche post": "Deutsche Post",
    "hermes": "Hermes", "evri": "Evri", "poste italiane": "Poste Italiane",
    "correos": "Correos", "japan post": "Japan Post", "ontrac": "OnTrac",
    "purolator": "Purolator", "tnt": "TNT", "aramex": "Aramex",
}  # fmt: skip
MAX_CARRIER, MAX_TRACKING, MAX_URL = 50, 100, 2000  # FulfillmentShipmentDetails maxLength
OPEN_STEPS = ("PROPOSED", "RESERVED", "PREPARED")  # a fulfillment not done yet


def carrier_name(carrier: str | None) -> str | None:
    """The carrier as Square shows it: a common one by its display name, any other as
    written (cut to Square's 50 characters)."""
    text = " ".join((carrier or "").split())
    return CARRIERS.get(text.lower(), text)[:MAX_CARRIER] or None


def shipment_details(
    carrier: str | None, tracking_number: str | None, tracking_url: str | None
) -> dict[str, str]:
    """FulfillmentShipmentDetails with what is known (``shipped_at`` is Square's to set)."""
    given = {"carrier": carrier_name(carrier), "tracking_number": tracking_number,
             "tracking_url": tracking_url}  # fmt: skip
    return {k: v for k, v in given.items() if v}


def fulfillment_uid(shipment_key: str) -> str:
    """The uid of a SHIPMENT fulfillment multichan adds for a parcel (at most 60 characters)."""
    return "multichan-" + hashlib.sha256(shipment_key.encode()).hexdigest()[:24]


@dataclass
class Plan:
    """What one parcel does to an order as Square holds it: ``done`` (the uid of a fulfillment
    that already says so: nothing to send), ``refused`` (why Square cannot take it), or
    ``fulfillment`` (the sparse fulfillment to write with UpdateOrder)."""

    done: str | None = None
    refused: str | None = None
    fulfillment: dict[str, Any] | None = None


def _decimal(value: Any) -> Decimal | None:
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() else None


def plan_shipment(
    order: dict[str, Any], number: str, key: str, wanted: dict[str, int],
    details: dict[str, str], remote_uid: str | None,
) -> Plan:  # fmt: skip
    """The plan for a parcel of ``wanted`` units per line uid with ``details`` (see the module
    docstring); ``remote_uid``: the fulfillment the parcel was sent as, whose tracking changed."""
    state = order.get("state")
    fulfillments = order.get("fulfillments") or []
    ships = [f for f in fulfillments if f.get("type") == "SHIPMENT"]
    tracking = details.get("tracking_number")

    def said(f: dict[str, Any]) -> dict[str, Any]:
        return f.get("shipment_details") or {}

    def has_all(f: dict[str, Any]) -> bool:
        return all(said(f).get(k) == v for k, v in details.items())

    if remote_uid:
        found = next((f for f in fulfillments if f.get("uid") == remote_uid), None)
        if found is None:
            return Plan(refused=f"order {number} no longer has shipment {remote_uid} on Square")
        if has_all(found):
            return Plan(done=remote_uid)
        if state in ("COMPLETED", "CANCELED"):
            return Plan(
                refused=f"order {number} is {state} on Square, which changes no "
                f"{state.lower()} order: tracking {tracking or '-'} not added there"
            )
        return Plan(fulfillment={"uid": remote_uid, "shipment_details": details})
    mine = fulfillment_uid(key)
    for f in ships:  # sent before (an answer lost on the way back)
        if f.get("state") == "COMPLETED" and (
            f.get("uid") == mine or (tracking and said(f).get("tracking_number") == tracking)
        ):
            return Plan(done=str(f.get("uid")))
    if state == "CANCELED":
        return Plan(refused=f"order {number} was cancelled on Square: nothing to ship")
    shipped = [f for f in ships if f.get("state") == "COMPLETED"]
    if state == "COMPLETED" and not ships:
        return Plan(
            refused=f"order {number} is a till sale (COMPLETED at the till, no shipment"
            " fulfillment): a till sale has nothing to ship"
        )
    if state == "COMPLETED":
        if shipped and not tracking:
            return Plan(done=str(shipped[0].get("uid")))
        return Plan(
            refused=f"order {number} is COMPLETED on Square, which changes no "
            f"completed order: shipment {key} not added there"
        )
    ordered = {
        str(x.get("uid")): _decimal(x.get("quantity")) for x in order.get("line_items") or []
    }
    whole = {uid: q for uid, q in ordered.items() if q is not None and q == q.to_integral_value()}
    short = {uid: q for uid, q in whole.items() if wanted.get(uid, 0) < q}
    if short:
        total = sum(q for q in ordered.values() if q is not None)
        return Plan(refused=(
            f"Square keeps one shipment for all the lines of order {number} (its API cannot "
            f"mark some lines shipped: fulfillment entries are read-only); this parcel has "
            f"{sum(wanted.values())} of its {total:f} units: ship the whole order at once"
        ))  # fmt: skip
    if shipped:  # marked shipped on Square already
        there = said(shipped[0]).get("tracking_number")
        if not tracking or there == tracking:
            return Plan(done=str(shipped[0].get("uid")))
        if there:
            return Plan(
                refused=f"order {number} was marked shipped on Square with tracking "
                f"{there}, not {tracking}"
            )
        return Plan(fulfillment={"uid": shipped[0].get("uid"), "shipment_details": details})
    waiting = [f for f in ships if f.get("state") in OPEN_STEPS]
    if waiting:
        return Plan(fulfillment={"uid": waiting[0].get("uid"), "state": "COMPLETED",
                                 "shipment_details": details})  # fmt: skip
    if ships:
        return Plan(
            refused=f"the shipment of order {number} is {ships[0].get('state')} on "
            "Square: nothing to ship"
        )
    return Plan(fulfillment={"uid": mine, "type": "SHIPMENT", "state": "COMPLETED",
                             "shipment_details": details})  # fmt: skip


def _amount(money: Any) -> Decimal | None:
    """A Square Money (``{amount: minor units, currency}``) as an amount; None without one."""
    if not isinstance(money, dict) or not isinstance(money.get("amount"), int):
        return None
    return from_minor(money["amount"], str(money.get("currency") or ""))


def _currency(order: dict[str, Any]) -> str | None:
    """The order's currency: its total's, else its first line's."""
    for money in [
        order.get("total_money"),
        *(i.get("total_money") for i in order.get("line_items") or []),
    ]:
        if isinstance(money, dict) and money.get("currency"):
            return str(money["currency"])
    return None
