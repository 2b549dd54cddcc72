"""Amazon: listings, prices and stock through the Selling Partner API (Listings Items 2021-08-01
and ``JSON_LISTINGS_FEED`` feeds through the Feeds API 2021-06-30), orders and shipments
through the Orders API v0 (``multichan.channels.amazon_orders`` maps those). Owns the mapping
of offers to listings messages and patches, and of Amazon's answers (a patch's issues, a
feed's processing report) back to one ItemResult per SKU.

Amazon's rules this module follows (``listingsItems_2021-08-01.json``, ``feeds_2021-06-30.json``,
``listings-feed-schema-v2.json`` and its message and processing-report schemas):
- Authentication: a Login with Amazon access token in ``x-amz-access-token``, minted from the
  seller's refresh token with the app's client id and secret (``grant_type=refresh_token`` in
  the form, at the LWA token URL) and cached by the base (``auth.OAuth2Refresh``).
- A listing is one ``UPDATE`` message with ``LISTING_OFFER_ONLY`` requirements (condition,
  name, brand, identifier, price, stock: the attributes the ``amazon_listings`` feed template
  writes), always in a feed: first listings and any listing change go as asynchronous jobs.
- Prices and stock of existing listings are JSON patches of ``purchasable_offer`` and
  ``fulfillment_availability``: one ``patchListingsItem`` per SKU (5 a second) for a few
  changes, the same patches as ``PATCH`` messages of a feed above ``feed_threshold`` changes
  (``use_job``). Patches replace absolute values, so a resend sets the same numbers again.
- A feed: ``createFeedDocument`` (an upload URL), a PUT of the document to it,
  ``createFeed``; the job's ticket is the feed id (and its document's). ``getFeed`` answers
  IN_QUEUE / IN_PROGRESS while Amazon works; DONE names the processing report
  (``getFeedDocument``: a URL, possibly GZIP), whose issues carry the message id (message
  ``i + 1`` is the job's ``i``-th SKU): an ERROR rejects that SKU with Amazon's message, a
  WARNING is accepted with it. CANCELLED sends every SKU again; FATAL rejects every SKU
  with the report's reason, or sends them again when Amazon gave none.
- Errors: ``{"errors": [{code, message, details}]}``; 401/403 fatal naming the variables
  (a 403 refusing the access token itself mints a new one first), 429 and 5xx retriable with
  Retry-After (a 429 without one waits ``1 / x-amzn-RateLimit-Limit``: getOrderItems takes
  0.5 a second, confirmShipment 2), a 400 of a patch rejects that SKU.
- A SKU no longer offered is sent with quantity 0 (Amazon keeps the listing and its history).

Live listings (``remote_listings``, for ``multichan drift``): ``searchListingsItems`` (GET
``/listings/2021-08-01/items/{sellerId}``, 5 a second, burst 5) with ``includedData``
summaries, attributes, offers and fulfillmentAvailability, 20 a page (its ``pageSize``
maximum), oldest ``createdDate`` first, paged by ``pageToken``. One search pages through at
most 1,000 items (``ItemSearchResults.numberOfResults`` says how many it found; at 1,000 one
more search checks, in case the count stops there too), so past that a new search starts at
the last ``createdDate`` read (``createdAfter`` is inclusive: the SKUs already read at that
instant are skipped); more than 1,000 listings created at one instant
cannot be paged past, and the read fails saying so rather than report the rest missing.
Per SKU, for the channel's marketplace: ``title`` the summary's ``itemName``; ``price`` the
``purchasable_offer`` ``our_price`` and ``sale_price`` its ``discounted_price`` while its
schedule runs (the attributes multichan writes; the B2C offer's price when there are none);
``quantity`` the ``DEFAULT`` (merchant-fulfilled) ``fulfillmentAvailability``, the only stock
multichan writes (FBA counts are Amazon's: left out); ``listed`` False when Amazon does not
show it ``BUYABLE`` for a reason other than being out of stock (inactive, suppressed, no
price). At the usage plan's rate this reads about 100 listings a second (Amazon points very
large catalogs to its reports instead).
"""

from __future__ import annotations

