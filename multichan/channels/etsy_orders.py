"""Etsy's receipts (Open API v3 ``getShopReceipts``, ``getShopReceipt``,
``createReceiptShipment``) mapped to the common order model, Etsy's Money, and what a parcel
does to a receipt. Pure: the query, the mapping and the shipment's plan; the channel module
sends them.

List: ``GET /v3/application/shops/{shop_id}/receipts`` with ``min_last_modified`` (Unix
seconds, inclusive), ``sort_on=updated``, ``sort_order=asc``, ``limit`` 100 (Etsy's most) and
``offset``. Cancellations can take Etsy up to 48 hours to process and reach tools late
(help.etsy.com "How to Cancel a Sale"; sumtracker's Etsy notes), so the channel declares
``late_orders`` of 48 h and the pull reads that far back once an hour.

Status (``ShopReceipt.status`` with ``is_paid`` / ``is_shipped``):
- ``open`` / ``payment processing`` (not paid yet) -> pending: holds no stock;
- ``paid`` / ``partially refunded`` -> open until ``is_shipped``, then closed;
- ``completed`` -> closed; ``canceled`` -> cancelled;
- ``fully refunded`` -> cancelled when nothing was shipped, else closed with every unit
  ``refunded`` (Etsy says nothing about restocking: ``restock_refunds`` decides).
Etsy itself does not put the units of a cancelled sale back on the listing ("Canceling a
sold-out item doesn't put the item back in your shop"): multichan releases them and its next
push writes the absolute quantity to Etsy too. A partial refund is money only: Etsy's
``refunds[]`` carry amounts, not units, so no stock moves and the status says so.

Lines are ``transactions[]``: ``transaction_id`` (the line id), ``sku``, ``quantity``,
``listing_id`` / ``product_id`` (kept as remote ids), ``price`` per unit (Money). Etsy ships a
receipt, not lines: a shipped receipt has shipped every unit (a transaction's own
``shipped_timestamp`` says so too).

Money is ``{amount, divisor, currency_code}``: amount / divisor in the currency, rounded to its
minor units by ``multichan.money``.

Shipments (``plan_shipment``): a receipt whose ``shipments[]`` already carry the parcel's
tracking code is answered, not sent again; a cancelled receipt has nothing to ship; a parcel of
only some of the receipt's units is refused (Etsy would mark the whole receipt shipped and tell
the buyer so) unless the receipt is shipped already (another tracking code for it is added);
no tracking code where Etsy requires one (US orders over 10 USD, India) is refused before
sending. Etsy's carrier is a name; an unknown one goes as ``other`` with the tracking code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from multichan.money import quantize
from multichan.orders.model import Order, OrderLine, parse_time, units

PER_PAGE = 100  # getShopReceipts: limit 1-100
PENDING = frozenset({"open", "payment processing"})


def receipts_params(since: datetime) -> dict[str, Any]:
    """getShopReceipts' query (without limit/offset, which the pager adds)."""
    return {
        "min_last_modified": max(int(since.timestamp()), 946_684_800),  # the spec's minimum
        "sort_on": "updated",
        "sort_order": "asc",
    }


def money(value: Any) -> Decimal | None:
    """An Etsy Money (``{amount, divisor, currency_code}``) as an amount; None without one."""
    if not isinstance(value, dict):
        return None
    amount, divisor = value.get("amount"), value.get("divisor")
    if not isinstance(amount, int) or not isinstance(divisor, int) or divisor <= 0:
        return None
    try:
        return quantize(Decimal(amount) / Decimal(divisor), value.get("currency_code"))
    except InvalidOperation:
        return None


def status_of(receipt: dict[str, Any]) -> str:
    """The common status of a receipt (see the module docstring)."""
    status = str(receipt.get("status") or "").lower()
    shipped = bool(receipt.get("is_shipped"))
    if status == "canceled":
        return "cancelled"
    if status == "fully refunded":
        return "closed" if shipped else "cancelled"
    if status == "completed":
        return "closed"
    if status in PENDING or not receipt.get("is_paid"):
        return "pending"
    return "closed" if shipped else "open"


def to_order(receipt: dict[str, Any]) -> Order:
    status = status_of(receipt)
    channel_status = str(receipt.get("status") or "")
    refunded_all = channel_status.lower() == "fully refunded" and status == "closed"
    shipped_receipt = bool(receipt.get("is_shipped")) or status == "closed"
    lines = []
    currency = None
    for t in receipt.get("transactions") or []:
        count, problem = units(t.get("quantity") if t.get("quantity") is not None else "0")
        sent = count if shipped_receipt or t.get("shipped_timestamp") else 0
        price = money(t.get("price"))
        currency = currency or (t.get("price") or {}).get("currency_code")
        ids = {k: str(t[k]) for k in ("listing_id", "product_id") if t.get(k) is not None}
        lines.append(
            OrderLine(
                line_id=str(t.get("transaction_id")), sku=(t.get("sku") or None), ordered=count,
                unshipped=0 if refunded_all else count - sent,
                shipped=0 if refunded_all else sent, refunded=count if refunded_all else 0,
                title=str(t.get("title") or ""), remote_ids=ids, problem=problem,
                unit_price=price, line_total=price * count if price is not None else None,
            )
        )  # fmt: skip
    total = receipt.get("grandtotal") or {}
    created = receipt.get("created_timestamp") or receipt.get("create_timestamp") or 0
    updated = receipt.get("updated_timestamp") or receipt.get("update_timestamp") or created
    return Order(
        order_id=str(receipt["receipt_id"]), number=str(receipt["receipt_id"]),
        status=status, channel_status=channel_status, created_at=parse_time(int(created)),
        updated_at=parse_time(int(updated)), lines=lines,
        currency=str(total.get("currency_code") or currency or "") or None,
    )  # fmt: skip


