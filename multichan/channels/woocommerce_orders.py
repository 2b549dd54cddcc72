"""WooCommerce's orders (REST API v3, ``_orders.md`` and ``_order-refunds.md``), mapped to the
common order model, and what a shipment writes to one (a Shipment Tracking item, a customer
note of ``_order-notes.md``, the units it took). Pure: the list parameters, the mapping, the
shipment bodies and the reading of what the shop has; the channel module sends them.

Listing: ``GET orders?modified_after=<GMT>&dates_are_gmt=true&orderby=date&order=asc&
per_page=100&page=N`` (the docs' ``orderby`` has no "modified", so pages are in creation order,
not change order: the cursor moves once the last page is read). An order whose ``refunds``
summary is not empty is read again with ``GET orders/<id>/refunds`` for the refunded units per
line (the summary has totals only). With ``shipment_tracking: true``, the Shipment Tracking
extension's items of each order that can have shipped are its parcels (``parcels``): carrier,
number, link and day, no units per line (the extension has none); without it, none are read.

Status mapping: pending and failed -> pending (unpaid: holds nothing); processing and on-hold
-> open (WooCommerce core reduces its own stock for these too); completed -> closed (every unit
sent); cancelled and trash -> cancelled; refunded -> closed when it had been completed, else
cancelled. Core has no partial shipment: a completed order (or one with ``date_completed``)
sent all its units, any other sent none.

Per line: refunded units come from the refunds' ``line_items`` (negative quantities, meta
``_refunded_item_id``); units WooCommerce put back to stock are the line's meta
``_restock_refunded_items`` (written when a refund is made with ``api_restock``; the only
readable trace of it). Restocked units are ``returned``; refunded ones that were not restocked
left stock (``shipped``), and count as ``refunded`` so that ``restock_refunds: true`` brings them
back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from multichan.money import api_amount
from multichan.orders.model import Order, OrderLine, Parcel, parse_time, units

PER_PAGE = 100  # the documented maximum of per_page
STATUS = {
    "pending": "pending", "failed": "pending", "processing": "open", "on-hold": "open",
    "completed": "closed", "cancelled": "cancelled", "trash": "cancelled",
}  # fmt: skip


def list_params(since: datetime) -> dict[str, Any]:
    """The list parameters for orders changed after ``since`` (GMT, no zone: WordPress reads a
    zone as site time even with dates_are_gmt)."""
    gmt = since.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {"modified_after": gmt.isoformat(), "dates_are_gmt": "true", "orderby": "date",
            "order": "asc"}  # fmt: skip


def _meta(item: dict[str, Any], key: str) -> Any:
    for meta in item.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == key:
            return meta.get("value")
    return None


def refunded_units(refunds: list[dict[str, Any]]) -> dict[str, int]:
    """Units refunded per order line item id, from ``GET orders/<id>/refunds``."""
    found: dict[str, int] = {}
    for refund in refunds:
        for item in refund.get("line_items") or []:
            line = _meta(item, "_refunded_item_id")
            count, _ = units(item.get("quantity") or 0)
            if line is not None:
                found[str(line)] = found.get(str(line), 0) + abs(count)
    return found


def to_order(order: dict[str, Any], refunds: dict[str, int]) -> Order:
    """The common order for one WooCommerce order and its refunded units per line."""
    raw = str(order.get("status") or "")
    sent = raw == "completed" or bool(order.get("date_completed_gmt"))
    status = STATUS.get(raw) or (("closed" if sent else "cancelled") if raw == "refunded" else
                                 "pending")  # fmt: skip
    lines = []
    for item in order.get("line_items") or []:
        quantity, problem = units(item.get("quantity") or 0)
        refunded = min(refunds.get(str(item.get("id")), 0), quantity)
        restocked, _ = units(_meta(item, "_restock_refunded_items") or 0)
        restocked = min(max(restocked, 0), refunded)
        kept = refunded - restocked  # refunded, not put back: gone from stock
        if sent:
            unshipped, shipped = 0, quantity
        else:
            unshipped, shipped = quantity - refunded, kept
        variation, product = int(item.get("variation_id") or 0), int(item.get("product_id") or 0)
        ids = {"variation_id": str(variation)} if variation else {}
        if product and not variation:
            ids["product_id"] = str(product)
        lines.append(
            OrderLine(
                line_id=str(item.get("id")), sku=str(item.get("sku") or "") or None,
                ordered=quantity, unshipped=unshipped, shipped=shipped, returned=restocked,
                refunded=kept, title=str(item.get("name") or ""), remote_ids=ids,
                problem=problem, unit_price=api_amount(item.get("price")),
                line_total=api_amount(item.get("total")),
            )
        )  # fmt: skip
    created = order.get("date_created_gmt") or order.get("date_created")
    modified = order.get("date_modified_gmt") or order.get("date_modified") or created
    return Order(
        order_id=str(order["id"]), number=f"#{order.get('number') or order['id']}",
        status=status, channel_status=raw, created_at=parse_time(created),
        updated_at=parse_time(modified), lines=lines,
        currency=str(order.get("currency") or "") or None,
    )  # fmt: skip


# --- shipments -------------------------------------------------------------------------------
# How they are sent, and why so, is in the channel module's docstring (multichan.channels.
# woocommerce): the extension's item or a customer note, then the units and status completed.
# carrier names (as people write them, lower case) -> the Shipment Tracking extension's own
# provider names (its built-in list, matched by the extension after sanitize_title); any other
# carrier is sent as a custom provider, its name as written, with the tracking URL given
CARRIERS = {
    "ups": "UPS", "usps": "USPS", "fedex": "Fedex", "fedex sameday": "FedEx Sameday",
    "ontrac": "OnTrac", "dhl": "DHL", "dhl express": "DHL", "dhl us": "DHL US",
    "dhl ecommerce": "DHL eCommerce", "dhl parcel uk": "DHL Parcel UK",
    "royal mail": "Royal Mail", "parcelforce": "ParcelForce", "evri": "EVRi", "hermes": "EVRi",
    "dpd uk": "DPD.co.uk", "dpd local": "DPD Local", "dpd de": "DPD.de", "dpd ie": "DPD.ie",
    "dpd nl": "DPD.NL", "dpd pl": "DPD.PL", "tnt": "TNT Express (consignment)",
    "canada post": "Canada Post", "purolator": "Purolator", "australia post": "Australia Post",
    "nz post": "NZ Post", "an post": "An Post", "colissimo": "Colissimo", "postnl": "PostNL",
    "bpost": "bpost", "postnord": "PostNord Sverige AB", "deutsche post": "Deutsche Post DHL",
    "inpost": "InPost", "poczta polska": "Poczta Polska", "aramex": "Aramex", "dtdc": "DTDC",
}  # fmt: skip
SHIPPED_META = "multichan_shipped"  # order meta: {shipment key: {line item id: units}}
SHIPPABLE = ("processing", "on-hold", "completed")  # the statuses a parcel can leave from


def carrier_name(carrier: str | None) -> str | None:
    """The carrier as the extension names it; unknown ones as written (None: no carrier)."""
    name = (carrier or "").strip()
    return CARRIERS.get(name.lower(), name) if name else None


def tracking_body(shipment: Any) -> dict[str, Any] | None:
    """The Shipment Tracking extension's create body for ``shipment``: a known provider, or a
    custom one (its name and link); None when the parcel cannot be a tracking item there (no
    tracking number, or a carrier neither known nor given with a URL, or a URL with ``%``,
    which the extension cannot keep: it strips ``%XX`` and reads the rest as a format): it
    goes as a customer note instead."""
    number, url = shipment.tracking_number, shipment.tracking_url
    carrier = (shipment.carrier or "").strip()
    if not number:
        return None
    shipped = shipment.shipped_at.astimezone(UTC).date().isoformat()
    body: dict[str, Any] = {"tracking_number": number, "date_shipped": shipped}
    if carrier.lower() in CARRIERS:
        return {"tracking_provider": CARRIERS[carrier.lower()], **body}
    if carrier and url and "%" not in url:
        return {"custom_tracking_provider": carrier, "custom_tracking_link": url, **body}
    return None


def marker(shipment: Any) -> str:
    """What marks multichan's customer note of a shipment (its key), so it is found again."""
    return f"[multichan: {shipment.key}]"