import functools
import gzip
import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from multichan.channels import amazon_orders as ao
from multichan.channels.api import Answer, ApiClient, Refused, expired
from multichan.channels.auth import OAuth2Refresh
from multichan.channels.base import (
    JOINT,
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    Retriable,
    SettingSpec,
)
from multichan.money import api_amount, to_text
from multichan.offers import Offer
from multichan.orders.model import Order

LISTINGS, FEEDS, ORDERS = "/listings/2021-08-01", "/feeds/2021-06-30", "/orders/v0"
FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
PER_FEED = 10_000  # a feed takes 25,000 messages; smaller feeds report back sooner
RUNNING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
CONDITIONS = {"new": "new_new", "refurbished": "refurbished_refurbished", "used": "used_good"}
MAX_MESSAGE = 500
OPERATIONS = ("listings", "prices", "quantities", JOINT)
# searchListingsItems: its pageSize maximum, the most items one search pages through, and
# what each item comes with
SEARCH_PAGE, SEARCH_CAP = 20, 1000
SEARCH_DATA = "summaries,attributes,offers,fulfillmentAvailability"


def _number(value: Any) -> float | int:
    """A Decimal as the JSON number Amazon takes (the offer's value, as it is)."""
    as_int = int(value)
    return as_int if value == as_int else float(value)


def _text(value: Any) -> str:
    return " ".join(str(value).split())[:MAX_MESSAGE]


def _describe(answer: Answer) -> str:
    """Amazon's errors as one line: "message (code)"; the start of the text otherwise."""
    body = answer.body
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        parts = []
        for e in errors:
            if isinstance(e, dict) and e.get("message"):
                detail = f" {e['details']}" if e.get("details") else ""
                parts.append(f"{_text(e['message'])}{detail} ({e.get('code') or 'error'})")
        if parts:
            return "; ".join(parts)
    return " ".join(answer.text.split())[:300]


