"""TikTok Shop's orders (Order API 202309) mapped to the common order model, and what marking
a package shipped sends. Pure: the search body, the mapping and the choice of line items; the
channel module (``multichan.channels.tiktok_shop``) sends them.

Listing: ``POST /order/202309/orders/search?page_size=100&sort_field=update_time&
sort_order=ASC[&page_token=]`` with ``{"update_time_ge": <unix s>}``; pages follow
``next_page_token``. Each order carries its ``line_items``: **one entry per unit** (TikTok has
no quantity field), each with its own ``id``, ``sku_id``, ``seller_sku``, ``display_status``,
``sale_price``, ``currency``, ``package_id`` / ``tracking_number`` once shipped, and
``cancel_reason`` / display status CANCELLED when that unit was cancelled. The mapping sums
them per ``sku_id`` into one :class:`OrderLine` (``line_id`` = the sku_id, the unit line item
ids in ``remote_ids["line_item_ids"]``, comma-separated, so a shipment can name its units).

Statuses: TikTok's orders API overview says the seller should deduct or hold stock from the
moment an order is created, while UNPAID (the buyer has a window to pay; TikTok cancels the
order when they do not). TikTok itself holds those units, so multichan does too: UNPAID maps to
``open`` (committed), not ``pending``. Were it pending, the other channels would offer units a
TikTok buyer is paying for, and the next push would send TikTok a count above the one it holds
(a "stock came back"). An unpaid order TikTok cancels comes back CANCELLED and releases them.
ON_HOLD (the buyer's remorse hour), AWAITING_SHIPMENT, PARTIALLY_SHIPPING and
AWAITING_COLLECTION are ``open``; IN_TRANSIT, DELIVERED and COMPLETED are ``closed``; CANCELLED
is ``cancelled``. Per unit: a cancelled unit is not ordered; a unit whose own status is
IN_TRANSIT, DELIVERED or COMPLETED left stock (``shipped``); any other is still to send.

Amounts: ``sale_price`` per unit (what the buyer pays, before platform discounts),
``line_total`` their sum over the units not cancelled, in the order's ``payment.currency``
(or the units' ``currency``), read exactly through ``multichan.money``.

Parcels: units with a ``package_id`` and a ``tracking_number`` are TikTok's packages (the
seller's own, or marked shipped in Seller Center): one :class:`Parcel` per package, with the
units per line.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from multichan.money import api_amount
from multichan.orders.model import Order, OrderLine, Parcel, parse_time

PER_PAGE = 100  # page_size: 1..100
STATUS = {
    "UNPAID": "open", "ON_HOLD": "open", "AWAITING_SHIPMENT": "open",
    "PARTIALLY_SHIPPING": "open", "AWAITING_COLLECTION": "open", "IN_TRANSIT": "closed",
    "DELIVERED": "closed", "COMPLETED": "closed", "CANCELLED": "cancelled",
}  # fmt: skip
LEFT = frozenset({"IN_TRANSIT", "DELIVERED", "COMPLETED"})  # a unit in these left stock


def search_query(page_token: str | None) -> dict[str, str]:
    """The query of one orders search page."""
    query = {"page_size": str(PER_PAGE), "sort_field": "update_time", "sort_order": "ASC"}
    if page_token:
        query["page_token"] = page_token
    return query


def search_body(since: datetime) -> dict[str, Any]:
    return {"update_time_ge": int(since.timestamp())}


def cancelled(item: dict[str, Any]) -> bool:
    return item.get("display_status") == "CANCELLED" or bool(item.get("cancel_reason"))


def to_order(order: dict[str, Any]) -> Order:
    """The common order for one TikTok order (its unit line items summed per SKU)."""
    raw = str(order.get("status") or "")
    status = STATUS.get(raw, "open")  # an unknown status holds its units rather than drop them
    units: dict[str, list[dict[str, Any]]] = {}
    for item in order.get("line_items") or []:
        if isinstance(item, dict):
            key = str(item.get("sku_id") or item.get("seller_sku") or item.get("id"))
            units.setdefault(key, []).append(item)
    currency = str((order.get("payment") or {}).get("currency") or "") or None
    lines = []
    for sku_id, items in units.items():
        kept = [i for i in items if not cancelled(i)]
        sent = [i for i in kept if i.get("display_status") in LEFT or status == "closed"]
        first = items[0]
        prices = [api_amount(i.get("sale_price")) for i in kept]
        unit_price = api_amount(first.get("sale_price"))
        total = sum((p for p in prices if p is not None), Decimal(0)) if kept else Decimal(0)
        currency = currency or (str(first.get("currency") or "") or None)
        ids = {"sku_id": sku_id, "line_item_ids": ",".join(str(i.get("id")) for i in items)}
        if first.get("product_id"):
            ids["product_id"] = str(first["product_id"])
        ordered = len(items) if status == "cancelled" else len(kept)
        lines.append(
            OrderLine(
                line_id=sku_id, sku=str(first.get("seller_sku") or "") or None,
                ordered=ordered, unshipped=0 if status != "open" else len(kept) - len(sent),
                shipped=len(sent), title=str(first.get("product_name") or ""),
                remote_ids=ids, unit_price=unit_price,
                line_total=total if None not in prices else None,
            )
        )  # fmt: skip
    created = order.get("create_time") or 0
    return Order(
        order_id=str(order["id"]), number=str(order["id"]), status=status, channel_status=raw,
        created_at=parse_time(int(created)), updated_at=parse_time(int(order.get("update_time")
                                                                         or created)),
        lines=lines, currency=currency, parcels=parcels(order),
    )  # fmt: skip


def parcels(order: dict[str, Any]) -> list[Parcel]:
    """TikTok's packages of the order that carry a tracking number, with their units."""
    found: dict[str, Parcel] = {}
    for item in order.get("line_items") or []:
        package, number = item.get("package_id"), item.get("tracking_number")
        if not package or not number:
            continue
        parcel = found.setdefault(str(package), Parcel(
            remote_id=str(package), carrier=str(item.get("shipping_provider_name") or "")
            or None, tracking_number=str(number),
        ))  # fmt: skip
        line = str(item.get("sku_id") or item.get("seller_sku") or item.get("id"))
        parcel.lines[line] = parcel.lines.get(line, 0) + 1
    return list(found.values())


