"""An eBay double for the eBay channel tests. Prism serves eBay's own contracts (Sell Inventory
v1.18.0, Sell Fulfillment v1.20.7, ``../shared/specs/ebay``); this small stateful double on
127.0.0.1 keeps what Prism's canned answers cannot show: inventory items, groups, offers and
listings, the seller's orders and their shipping fulfillments, access tokens.

It answers eBay's real paths (``/sell/inventory/v1/...``, ``/sell/fulfillment/v1/...``,
``/identity/v1/oauth2/token``), so a channel points only its ``api_url`` at it. With
``validate`` set ({"inventory": url, "fulfillment": url}) it first forwards every API request to
the Prism of its contract (the path without its base path, as Prism serves it) and answers
with Prism's error, recording it in ``violations``, when the request breaks the contract. One
quirk of the contract is bridged: it types ``product.aspects`` (and a group's ``aspects``) as a
string while eBay takes an object of names to lists of strings, so the object is checked here
and sent to Prism JSON-encoded.

Written from the contracts' descriptions and error tables:
- OAuth: ``POST /identity/v1/oauth2/token`` with ``grant_type=refresh_token``, the refresh token
  and ``scope``, the client id and secret as HTTP Basic; answers an access token valid 7,200 s
  (``invalid_client`` 401, ``invalid_grant`` 400 otherwise). API calls need ``Bearer`` with a
  token it issued (401, errorId 1001, otherwise).
- Every bulk call takes at most 25 entries (the descriptions' limit, which the contract has no
  ``maxItems`` for): more is 400 with errorId 25727 / 25730, as eBay answers.
- Inventory items: SKU at most 50 characters (25707), title at most 80 (25016), ``aspects`` an
  object of lists (25016); bulk answers carry one entry per SKU with ``statusCode`` and
  ``errors[]`` (HTTP 207 when any failed). ``refuse`` makes a SKU fail with a given error.
- Groups: ``variantSKUs`` must be inventory items (25702); GET of an unknown group 404 (25705).
- Offers: one per (SKU, marketplace, format): a second create is errorId 25002 "Offer entity
  already exists" with the offerId as a parameter; ``PUT /offer/{id}`` replaces one (25713 if
  unknown). Publishing needs a category (``categories``, when set, lists the valid ones:
  25005), a price above 0 (25003), policies and a location (25007-25009, 25012) and an image
  (25014); an offer of a group is published with its group only. Publishing gives a listing id.
- ``bulk_update_price_quantity``: per SKU, the offers must be the SKU's (25713), price above 0
  (25003), quantity 0 or more (25004).
- Revisions: every change to a published listing counts; a listing takes at most 250 a day,
  beyond which the change is refused (errorId 25002, approximated: eBay's exact code for it is
  not in the contract).
- Orders: ``GET /order`` with ``filter=lastmodifieddate:[A..B]`` (or ``creationdate``; A
  required, ISO 8601 with ``Z``: 30810 otherwise, at most two years back: 30830), ``limit``
  1-200 (31100), ``offset`` (31000),
  newest created first (eBay documents no order), ``cancelRequests`` always empty in it, as
  eBay's note says; ``GET /order/{id}`` the whole order (404, 32100, for an unknown id).
- Shipping fulfillments: ``lineItems`` of the order (32200), no line twice (32210), quantity
  1 to the line's; ``shippingCarrierCode`` and ``trackingNumber`` both or neither, tracking
  letters and digits only (32300); ``shippedDate`` ISO 8601 (32500); a cancelled order takes
  none (32600, approximated). The fulfillment id is the tracking number (else ``999`` and a
  serial), in the ``Location`` header; lines become IN_PROGRESS / FULFILLED by the units in
  their fulfillments, and the order with them.
Approximated or not modelled: taxes, delivery costs, promotions; Post-Order returns and
cancellation requests' workflow (a test sets ``cancelStatus`` with ``orders.cancel``); the
seller's real policies and locations (any non-empty id is accepted).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from tests.servers import serve

CLIENT_ID = "MultiSho-demo-PRD-a1b2c3d4e-5f6a7b8c"  # ${EBAY_CLIENT_ID}
CLIENT_SECRET = "PRD-f00dcafe1234-5678-90ab-cdef-0123"  # ${EBAY_CLIENT_SECRET}: never shown
REFRESH_TOKEN = "v^1.1#i^1#r^1#p^3#I^3#f^0#t^Ul4xMF8yOkRFQ0lTSU9OX1RFU1Q="  # ${EBAY_REFRESH_TOKEN}
INVENTORY_SPEC = "ebay/sell_inventory_v1_oas3.json"
FULFILLMENT_SPEC = "ebay/sell_fulfillment_v1_oas3.json"
INVENTORY, FULFILLMENT = "/sell/inventory/v1", "/sell/fulfillment/v1"
TOKEN_PATH = "/identity/v1/oauth2/token"
MAX_BULK, MAX_REVISIONS, MAX_LIMIT = 25, 250, 200
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")
Row = dict[str, Any]
Answer = tuple[int, Any, dict[str, str]]


def error(error_id: int, message: str, **parameters: str) -> Row:
    """An entry of eBay's ``errors[]``."""
    e: Row = {
        "errorId": error_id,
        "domain": "API_INVENTORY",
        "category": "REQUEST",
        "message": message,
    }
    if parameters:
        e["parameters"] = [{"name": k, "value": v} for k, v in parameters.items()]
    return e


