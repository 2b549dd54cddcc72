"""Shopify's orders, read through the Admin GraphQL API (2025-01), mapped to the common order
model. Pure: the documents and the mapping; the channel module sends them.

Documents: ``orders(sortKey: UPDATED_AT, query: "updated_at:>='...'")`` pages of
``ORDERS_PER_PAGE`` orders with their first ``LINES`` line items, ``REFUNDS`` refunds and
``FULFILLMENTS`` fulfillments, sized to stay under Shopify's 1,000-point query cost; an order
with more is read again alone (``ORDER``), its line items paged.

Status mapping (Order type in the schema): ``cancelledAt`` set -> cancelled; financial status
PENDING, EXPIRED or VOIDED -> pending (nothing paid, nothing held); otherwise (AUTHORIZED, PAID,
PARTIALLY_PAID, PARTIALLY_REFUNDED, REFUNDED) open, or closed once ``displayFulfillmentStatus``
is FULFILLED.

Per line (LineItem, Refund.refundLineItems.restockType): ``unshipped`` = ``unfulfilledQuantity``;
units still with the buyer = ``currentQuantity - unfulfilledQuantity``; refunds restocked as
RETURN (or the deprecated LEGACY_RESTOCK) are ``returned``, NO_RESTOCK ones ``refunded``
(fulfilled units written off unless ``restock_refunds``), CANCEL ones were never sent and only
lower what is owed. So ``shipped`` (units that left stock) = current - unfulfilled + RETURN +
NO_RESTOCK.

Parcels (``Order.fulfillments``, ``parcels``): each SUCCESS fulfillment, its first
``trackingInfo`` (company, number, url) and its ``fulfillmentLineItems``, read with the order
(``FULFILLMENTS`` a page, an order with more read alone), are the parcels Shopify reports
shipped, whoever made them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from multichan.channels.shopify_queries import Doc
from multichan.money import api_amount, quantize
from multichan.orders.model import Order, OrderLine, Parcel, iso, parse_time

ORDERS_PER_PAGE = 10
LINES = 10  # line items read with each order on a page
REFUNDS = 2  # refunds read with each order, each with up to LINES refund lines
DETAIL_LINES = 50  # line items per request when an order is read alone
DETAIL_REFUNDS = 10

_LINE = (
    "id sku name quantity currentQuantity unfulfilledQuantity variant { id }"
    " discountedTotalSet { shopMoney { amount } }"  # the line after discounts, tax aside
)
_REFUND = "refundLineItems(first: {n}) {{ nodes {{ lineItem {{ id }} quantity restockType }} }}"
_ORDER = (
    "id name createdAt updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus"
    " currencyCode"  # the shop's currency, which shopMoney amounts are in
)
FULFILLMENTS = 5  # fulfillments read with each order on a page (more: read alone)
DETAIL_FULFILLMENTS = 30
# Fulfillment: a list field (object cost 1), its trackingInfo a list, its lines a connection
_FULFILLMENT = (
    "fulfillments(first: {n}) {{ id status createdAt trackingInfo(first: 1) {{ company number"
    " url }} fulfillmentLineItems(first: {m}) {{ pageInfo {{ hasNextPage }} nodes {{ quantity"
    " lineItem {{ id }} }} }} }}"
)


def _cost(orders: int, lines: int, refund_lines: int, fulfillment_lines: int) -> float:
    """Shopify's requested cost: object 1, connection 2 + first x its node's cost; a list of
    objects (refunds, fulfillments, trackingInfo: no connections) costs as one object."""
    refunds = 1 + (2 + refund_lines * 2)
    fulfillments = 1 + 1 + (2 + fulfillment_lines * 2)
    return 2 + orders * (1 + (2 + lines * 4) + refunds + fulfillments)  # a line: 2 + money


ORDERS = Doc(
    "MultichanOrders",
    f"""query MultichanOrders($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      {_ORDER}
      lineItems(first: {LINES}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {_LINE} }} }}
      refunds(first: {REFUNDS}) {{ {_REFUND.format(n=LINES)} }}
      {_FULFILLMENT.format(n=FULFILLMENTS, m=LINES)}
    }}
  }}
}}""",
    _cost(ORDERS_PER_PAGE, LINES, LINES, LINES),
)
ORDER = Doc(
    "MultichanOrder",
    f"""query MultichanOrder($id: ID!, $after: String) {{
  order(id: $id) {{
    {_ORDER}
    lineItems(first: {DETAIL_LINES}, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {_LINE} }}
    }}
    refunds(first: {DETAIL_REFUNDS}) {{ {_REFUND.format(n=25)} }}
    {_FULFILLMENT.format(n=DETAIL_FULFILLMENTS, m=DETAIL_LINES)}
  }}
}}""",
    _cost(1, DETAIL_LINES, 25, DETAIL_LINES) - 1,  # order(id:) is the root: no page of them
)


def orders_query(since: datetime) -> str:
    """Shopify's search syntax for orders changed at or after ``since``."""
    return f"updated_at:>='{iso(since)}'"