# --- shipments ------------------------------------------------------------------------------
# Etsy's carrier names for the common spellings; any other is sent as "other" with the code
CARRIERS = {
    "usps": "usps", "ups": "ups", "fedex": "fedex", "dhl": "dhl", "dhl express": "dhl-express",
    "dhl ecommerce": "dhl-ecommerce", "royal mail": "royal-mail", "canada post": "canada-post",
    "australia post": "australia-post", "dpd": "dpd", "gls": "gls", "la poste": "la-poste",
    "colissimo": "colissimo", "deutsche post": "deutsche-post", "hermes": "hermes",
    "evri": "evri", "postnord": "postnord", "correos": "correos", "japan post": "japan-post",
    "india post": "india-post", "purolator": "purolator", "tnt": "tnt",
}  # fmt: skip


def carrier_name(carrier: str | None) -> str:
    text = " ".join((carrier or "").split()).lower()
    return CARRIERS.get(text, "other")


@dataclass
class Plan:
    """What a parcel does to a receipt: ``done`` (the id of a shipment Etsy already has for
    it), ``refused`` (why Etsy cannot take it), or ``form`` (createReceiptShipment's fields)."""

    done: str | None = None
    refused: str | None = None
    form: dict[str, str] | None = None


def shipment_id(receipt_id: str, shipment: dict[str, Any]) -> str:
    """The id a parcel is recorded under: Etsy's ``receipt_shipping_id``, else its code."""
    found = shipment.get("receipt_shipping_id")
    return str(found) if found else f"{receipt_id}:{shipment.get('tracking_code') or 'shipped'}"


def needs_tracking(receipt: dict[str, Any]) -> bool:
    """Etsy requires a tracking code and carrier for US orders over 10 USD and for India."""
    country = str(receipt.get("country_iso") or "").upper()
    total = money(receipt.get("grandtotal"))
    code = str((receipt.get("grandtotal") or {}).get("currency_code") or "").upper()
    return country == "IN" or (
        country == "US" and total is not None and (code != "USD" or total > 10)
    )


def plan_shipment(
    receipt: dict[str, Any], wanted: dict[str, int], tracking: str | None, carrier: str | None
) -> Plan:
    """The plan for a parcel of ``wanted`` units per transaction id (see the module docstring)."""
    receipt_id = str(receipt.get("receipt_id"))
    shipments = [s for s in receipt.get("shipments") or [] if isinstance(s, dict)]
    if tracking:
        for s in shipments:
            if str(s.get("tracking_code") or "").strip() == tracking:
                return Plan(done=shipment_id(receipt_id, s))
    elif receipt.get("is_shipped"):
        return Plan(done=shipment_id(receipt_id, shipments[0]) if shipments else receipt_id)
    status = str(receipt.get("status") or "").lower()
    if status == "canceled":
        return Plan(refused=f"receipt {receipt_id} was cancelled on Etsy: nothing to ship")
    if status in ("open", "payment processing") or not receipt.get("is_paid"):
        return Plan(refused=f"receipt {receipt_id} is not paid on Etsy yet: it cannot be shipped")
    if not receipt.get("is_shipped"):
        ordered = {str(t.get("transaction_id")): int(t.get("quantity") or 0)
                   for t in receipt.get("transactions") or []}  # fmt: skip
        short = {tid: q for tid, q in ordered.items() if wanted.get(tid, 0) < q}
        if short:
            return Plan(refused=(
                f"Etsy ships a whole receipt, not lines: this parcel has "
                f"{sum(min(wanted.get(t, 0), q) for t, q in ordered.items())} of receipt "
                f"{receipt_id}'s {sum(ordered.values())} units, and Etsy would tell the buyer "
                "that all of them shipped; ship the whole order in one parcel (later parcels "
                "of a shipped receipt add their tracking codes)"
            ))  # fmt: skip
    if not tracking and needs_tracking(receipt):
        return Plan(refused=(
            f"Etsy requires a tracking code and carrier for receipt {receipt_id} (US orders "
            "over 10 USD and orders to India): add the tracking number to the shipment"
        ))  # fmt: skip
    form: dict[str, str] = {}
    if tracking:
        form = {"tracking_code": tracking, "carrier_name": carrier_name(carrier)}
    return Plan(form=form)
