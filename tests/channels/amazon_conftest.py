"""An Amazon Selling Partner API double for the Amazon channel tests. Prism serves Amazon's own
contracts (Listings Items 2021-08-01, Feeds 2021-06-30, Orders v0: ``../shared/specs/amazon``);
this small stateful double on 127.0.0.1 keeps what Prism's canned answers cannot show: the
seller's listings, feed documents and feeds, the processing reports, orders and their
shipment confirmations, and Login with Amazon's access tokens.

It answers Amazon's real paths (``/listings/2021-08-01/...``, ``/feeds/2021-06-30/...``,
``/orders/v0/...``, LWA's ``/auth/o2/token``), so a channel points its ``api_url`` and
``token_url`` at it. With ``validate`` set ({"listings": url, "feeds": url, "orders": url})
it first forwards every SP-API request to the Prism of its contract and answers with Prism's
error, recording it in ``violations``, when the request breaks the contract. The feed
document upload and report download URLs are the double's own (``/upload/{id}``,
``/download/{id}`` on the host the client called: S3 is in no spec); every uploaded
document is checked against ``listings-feed-schema-v2.json`` and, message by message,
the message schema, and every processing report it writes against
``listings-feed-processing-report-schema-v2.json`` (a failure of either is a violation too).

Written from the contracts' descriptions:
- LWA: ``POST /auth/o2/token`` with ``grant_type=refresh_token``, the refresh token, client id
  and secret in the form; an access token valid 3,600 s (``invalid_client`` 401,
  ``invalid_grant`` 400). SP-API calls need one it issued in ``x-amz-access-token`` (403
  Unauthorized otherwise, as Amazon answers).
- patchListingsItem: the SKU must have a listing (an INVALID submission with an ERROR issue
  otherwise: Amazon's code for it is approximated); ``replace`` patches set the attribute;
  ``refuse`` (SKU -> (code, message)) makes a SKU's patch or feed message fail.
- Feeds: createFeedDocument gives an upload URL; createFeed needs an uploaded document;
  getFeed answers IN_QUEUE / IN_PROGRESS for ``looks`` looks, then processes the feed once
  (UPDATE messages set a listing's attributes, PATCH messages need an existing listing) and
  answers DONE with the report's document id. ``end`` forces the next feed's end (CANCELLED:
  no report; FATAL: a report with a feed-level issue, nothing applied). ``gzip_reports``
  serves reports GZIP-compressed, as Amazon may.
- getOrders: MarketplaceIds required; exactly LastUpdatedAfter (or NextToken); a
  LastUpdatedAfter later than two minutes before now is 400 InvalidInput (Amazon's rule);
  MaxResultsPerPage 1-100; AFN/MFN filter; oldest purchase first; a NextToken page takes only
  MarketplaceIds and NextToken. getOrderItems hides ItemPrice while an order is Pending.
- confirmShipment: packageReferenceId a positive number, orderItemIds of the order,
  quantities up to what is unshipped ("Failed to create package due to not finding a
  matching package or order already fulfilled." once nothing is), carrierName with
  carrierCode Other; answers 204 and marks the items and the order shipped.
Approximated or not modelled: per-operation usage plans, product-type attribute schemas,
taxes, promotions, regulated information, buyer information.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
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

SELLER_ID = "A2EXAMPLESELLER1"
MARKETPLACE = "ATVPDKIKX0DER"
CLIENT_ID = "amzn1.application-oa2-client.0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # ${AMAZON_CLIENT_ID}
CLIENT_SECRET = "amzn1.oa2-cs.v1.5ecre7c0ffee0123456789abcdef0123456789abcdef01234567"
REFRESH_TOKEN = "Atzr|IwEBIExampleRefreshTokenNeverShown-7f3a9c2e5d1b"  # ${AMAZON_REFRESH_TOKEN}
SPECS = {
    "listings": "amazon/listingsItems_2021-08-01.json",
    "feeds": "amazon/feeds_2021-06-30.json",
    "orders": "amazon/ordersV0.json",
}
PREFIXES = {
    "/listings/2021-08-01": "listings",
    "/feeds/2021-06-30": "feeds",
    "/orders/v0": "orders",
}
LISTINGS, FEEDS, ORDERS = "/listings/2021-08-01", "/feeds/2021-06-30", "/orders/v0"
TOKEN_PATH = "/auth/o2/token"
ALREADY = (
    "Failed to create package due to not finding a matching package or order already fulfilled."
)
Row = dict[str, Any]
Answer = tuple[int, Any, dict[str, str]]


def ready(double: AmazonDouble, monkeypatch: Any, listings: Any, feeds: Any, orders: Any) -> Any:
    """The shared double reset, every request checked against Prism on the listings, feeds
    and orders contracts, and the app's credentials in the environment (a test's fixture)."""
    monkeypatch.setenv("AMAZON_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AMAZON_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("AMAZON_REFRESH_TOKEN", REFRESH_TOKEN)
    double.reset(validate={"listings": listings.url, "feeds": feeds.url, "orders": orders.url})
    return double


def errors(code: str, message: str, details: str = "") -> Row:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def schema_validators() -> tuple[Any, Any, Any]:
    """(feed document, feed message, processing report) validators from Amazon's own JSON
    Schemas in the spec folder (the message schema resolvable by the names the feed schema
    may use for it)."""
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    from tests.prism import spec_or_skip

    feed_path = spec_or_skip("amazon/listings-feed-schema-v2.json")
    message_path = spec_or_skip("amazon/listings-feed-message-schema-v2.json")
    report_path = spec_or_skip("amazon/listings-feed-processing-report-schema-v2.json")
    message_schema = json.loads(message_path.read_text())
    message = Resource.from_contents(message_schema, default_specification=DRAFT7)
    names = {message_path.name, message_path.as_uri()}
    registry = Registry().with_resources((name, message) for name in names)
    feed = Draft7Validator(json.loads(feed_path.read_text()), registry=registry)
    report = Draft7Validator(json.loads(report_path.read_text()))
    return feed, Draft7Validator(message_schema), report


@dataclass
class AmazonOrders:
    """The seller's orders as Amazon keeps them, and what a test does to them."""

    double: AmazonDouble
    orders: dict[str, Row] = field(default_factory=dict)
    items: dict[str, list[Row]] = field(default_factory=dict)
    packages: dict[str, list[Row]] = field(default_factory=dict)
    pages: dict[str, tuple[list[str], int, int]] = field(default_factory=dict)  # NextToken
    last: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))

    def clear(self) -> None:
        for store in (self.orders, self.items, self.packages, self.pages):
            store.clear()

    def now(self) -> str:
        self.last = max(datetime.now(UTC).replace(microsecond=0), self.last)
        return stamp(self.last)

    def add(
        self,
        lines: list[tuple[str, int]],
        status: str = "Unshipped",
        channel: str = "MFN",
        price: str | None = None,
    ) -> str:
        """Place an order of (SKU, units) lines; its AmazonOrderId."""
        n = self.double.next()
        order_id = f"{110 + n % 800:03d}-{1000000 + n:07d}-{2000000 + n:07d}"
        at = self.now()
        items = []
        for i, (sku, count) in enumerate(lines):
            unit = Decimal(price or self.double.price_of(sku) or "10.00").quantize(Decimal("0.01"))
            items.append(
                {
                    "ASIN": f"B0{n:04d}{i:04d}",
                    "SellerSKU": sku,
                    "OrderItemId": f"{60000000000000 + n * 10 + i}",
                    "Title": sku,
                    "QuantityOrdered": count,
                    "QuantityShipped": 0,
                    "ItemPrice": {"CurrencyCode": "USD", "Amount": f"{unit * count:.2f}"},
                }
            )
        total = sum(Decimal(x["ItemPrice"]["Amount"]) for x in items)
        self.orders[order_id] = {
            "AmazonOrderId": order_id,
            "PurchaseDate": at,
            "LastUpdateDate": at,
            "OrderStatus": status,
            "FulfillmentChannel": channel,
            "MarketplaceId": MARKETPLACE,
            "OrderTotal": {"CurrencyCode": "USD", "Amount": f"{total:.2f}"},
            "NumberOfItemsShipped": 0,
            "NumberOfItemsUnshipped": sum(c for _, c in lines),
        }
        self.items[order_id] = items
        self.packages[order_id] = []
        return order_id

    def set_status(self, order_id: str, status: str) -> None:
        self.orders[order_id].update(OrderStatus=status, LastUpdateDate=self.now())

    def search(self, query: dict[str, list[str]]) -> Answer:
        one = {k: v[0] for k, v in query.items()}
        if "MarketplaceIds" not in one:
            return 400, errors("InvalidInput", "MarketplaceIds is required"), {}
        if "NextToken" in one:
            if set(one) - {"MarketplaceIds", "NextToken"} or one["NextToken"] not in self.pages:
                return 400, errors("InvalidInput", "Invalid NextToken"), {}
            ids, offset, size = self.pages.pop(one["NextToken"])
            return self._page(ids, offset, size)
        after = _when(one.get("LastUpdatedAfter", ""))
        if after is None or "CreatedAfter" in one:
            return (
                400,
                errors(
                    "InvalidInput", "Exactly one of CreatedAfter and LastUpdatedAfter is required"
                ),
                {},
            )
        if after > datetime.now(UTC) - timedelta(minutes=2):
            self.double.too_recent += 1
            return (
                400,
                errors(
                    "InvalidInput",
                    "LastUpdatedAfter must be no later than 2 minutes before the request time",
                ),
                {},
            )
        size = one.get("MaxResultsPerPage", "100")
        if not size.isdigit() or not 1 <= int(size) <= 100:
            return 400, errors("InvalidInput", "MaxResultsPerPage must be 1 to 100"), {}
        channels = set(one.get("FulfillmentChannels", "AFN,MFN").split(","))
        found = [
            o
            for o in self.orders.values()
            if _when(o["LastUpdateDate"]) >= after  # type: ignore[operator]
            and o["FulfillmentChannel"] in channels
        ]
        found.sort(key=lambda o: (o["PurchaseDate"], o["AmazonOrderId"]))
        return self._page([o["AmazonOrderId"] for o in found], 0, int(size))

    def _page(self, ids: list[str], offset: int, size: int) -> Answer:
        page = [copy.deepcopy(self.orders[i]) for i in ids[offset : offset + size]]
        payload: Row = {"Orders": page}
        if offset + size < len(ids):
            token = f"NT{self.double.next():08d}=="
            self.pages[token] = (ids, offset + size, size)
            payload["NextToken"] = token
        return 200, {"payload": payload}, {}

    def order_items(self, order_id: str) -> Answer:
        if order_id not in self.orders:
            return 404, errors("NotFound", f"Order {order_id} not found"), {}
        items = copy.deepcopy(self.items[order_id])
        if self.orders[order_id]["OrderStatus"] == "Pending":
            for item in items:
                item.pop("ItemPrice", None)  # pricing is hidden while Pending
        return 200, {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}, {}

    def confirm(self, order_id: str, body: Row) -> Answer:
        self.double.confirmations.append(copy.deepcopy(body))
        order = self.orders.get(order_id)
        if order is None:
            return 404, errors("NotFound", f"Order {order_id} not found"), {}
        detail = body.get("packageDetail") or {}
        if not re.fullmatch(r"[1-9][0-9]*", str(detail.get("packageReferenceId") or "")):
            return (
                400,
                errors(
                    "InvalidInput",
                    "PackageReferenceId: is invalid, must be a positive numeric value.",
                ),
                {},
            )
        if detail.get("carrierCode") == "Other" and not detail.get("carrierName"):
            return (
                400,
                errors("InvalidInput", "CarrierName is required when CarrierCode is Other"),
                {},
            )
        if order["OrderStatus"] == "Canceled":
            return 400, errors("InvalidInput", "The order is canceled and cannot be shipped"), {}
        lines = {x["OrderItemId"]: x for x in self.items[order_id]}
        wanted = detail.get("orderItems") or []
        for x in wanted:
            if x.get("orderItemId") not in lines:
                return (
                    400,
                    errors(
                        "InvalidInput",
                        "OrderItemId  is invalid, please obtain the "
                        "value through the getOrderItems API or Manage Orders page",
                    ),
                    {},
                )
        for x in wanted:
            line = lines[x["orderItemId"]]
            if int(x.get("quantity") or 0) > line["QuantityOrdered"] - line["QuantityShipped"]:
                return 400, errors("InvalidInput", ALREADY), {}
        for x in wanted:
            lines[x["orderItemId"]]["QuantityShipped"] += int(x["quantity"])
        self.packages[order_id].append(copy.deepcopy(detail))
        done = all(x["QuantityShipped"] >= x["QuantityOrdered"] for x in lines.values())
        sent = sum(x["QuantityShipped"] for x in lines.values())
        order.update(
            OrderStatus="Shipped" if done else "PartiallyShipped",
            NumberOfItemsShipped=sent,
            NumberOfItemsUnshipped=sum(x["QuantityOrdered"] for x in lines.values()) - sent,
            LastUpdateDate=self.now(),
        )
        return 204, None, {}


