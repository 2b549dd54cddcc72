"""BigCommerce's orders (Orders V2 API, ``orders.v2.oas2.yml``), mapped to the common order
model, and what a shipment writes to one (``POST /v2/orders/{id}/shipments``). Pure: the list
parameters, the mapping, the carrier table, the shipment body and the reading of the
shipments an order has; the channel module sends them.

Listing: ``GET /v2/orders?min_date_modified=<ISO 8601>&sort=date_modified&limit=250&page=N``
(250 a page is the documented ceiling; ``sort`` takes the bare field name, ascending: the
contract's enum refuses ``date_modified:asc``), an empty page (or HTTP 204) ends it. Each
order's lines are ``GET /v2/orders/{id}/products`` (paged too: 50 by default).

Status mapping (``status_id``, ``/order_statuses``): 0 Incomplete, 1 Pending and 7 Awaiting
Payment -> pending (nothing paid: holds no stock); 11 Awaiting Fulfillment, 9 Awaiting
Shipment, 8 Awaiting Pickup, 3 Partially Shipped, 12 Manual Verification Required, 13
Disputed and 14 Partially Refunded -> open; 2 Shipped and 10 Completed -> closed; 5 Cancelled
and 6 Declined -> cancelled; 4 Refunded -> closed when some units had shipped, else cancelled.

Per line (order product): ``quantity``, ``quantity_shipped``, ``quantity_refunded``.
BigCommerce does not restock refunds made through the API (``docs/store-operations/orders/
refunds.mdx``), and the order does not say whether a refund in the control panel did, so
refunded units are ``refunded`` (written off, ``shipped``, unless the channel's
``restock_refunds: true`` brings them back), as the other channels report them; units refunded
before they shipped are taken from the unshipped ones first. A closed order sent everything.
Amounts: ``price_ex_tax`` a unit and ``total_ex_tax`` the line, in the order's
``currency_code``. Lines are matched by ``sku``, then by ``variant_id``/``product_id`` as push
recorded them.

Shipments: ``order_address_id`` (the order's first shipping address), ``items``
``[{order_product_id, quantity}]``, ``tracking_number`` (at most 50 characters),
``tracking_link``, the carrier as ``shipping_provider`` (BigCommerce's own providers) and
``tracking_carrier`` (an AfterShip courier slug) from ``CARRIERS``; a carrier neither knows is
sent with both empty and its name as ``shipping_method`` (free text, shown in the control
panel), since ``tracking_carrier`` takes AfterShip slugs or "" only. ``comments`` carries the
marker ``[multichan: <key>]``, so a shipment whose answer was lost is found again by the
marker or by its tracking number, and never made twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from multichan.money import api_amount
from multichan.orders.model import Order, OrderLine, parse_time, units

PER_PAGE = 250  # the most a page holds (common-query-params: limit up to 250)
MAX_TRACKING, MAX_LINK = 50, 500  # orderShipment_Post maxLength
PENDING = {0: "Incomplete", 1: "Pending", 7: "Awaiting Payment"}
OPEN = {
    11: "Awaiting Fulfillment", 9: "Awaiting Shipment", 8: "Awaiting Pickup",
    3: "Partially Shipped", 12: "Manual Verification Required", 13: "Disputed",
    14: "Partially Refunded",
}  # fmt: skip
CLOSED = {2: "Shipped", 10: "Completed"}
CANCELLED = {5: "Cancelled", 6: "Declined"}
REFUNDED = 4
SHIPPABLE = frozenset({*OPEN, *CLOSED})  # statuses a parcel can leave from


def list_params(since: datetime) -> dict[str, Any]:
    """The list parameters for orders changed at or after ``since``."""
    stamp = since.astimezone(UTC).replace(microsecond=0).isoformat()
    return {"min_date_modified": stamp, "sort": "date_modified"}


def bc_time(value: Any) -> datetime:
    """A V2 date (RFC 2822, ``Tue, 20 Nov 2012 00:00:00 +0000``; ISO 8601 accepted too)."""
    text = str(value or "").strip()
    try:
        stamp = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return parse_time(text)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


def status_of(status_id: int, shipped_any: bool) -> str:
    if status_id in OPEN:
        return "open"
    if status_id in CLOSED:
        return "closed"
    if status_id in CANCELLED:
        return "cancelled"
    if status_id == REFUNDED:
        return "closed" if shipped_any else "cancelled"
    return "pending"


def _count(value: Any) -> tuple[int, str | None]:
    count, problem = units(value if value is not None else 0)
    return max(count, 0), problem


def to_order(order: dict[str, Any], products: list[dict[str, Any]]) -> Order:
    """The common order for one V2 order and its order products."""
    try:
        status_id = int(order.get("status_id") or 0)
    except (TypeError, ValueError):
        status_id = 0
    shipped_any = any(int(p.get("quantity_shipped") or 0) > 0 for p in products)
    status = status_of(status_id, shipped_any)
    lines = []
    for p in products:
        quantity, problem = _count(p.get("quantity"))
        sent, _ = _count(p.get("quantity_shipped"))
        refunded, _ = _count(p.get("quantity_refunded"))
        sent, refunded = min(sent, quantity), min(refunded, quantity)
        # refunded units come off the unshipped ones first; a closed order sent everything
        unshipped = 0 if status == "closed" else max(quantity - sent - refunded, 0)
        ids = {k: str(p[k]) for k in ("variant_id", "product_id") if p.get(k)}
        lines.append(
            OrderLine(
                line_id=str(p.get("id")), sku=str(p.get("sku") or "") or None,
                ordered=quantity, unshipped=unshipped, shipped=quantity - unshipped,
                refunded=refunded, title=str(p.get("name") or ""), remote_ids=ids,
                problem=problem, unit_price=api_amount(p.get("price_ex_tax")),
                line_total=api_amount(p.get("total_ex_tax")),
            )
        )  # fmt: skip
    created = bc_time(order.get("date_created"))
    modified = bc_time(order.get("date_modified") or order.get("date_created"))
    name = str(order.get("status") or "") or {**PENDING, **OPEN, **CLOSED, **CANCELLED}.get(
        status_id, "Refunded" if status_id == REFUNDED else f"status {status_id}"
    )
    return Order(
        order_id=str(order["id"]), number=f"#{order['id']}", status=status,
        channel_status=name, created_at=created, updated_at=modified, lines=lines,
        currency=str(order.get("currency_code") or "") or None,
    )  # fmt: skip


# --- shipments -----------------------------------------------------------------------------
# carrier names as people write them (lower case) -> (shipping_provider, tracking_carrier):
# BigCommerce's own providers (shipping_provider_standard) and AfterShip courier slugs
CARRIERS: dict[str, tuple[str, str]] = {
    "usps": ("usps", "usps"), "ups": ("ups", "ups"), "fedex": ("fedex", "fedex"),
    "royal mail": ("royalmail", "royal-mail"), "australia post": ("auspost", "australia-post"),
    "auspost": ("auspost", "australia-post"), "canada post": ("canadapost", "canada-post"),
    "dhl": ("", "dhl"), "dhl express": ("", "dhl"), "dhl ecommerce": ("", "dhl-global-mail"),
    "dpd": ("", "dpd"), "dpd uk": ("", "dpd-uk"), "gls": ("", "gls"), "evri": ("", "hermes-uk"),
    "hermes": ("", "hermes-uk"), "parcelforce": ("", "parcel-force"), "postnl": ("", "postnl"),
    "la poste": ("", "la-poste-colissimo"), "colissimo": ("", "la-poste-colissimo"),
    "deutsche post": ("", "deutsch-post"), "ontrac": ("", "ontrac"), "tnt": ("", "tnt"),
    "purolator": ("", "purolator"), "nz post": ("", "new-zealand-post"),
    "postnord": ("", "postnord"), "correos": ("", "correos-spain"), "aramex": ("", "aramex"),
}  # fmt: skip


def carrier_fields(carrier: str | None) -> dict[str, str]:
    """``shipping_provider`` and ``tracking_carrier`` for a carrier name; an unknown one as
    ``shipping_method`` text with both left empty."""
    name = " ".join((carrier or "").split())
    provider, slug = CARRIERS.get(name.lower(), ("", ""))
    fields = {"shipping_provider": provider, "tracking_carrier": slug}
    if name and not (provider or slug):
        fields["shipping_method"] = name[:250]
    return fields


def marker(key: str) -> str:
    """What marks multichan's shipment in its ``comments``, so it is found again."""
    return f"[multichan: {key}]"