def overflows(node: dict[str, Any]) -> bool:
    """Whether the page showed only part of this order (more line items, refunds, or refund
    lines than a page reads)."""
    refunds = node.get("refunds") or []
    fulfillments = node.get("fulfillments") or []
    return bool(
        (node.get("lineItems") or {}).get("pageInfo", {}).get("hasNextPage")
        or len(refunds) >= REFUNDS
        or any(len((r.get("refundLineItems") or {}).get("nodes") or []) >= LINES for r in refunds)
        or len(fulfillments) >= FULFILLMENTS
        or any(
            ((f.get("fulfillmentLineItems") or {}).get("pageInfo") or {}).get("hasNextPage")
            for f in fulfillments
        )
    )


def status(node: dict[str, Any]) -> str:
    if node.get("cancelledAt"):
        return "cancelled"
    if node.get("displayFinancialStatus") in ("PENDING", "EXPIRED", "VOIDED"):
        return "pending"
    return "closed" if node.get("displayFulfillmentStatus") == "FULFILLED" else "open"


def to_order(node: dict[str, Any], lines: list[dict[str, Any]]) -> Order:
    """The common order for one Shopify order and all its line items."""
    restocks: dict[str, dict[str, int]] = {}
    for refund in node.get("refunds") or []:
        for item in (refund.get("refundLineItems") or {}).get("nodes") or []:
            line_id = (item.get("lineItem") or {}).get("id")
            kind = str(item.get("restockType") or "NO_RESTOCK")
            kind = "RETURN" if kind == "LEGACY_RESTOCK" else kind
            counts = restocks.setdefault(str(line_id), {})
            counts[kind] = counts.get(kind, 0) + int(item.get("quantity") or 0)
    out = []
    for item in lines:
        counts = restocks.get(str(item["id"]), {})
        current, open_units = (
            int(item.get("currentQuantity") or 0),
            int(item.get("unfulfilledQuantity") or 0),
        )
        back, kept = counts.get("RETURN", 0), counts.get("NO_RESTOCK", 0)
        variant = (item.get("variant") or {}).get("id")
        out.append(
            OrderLine(
                line_id=str(item["id"]), sku=item.get("sku") or None,
                ordered=int(item.get("quantity") or 0), unshipped=open_units,
                shipped=max(current - open_units, 0) + back + kept, returned=back, refunded=kept,
                title=str(item.get("name") or ""),
                remote_ids={"variant_id": variant} if variant else {},
                line_total=_money(item.get("discountedTotalSet")),
                unit_price=_unit(_money(item.get("discountedTotalSet")), item.get("quantity"),
                                 node.get("currencyCode")),
            )
        )  # fmt: skip
    financial = node.get("displayFinancialStatus") or "-"
    return Order(
        order_id=str(node["id"]), number=str(node.get("name") or node["id"]),
        status=status(node),
        channel_status=f"{financial}/{node.get('displayFulfillmentStatus') or '-'}"
        + (" cancelled" if node.get("cancelledAt") else ""),
        created_at=parse_time(node["createdAt"]), updated_at=parse_time(node["updatedAt"]),
        lines=out, currency=node.get("currencyCode") or None, parcels=parcels(node),
    )  # fmt: skip


def parcels(node: dict[str, Any]) -> list[Parcel]:
    """The order's fulfillments that shipped (status SUCCESS; cancelled, failed or pending
    ones did not), each with its first tracking info and its units per line item."""
    found = []
    for f in node.get("fulfillments") or []:
        if f.get("status") != "SUCCESS":
            continue
        tracking = (f.get("trackingInfo") or [{}])[0] or {}
        units: dict[str, int] = {}
        for item in (f.get("fulfillmentLineItems") or {}).get("nodes") or []:
            line = str((item.get("lineItem") or {}).get("id"))
            units[line] = units.get(line, 0) + int(item.get("quantity") or 0)
        found.append(Parcel(
            remote_id=str(f["id"]), carrier=tracking.get("company") or None,
            tracking_number=tracking.get("number") or None,
            tracking_url=tracking.get("url") or None,
            shipped_at=parse_time(f["createdAt"]) if f.get("createdAt") else None, lines=units,
        ))  # fmt: skip
    return found