# --- shipments -------------------------------------------------------------------------------
def package_with(order: dict[str, Any], tracking_number: str | None) -> str | None:
    """The package of the order that already carries this tracking number (spaces and case
    aside), or None."""
    wanted = "".join((tracking_number or "").split()).casefold()
    for item in order.get("line_items") or []:
        number = "".join(str(item.get("tracking_number") or "").split()).casefold()
        if wanted and number == wanted and item.get("package_id"):
            return str(item["package_id"])
    return None


def unit_ids(order: dict[str, Any], shipment: Any) -> tuple[list[str], str | None]:
    """The line item ids (units) the parcel covers: for each of its lines, that many of the
    line's units TikTok has in no shipped package yet and not cancelled; and what is missing,
    when the order has fewer such units than the parcel."""
    free: dict[str, list[str]] = {}
    for item in order.get("line_items") or []:
        if cancelled(item) or item.get("tracking_number"):
            continue
        line = str(item.get("sku_id") or item.get("seller_sku") or item.get("id"))
        free.setdefault(line, []).append(str(item.get("id")))
    chosen: list[str] = []
    for line in shipment.lines:
        mine = set(str(line.remote_ids.get("line_item_ids") or "").split(",")) - {""}
        pool = [i for i in free.get(line.line_id, []) if not mine or i in mine]
        take, free[line.line_id] = (
            pool[: line.quantity],
            [i for i in free.get(line.line_id, []) if i not in pool[: line.quantity]],
        )
        if len(take) < line.quantity:
            sku = line.sku or line.channel_sku or line.line_id
            return chosen, (
                f"order {shipment.number} has {len(take)} unit(s) of {sku} left to ship, "
                f"not {line.quantity} (cancelled or shipped on TikTok already?)"
            )
        chosen += take
    return chosen, None