def stamp(at: datetime) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Refusal(Exception):
    def __init__(self, status: int, *errors: Row) -> None:
        super().__init__(errors[0]["message"] if errors else str(status))
        self.status, self.errors = status, list(errors)


@dataclass
class EbayOrders:
    """The seller's orders as eBay keeps them, and what a test does to them."""

    double: EbayDouble
    orders: dict[str, Row] = field(default_factory=dict)
    fulfillments: dict[str, list[Row]] = field(default_factory=dict)
    last: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))

    def clear(self) -> None:
        self.orders.clear()
        self.fulfillments.clear()

    def now(self) -> str:
        """Strictly increasing stamps, at eBay's millisecond precision."""
        at = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        self.last = max(at, self.last + timedelta(milliseconds=1))
        return stamp(self.last)

    def add(
        self,
        lines: list[tuple[str, int]],
        payment: str = "PAID",
        created: datetime | None = None,
    ) -> str:
        """Place an order of (SKU, units) lines; its id."""
        n = self.double.next()
        order_id = f"{n % 100:02d}-{10000 + n:05d}-{20000 + n:05d}"
        at = self.now()
        items = []
        for i, (sku, count) in enumerate(lines):
            offer = self.double.offer_of(sku)
            price = Decimal(
                (offer or {}).get("pricingSummary", {}).get("price", {}).get("value") or "10.00"
            )
            cost = {"value": f"{price * count:.2f}", "currency": "USD"}
            item: Row = {
                "lineItemId": f"{10_000_000_000 + n * 10 + i}",
                "sku": sku,
                "quantity": count,
                "title": (self.double.items.get(sku) or {}).get("product", {}).get("title") or sku,
                "lineItemCost": cost,
                "total": cost,
                "lineItemFulfillmentStatus": "NOT_STARTED",
                "refunds": [],
                "soldFormat": "FIXED_PRICE",
                "taxes": [],
            }
            if offer and offer.get("listingId"):
                item["legacyItemId"] = offer["listingId"]
            items.append(item)
        total = sum(Decimal(x["lineItemCost"]["value"]) for x in items)
        self.orders[order_id] = {
            "orderId": order_id,
            "creationDate": stamp(created) if created else at,
            "lastModifiedDate": at,
            "orderPaymentStatus": payment,
            "orderFulfillmentStatus": "NOT_STARTED",
            "sellerId": "multichan_demo",
            "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
            "pricingSummary": {"total": {"value": f"{total:.2f}", "currency": "USD"}},
            "lineItems": items,
            "fulfillmentHrefs": [],
        }
        self.fulfillments[order_id] = []
        return order_id

    def get(self, order_id: str) -> Row:
        return self.orders[order_id]

    def touch(self, order_id: str) -> None:
        self.orders[order_id]["lastModifiedDate"] = self.now()

    def set_payment(self, order_id: str, status: str) -> None:
        self.orders[order_id]["orderPaymentStatus"] = status
        self.touch(order_id)

    def cancel(
        self,
        order_id: str,
        state: str = "CANCELED",
        initiator: str = "BUYER",
        reason: str = "BUYER_CANCEL_OR_ADDRESS_ISSUE",
    ) -> None:
        """A cancellation, requested (IN_PROGRESS) or done (CANCELED, refunded in full)."""
        order = self.orders[order_id]
        at = self.now()
        request = {
            "cancelInitiator": initiator,
            "cancelReason": reason,
            "cancelRequestId": f"5{self.double.next():09d}",
            "cancelRequestedDate": at,
            "cancelRequestState": "COMPLETED" if state == "CANCELED" else "REQUESTED",
        }
        if state == "CANCELED":
            request["cancelCompletedDate"] = at
            order["orderPaymentStatus"] = "FULLY_REFUNDED"
            order["cancelStatus"] = {
                "cancelState": "CANCELED",
                "cancelledDate": at,
                "cancelRequests": [request],
            }
        else:
            order["cancelStatus"] = {"cancelState": state, "cancelRequests": [request]}
        order["lastModifiedDate"] = at

    def refund(self, order_id: str, line_index: int, amount: str | None = None) -> None:
        """A refund of one line (all the buyer paid for it, by default)."""
        order = self.orders[order_id]
        item = order["lineItems"][line_index]
        value = amount or item["lineItemCost"]["value"]
        item["refunds"].append(
            {
                "amount": {"value": value, "currency": "USD"},
                "refundDate": self.now(),
                "refundId": f"R{self.double.next():09d}",
            }
        )
        refunded = all(
            sum(Decimal(r["amount"]["value"]) for r in x["refunds"])
            >= Decimal(x["lineItemCost"]["value"])
            for x in order["lineItems"]
        )
        order["orderPaymentStatus"] = "FULLY_REFUNDED" if refunded else "PARTIALLY_REFUNDED"
        self.touch(order_id)

    # --- the API ---------------------------------------------------------------------------
    def search(self, query: dict[str, list[str]]) -> Answer:
        known = {"filter", "limit", "offset", "orderIds", "fieldGroups"}
        if set(query) - known:
            return 400, {"errors": [error(30700, f"Invalid filter name: {set(query) - known}")]}, {}
        limit, offset = query.get("limit", ["50"])[0], query.get("offset", ["0"])[0]
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            return 400, {"errors": [error(31100, f"Invalid limit: {limit}")]}, {}
        if not offset.isdigit():
            return 400, {"errors": [error(31000, f"Invalid offset: {offset}")]}, {}
        found = list(self.orders.values())
        for part in (query.get("filter") or [""])[0].split(","):
            if not part:
                continue
            name, _, value = part.partition(":")
            if name not in ("lastmodifieddate", "creationdate"):
                return 400, {"errors": [error(30700, f"Invalid filter name: {name}")]}, {}
            match = re.fullmatch(r"\[(.*?)\.\.(.*)\]", value)
            if not match or not match.group(1):
                return 400, {"errors": [error(30820, "Start date is missing")]}, {}
            if not all(ISO.fullmatch(t) for t in match.groups() if t):
                return 400, {"errors": [error(30810, "Invalid date format")]}, {}
            start = _when(match.group(1))
            if start < datetime.now(UTC) - timedelta(days=730):
                problem = error(
                    30830, "Time range between start date and end date must be within '2' years."
                )
                return 400, {"errors": [problem]}, {}
            end = _when(match.group(2)) if match.group(2) else None
            key = "lastModifiedDate" if name == "lastmodifieddate" else "creationDate"
            found = [
                o for o in found if _when(o[key]) >= start and (end is None or _when(o[key]) <= end)
            ]
        found.sort(key=lambda o: (o["creationDate"], o["orderId"]), reverse=True)
        page = [copy.deepcopy(o) for o in found[int(offset) : int(offset) + int(limit)]]
        for o in page:
            o["cancelStatus"]["cancelRequests"] = []  # "always returned empty" by getOrders
        body = {
            "href": "/order",
            "total": len(found),
            "limit": int(limit),
            "offset": int(offset),
            "orders": page,
        }
        return 200, body, {}

    def order(self, order_id: str) -> Answer:
        if order_id not in self.orders:
            return 404, {"errors": [error(32100, f"Invalid order ID: {order_id}")]}, {}
        return 200, copy.deepcopy(self.orders[order_id]), {}

    def list_fulfillments(self, order_id: str) -> Answer:
        if order_id not in self.orders:
            return 400, {"errors": [error(32100, f"Invalid order ID: {order_id}")]}, {}
        found = copy.deepcopy(self.fulfillments[order_id])
        return 200, {"fulfillments": found, "total": len(found)}, {}

    def fulfill(self, order_id: str, body: Row, base: str) -> Answer:
        order = self.orders.get(order_id)
        if order is None:
            return 400, {"errors": [error(32100, f"Invalid Order Id: {order_id}")]}, {}
        lines = {x["lineItemId"]: x for x in order["lineItems"]}
        wanted = body.get("lineItems") or []
        ids = [x.get("lineItemId") for x in wanted]
        if not wanted or any(i not in lines for i in ids):
            bad = next((i for i in ids if i not in lines), None)
            return 400, {"errors": [error(32200, f"Invalid line item id: {bad}")]}, {}
        if len(set(ids)) != len(ids):
            return 400, {"errors": [error(32210, "Duplicate line item in the request")]}, {}
        for x in wanted:
            if not isinstance(x.get("quantity"), int) or not (
                1 <= x["quantity"] <= lines[x["lineItemId"]]["quantity"]
            ):
                return 400, {"errors": [error(32600, "Invalid input data: quantity")]}, {}
        carrier, tracking = body.get("shippingCarrierCode"), body.get("trackingNumber")
        if bool(carrier) != bool(tracking) or (
            tracking and not re.fullmatch(r"[0-9A-Za-z]+", str(tracking))
        ):
            return (
                400,
                {"errors": [error(32300, "Invalid shipment tracking number or carrier")]},
                {},
            )
        if "shippedDate" in body and not ISO.fullmatch(str(body["shippedDate"])):
            return 400, {"errors": [error(32500, "Invalid shipped date")]}, {}
        if order["cancelStatus"]["cancelState"] == "CANCELED":
            return 400, {"errors": [error(32600, "Invalid input data: the order is cancelled")]}, {}
        fid = str(tracking) if tracking else f"999{self.double.next():06d}"
        made = {
            "fulfillmentId": fid,
            "lineItems": copy.deepcopy(wanted),
            "shippedDate": body.get("shippedDate") or self.now(),
        }
        if tracking:
            made.update(shipmentTrackingNumber=tracking, shippingCarrierCode=carrier)
        self.fulfillments[order_id].append(made)
        done: dict[str, int] = {}
        for f in self.fulfillments[order_id]:
            for x in f["lineItems"]:
                done[x["lineItemId"]] = done.get(x["lineItemId"], 0) + x["quantity"]
        for line_id, item in lines.items():
            sent = done.get(line_id, 0)
            item["lineItemFulfillmentStatus"] = (
                "FULFILLED"
                if sent >= item["quantity"]
                else "IN_PROGRESS"
                if sent
                else "NOT_STARTED"
            )
        states = {x["lineItemFulfillmentStatus"] for x in lines.values()}
        order["orderFulfillmentStatus"] = (
            "FULFILLED"
            if states == {"FULFILLED"}
            else "IN_PROGRESS"
            if states != {"NOT_STARTED"}
            else "NOT_STARTED"
        )
        path = f"{FULFILLMENT}/order/{order_id}/shipping_fulfillment/{fid}"
        order["fulfillmentHrefs"].append(base + path)
        self.touch(order_id)
        return 201, {}, {"Location": base + path}