def note_text(shipment: Any, order: dict[str, Any]) -> str:
    """The customer note of a shipment: what left (the order's item names), carrier and
    tracking, and the marker."""
    names = {
        str(x.get("id")): str(x.get("name") or x.get("sku") or "")
        for x in order.get("line_items") or []
        if isinstance(x, dict)
    }
    taken: dict[str, int] = {}
    for line in shipment.lines:
        name = names.get(line.line_id) or line.sku or line.channel_sku or line.line_id
        taken[name] = taken.get(name, 0) + line.quantity
    parts = [f"Your order {shipment.number} has shipped"]
    if taken:
        parts[0] += ": " + ", ".join(f"{n} x {name}" for name, n in taken.items())
    carrier = carrier_name(shipment.carrier)
    if carrier:
        parts.append(f"Carrier: {carrier}")
    if shipment.tracking_number:
        parts.append(f"Tracking number: {shipment.tracking_number}")
    if shipment.tracking_url:
        parts.append(f"Track it at {shipment.tracking_url}")
    return ". ".join(parts) + ". " + marker(shipment)


def find_tracking(items: list[dict[str, Any]], number: str | None) -> dict[str, Any] | None:
    """The extension's tracking item with this tracking number (spaces and case aside)."""
    wanted = "".join((number or "").split()).casefold()
    for item in items:
        if wanted and "".join(str(item.get("tracking_number") or "").split()).casefold() == wanted:
            return item
    return None