class Amazon(Channel):
    """An Amazon seller account in one marketplace: one listing per SKU."""

    type = "amazon"
    description = "Amazon Selling Partner API: listings feeds, price/stock patches, orders"
    supports = frozenset({*OPERATIONS, "orders", "shipments"})
    max_batch: ClassVar[dict[str, int]] = {
        "listings": 100, "prices": 20, "quantities": 20, JOINT: 20,
    }  # fmt: skip
    job_batch: ClassVar[dict[str, int]] = dict.fromkeys(OPERATIONS, PER_FEED)
    job_wait = 600.0  # Amazon processes a feed in minutes; a later run collects it otherwise
    job_poll = 30.0
    grouped = frozenset()  # every call and message is one SKU
    rate_limit = RateLimit(requests_per_second=5, burst=5)  # patchListingsItem's usage plan
    # the other operations' usage plans (rate a second, burst), from Amazon's specs
    rate_limits: ClassVar[dict[str, RateLimit]] = {
        r"^GET .*/orders/v0/orders$": RateLimit(0.0167, 20),  # getOrders
        r"^GET .*/orders/v0/orders/[^/]+/orderItems$": RateLimit(0.5, 30),  # getOrderItems
        r"^POST .*/orders/v0/orders/[^/]+/shipmentConfirmation$": RateLimit(2, 10),
        r"^POST .*/feeds/2021-06-30/feeds$": RateLimit(0.0083, 15),  # createFeed
        r"^GET .*/feeds/2021-06-30/feeds/[^/]+$": RateLimit(2, 15),  # getFeed
        r"^POST .*/feeds/2021-06-30/documents$": RateLimit(0.5, 15),  # createFeedDocument
        r"^GET .*/feeds/2021-06-30/documents/[^/]+$": RateLimit(0.0222, 10),  # getFeedDocument
        r"^GET .*/listings/2021-08-01/items/[^/]+$": RateLimit(5, 5),  # searchListingsItems
    }
    request_attempts = 5  # other operations' plans are slower: a 429 waits their rate
    orders_sorted = False  # Amazon documents no order of getOrders' results
    max_title, max_description = 200, 2000
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "seller_id": SettingSpec("str", required=True, help="the merchant token (Seller Central)"),
        "marketplace_id": SettingSpec("str", default="ATVPDKIKX0DER",
                                      help="the marketplace (ATVPDKIKX0DER: amazon.com)"),
        "product_type": SettingSpec("str", default="PRODUCT",
                                    help="the Amazon product type of listings"),
        "product_types": SettingSpec("map", default={},
                                     help="catalog product type (or its start) -> Amazon "
                                     "product type, e.g. 'Apparel > Shirts': SHIRT"),
        "refresh_token": SettingSpec("secret", required=True, help="${AMAZON_REFRESH_TOKEN}"),
        "client_id": SettingSpec("secret", required=True, help="${AMAZON_CLIENT_ID}"),
        "client_secret": SettingSpec("secret", required=True, help="${AMAZON_CLIENT_SECRET}"),
        "api_url": SettingSpec("url", default="https://sellingpartnerapi-na.amazon.com",
                               help="the region's SP-API endpoint (na, eu or fe)"),
        "token_url": SettingSpec("url", default="https://api.amazon.com/auth/o2/token",
                                 help="Login with Amazon's token endpoint"),
        "feed_threshold": SettingSpec("int", default=50,
                                      help="more price or stock changes than this go as a feed"),
        "locale": SettingSpec("str", default="en_US", help="language of names and of issues"),
        "page_size": SettingSpec("int", default=ao.PER_PAGE, help="orders per page (1-100)"),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("AMAZON_REFRESH_TOKEN", "AMAZON_CLIENT_ID", "AMAZON_CLIENT_SECRET")

    @classmethod
    def validate_settings(cls, raw: Any, where: str) -> tuple[dict[str, Any], list[str]]:
        settings, problems = super().validate_settings(raw, where)
        size, threshold = settings.get("page_size"), settings.get("feed_threshold")
        if isinstance(size, int) and not 1 <= size <= ao.PER_PAGE:
            problems.append(f"{where}.page_size must be 1 to {ao.PER_PAGE} (Amazon's "
                            f"MaxResultsPerPage), not {size}")  # fmt: skip
        if isinstance(threshold, int) and threshold < 0:
            problems.append(f"{where}.feed_threshold must be 0 or more, not {threshold}")
        return settings, problems

    # --- what goes as a feed ---------------------------------------------------------------
    def use_job(self, operation: str, changes: int) -> bool:
        """Listings always as a feed; prices and stock as a feed above ``feed_threshold``."""
        if operation == "listings":
            return True
        return operation in self.job_batch and changes > int(self.settings["feed_threshold"])

    # --- messages ----------------------------------------------------------------------------
    @property
    def marketplace(self) -> str:
        return str(self.settings.get("marketplace_id") or "ATVPDKIKX0DER")

    def product_type(self, offer: Offer) -> str:
        """The Amazon product type of ``offer``: the ``product_types`` entry of its catalog
        product type, or of the longest start of it that has one; else ``product_type``."""
        mapping: dict[str, str] = self.settings.get("product_types") or {}
        ours = (offer.product_type or "").strip()
        best = ""
        for key in mapping:
            if (ours == key or ours.startswith(key + " >")) and len(key) > len(best):
                best = key
        return mapping[best] if best else str(self.settings.get("product_type") or "PRODUCT")

    def _price(self, offer: Offer) -> list[dict[str, Any]]:
        value: dict[str, Any] = {
            "currency": offer.currency, "marketplace_id": self.marketplace,
            "our_price": [{"schedule": [{"value_with_tax": _number(offer.price)}]}],
        }  # fmt: skip
        if offer.sale_price is not None:
            value["discounted_price"] = [
                {"schedule": [{"value_with_tax": _number(offer.sale_price)}]}
            ]
        return [value]

    @staticmethod
    def _stock(offer: Offer) -> list[dict[str, Any]]:
        return [{"fulfillment_channel_code": "DEFAULT", "quantity": max(offer.quantity, 0)}]

    def attributes(self, offer: Offer) -> dict[str, Any]:
        """A listing's attributes, as the ``amazon_listings`` feed template writes them."""
        m, locale = self.marketplace, str(self.settings.get("locale") or "en_US")
        found: dict[str, Any] = {
            "condition_type": [{"value": CONDITIONS.get(offer.condition, "new_new"),
                                "marketplace_id": m}],
            "item_name": [{"value": offer.title, "language_tag": locale, "marketplace_id": m}],
        }  # fmt: skip
        if offer.brand:
            found["brand"] = [{"value": offer.brand, "language_tag": locale, "marketplace_id": m}]
        if offer.gtin:
            kind = {13: "ean", 12: "upc"}.get(len(offer.gtin), "gtin")
            found["externally_assigned_product_identifier"] = [
                {"type": kind, "value": offer.gtin, "marketplace_id": m}
            ]
        found["purchasable_offer"] = self._price(offer)
        found["fulfillment_availability"] = self._stock(offer)
        return found

    def patches(self, operation: str, offer: Offer) -> list[dict[str, Any]]:
        """The JSON patches of a price, stock or joint change."""
        out = []
        if operation in ("prices", JOINT):
            out.append({"op": "replace", "path": "/attributes/purchasable_offer",
                        "value": self._price(offer)})  # fmt: skip
        if operation in ("quantities", JOINT):
            out.append({"op": "replace", "path": "/attributes/fulfillment_availability",
                        "value": self._stock(offer)})  # fmt: skip
        return out

    def message(self, operation: str, offer: Offer, message_id: int) -> dict[str, Any]:
        """One JSON_LISTINGS_FEED message for ``offer``."""
        head = {"messageId": message_id, "sku": offer.sku, "productType": self.product_type(offer)}
        if operation == "listings":
            return {**head, "operationType": "UPDATE", "requirements": "LISTING_OFFER_ONLY",
                    "attributes": self.attributes(offer)}  # fmt: skip
        return {**head, "operationType": "PATCH", "patches": self.patches(operation, offer)}

    def document(self, operation: str, offers: list[Offer]) -> dict[str, Any]:
        """The feed document: message ``i + 1`` is ``offers[i]``."""
        return {
            "header": {"sellerId": self.settings["seller_id"], "version": "2.0",
                       "issueLocale": str(self.settings.get("locale") or "en_US")},
            "messages": [self.message(operation, o, i + 1) for i, o in enumerate(offers)],
        }  # fmt: skip

    # --- jobs: feeds -------------------------------------------------------------------------
    def submit_job(self, operation: str, offers: list[Offer]) -> dict[str, str]:
        """Create a feed document, upload the feed to it, create the feed."""
        data = json.dumps(self.document(operation, offers), ensure_ascii=False).encode()
        # a document made twice (an answer lost) is one never used: safe to send again
        made = self.api.request("POST", f"{FEEDS}/documents", json={"contentType": CONTENT_TYPE},
                                idempotent=True).body or {}  # fmt: skip
        document_id, url = made.get("feedDocumentId"), made.get("url")
        if not document_id or not url:
            raise Retriable("Amazon created a feed document without an id or upload URL")
        self.api.upload(str(url), data, CONTENT_TYPE)
        body = {"feedType": FEED_TYPE, "marketplaceIds": [self.marketplace],
                "inputFeedDocumentId": str(document_id)}  # fmt: skip
        feed = self.api.request("POST", f"{FEEDS}/feeds", json=body).body or {}
        if not feed.get("feedId"):
            raise Retriable("Amazon accepted the feed without a feed id")
        return {"feed_id": str(feed["feedId"]), "feed_document_id": str(document_id)}

    def collect_job(
        self, operation: str, ticket: dict[str, str], skus: list[str]
    ) -> list[ItemResult] | None:
        """One look at the feed: None while Amazon works on it, else a result per SKU."""
        feed_id = ticket["feed_id"]
        try:
            feed = self.api.request("GET", f"{FEEDS}/feeds/{urllib.parse.quote(feed_id)}").body
        except Refused as exc:
            why = f"Amazon has no feed {feed_id} ({_describe(exc.answer)}); sent again"
            return [ItemResult.rejected(s, why, retriable=True) for s in skus]
        feed = feed if isinstance(feed, dict) else {}
        state = str(feed.get("processingStatus") or "")
        if state in RUNNING:
            return None
        report_id = feed.get("resultFeedDocumentId")
        report = self._report(str(report_id)) if report_id else None
        if state == "DONE" and report is not None:
            return self._results(report, skus, feed_id)
        reason = _feed_reason(report) if report is not None else None
        if state == "FATAL" and reason:
            return [
                ItemResult.rejected(s, f"Amazon: feed {feed_id} failed: {reason}") for s in skus
            ]
        why = f"Amazon's feed {feed_id} ended {state or 'without a status'}"
        why += f" ({reason})" if reason else ""
        return [ItemResult.rejected(s, f"{why}; sent again", retriable=True) for s in skus]

    def _report(self, document_id: str) -> dict[str, Any]:
        """The processing report a feed document holds (unzipped when Amazon zipped it)."""
        path = f"{FEEDS}/documents/{urllib.parse.quote(document_id)}"
        found = self.api.request("GET", path).body or {}
        if not found.get("url"):
            raise Retriable(f"Amazon named no URL for processing report {document_id}")
        data, _ = self.api.download(str(found["url"]))
        try:
            if found.get("compressionAlgorithm") == "GZIP":
                data = gzip.decompress(data)
            report = json.loads(data.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise Retriable(f"Amazon's processing report {document_id} is unreadable "
                            f"({type(exc).__name__})") from None  # fmt: skip
        if not isinstance(report, dict):
            raise Retriable(f"Amazon's processing report {document_id} is not a JSON object")
        return report

    @staticmethod
    def _results(report: dict[str, Any], skus: list[str], feed_id: str) -> list[ItemResult]:
        """One result per SKU from a processing report's issues."""
        position = {sku: i for i, sku in enumerate(skus)}
        errors: dict[int, list[str]] = {}
        warnings: dict[int, list[str]] = {}
        whole: list[str] = []
        for issue in report.get("issues") or []:
            if not isinstance(issue, dict):
                continue
            said = _text(issue.get("message") or "no message")
            said += f" ({issue['code']})" if issue.get("code") else ""
            mid = issue.get("messageId")
            at = mid - 1 if isinstance(mid, int) and 1 <= mid <= len(skus) else None
            if at is None and issue.get("sku") in position:
                at = position[str(issue["sku"])]
            severe = str(issue.get("severity") or "ERROR").upper() == "ERROR"
            if at is None:
                if severe:
                    whole.append(said)
                continue
            (errors if severe else warnings).setdefault(at, []).append(said)
        summary = report.get("summary")
        summary = summary if isinstance(summary, dict) else {}
        if whole and not summary.get("messagesAccepted"):  # the feed as a whole was refused
            why = f"Amazon refused feed {feed_id}: {'; '.join(whole)}"
            return [ItemResult.rejected(s, why) for s in skus]
        results = []
        for i, sku in enumerate(skus):
            if i in errors:
                results.append(ItemResult.rejected(sku, f"Amazon: {'; '.join(errors[i])}"))
            elif i in warnings:
                results.append(
                    ItemResult(sku, True, {}, f"Amazon warned: {'; '.join(warnings[i])}")
                )
            else:
                results.append(ItemResult.accepted(sku))
        return results

    # --- synchronous sends -------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        """Listings go as a feed; called directly, it waits on the feed (``job_wait``)."""
        return self.job_now("listings", offers)

    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return [self._patch("prices", o) for o in offers]

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return [self._patch("quantities", o) for o in offers]

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return [self._patch(JOINT, o) for o in offers]

    def _patch(self, operation: str, offer: Offer) -> ItemResult:
        """One patchListingsItem: Amazon's issues are the SKU's result."""
        seller = urllib.parse.quote(str(self.settings["seller_id"]), safe="")
        path = f"{LISTINGS}/items/{seller}/{urllib.parse.quote(offer.sku, safe='')}"
        params = {"marketplaceIds": self.marketplace,
                  "issueLocale": str(self.settings.get("locale") or "en_US")}  # fmt: skip
        body = {"productType": self.product_type(offer), "patches": self.patches(operation, offer)}
        try:
            # absolute values: a patch sent again sets the same numbers again
            answer = self.api.request("PATCH", path, params=params, json=body, idempotent=True)
        except Refused as exc:
            return ItemResult.rejected(offer.sku, f"Amazon: {_describe(exc.answer)}")
        found = answer.body if isinstance(answer.body, dict) else {}
        issues = [i for i in found.get("issues") or [] if isinstance(i, dict)]
        errors = [
            f"{_text(i.get('message') or 'no message')} ({i.get('code') or 'error'})"
            for i in issues
            if str(i.get("severity") or "").upper() == "ERROR"
        ]
        if found.get("status") == "INVALID" or errors:
            return ItemResult.rejected(
                offer.sku, f"Amazon: {'; '.join(errors) or 'the patch was found invalid'}"
            )
        ids = {"submission_id": str(found["submissionId"])} if found.get("submissionId") else {}
        return ItemResult.accepted(offer.sku, **ids)

    # --- orders ------------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Orders changed at or after ``since`` (see ``amazon_orders``), a page at a time."""
        first = ao.list_params(self.marketplace, since, int(self.settings.get("page_size") or 100))

        def ask(token: str | None) -> dict[str, Any]:
            if token is None:
                return {"params": first}
            return {"params": {"MarketplaceIds": self.marketplace, "NextToken": token}}

        try:
            for answer in self.api.cursors("GET", f"{ORDERS}/orders", ask,
                                           lambda a: ao.next_token(a.body)):  # fmt: skip
                page = []
                for order in ao.orders_of(answer.body):
                    if not ao.changed_since(order, since):  # asked from two minutes back
                        continue
                    page.append(ao.to_order(order, self._items(str(order["AmazonOrderId"]))))
                yield page
        except Refused as exc:
            raise Fatal(f"Amazon refused the order search ({_describe(exc.answer)})") from None

    def _items(self, order_id: str) -> list[dict[str, Any]]:
        """Every item of an order (getOrderItems, its NextToken pages)."""
        path = f"{ORDERS}/orders/{urllib.parse.quote(order_id, safe='')}/orderItems"
        items: list[dict[str, Any]] = []
        pages = self.api.cursors(
            "GET", path, lambda t: {"params": {"NextToken": t} if t else {}},
            lambda a: ao.next_token(a.body),
        )  # fmt: skip
        for answer in pages:
            items += ao.items_of(answer.body)
        return items

    # --- shipments ---------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        """confirmShipment for the parcel; its ``fulfillment_id`` is the package reference."""
        if not (shipment.tracking_number or "").strip():
            return ItemResult.rejected(
                shipment.key, "Amazon needs a tracking number to confirm a shipment; add it "
                "to the shipment and send it again",
            )  # fmt: skip
        body = ao.confirmation(shipment, self.marketplace)
        tracking = body["packageDetail"]["trackingNumber"]
        if shipment.remote_id:  # confirmed before: Amazon keeps that package's tracking
            if " ".join((shipment.sent_tracking or "").split()) == tracking:
                return ItemResult.accepted(shipment.key, fulfillment_id=shipment.remote_id)
            return ItemResult.rejected(
                shipment.key, f"Amazon confirmed package {shipment.remote_id} with tracking "
                f"{shipment.sent_tracking or '(none)'}; the API takes no change of it: correct "
                "it in Seller Central (Manage Orders, Edit shipment)",
            )  # fmt: skip
        order = urllib.parse.quote(shipment.order_id, safe="")
        package = body["packageDetail"]["packageReferenceId"]
        try:
            self.api.request("POST", f"{ORDERS}/orders/{order}/shipmentConfirmation", json=body,
                             idempotent=True)  # fmt: skip
        except Refused as exc:
            said = _describe(exc.answer)
            if ao.says_already_shipped(said) and ao.units_shipped(
                self._items(shipment.order_id), body
            ):
                return ItemResult.accepted(shipment.key, fulfillment_id=package)
            return ItemResult.rejected(shipment.key, f"Amazon: {said}")
        return ItemResult.accepted(shipment.key, fulfillment_id=package)

    # --- live listings (drift) ---------------------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every listing of the seller in the marketplace, oldest first, mapped to Offer fields
        (searchListingsItems; past each 1,000 a new search: see the module docstring)."""
        seller = urllib.parse.quote(str(self.settings["seller_id"]), safe="")
        search = _Search()
        first = {"marketplaceIds": self.marketplace, "includedData": SEARCH_DATA,
                 "pageSize": SEARCH_PAGE, "sortBy": "createdDate", "sortOrder": "ASC",
                 "issueLocale": str(self.settings.get("locale") or "en_US")}  # fmt: skip

        def ask(cursor: str | None) -> dict[str, Any]:
            params = dict(first)
            if search.after:
                params["createdAfter"] = search.after
            if cursor and cursor.startswith("page:"):
                params["pageToken"] = cursor.removeprefix("page:")
            return {"params": params}

        pages = self.api.cursors("GET", f"{LISTINGS}/items/{seller}", ask, search.next_cursor)
        try:
            for answer in pages:
                for sku, item in search.read(answer.body):
                    yield sku, _listing(item, self.marketplace)
        except Refused as exc:
            raise Fatal(f"Amazon refused the listings search ({_describe(exc.answer)})") from None

    # --- HTTP --------------------------------------------------------------------------------
    def _refine(self, answer: Answer) -> Exception | None:
        """A 403 refusing the access token (expired before the cache said, or revoked) gets a
        fresh token and the request once more; any other answer the client's reading."""
        if answer.status == 429 and answer.headers.get("Retry-After") is None:
            # Amazon names the operation's rate (requests a second) instead of a wait
            rate = _rate(answer.headers.get("x-amzn-RateLimit-Limit"))
            said = f"Amazon is throttling {answer.method} {answer.path} ({_describe(answer)})"
            return Retriable(said, retry_after=1 / rate if rate else None)
        if answer.status == 403 and _token_refused(answer):
            names = " and ".join(f"${v}" for v in self.credential_env)
            return expired(Fatal(f"Amazon refused the access token minted from {names} "
                                 f"({_describe(answer)})"))  # fmt: skip
        return None

    @functools.cached_property
    def api(self) -> ApiClient:
        s = self.settings
        auth = OAuth2Refresh(
            s.get("token_url") or "https://api.amazon.com/auth/o2/token", s["refresh_token"],
            s["client_id"], s["client_secret"], client_auth="body", key=f"amazon:{self.name}",
            header="x-amz-access-token", scheme="",
        )  # fmt: skip
        return ApiClient(
            self, s.get("api_url") or "https://sellingpartnerapi-na.amazon.com", vendor="Amazon",
            auth=auth, timeout=s.get("timeout") or 30, describe=_describe, refine=self._refine,
            auth_hint="The app must be authorised by the seller for the Listings, Feeds and "
            "Orders roles",
        )  # fmt: skip


def _rate(value: str | None) -> float | None:
    """``x-amzn-RateLimit-Limit`` (requests a second) as a number above 0, else None."""
    try:
        rate = float(value or "")
    except ValueError:
        return None
    return rate if 0.0001 <= rate <= 1000 else None


def _token_refused(answer: Answer) -> bool:
    """Whether a 403 says the access token itself was refused (expired, revoked or garbled):
    Amazon answers 403 Unauthorized for those, not 401."""
    body = answer.body if isinstance(answer.body, dict) else {}
    for e in body.get("errors") or []:
        if not isinstance(e, dict) or e.get("code") != "Unauthorized":
            continue
        if "access token" in f"{e.get('message') or ''} {e.get('details') or ''}".lower():
            return True
    return False


def _feed_reason(report: dict[str, Any]) -> str | None:
    """What a processing report says about the feed as a whole (issues without a message)."""
    said = [
        _text(i.get("message"))
        for i in report.get("issues") or []
        if isinstance(i, dict) and i.get("message") and not i.get("messageId")
    ]
    return "; ".join(said) or None


class _Search:
    """Where a read of every listing is: the ``createdAfter`` of the current search (None for
    the first), how many items it read of the ``numberOfResults`` it found, and the SKUs read
    at the latest ``createdDate`` (the next search starts there and gives them again)."""

    def __init__(self) -> None:
        self.after: str | None = None
        self.read_here = self.found = 0
        self.last: str | None = None
        self.edge: set[str] = set()

    def read(self, body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """The items of one page not read before, as (SKU, item)."""
        body = body if isinstance(body, dict) else {}
        found = body.get("numberOfResults")
        self.found = found if isinstance(found, int) else 0
        for item in body.get("items") or []:
            if not isinstance(item, dict) or not item.get("sku"):
                continue
            self.read_here += 1
            sku = str(item["sku"])
            created = next((str(s["createdDate"]) for s in item.get("summaries") or []
                            if isinstance(s, dict) and s.get("createdDate")), None)  # fmt: skip
            if created is None:
                yield sku, item
                continue
            if created != self.last:
                self.last, self.edge = created, set()
            elif sku in self.edge:
                continue  # read at the end of the search before
            self.edge.add(sku)
            yield sku, item

    def next_cursor(self, answer: Answer) -> str | None:
        """The next page's token; past Amazon's 1,000 a new search from the latest
        ``createdDate``; None once the search read all it found."""
        body = answer.body if isinstance(answer.body, dict) else {}
        token = (body.get("pagination") or {}).get("nextToken")
        if token:
            return f"page:{token}"
        if self.read_here >= self.found and self.read_here < SEARCH_CAP:
            return None  # read all it found (at the cap, look once more: the count may be capped)
        if self.last is None or self.last == self.after:
            at = f"created at {self.last}" if self.last else "without a createdDate"
            raise Fatal(f"Amazon's listings search pages through at most {SEARCH_CAP} items and "
                        f"more than that were {at}: the rest cannot be read this way (Amazon's "
                        "GET_MERCHANT_LISTINGS_ALL_DATA report lists them)")  # fmt: skip
        self.after, self.read_here = self.last, 0
        return f"after:{self.after}"


def _mine(entries: Any, marketplace: str, key: str) -> list[dict[str, Any]]:
    """The entries of a per-marketplace list that are ``marketplace``'s (or name none)."""
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and e.get(key) in (None, marketplace)]


def _running(values: Any) -> Decimal | None:
    """The ``value_with_tax`` of the first schedule of an ``our_price``/``discounted_price``
    running now (no ``start_at`` or one passed, no ``end_at`` or one to come)."""
    now = datetime.now(UTC).isoformat()
    for value in values if isinstance(values, list) else []:
        for entry in (value.get("schedule") or []) if isinstance(value, dict) else []:
            if not isinstance(entry, dict):
                continue
            start, end = (_stamp(entry.get(k)) for k in ("start_at", "end_at"))
            if (start is None or start <= now) and (end is None or end > now):
                amount = api_amount(entry.get("value_with_tax"))
                if amount is not None:
                    return amount
    return None


def _stamp(value: Any) -> str | None:
    """A schedule's start or end (text or ``{"value": text}``) in UTC ISO form, comparable."""
    text = value.get("value") if isinstance(value, dict) else value
    if not isinstance(text, str) or not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _prices(item: dict[str, Any], marketplace: str) -> tuple[str | None, Decimal | None,
                                                             Decimal | None]:  # fmt: skip
    """(currency, regular price, sale price running now) of a listing: its ``purchasable_offer``
    for everyone (audience ALL), else the B2C offer's price with no sale price."""
    attributes = item.get("attributes") if isinstance(item.get("attributes"), dict) else {}
    for entry in _mine((attributes or {}).get("purchasable_offer"), marketplace, "marketplace_id"):
        if entry.get("audience") not in (None, "ALL"):
            continue
        price = _running(entry.get("our_price"))
        if price is not None:
            return entry.get("currency"), price, _running(entry.get("discounted_price"))
    for offer in _mine(item.get("offers"), marketplace, "marketplaceId"):
        audience = (offer.get("audience") or {}).get("value") or "ALL"
        money = offer.get("price") if isinstance(offer.get("price"), dict) else {}
        amount = api_amount((money or {}).get("amount"))
        if offer.get("offerType", "B2C") == "B2C" and audience == "ALL" and amount is not None:
            return (money or {}).get("currencyCode"), amount, None
    return None, None, None


def _listing(item: dict[str, Any], marketplace: str) -> dict[str, Any]:
    """A searchListingsItems item as Offer fields (see the module docstring)."""
    summary = next(iter(_mine(item.get("summaries"), marketplace, "marketplaceId")), {})
    fields: dict[str, Any] = {}
    if summary.get("itemName"):
        fields["title"] = str(summary["itemName"])
    currency, price, sale = _prices(item, marketplace)
    if price is not None:
        fields["price"] = to_text(price, currency)
        fields["sale_price"] = to_text(sale, currency) if sale is not None else None
    counts = [f.get("quantity") for f in item.get("fulfillmentAvailability") or []
              if isinstance(f, dict) and f.get("fulfillmentChannelCode") == "DEFAULT"]  # fmt: skip
    quantity = None
    if counts:
        quantity = sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))
        fields["quantity"] = quantity
    buyable = "BUYABLE" in (summary.get("status") or [])
    fields["listed"] = buyable or (quantity == 0 and price is not None)  # out of stock only
    return fields