@dataclass
class AmazonDouble:
    url: str = ""
    validate: dict[str, str] | None = None  # {"listings": prism url, "feeds": ..., "orders": ...}
    listings: dict[str, Row] = field(default_factory=dict)  # SKU -> {productType, attributes}
    documents: dict[str, Row] = field(default_factory=dict)
    feeds: dict[str, Row] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    grants: int = 0
    looks: int = 0  # how many looks at a feed answer IN_PROGRESS before it is processed
    end: str | None = None  # the next feed ends CANCELLED or FATAL
    gzip_reports: bool = False
    too_recent: int = 0  # getOrders refused for a LastUpdatedAfter within 2 minutes
    refuse: dict[str, tuple[str, str]] = field(default_factory=dict)  # SKU -> (code, message)
    warn: dict[str, tuple[str, str]] = field(default_factory=dict)
    requests: list[Row] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    reports: list[Row] = field(default_factory=list)
    confirmations: list[Row] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)
    orders: AmazonOrders = field(init=False)
    _validators: tuple[Any, Any, Any] | None = None
    # searchListingsItems: the most items one search pages through (Amazon: 1,000), its page
    # tokens (token -> the query it continues, the offset), the last createdDate given
    search_cap: int = 1000
    capped_count: bool = False  # numberOfResults says at most search_cap (not the total found)
    search_pages: dict[str, tuple[str, int]] = field(default_factory=dict)
    last_moment: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    _search_results: Any = None

    def __post_init__(self) -> None:
        self.orders = AmazonOrders(self)

    def next(self) -> int:
        return next(self.serial)

    def reset(self, validate: dict[str, str] | None = None) -> None:
        self.validate, self.grants, self.looks, self.end = validate, 0, 0, None
        self.gzip_reports, self.too_recent = False, 0
        self.search_cap, self.capped_count = 1000, False
        self.search_pages.clear()
        for store in (
            self.listings,
            self.documents,
            self.feeds,
            self.tokens,
            self.refuse,
            self.warn,
            self.requests,
            self.violations,
            self.reports,
            self.confirmations,
            self.fail_next,
        ):
            store.clear()
        self.orders.clear()
        self.serial = itertools.count(1)

    @property
    def validators(self) -> tuple[Any, Any, Any]:
        if self._validators is None:
            self._validators = schema_validators()
        return self._validators

    def calls(self, method: str, path: str) -> list[Any]:
        """The bodies of the ``method`` requests to ``path``."""
        return [r["body"] for r in self.requests if (r["method"], r["path"]) == (method, path)]

    def count(self, method: str, pattern: str) -> int:
        return sum(
            1 for r in self.requests if r["method"] == method and re.fullmatch(pattern, r["path"])
        )

    def price_of(self, sku: str) -> Decimal | None:
        offer = (self.listings.get(sku) or {}).get("attributes", {}).get("purchasable_offer")
        try:
            return Decimal(str(offer[0]["our_price"][0]["schedule"][0]["value_with_tax"]))
        except (TypeError, KeyError, IndexError):
            return None

    def quantity_of(self, sku: str) -> int | None:
        stock = (self.listings.get(sku) or {}).get("attributes", {}).get("fulfillment_availability")
        try:
            return int(stock[0]["quantity"])
        except (TypeError, KeyError, IndexError):
            return None

    def shown(self) -> dict[str, tuple[Decimal | None, int | None]]:
        """What buyers see: SKU -> (price, quantity)."""
        return {sku: (self.price_of(sku), self.quantity_of(sku)) for sku in sorted(self.listings)}

    # --- behind multichan's back: what a seller does in Seller Central -----------------------
    def moment(self) -> str:
        """Now, as Amazon stamps a listing (milliseconds; never the same twice here)."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        at = self.last_moment = max(now, self.last_moment + timedelta(milliseconds=1))
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"

    def set_price(self, sku: str, price: str, sale_price: str | None = None) -> None:
        """Edit the listing's price (and sale price: None ends it), as in Seller Central."""
        offer = self.listings[sku]["attributes"]["purchasable_offer"][0]
        offer["our_price"] = [{"schedule": [{"value_with_tax": float(price)}]}]
        offer.pop("discounted_price", None)
        if sale_price is not None:
            offer["discounted_price"] = [{"schedule": [{"value_with_tax": float(sale_price)}]}]
        self.listings[sku]["lastUpdatedDate"] = self.moment()

    def set_quantity(self, sku: str, quantity: int) -> None:
        stock = self.listings[sku]["attributes"]["fulfillment_availability"]
        stock[:] = [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]
        self.listings[sku]["lastUpdatedDate"] = self.moment()

    def set_title(self, sku: str, title: str) -> None:
        self.listings[sku]["attributes"]["item_name"][0]["value"] = title
        self.listings[sku]["lastUpdatedDate"] = self.moment()

    def deactivate(self, sku: str) -> None:
        """Make the listing inactive (closed in Seller Central): it stays, not for sale."""
        self.listings[sku]["inactive"] = True

    def delete(self, sku: str) -> None:
        """Delete the listing (Seller Central's "Delete product and listing")."""
        del self.listings[sku]

    # --- searchListingsItems --------------------------------------------------------------------
    def search(self, seller: str, query: dict[str, list[str]]) -> Answer:
        """searchListingsItems: the seller's listings in the marketplace, sorted as asked,
        ``pageSize`` a page; one search pages through at most ``search_cap`` of them (its
        ``numberOfResults`` says how many it found); a ``pageToken`` continues the same query
        only. Approximated: only ``createdAfter`` of the filters."""
        if seller != SELLER_ID:
            return 403, errors("Unauthorized", "Access to requested resource is denied."), {}
        if query.get("marketplaceIds") != [MARKETPLACE]:
            return 400, errors("InvalidInput", "Invalid marketplaceIds"), {}
        one = {k: v[0] for k, v in query.items()}
        asked = urllib.parse.urlencode(sorted((k, v) for k, v in one.items() if k != "pageToken"))
        offset = 0
        if "pageToken" in one:
            there = self.search_pages.get(one["pageToken"])
            if there is None or there[0] != asked:
                return 400, errors("InvalidInput", "Invalid pageToken"), {}
            offset = there[1]
        after = _when(one["createdAfter"]) if "createdAfter" in one else None
        found = [
            (sku, listing)
            for sku, listing in self.listings.items()
            if after is None or _when(listing["createdDate"]) >= after  # type: ignore[operator]
        ]
        by = {"sku": lambda r: r[0], "lastUpdatedDate": lambda r: r[1]["lastUpdatedDate"]}.get(
            one.get("sortBy", ""), lambda r: (r[1]["createdDate"], r[0])
        )
        found.sort(key=by, reverse=one.get("sortOrder", "DESC") == "DESC")
        shown = found[: self.search_cap]
        size = int(one.get("pageSize", "10"))
        included = set(one.get("includedData", "summaries").split(","))
        page = shown[offset : offset + size]
        body: Row = {
            "numberOfResults": len(shown) if self.capped_count else len(found),
            "pagination": {},
            "items": [self._search_item(sku, listing, included) for sku, listing in page],
        }
        if offset + size < len(shown):
            token = f"pt{self.next():08d}"
            self.search_pages[token] = (asked, offset + size)
            body["pagination"]["nextToken"] = token
        problems = [e.message for e in self.search_results.iter_errors(body)]
        self.violations += [f"searchListingsItems answer: {p}" for p in problems]
        return 200, body, {}

    def _search_item(self, sku: str, listing: Row, included: set[str]) -> Row:
        attributes = listing["attributes"]
        price, quantity = self.price_of(sku), self.quantity_of(sku)
        item: Row = {"sku": sku}
        if "summaries" in included:
            status = [] if listing.get("inactive") else ["DISCOVERABLE"]
            if status and price is not None and quantity:
                status.insert(0, "BUYABLE")
            condition = (attributes.get("condition_type") or [{}])[0].get("value") or "new_new"
            item["summaries"] = [
                {
                    "marketplaceId": MARKETPLACE,
                    "asin": "B0" + hashlib.sha1(sku.encode()).hexdigest()[:8].upper(),
                    "productType": listing["productType"],
                    "conditionType": condition,
                    "status": status,
                    "itemName": (attributes.get("item_name") or [{}])[0].get("value") or sku,
                    "createdDate": listing["createdDate"],
                    "lastUpdatedDate": listing["lastUpdatedDate"],
                }
            ]
        if "attributes" in included:
            item["attributes"] = copy.deepcopy(attributes)
        offer = (attributes.get("purchasable_offer") or [{}])[0]
        if "offers" in included and price is not None:
            item["offers"] = [
                {
                    "marketplaceId": MARKETPLACE,
                    "offerType": "B2C",
                    "price": {"currencyCode": offer.get("currency") or "USD", "amount": str(price)},
                    "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
                }
            ]
        if "fulfillmentAvailability" in included:
            item["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": f["fulfillment_channel_code"], "quantity": f["quantity"]}
                for f in attributes.get("fulfillment_availability") or []
            ]
        return item

    @property
    def search_results(self) -> Any:
        """A validator of searchListingsItems answers: Amazon's ItemSearchResults."""
        if self._search_results is None:
            from jsonschema import Draft4Validator

            from tests.prism import spec_or_skip

            spec = json.loads(spec_or_skip(SPECS["listings"]).read_text())
            schema = {"$ref": "#/definitions/ItemSearchResults", "definitions": spec["definitions"]}
            self._search_results = Draft4Validator(schema)
        return self._search_results

    # --- LWA ----------------------------------------------------------------------------------
    def token(self, raw: bytes) -> Answer:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return (
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                {},
            )
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN:
            return (
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid "
                    "grant parameter : refresh_token",
                },
                {},
            )
        self.grants += 1
        token = f"Atza|IwEBIAccessToken{self.next():08d}"
        self.tokens[token] = time.time() + 3600
        return (
            200,
            {
                "access_token": token,
                "refresh_token": REFRESH_TOKEN,
                "token_type": "bearer",
                "expires_in": 3600,
            },
            {},
        )

    # --- listings -----------------------------------------------------------------------------
    def _apply(self, sku: str, product_type: str, patches: list[Row]) -> Row | None:
        """Apply a SKU's patches; the ERROR issue when they cannot be."""
        if sku in self.refuse:
            code, message = self.refuse[sku]
            return {"code": code, "message": message, "severity": "ERROR"}
        listing = self.listings.get(sku)
        if listing is None:
            return {
                "code": "4000001",
                "message": f"The SKU '{sku}' does not have a listing in "
                f"marketplace {MARKETPLACE}. Create it before patching it.",
                "severity": "ERROR",
            }
        for patch in patches:
            name = str(patch.get("path", "")).removeprefix("/attributes/")
            if patch.get("op") in ("replace", "add", "merge"):
                listing["attributes"][name] = copy.deepcopy(patch.get("value"))
            elif patch.get("op") == "delete":
                listing["attributes"].pop(name, None)
        listing["productType"] = product_type
        listing["lastUpdatedDate"] = self.moment()
        return None

    def patch(self, seller: str, sku: str, query: dict[str, list[str]], body: Row) -> Answer:
        if seller != SELLER_ID:
            return 403, errors("Unauthorized", "Access to requested resource is denied."), {}
        if query.get("marketplaceIds") != [MARKETPLACE]:
            return 400, errors("InvalidInput", "Invalid marketplaceIds"), {}
        problem = self._apply(sku, str(body.get("productType")), body.get("patches") or [])
        answer: Row = {"sku": sku, "submissionId": f"sub-{self.next():08d}"}
        if problem:
            answer.update(
                status="INVALID", issues=[{**problem, "categories": ["INVALID_ATTRIBUTE"]}]
            )
        else:
            answer.update(status="ACCEPTED", issues=[])
        return 200, answer, {}

    # --- feeds --------------------------------------------------------------------------------
    def create_document(self, body: Row, base: str) -> Answer:
        doc_id = f"amzn1.tortuga.4.na.{self.next():08d}"
        self.documents[doc_id] = {"content": None, "type": body.get("contentType"), "report": False}
        return 201, {"feedDocumentId": doc_id, "url": f"{base}/upload/{doc_id}"}, {}

    def upload(self, doc_id: str, raw: bytes, headers: dict[str, str]) -> Answer:
        doc = self.documents.get(doc_id)
        if doc is None or doc["report"]:
            return 403, {"error": "AccessDenied"}, {}
        if headers.get("Content-Type") != doc["type"]:
            self.violations.append(
                f"upload {doc_id}: Content-Type {headers.get('Content-Type')!r} "
                f"is not the document's {doc['type']!r}"
            )
        feed_v, message_v, _ = self.validators
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            self.violations.append(f"upload {doc_id}: not JSON ({exc})")
            parsed = None
        if parsed is not None:
            found = [f"{list(e.absolute_path)}: {e.message}" for e in feed_v.iter_errors(parsed)]
            for m in parsed.get("messages") or [] if isinstance(parsed, dict) else []:
                found += [
                    f"message {m.get('messageId')}: {e.message}" for e in message_v.iter_errors(m)
                ]
            self.violations += [f"upload {doc_id}: {f}" for f in found]
        doc["content"] = raw
        return 200, None, {}

    def create_feed(self, body: Row) -> Answer:
        doc = self.documents.get(str(body.get("inputFeedDocumentId")))
        if doc is None or doc["content"] is None:
            return 400, errors("InvalidInput", "The feed document was not uploaded"), {}
        if body.get("feedType") != "JSON_LISTINGS_FEED" or body.get("marketplaceIds") != [
            MARKETPLACE
        ]:
            return 400, errors("InvalidInput", "Invalid feedType or marketplaceIds"), {}
        feed_id = f"{50000 + self.next()}"
        self.feeds[feed_id] = {
            "feedId": feed_id,
            "feedType": body["feedType"],
            "marketplaceIds": body["marketplaceIds"],
            "createdTime": stamp(datetime.now(UTC)),
            "processingStatus": "IN_QUEUE",
            "input": body["inputFeedDocumentId"],
            "looks": self.looks,
            "end": self.end,
        }
        self.end = None
        return 202, {"feedId": feed_id}, {}

    def get_feed(self, feed_id: str) -> Answer:
        feed = self.feeds.get(feed_id)
        if feed is None:
            return 404, errors("NotFound", f"Feed {feed_id} not found"), {}
        if feed["processingStatus"] in ("IN_QUEUE", "IN_PROGRESS"):
            if feed["looks"] > 0:
                feed["looks"] -= 1
                feed["processingStatus"] = "IN_PROGRESS"
            else:
                self._process(feed)
        shown = {k: v for k, v in feed.items() if k not in ("input", "looks", "end")}
        return 200, shown, {}

    def _process(self, feed: Row) -> None:
        document = json.loads(self.documents[feed["input"]]["content"])
        issues: list[Row] = []
        accepted = 0
        messages = document.get("messages") or []
        if feed["end"] == "CANCELLED":
            feed["processingStatus"] = "CANCELLED"
            return
        if feed["end"] == "FATAL":
            issues.append(
                {
                    "code": "90000",
                    "severity": "ERROR",
                    "message": "The feed could not be processed: internal error",
                }
            )
            messages = []
        for m in messages:
            sku, mid = m["sku"], m["messageId"]
            problem: Row | None
            if m["operationType"] == "UPDATE":
                problem = None
                if sku in self.refuse:
                    code, text = self.refuse[sku]
                    problem = {"code": code, "message": text, "severity": "ERROR"}
                else:
                    made = (self.listings.get(sku) or {}).get("createdDate") or self.moment()
                    self.listings[sku] = {
                        "productType": m["productType"],
                        "attributes": copy.deepcopy(m["attributes"]),
                        "createdDate": made,
                        "lastUpdatedDate": self.moment(),
                    }
            else:
                problem = self._apply(sku, m["productType"], m.get("patches") or [])
            if problem:
                issues.append({"messageId": mid, "sku": sku, **problem})
            else:
                accepted += 1
                if sku in self.warn:
                    code, text = self.warn[sku]
                    issues.append(
                        {
                            "messageId": mid,
                            "sku": sku,
                            "code": code,
                            "severity": "WARNING",
                            "message": text,
                        }
                    )
        report = {
            "header": {"sellerId": SELLER_ID, "version": "2.0", "feedId": feed["feedId"]},
            "issues": issues,
            "summary": {
                "errors": sum(i["severity"] == "ERROR" for i in issues),
                "warnings": sum(i["severity"] == "WARNING" for i in issues),
                "messagesProcessed": len(messages),
                "messagesAccepted": accepted,
                "messagesInvalid": len(messages) - accepted,
            },
        }
        _, _, report_v = self.validators
        self.violations += [
            f"report {feed['feedId']}: {e.message}" for e in report_v.iter_errors(report)
        ]
        self.reports.append(report)
        data = json.dumps(report).encode()
        doc_id = f"amzn1.tortuga.4.na.report.{self.next():08d}"
        self.documents[doc_id] = {
            "content": gzip.compress(data) if self.gzip_reports else data,
            "type": "application/json",
            "report": True,
            "gzip": self.gzip_reports,
        }
        feed["processingStatus"] = "FATAL" if feed["end"] == "FATAL" else "DONE"
        feed["resultFeedDocumentId"] = doc_id
        feed["processingEndTime"] = stamp(datetime.now(UTC))

    def get_document(self, doc_id: str, base: str) -> Answer:
        doc = self.documents.get(doc_id)
        if doc is None:
            return 404, errors("NotFound", f"Document {doc_id} not found"), {}
        body: Row = {"feedDocumentId": doc_id, "url": f"{base}/download/{doc_id}"}
        if doc.get("gzip"):
            body["compressionAlgorithm"] = "GZIP"
        return 200, body, {}

    # --- routing ------------------------------------------------------------------------------
    def _check(
        self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes
    ) -> Answer | None:
        """Prism's answer when the request breaks Amazon's contract, else None."""
        if not self.validate:
            return None
        api = next((v for k, v in PREFIXES.items() if path.startswith(k)), None)
        if api is None or api not in self.validate:
            return None
        keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        url = self.validate[api] + path + (f"?{query}" if query else "")
        check = requests.request(method, url, headers=keep, data=raw or None, timeout=30)
        if check.status_code < 400:
            return None
        said = check.headers.get("sl-violations") or check.text[:600]
        self.violations.append(f"{method} {path}: {check.status_code} {said}")
        return check.status_code, errors("InvalidInput", f"contract violation: {said}"), {}

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        split = urllib.parse.urlsplit(target)
        path, query = split.path, urllib.parse.parse_qs(split.query)
        if method == "POST" and path == TOKEN_PATH:
            return self.token(raw)
        if method == "PUT" and path.startswith("/upload/"):
            return self.upload(urllib.parse.unquote(path[8:]), raw, headers)
        if method == "GET" and path.startswith("/download/"):
            doc = self.documents.get(urllib.parse.unquote(path[10:]))
            if doc is None or doc["content"] is None:
                return 404, {"error": "NoSuchKey"}, {}
            return 200, bytes(doc["content"]), {"Content-Type": "application/octet-stream"}
        problem = self._check(method, path, split.query, headers, raw)
        if problem is not None:
            return problem
        if self.fail_next:
            status, extra, payload = self.fail_next.pop(0)
            return status, payload, extra
        token = headers.get("x-amz-access-token") or headers.get("X-Amz-Access-Token") or ""
        if token in self.tokens and self.tokens[token] < time.time():
            return 403, errors("Unauthorized", "The access token you provided has expired."), {}
        if self.tokens.get(token, 0) < time.time():
            return (
                403,
                errors(
                    "Unauthorized",
                    "Access to requested resource is denied.",
                    "The access token you provided is revoked, malformed or invalid.",
                ),
                {},
            )
        body = json.loads(raw) if raw else {}
        # the upload and download URLs name the host the client called (a proxy in front of
        # the double, in fault tests, sees them too)
        base = f"http://{headers['Host']}" if headers.get("Host") else self.url
        search = re.fullmatch(rf"{LISTINGS}/items/([^/]+)", path)
        if search and method == "GET":
            return self.search(urllib.parse.unquote(search.group(1)), query)
        item = re.fullmatch(rf"{LISTINGS}/items/([^/]+)/([^/]+)", path)
        if item and method == "PATCH":
            seller, sku = (urllib.parse.unquote(g) for g in item.groups())
            return self.patch(seller, sku, query, body)
        if (method, path) == ("POST", f"{FEEDS}/documents"):
            return self.create_document(body, base)
        if (method, path) == ("POST", f"{FEEDS}/feeds"):
            return self.create_feed(body)
        feed = re.fullmatch(rf"{FEEDS}/feeds/([^/]+)", path)
        if feed and method == "GET":
            return self.get_feed(urllib.parse.unquote(feed.group(1)))
        doc = re.fullmatch(rf"{FEEDS}/documents/([^/]+)", path)
        if doc and method == "GET":
            return self.get_document(urllib.parse.unquote(doc.group(1)), base)
        if (method, path) == ("GET", f"{ORDERS}/orders"):
            return self.orders.search(query)
        items = re.fullmatch(rf"{ORDERS}/orders/([^/]+)/orderItems", path)
        if items and method == "GET":
            return self.orders.order_items(urllib.parse.unquote(items.group(1)))
        ship = re.fullmatch(rf"{ORDERS}/orders/([^/]+)/shipmentConfirmation", path)
        if ship and method == "POST":
            return self.orders.confirm(urllib.parse.unquote(ship.group(1)), body)
        return 404, errors("NotFound", f"no route {method} {path} here"), {}


def _handler(double: AmazonDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            split = urllib.parse.urlsplit(self.path)
            try:
                body = json.loads(raw) if raw and split.path != TOKEN_PATH else None
            except ValueError:
                body = raw.decode(errors="replace")
            with double.lock:
                double.requests.append(
                    {
                        "method": self.command,
                        "path": split.path,
                        "query": split.query,
                        "headers": headers,
                        "body": body,
                    }
                )
                status, payload, extra = double.answer(self.command, self.path, headers, raw)
            if isinstance(payload, bytes):
                data = payload
            else:
                data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    return Handler


@contextmanager
def serve_double() -> Iterator[AmazonDouble]:
    """An Amazon double listening on 127.0.0.1 until the block ends."""
    with serve(AmazonDouble(), _handler) as double:
        yield double