def find_note(notes: list[dict[str, Any]], shipment: Any) -> dict[str, Any] | None:
    """multichan's customer note for this shipment (its marker) that carries its tracking
    number, when it has one."""
    for note in notes:
        text = str(note.get("note") or "")
        if (
            note.get("customer_note")
            and marker(shipment) in text
            and (not shipment.tracking_number or shipment.tracking_number in text)
        ):
            return note
    return None


def shipped_record(order: dict[str, Any]) -> dict[str, dict[str, int]]:
    """What multichan recorded as shipped on the order (its ``multichan_shipped`` meta)."""
    for meta in order.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == SHIPPED_META:
            try:
                found = json.loads(str(meta.get("value") or "{}"))
            except ValueError:
                return {}
            if isinstance(found, dict):
                return {
                    str(k): {str(line): int(n) for line, n in v.items()}
                    for k, v in found.items()
                    if isinstance(v, dict)
                }
    return {}


def with_shipment(record: dict[str, dict[str, int]], shipment: Any) -> dict[str, dict[str, int]]:
    """``record`` with this shipment's units per line item under its key."""
    taken: dict[str, int] = {}
    for line in shipment.lines:
        taken[line.line_id] = taken.get(line.line_id, 0) + line.quantity
    return {**record, shipment.key: taken}


def all_sent(
    order: dict[str, Any], record: dict[str, dict[str, int]], refunds: dict[str, int]
) -> bool:
    """Whether the shipments in ``record`` took every unit of the order that was not
    refunded: then it can be completed (WooCommerce core ships a whole order at once)."""
    sent: dict[str, int] = {}
    for taken in record.values():
        for line, n in taken.items():
            sent[line] = sent.get(line, 0) + n
    for item in order.get("line_items") or []:
        line = str(item.get("id"))
        quantity, _ = units(item.get("quantity") or 0)
        if sent.get(line, 0) < quantity - refunds.get(line, 0):
            return False
    return True


def parcels(items: list[dict[str, Any]]) -> list[Parcel]:
    """The parcels the shop reports: its Shipment Tracking items (``tracking_id``, the
    provider's name, number, link, ``date_shipped``); the extension says no units per line."""
    found = []
    for item in items:
        if not item.get("tracking_id") or not item.get("tracking_number"):
            continue
        shipped = str(item.get("date_shipped") or "")
        try:
            at = parse_time(int(shipped) if shipped.isdigit() else shipped) if shipped else None
        except ValueError:
            at = None
        found.append(Parcel(
            remote_id=str(item["tracking_id"]),
            carrier=str(item.get("tracking_provider") or item.get("custom_tracking_provider")
                        or "") or None,
            tracking_number=str(item["tracking_number"]),
            tracking_url=str(item.get("tracking_link") or item.get("custom_tracking_link")
                             or "") or None,
            shipped_at=at,
        ))  # fmt: skip
    return found