def _money(bag: dict[str, Any] | None) -> Decimal | None:
    """The shop-currency amount of a MoneyBag (``{shopMoney: {amount}}``)."""
    return api_amount(((bag or {}).get("shopMoney") or {}).get("amount"))


def _unit(total: Decimal | None, quantity: Any, currency: str | None) -> Decimal | None:
    """A unit's price: the line's total over its units, to the currency's minor unit."""
    if total is None or not quantity:
        return None
    return quantize(total / int(quantity), currency)


# --- shipments: fulfillments with tracking ------------------------------------------------------
FULFILMENT_STATE = Doc(
    "MultichanFulfilmentState",
    """query MultichanFulfilmentState($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 10) {
      id trackingInfo(first: 3) { number }
      fulfillmentLineItems(first: 10) { nodes { quantity lineItem { id } } }
    }
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } } }
    }
  }
}""",
    1 + 10 * (1 + 3 + 2 + 10 * 2) + 2 + 5 * (1 + 2 + 50 * 2),  # under Shopify's 1,000 points
)
FULFILMENT_CREATE = Doc(
    "MultichanFulfilmentCreate",
    """mutation MultichanFulfilmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id }
    userErrors { field message }
  }
}""",
    10,
)
TRACKING_UPDATE = Doc(
    "MultichanTrackingUpdate",
    """mutation MultichanTrackingUpdate($id: ID!, $tracking: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking,
                                notifyCustomer: true) {
    fulfillment { id }
    userErrors { field message }
  }
}""",
    10,
)
# carrier names as Shopify knows them (its tracking links); any other is sent as written,
# which Shopify shows as text ("other"), with the URL given
CARRIERS = {
    "ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL Express",
    "dhl express": "DHL Express", "dhl ecommerce": "DHL eCommerce", "royal mail": "Royal Mail",
    "canada post": "Canada Post", "australia post": "Australia Post", "dpd": "DPD",
    "gls": "GLS", "postnord": "PostNord Sweden", "la poste": "La Poste", "colissimo": "Colissimo",
    "deutsche post": "Deutsche Post (DE)", "hermes": "Hermes", "evri": "Evri",
    "poste italiane": "Poste Italiane", "correos": "Correos", "japan post": "Japan Post (EN)",
}  # fmt: skip


def tracking_input(carrier: str | None, number: str | None, url: str | None) -> dict[str, Any]:
    """FulfillmentTrackingInput: the carrier as Shopify names it (unknown: as written)."""
    company = CARRIERS.get((carrier or "").strip().lower(), carrier or None)
    return {k: v for k, v in (("company", company), ("number", number), ("url", url)) if v}


def fulfilment_lines(state: dict[str, Any], wanted: dict[str, int]) -> list[dict[str, Any]]:
    """lineItemsByFulfillmentOrder for ``wanted`` units per order line id, from the order's
    open fulfillment orders (each line at most its remainingQuantity); empty when nothing of
    it is left to fulfil."""
    groups = []
    left = dict(wanted)
    for fo in state["fulfillmentOrders"]["nodes"]:
        if fo["status"] in ("CLOSED", "CANCELLED", "INCOMPLETE"):
            continue
        items = []
        for item in fo["lineItems"]["nodes"]:
            line_id = item["lineItem"]["id"]
            take = min(left.get(line_id, 0), int(item["remainingQuantity"]))
            if take > 0:
                items.append({"id": item["id"], "quantity": take})
                left[line_id] -= take
        if items:
            groups.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items})
    return groups


def fulfilled(state: dict[str, Any]) -> dict[str, int]:
    """Units per order line id in the order's fulfillments so far."""
    done: dict[str, int] = {}
    for f in state["fulfillments"]:
        for item in f["fulfillmentLineItems"]["nodes"]:
            line_id = item["lineItem"]["id"]
            done[line_id] = done.get(line_id, 0) + int(item["quantity"])
    return done


def holding(state: dict[str, Any], wanted: dict[str, int]) -> dict[str, str]:
    """``{"fulfillment_id": ...}`` of the order's fulfillment that holds exactly ``wanted``
    units per line (else the first holding any of them): a parcel whose send was answered
    too late is recorded with its id; empty when none does."""
    first = None
    for f in state["fulfillments"]:
        units: dict[str, int] = {}
        for item in f["fulfillmentLineItems"]["nodes"]:
            line_id = item["lineItem"]["id"]
            units[line_id] = units.get(line_id, 0) + int(item["quantity"])
        if units == wanted:
            return {"fulfillment_id": str(f["id"])}
        if first is None and set(units) & set(wanted):
            first = str(f["id"])
    return {"fulfillment_id": first} if first else {}