@dataclass
class EbayDouble:
    url: str = ""
    validate: dict[str, str] | None = None  # {"inventory": prism url, "fulfillment": ...}
    categories: set[str] | None = None  # the valid category ids (None: any)
    items: dict[str, Row] = field(default_factory=dict)
    groups: dict[str, Row] = field(default_factory=dict)
    offers: dict[str, Row] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)  # listing id -> revisions today
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    grants: int = 0
    token_busy: int = 0  # how many token requests get 503 before one is granted
    refuse: dict[str, Row] = field(default_factory=dict)  # SKU -> the error its item gets
    refuse_call: dict[str, Row] = field(default_factory=dict)  # "POST /path" -> error, once
    requests: list[Row] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)
    orders: EbayOrders = field(init=False)
    _schemas: Any = None  # the Inventory contract's components, to check the double's answers
    page_cap: int | None = None  # getInventoryItems gives at most this many a page (None: limit)

    def __post_init__(self) -> None:
        self.orders = EbayOrders(self)

    def next(self) -> int:
        return next(self.serial)

    def reset(self, validate: dict[str, str] | None = None) -> None:
        self.validate, self.categories, self.grants, self.token_busy = validate, None, 0, 0
        self.page_cap = None
        for store in (
            self.items,
            self.groups,
            self.offers,
            self.revisions,
            self.tokens,
            self.refuse,
            self.refuse_call,
        ):
            store.clear()
        self.orders.clear()
        self.requests.clear()
        self.violations.clear()
        self.fail_next.clear()
        self.serial = itertools.count(1)

    def calls(self, method: str, path: str) -> list[Any]:
        """The bodies of the ``method`` requests to ``path`` (eBay's full path)."""
        return [r["body"] for r in self.requests if (r["method"], r["path"]) == (method, path)]

    def offer_of(self, sku: str) -> Row | None:
        return next((o for o in self.offers.values() if o["sku"] == sku), None)

    def listing(self, sku: str) -> Row:
        """What a buyer sees for ``sku``: its item, offer and listing."""
        item = self.items.get(sku) or {}
        offer = self.offer_of(sku) or {}
        return {
            "title": item.get("product", {}).get("title"),
            "quantity": item.get("availability", {})
            .get("shipToLocationAvailability", {})
            .get("quantity"),
            "price": offer.get("pricingSummary", {}).get("price", {}).get("value"),
            "offer_quantity": offer.get("availableQuantity"),
            "status": offer.get("status"),
            "listing_id": offer.get("listingId"),
            "category": offer.get("categoryId"),
            "group": next((k for k, g in self.groups.items() if sku in g["variantSKUs"]), None),
        }

    def _revise(self, listing_id: str | None) -> Row | None:
        """Count one revision of a live listing; the error when its day's 250 are used."""
        if not listing_id:
            return None
        if self.revisions.get(listing_id, 0) >= MAX_REVISIONS:
            return error(
                25002,
                f"A user error has occurred. Listing {listing_id} reached "
                f"its {MAX_REVISIONS} revisions for today.",
            )
        self.revisions[listing_id] = self.revisions.get(listing_id, 0) + 1
        return None

    # --- inventory ---------------------------------------------------------------------------
    def _item_problem(self, entry: Row) -> Row | None:
        sku = entry.get("sku")
        if not isinstance(sku, str) or not sku or len(sku) > 50:
            return error(
                25707, "Invalid sku. sku has to be alphanumeric with upto 50 characters in length"
            )
        if sku in self.refuse:
            return self.refuse[sku]
        product = entry.get("product") or {}
        if len(product.get("title") or "") > 80:
            return error(25016, "Invalid title. The title must not exceed 80 characters.")
        found = product.get("aspects")
        if found is not None and not (
            isinstance(found, dict)
            and all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in found.values()
            )
        ):
            return error(25016, "Invalid aspects. Aspects map names to lists of values.")
        quantity = (entry.get("availability") or {}).get("shipToLocationAvailability", {})
        if quantity.get("quantity", 0) < 0:
            return error(25004, "Invalid quantity.")
        return None

    def bulk_items(self, body: Row) -> Answer:
        entries = body.get("requests") or []
        if len(entries) > MAX_BULK:
            return (
                400,
                {
                    "errors": [
                        error(
                            25727,
                            "The number of InventoryItems in the request "
                            f"cannot exceed {MAX_BULK}.",
                        )
                    ]
                },
                {},
            )
        out = []
        for entry in entries:
            problem = self._item_problem(entry)
            offer = self.offer_of(str(entry.get("sku")))
            problem = problem or self._revise((offer or {}).get("listingId"))
            if problem:
                out.append({"sku": entry.get("sku"), "statusCode": 400, "errors": [problem]})
                continue
            item = {k: v for k, v in entry.items() if k != "sku"}
            self.items[entry["sku"]] = copy.deepcopy(item)
            out.append({"sku": entry["sku"], "locale": entry.get("locale"), "statusCode": 200})
        failed = any(r["statusCode"] >= 400 for r in out)
        return (207 if failed else 200), {"responses": out}, {}

    def get_group(self, key: str) -> Answer:
        if key not in self.groups:
            return (
                404,
                {
                    "errors": [
                        error(
                            25705,
                            f"The Inventory Item Group named {key} could "
                            "not be found or is not available in the system.",
                        )
                    ]
                },
                {},
            )
        return 200, {"inventoryItemGroupKey": key, **copy.deepcopy(self.groups[key])}, {}

    def put_group(self, key: str, body: Row) -> Answer:
        missing = [s for s in body.get("variantSKUs") or [] if s not in self.items]
        if missing or not body.get("variantSKUs"):
            return (
                400,
                {
                    "errors": [
                        error(
                            25702,
                            f"{missing[:1]} could not be found or is not available in the system.",
                        )
                    ]
                },
                {},
            )
        for name in ("title", "description"):
            if not body.get(name):
                return 400, {"errors": [error(25709, f"Invalid value for {name}.")]}, {}
        new = key not in self.groups
        self.groups[key] = copy.deepcopy(body)
        return (201 if new else 204), None, {}

    def _offer_problem(self, entry: Row) -> Row | None:
        if entry.get("sku") not in self.items:
            return error(25702, f"SKU {entry.get('sku')} is not available in the system")
        price = (entry.get("pricingSummary") or {}).get("price") or {}
        if price and Decimal(str(price.get("value") or "0")) <= 0:
            return error(25003, "Invalid price.")
        return None

    def bulk_offers(self, body: Row) -> Answer:
        entries = body.get("requests") or []
        if len(entries) > MAX_BULK:
            return (
                400,
                {
                    "errors": [
                        error(
                            25730, f"The number of offers in the request cannot exceed {MAX_BULK}"
                        )
                    ]
                },
                {},
            )
        out = []
        for entry in entries:
            sku, market = entry.get("sku"), entry.get("marketplaceId")
            there = next(
                (
                    o
                    for o in self.offers.values()
                    if o["sku"] == sku and o.get("marketplaceId") == market
                ),
                None,
            )
            problem = self._offer_problem(entry)
            if there is not None:
                problem = error(
                    25002,
                    "A user error has occurred. Offer entity already exists.",
                    offerId=there["offerId"],
                )
            if problem:
                out.append(
                    {
                        "sku": sku,
                        "marketplaceId": market,
                        "format": entry.get("format"),
                        "statusCode": 400,
                        "errors": [problem],
                    }
                )
                continue
            offer_id = f"{9_000_000_000 + self.next()}"
            self.offers[offer_id] = {
                **copy.deepcopy(entry),
                "offerId": offer_id,
                "status": "UNPUBLISHED",
            }
            out.append(
                {
                    "sku": sku,
                    "marketplaceId": market,
                    "format": entry.get("format"),
                    "offerId": offer_id,
                    "statusCode": 200,
                }
            )
        failed = any(r["statusCode"] >= 400 for r in out)
        return (207 if failed else 200), {"responses": out}, {}

    def find_offers(self, query: dict[str, list[str]]) -> Answer:
        sku = (query.get("sku") or [""])[0]
        market = (query.get("marketplace_id") or [None])[0]
        found = []
        for o in self.offers.values():
            if o["sku"] == sku and (market is None or o.get("marketplaceId") == market):
                shown = {k: copy.deepcopy(v) for k, v in o.items() if k != "listingId"}
                shown.pop("listingStatus", None)
                if o.get("listingId"):  # EbayOfferDetailsWithAll.listing
                    status = o.get("listingStatus", "ACTIVE")
                    shown["listing"] = {"listingId": o["listingId"], "listingStatus": status}
                found.append(shown)
        body = {"total": len(found), "size": len(found), "offers": found}
        self._conforms("Offers", body)
        return 200, body, {}

    # --- getInventoryItems ----------------------------------------------------------------------
    def inventory_items(self, query: dict[str, list[str]]) -> Answer:
        """getInventoryItems: ``limit`` items (1-200, default 25) of page ``offset`` (0 first:
        the contract's description makes ``offset`` a page number), in the order they were
        made; ``next`` names the following page while there is one."""
        one = {k: v[0] for k, v in query.items()}
        limit, page = one.get("limit", "25"), one.get("offset", "0")
        if not (limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT and page.isdigit()):
            why = f"limit must be 1 to {MAX_LIMIT} and offset 0 or more"
            return (
                400,
                {"errors": [error(25706, f"You have provided invalid pagination values. {why}.")]},
                {},
            )
        size, at = min(int(limit), self.page_cap or MAX_LIMIT), int(page)
        skus = list(self.items)
        here = f"{self.url}{INVENTORY}/inventory_item?limit={size}&offset="
        body: Row = {
            "href": f"{here}{at}",
            "limit": size,
            "size": -(-len(skus) // size),  # the contract: the number of pages
            "total": len(skus),
            "inventoryItems": [self._shown_item(sku) for sku in skus[at * size : (at + 1) * size]],
        }
        if (at + 1) * size < len(skus):
            body["next"] = f"{here}{at + 1}"
        if at > 0:
            body["prev"] = f"{here}{at - 1}"
        self._conforms("InventoryItems", body)
        return 200, body, {}

    def _shown_item(self, sku: str) -> Row:
        item: Row = {"sku": sku, **copy.deepcopy(self.items[sku])}
        groups = [k for k, g in self.groups.items() if sku in g["variantSKUs"]]
        if groups:
            item["groupIds"] = groups
        return item

    def _conforms(self, name: str, body: Row) -> None:
        """Record where an answer of the double breaks the contract's schema ``name`` (with
        ``aspects`` JSON-encoded: the contract's string, see the module docstring)."""
        if not self.validate:
            return
        if self._schemas is None:
            from tests.prism import spec_or_skip

            self._schemas = json.loads(spec_or_skip(INVENTORY_SPEC).read_text())["components"]
        from jsonschema import Draft4Validator

        sent = copy.deepcopy(body)
        for item in sent.get("inventoryItems") or []:
            product = item.get("product") or {}
            if isinstance(product.get("aspects"), dict):
                product["aspects"] = json.dumps(product["aspects"])
        schema = {"$ref": f"#/components/schemas/{name}", "components": self._schemas}
        found = [e.message for e in Draft4Validator(schema).iter_errors(sent)]
        self.violations += [f"{name} answer: {f}" for f in found]

    # --- behind multichan's back: what a seller does in Seller Hub ---------------------------
    def set_price(self, sku: str, value: str) -> None:
        """Revise the listing's price (its offer's one price), as in Seller Hub."""
        offer = self.offer_of(sku) or {}
        offer["pricingSummary"]["price"]["value"] = value

    def set_quantity(self, sku: str, quantity: int) -> None:
        """Revise the quantity: the item's ship-to-home count and the offer's."""
        self.items[sku]["availability"]["shipToLocationAvailability"]["quantity"] = quantity
        offer = self.offer_of(sku)
        if offer is not None:
            offer["availableQuantity"] = quantity

    def set_title(self, sku: str, title: str) -> None:
        self.items[sku]["product"]["title"] = title

    def end_listing(self, sku: str) -> None:
        """End the listing (Seller Hub's "End listing"): the offer stays, its listing ENDED."""
        (self.offer_of(sku) or {})["listingStatus"] = "ENDED"

    def delete(self, sku: str) -> None:
        """Delete the inventory item, and with it its offers (deleteInventoryItem)."""
        del self.items[sku]
        for offer_id in [k for k, o in self.offers.items() if o["sku"] == sku]:
            del self.offers[offer_id]
        for group in self.groups.values():
            if sku in group["variantSKUs"]:
                group["variantSKUs"].remove(sku)

    def put_offer(self, offer_id: str, body: Row) -> Answer:
        offer = self.offers.get(offer_id)
        if offer is None:
            return 400, {"errors": [error(25713, f"This Offer is not available : {offer_id}.")]}, {}
        problem = self._offer_problem({**body, "sku": offer["sku"]})
        problem = problem or self._revise(offer.get("listingId"))
        if problem:
            return 400, {"errors": [problem]}, {}
        keep = {k: offer[k] for k in ("offerId", "sku", "status", "listingId") if k in offer}
        self.offers[offer_id] = {**copy.deepcopy(body), **keep}
        return 204, None, {}

    def _publishable(self, offer: Row) -> Row | None:
        item = self.items.get(offer["sku"]) or {}
        price = (offer.get("pricingSummary") or {}).get("price") or {}
        policies = offer.get("listingPolicies") or {}
        if not offer.get("categoryId") or (
            self.categories is not None and offer["categoryId"] not in self.categories
        ):
            return error(
                25005, f"Invalid category. {offer.get('categoryId')} is not a leaf category."
            )
        if not price or Decimal(str(price.get("value") or "0")) <= 0:
            return error(25003, "Invalid price.")
        for key, code in (
            ("fulfillmentPolicyId", 25007),
            ("paymentPolicyId", 25008),
            ("returnPolicyId", 25009),
        ):
            if not policies.get(key):
                return error(code, f"Invalid policy information: {key} is missing.")
        if not offer.get("merchantLocationKey"):
            return error(25012, "Invalid location.")
        if not (item.get("product") or {}).get("imageUrls"):
            return error(25014, "Invalid pictures. At least 1 picture is required.")
        return None

    def _go_live(self, offer: Row, listing_id: str) -> None:
        was = offer.get("listingId")
        offer.update(status="PUBLISHED", listingId=listing_id)
        offer.pop("listingStatus", None)  # an ended listing published again is live
        if was:
            self._revise(listing_id)

    def bulk_publish(self, body: Row) -> Answer:
        entries = body.get("requests") or []
        if len(entries) > MAX_BULK:
            return 400, {"errors": [error(25730, f"at most {MAX_BULK} offers")]}, {}
        out = []
        for entry in entries:
            offer = self.offers.get(str(entry.get("offerId")))
            problem = None if offer else error(25713, "This Offer is not available.")
            if offer and any(offer["sku"] in g["variantSKUs"] for g in self.groups.values()):
                problem = error(
                    25016,
                    "Invalid offer. An offer of a group is published with "
                    "publishOfferByInventoryItemGroup.",
                )
            problem = problem or self._publishable(offer or {})
            if problem or offer is None:
                out.append(
                    {"offerId": entry.get("offerId"), "statusCode": 400, "errors": [problem]}
                )
                continue
            listing_id = offer.get("listingId") or f"{110_000_000_000 + self.next()}"
            self._go_live(offer, listing_id)
            out.append({"offerId": offer["offerId"], "listingId": listing_id, "statusCode": 200})
        failed = any(r["statusCode"] >= 400 for r in out)
        return (207 if failed else 200), {"responses": out}, {}

    def publish_group(self, body: Row) -> Answer:
        key = body.get("inventoryItemGroupKey")
        group = self.groups.get(str(key))
        if group is None:
            return (
                400,
                {
                    "errors": [
                        error(
                            25705,
                            f"The Inventory Item Group named {key} could "
                            "not be found or is not available in the system.",
                        )
                    ]
                },
                {},
            )
        members = [self.offer_of(s) for s in group["variantSKUs"]]
        if any(m is None for m in members):
            return 400, {"errors": [error(25016, "Invalid group: a variant has no offer.")]}, {}
        for m in members:
            problem = self._publishable(m or {})
            if problem:
                return 400, {"errors": [problem]}, {}
        listing_id = next((m["listingId"] for m in members if m and m.get("listingId")), None)
        listing_id = listing_id or f"{110_000_000_000 + self.next()}"
        for m in members:
            self._go_live(m or {}, listing_id)
        return 200, {"listingId": listing_id}, {}

    def price_quantity(self, body: Row) -> Answer:
        entries = body.get("requests") or []
        if len(entries) > MAX_BULK:
            return (
                400,
                {
                    "errors": [
                        error(
                            25002,
                            "A user error has occurred. The number of "
                            f"requests cannot exceed {MAX_BULK}.",
                        )
                    ]
                },
                {},
            )
        out = []
        for entry in entries:
            sku = entry.get("sku")
            problem = None if sku in self.items else error(25702, f"SKU {sku} is not available")
            problem = problem or self.refuse.get(str(sku))
            stock = entry.get("shipToLocationAvailability")
            if stock is not None and stock.get("quantity", 0) < 0:
                problem = error(25004, "Invalid quantity.")
            offers = []
            for o in entry.get("offers") or []:
                offer = self.offers.get(str(o.get("offerId")))
                if offer is None or offer["sku"] != sku:
                    problem = problem or error(
                        25713, f"This Offer is not available : {o.get('offerId')}."
                    )
                elif "price" in o and Decimal(str(o["price"].get("value") or "0")) <= 0:
                    problem = problem or error(25003, "Invalid price.")
                offers.append((offer, o))
            live = {offer.get("listingId") for offer, _ in offers if offer}
            for listing_id in sorted(x for x in live if x):
                problem = problem or self._revise(listing_id)
            if problem:
                out.append({"sku": sku, "statusCode": 400, "errors": [problem]})
                continue
            if stock is not None:
                self.items[sku].setdefault("availability", {})["shipToLocationAvailability"] = {
                    "quantity": stock["quantity"]
                }
            for offer, o in offers:
                if "price" in o:
                    offer.setdefault("pricingSummary", {})["price"] = copy.deepcopy(o["price"])
                if "availableQuantity" in o:
                    offer["availableQuantity"] = o["availableQuantity"]
                out.append({"sku": sku, "offerId": offer["offerId"], "statusCode": 200})
            if not offers:
                out.append({"sku": sku, "statusCode": 200})
        failed = any(r["statusCode"] >= 400 for r in out)
        return (207 if failed else 200), {"responses": out}, {}

    # --- oauth ------------------------------------------------------------------------------
    def token(self, headers: dict[str, str], raw: bytes) -> Answer:
        form = urllib.parse.parse_qs(raw.decode())
        if self.token_busy > 0:
            self.token_busy -= 1
            return 503, {"error": "temporarily_unavailable"}, {"Retry-After": "0"}
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if headers.get("Authorization") != f"Basic {basic}":
            return (
                401,
                {"error": "invalid_client", "error_description": "client authentication failed"},
                {},
            )
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
            REFRESH_TOKEN
        ]:
            return (
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "the provided "
                    "authorization refresh token is invalid or was issued to another "
                    "client",
                },
                {},
            )
        if not form.get("scope"):
            return 400, {"error": "invalid_scope", "error_description": "scope missing"}, {}
        self.grants += 1
        token = f"v^1.1#i^1#f^0#p^3#r^0#I^3#t^H4sIAAAAAAAA{self.next():08d}"
        self.tokens[token] = time.time() + 7200
        return (
            200,
            {"access_token": token, "expires_in": 7200, "token_type": "User Access Token"},
            {},
        )

    # --- routing ----------------------------------------------------------------------------
    def _check(
        self, method: str, path: str, query: str, headers: dict[str, str], body: Any
    ) -> Answer | None:
        """Prism's answer when the request breaks eBay's contract, else None."""
        if not self.validate:
            return None
        api = "inventory" if path.startswith(INVENTORY) else "fulfillment"
        prefix = INVENTORY if api == "inventory" else FULFILLMENT
        sent = copy.deepcopy(body)
        for entry in (sent or {}).get("requests") or [] if isinstance(sent, dict) else []:
            product = entry.get("product") if isinstance(entry, dict) else None
            if isinstance(product, dict) and isinstance(product.get("aspects"), dict):
                product["aspects"] = json.dumps(product["aspects"])  # the contract's string
        if isinstance(sent, dict) and isinstance(sent.get("aspects"), dict):
            sent["aspects"] = json.dumps(sent["aspects"])
        keep = {
            k: v
            for k, v in headers.items()
            if k.lower() in ("authorization", "content-type", "content-language")
        }
        url = self.validate[api] + path[len(prefix) :] + (f"?{query}" if query else "")
        check = requests.request(
            method,
            url,
            headers=keep,
            timeout=30,
            data=json.dumps(sent) if sent is not None else None,
        )
        if check.status_code < 400:
            return None
        said = check.headers.get("sl-violations") or check.text[:600]
        self.violations.append(f"{method} {path}: {check.status_code} {said}")
        try:
            return check.status_code, check.json(), {}
        except ValueError:
            return check.status_code, {"errors": [error(0, said)]}, {}

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        split = urllib.parse.urlsplit(target)
        path, query = split.path, urllib.parse.parse_qs(split.query)
        if method == "POST" and path == TOKEN_PATH:
            return self.token(headers, raw)
        body = json.loads(raw) if raw else None
        problem = self._check(method, path, split.query, headers, body)
        if problem is not None:
            return problem
        if self.fail_next:
            status, extra, payload = self.fail_next.pop(0)
            return status, payload, extra
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or self.tokens.get(auth[7:], 0) < time.time():
            return (
                401,
                {
                    "errors": [
                        {
                            "errorId": 1001,
                            "domain": "OAuth",
                            "category": "REQUEST",
                            "message": "Invalid access token",
                        }
                    ]
                },
                {},
            )
        if f"{method} {path}" in self.refuse_call:
            return 400, {"errors": [self.refuse_call.pop(f"{method} {path}")]}, {}
        if path.startswith(INVENTORY):
            return self._inventory(method, path[len(INVENTORY) :], query, headers, body)
        if path.startswith(FULFILLMENT):
            return self._fulfillment(method, path[len(FULFILLMENT) :], query, body)
        return 404, {"errors": [error(2002, f"Resource not found: {path}")]}, {}

    def _inventory(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> Answer:
        writes = ("/bulk_create_or_replace_inventory_item", "/bulk_create_offer")
        writing = path in writes or path.startswith(("/offer/", "/inventory_item_group/"))
        needs = method in ("POST", "PUT") and writing and "publish" not in path
        if needs and not headers.get("Content-Language"):
            return 400, {"errors": [error(25709, "Invalid Content-Language header.")]}, {}
        routes = {
            ("POST", "/bulk_create_or_replace_inventory_item"): self.bulk_items,
            ("POST", "/bulk_create_offer"): self.bulk_offers,
            ("POST", "/bulk_publish_offer"): self.bulk_publish,
            ("POST", "/offer/publish_by_inventory_item_group"): self.publish_group,
            ("POST", "/bulk_update_price_quantity"): self.price_quantity,
        }
        if (method, path) in routes:
            return routes[(method, path)](body or {})
        if method == "GET" and path == "/offer":
            return self.find_offers(query)
        if method == "GET" and path == "/inventory_item":
            return self.inventory_items(query)
        group = re.fullmatch(r"/inventory_item_group/([^/]+)", path)
        if group:
            key = urllib.parse.unquote(group.group(1))
            return self.get_group(key) if method == "GET" else self.put_group(key, body or {})
        offer = re.fullmatch(r"/offer/([^/]+)", path)
        if offer and method == "PUT":
            return self.put_offer(urllib.parse.unquote(offer.group(1)), body or {})
        return 404, {"errors": [error(2002, f"no route {method} {path} here")]}, {}

    def _fulfillment(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> Answer:
        if method == "GET" and path == "/order":
            return self.orders.search(query)
        one = re.fullmatch(r"/order/([^/]+)", path)
        if one and method == "GET":
            return self.orders.order(urllib.parse.unquote(one.group(1)))
        ship = re.fullmatch(r"/order/([^/]+)/shipping_fulfillment", path)
        if ship:
            order_id = urllib.parse.unquote(ship.group(1))
            if method == "GET":
                return self.orders.list_fulfillments(order_id)
            return self.orders.fulfill(order_id, body or {}, self.url)
        return 404, {"errors": [error(2002, f"no route {method} {path} here")]}, {}


def _handler(double: EbayDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            path = urllib.parse.urlsplit(self.path).path
            try:
                body = json.loads(raw) if raw and path != TOKEN_PATH else None
            except ValueError:
                body = raw.decode(errors="replace")
            with double.lock:
                double.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": urllib.parse.urlsplit(self.path).query,
                        "headers": headers,
                        "body": body,
                    }
                )
                status, payload, extra = double.answer(self.command, self.path, headers, raw)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = do_POST

    return Handler


@contextmanager
def serve_double() -> Iterator[EbayDouble]:
    """An eBay double listening on 127.0.0.1 until the block ends."""
    with serve(EbayDouble(), _handler) as double:
        yield double
