"""Square's orders (Orders API ``SearchOrders``, api.json 2025-08-20), mapped to the common order
model. Pure: the search body and the mapping; the channel module sends them.

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
matched by ``catalog_object_id``, the item variation id push recorded (``variation_id``).

Returns are their own orders (``returns[].return_line_items`` naming the source line): each
returned unit is a line of the return order with ``refunded`` units, which come back to stock
only with ``restock_refunds: true``, since a return in Square restocks only when the seller
ticks "restock" (the order does not say).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from multichan.orders.model import Order, OrderLine, iso, parse_time, units

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
    lines = []
    for item in order.get("line_items") or []:
        count, problem = units(item.get("quantity") or "0")
        variation = item.get("catalog_object_id")
        sent = status == "closed"
        lines.append(
            OrderLine(
                line_id=str(item.get("uid")), sku=None, ordered=count,
                unshipped=0 if sent else count, shipped=count if sent else 0,
                title=" ".join(str(item.get(k) or "") for k in ("name", "variation_name")).strip(),
                remote_ids={"variation_id": str(variation)} if variation else {},
                problem=problem,
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
        lines=lines,
    )  # fmt: skip
