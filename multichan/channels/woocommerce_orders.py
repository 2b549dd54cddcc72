"""WooCommerce's orders (REST API v3, ``_orders.md`` and ``_order-refunds.md``), mapped to the
common order model. Pure: the list parameters and the mapping; the channel module sends them.

Listing: ``GET orders?modified_after=<GMT>&dates_are_gmt=true&orderby=date&order=asc&
per_page=100&page=N`` (the docs' ``orderby`` has no "modified", so pages are in creation order,
not change order: the cursor moves once the last page is read). An order whose ``refunds``
summary is not empty is read again with ``GET orders/<id>/refunds`` for the refunded units per
line (the summary has totals only).

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

from datetime import UTC, datetime
from typing import Any

from multichan.orders.model import Order, OrderLine, parse_time, units

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
                problem=problem,
            )
        )  # fmt: skip
    created = order.get("date_created_gmt") or order.get("date_created")
    modified = order.get("date_modified_gmt") or order.get("date_modified") or created
    return Order(
        order_id=str(order["id"]), number=f"#{order.get('number') or order['id']}",
        status=status, channel_status=raw, created_at=parse_time(created),
        updated_at=parse_time(modified), lines=lines,
    )  # fmt: skip