def shipment_body(shipment: Any, address_id: int, items: list[dict[str, int]]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_address_id": address_id, "items": items, "comments": marker(shipment.key),
        **carrier_fields(shipment.carrier),
    }  # fmt: skip
    if shipment.tracking_number:
        body["tracking_number"] = shipment.tracking_number
    if shipment.tracking_url:
        body["tracking_link"] = shipment.tracking_url
    return body


def tracking_update(shipment: Any) -> dict[str, Any]:
    """The ``PUT /v2/orders/{id}/shipments/{shipment_id}`` body for tracking given later."""
    body: dict[str, Any] = {**carrier_fields(shipment.carrier)}
    if shipment.tracking_number:
        body["tracking_number"] = shipment.tracking_number
    if shipment.tracking_url:
        body["tracking_link"] = shipment.tracking_url
    return body


def _bare(text: Any) -> str:
    return "".join(str(text or "").split()).casefold()


def find_shipment(shipments: list[dict[str, Any]], shipment: Any) -> dict[str, Any] | None:
    """The order's shipment that is this parcel: multichan's marker in its comments, or the
    same tracking number."""
    wanted = _bare(shipment.tracking_number)
    for found in shipments:
        if marker(shipment.key) in str(found.get("comments") or ""):
            return found
        if wanted and _bare(found.get("tracking_number")) == wanted:
            return found
    return None


def has_tracking(found: dict[str, Any], shipment: Any) -> bool:
    """Whether a shipment already says what this parcel's tracking says."""
    if shipment.tracking_number and _bare(found.get("tracking_number")) != _bare(
        shipment.tracking_number
    ):
        return False
    return not shipment.tracking_url or found.get("tracking_link") == shipment.tracking_url
