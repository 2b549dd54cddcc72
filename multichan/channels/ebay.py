"""eBay: listings, prices and stock through the Sell Inventory API v1, orders and shipments
through the Sell Fulfillment API v1 (``multichan.channels.ebay_orders`` maps those). Owns the
mapping of offers to inventory items, inventory item groups and offers, and of eBay's answers
(per-item ``statusCode`` + ``errors[]``, HTTP statuses) back to one ItemResult per SKU.

eBay's rules this module follows (``sell_inventory_v1_oas3.json`` 1.18.0 descriptions):
- Every bulk call takes at most 25 items (prose only: the contract has no ``maxItems``), so
  ``max_batch`` is 25 for every operation; the engine cuts batches to it.
- Listings: ``POST /bulk_create_or_replace_inventory_item`` (product: title at most 80
  characters, description, images, brand, mpn, upc/ean, aspects; condition; the ship-to-home
  quantity), then, for a product with variants, ``PUT /inventory_item_group/{key}`` (the group
  as eBay holds it is read first, so variants not in this batch stay in ``variantSKUs``;
  ``variesBy`` names the aspects the variants differ in), then an offer per SKU: new ones with
  ``POST /bulk_create_offer`` (an offer eBay already has for the SKU, from a run whose answer
  was lost, is found by ``errors[].parameters`` offerId or ``GET /offer?sku=`` and replaced
  with ``PUT /offer/{offerId}``), existing ones replaced only when their terms (category,
  policies, location, marketplace) changed; then unpublished offers are published, singles
  with ``POST /bulk_publish_offer``, a group with ``POST /offer/publish_by_inventory_item_group``
  (also when a variant joins a published group). Remote ids: ``offer_id``, ``listing_id``,
  ``group`` and ``terms`` (a digest of the offer's terms).
- Prices and stock: ``POST /bulk_update_price_quantity`` by offer id, the price (the sale
  price when there is one: eBay's offer has one price) and the quantity, both in one call when
  both changed (``prices+quantities``).
- A per-SKU error in a bulk answer (its ``statusCode`` >= 400 or ``errors[]``) rejects that
  SKU with eBay's message; the others succeed. A SKU eBay's answer does not mention is
  rejected as retriable.
- ``Content-Language`` on every Inventory call (required by the contract); the category comes
  from ``category_ids`` by product type (the longest matching "A > B" prefix, or ``"*"``).
- Each listing takes at most 250 revisions a calendar day: ``daily_revisions`` (the engine
  counts them and sends what matters most when near the limit).
- Auth: OAuth 2 user token from the refresh token, the client id and secret as HTTP Basic,
  the scopes in the grant (``auth.OAuth2Refresh``); the token is cached by the engine.
Orders: ``GET /order`` by ``lastmodifieddate`` with offsets, and ``GET /order/{orderId}`` for an
order with a cancellation (getOrders never lists its requests). Shipments: the order's
fulfillments are read first (``GET /order/{id}/shipping_fulfillment``), so a parcel sent
before (its tracking number) is answered, not sent again; then ``POST`` one. Tracking given
later is one more fulfillment of the same lines with that tracking (eBay has no update).

Live listings (``remote_listings``, for ``multichan drift``): ``GET /inventory_item``
(getInventoryItems), 200 items a page (its ``limit`` maximum), following each answer's
``next`` (eBay's own description calls ``offset`` a page number while clients send a record
offset; the ``next`` it names settles it; only its query is taken, on this client's own URL, so
the token never goes to another host), then ``GET /offer?sku=&marketplace_id=`` (getOffers)
per item: eBay has no bulk read of offers, so a read takes one request per SKU besides one per
page, at the channel's rate. Per SKU: ``title`` the item's ``product.title``; ``price`` the
fixed-price offer's ``pricingSummary.price``: eBay holds one price, what buyers pay, which
multichan writes as the sale price when there is one (no ``sale_price`` is given, so drift
compares it with the sale price, else the price); ``quantity`` the offer's
``availableQuantity``, else the item's ship-to-home ``quantity`` (its warehouses summed;
in-store pickup is not counted: multichan does not write it); ``listed`` False for an item
without a published offer in the marketplace, an ended or inactive listing, or one on hold.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from multichan.channels import ebay_orders as eo
from multichan.channels.api import Answer, ApiClient, Refused
from multichan.channels.auth import OAuth2Refresh
from multichan.channels.base import (
    JOINT,
    Channel,
    Fatal,
    ItemResult,
    RateLimit,
    SettingSpec,
)
from multichan.money import api_amount, to_text
from multichan.offers import Offer
from multichan.orders.model import Order

LIMIT = 25  # items per bulk call (eBay's prose)
PER_READ = 200  # getInventoryItems' largest limit
LIVE = frozenset({"ACTIVE", "OUT_OF_STOCK"})  # listing statuses for sale (out of stock: at 0)
NO_OFFER = frozenset({25702, 25713})  # getOffers' "not available" errors
SCOPES = ("https://api.ebay.com/oauth/api_scope/sell.inventory "
          "https://api.ebay.com/oauth/api_scope/sell.fulfillment")  # fmt: skip
NOT_LISTED = "not listed on ebay yet; push listings first"
OFFER_EXISTS = 25002  # "Offer entity already exists" (with the offerId as a parameter)
CONDITIONS = {"new": "NEW", "used": "USED_GOOD", "refurbished": "SELLER_REFURBISHED"}
ASPECTS = (("Color", "color"), ("Size", "size"), ("Material", "material"),
           ("Pattern", "pattern"))  # fmt: skip
Results = dict[str, ItemResult]


def said(errors: Any) -> str:
    """eBay's ``errors[]`` as one line: "eBay error 25005: Invalid category. ..."."""
    parts = []
    for e in errors if isinstance(errors, list) else []:
        if isinstance(e, dict):
            text = e.get("longMessage") or e.get("message") or "refused"
            parts.append(f"eBay error {e.get('errorId', '?')}: {' '.join(str(text).split())}")
    return "; ".join(parts)


def _describe(answer: Answer) -> str:
    body = answer.body if isinstance(answer.body, dict) else {}
    return said(body.get("errors")) or " ".join(answer.text.split())[:300]


def aspects(offer: Offer) -> dict[str, list[str]]:
    """Item specifics: the brand and the variant aspects the offer has."""
    found = {name: [str(getattr(offer, attr))] for name, attr in ASPECTS if getattr(offer, attr)}
    if offer.brand:
        found["Brand"] = [offer.brand]
    return found


def price_of(offer: Offer) -> dict[str, str]:
    """The offer's price as eBay's Amount: what the buyer pays (the sale price if any)."""
    amount = offer.sale_price if offer.sale_price is not None else offer.price
    if amount is None or amount <= 0:
        raise ValueError(f"price {amount} {offer.currency} is not a price eBay takes")
    return {"value": to_text(amount, offer.currency) or "", "currency": offer.currency.upper()}


class Ebay(Channel):
    """eBay through the Inventory API: one inventory item and one offer per SKU, variants as an
    inventory item group, published as one listing."""

    type = "ebay"
    description = "eBay: Inventory API listings (variants as groups), prices, stock; orders"
    supports = frozenset({"listings", "prices", "quantities", JOINT, "orders", "shipments"})
    max_batch: ClassVar[dict[str, int]] = {k: LIMIT for k in
                                           ("listings", "prices", "quantities", JOINT)}  # fmt: skip
    grouped = frozenset({"listings"})  # a group's variants are written (and published) together
    rate_limit = RateLimit(requests_per_second=5, burst=10)
    daily_revisions = 250
    # an offer is created with its price and stock: sending them again costs a revision each
    listing_carries = frozenset({"prices", "quantities"})
    orders_sorted = False  # eBay documents no order of getOrders' results
    accepts_html = True
    max_title, max_description = 80, 500_000
    settings_schema: ClassVar[dict[str, SettingSpec]] = {
        "api_url": SettingSpec("url", default="https://api.ebay.com",
                               help="https://api.sandbox.ebay.com for the sandbox"),
        "inventory_url": SettingSpec("url", help="default: api_url + /sell/inventory/v1"),
        "fulfillment_url": SettingSpec("url", help="default: api_url + /sell/fulfillment/v1"),
        "token_url": SettingSpec("url", help="default: api_url + /identity/v1/oauth2/token"),
        "client_id": SettingSpec("secret", required=True, help="${EBAY_CLIENT_ID}: App ID"),
        "client_secret": SettingSpec("secret", required=True,
                                     help="${EBAY_CLIENT_SECRET}: Cert ID"),
        "refresh_token": SettingSpec("secret", required=True,
                                     help="${EBAY_REFRESH_TOKEN}: the seller's user token"),
        "scopes": SettingSpec("str", default=SCOPES, help="OAuth scopes, space separated"),
        "marketplace_id": SettingSpec("str", default="EBAY_US", help="EBAY_US, EBAY_GB, ..."),
        "content_language": SettingSpec("str", default="en-US",
                                        help="Content-Language of the listings"),
        "merchant_location_key": SettingSpec("str", required=True,
                                             help="the inventory location items ship from"),
        "fulfillment_policy_id": SettingSpec("str", required=True),
        "payment_policy_id": SettingSpec("str", required=True),
        "return_policy_id": SettingSpec("str", required=True),
        "category_ids": SettingSpec("map", required=True,
                                    help='eBay category id per product type; "*" for the rest'),
        "timeout": SettingSpec("int", default=30, help="seconds per request"),
    }  # fmt: skip
    credential_env = ("EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET", "EBAY_REFRESH_TOKEN")

    # --- listings ------------------------------------------------------------------------
    def upsert_listings(self, offers: list[Offer]) -> list[ItemResult]:
        """Inventory items, groups, offers and publishing (see the module docstring)."""
        results: Results = {}
        category: dict[str, str] = {}
        todo = []
        for o in offers:
            found = self.category(o.product_type)
            try:
                price_of(o)
            except ValueError as exc:
                results[o.sku] = ItemResult.rejected(o.sku, str(exc))
                continue
            if found is None:
                results[o.sku] = ItemResult.rejected(
                    o.sku, f"no eBay category for product type {o.product_type or '(none)'!r}: "
                    "add it under settings.category_ids (or a \"*\" entry)"
                )  # fmt: skip
                continue
            category[o.sku] = found
            todo.append(o)
        todo = self._items(todo, results)
        ids: dict[str, dict[str, str]] = {o.sku: dict(self.known_ids.get(o.sku, {})) for o in todo}
        todo = self._groups(todo, results, ids)
        todo = self._offers(todo, results, ids, category)
        self._publish(todo, results, ids)
        for o in todo:
            results.setdefault(o.sku, ItemResult.accepted(o.sku, **ids[o.sku]))
        return self._clean([results[o.sku] for o in offers])

    def category(self, product_type: str | None) -> str | None:
        """The category id for a product type: the longest "A > B" prefix in ``category_ids``,
        else its ``"*"`` entry."""
        table = self.settings.get("category_ids") or {}
        parts = [p.strip() for p in (product_type or "").split(">") if p.strip()]
        for n in range(len(parts), 0, -1):
            key = " > ".join(parts[:n])
            for name, value in table.items():
                if " > ".join(p.strip() for p in name.split(">")).lower() == key.lower():
                    return str(value)
        return str(table["*"]) if "*" in table else None

    def _item(self, offer: Offer) -> dict[str, Any]:
        product: dict[str, Any] = {"title": offer.title[: self.max_title],
                                   "description": offer.description or offer.title}  # fmt: skip
        images = [u for u in [offer.image_link, *offer.additional_image_links] if u]
        if images:
            product["imageUrls"] = images[:24]
        if offer.brand:
            product["brand"] = offer.brand
        if offer.mpn:
            product["mpn"] = offer.mpn
        if offer.gtin:
            product["ean" if len(offer.gtin) == 13 else "upc"] = [offer.gtin]
        found = aspects(offer)
        if found:
            product["aspects"] = found
        item: dict[str, Any] = {
            "sku": offer.sku, "locale": self._locale(), "product": product,
            "condition": CONDITIONS.get((offer.condition or "new").lower(), "NEW"),
            "availability": {"shipToLocationAvailability": {"quantity": max(offer.quantity, 0)}},
        }  # fmt: skip
        if offer.weight_grams:
            item["packageWeightAndSize"] = {"weight": {"value": offer.weight_grams,
                                                       "unit": "GRAM"}}  # fmt: skip
        return item

    def _items(self, offers: list[Offer], results: Results) -> list[Offer]:
        if not offers:
            return []
        body = {"requests": [self._item(o) for o in offers]}
        try:
            answer = self._post(self.inventory, "/bulk_create_or_replace_inventory_item", body)
        except Refused as exc:
            return self._refuse_all(offers, results, exc)
        return self._per_sku(offers, results, answer.get("responses"))

    def _groups(
        self, offers: list[Offer], results: Results, ids: dict[str, dict[str, str]]
    ) -> list[Offer]:
        """Write each product's inventory item group; its variants fail with it."""
        groups: dict[str, list[Offer]] = {}
        for o in offers:
            if o.item_group_id:
                groups.setdefault(o.item_group_id, []).append(o)
        for key, members in groups.items():
            path = "/inventory_item_group/" + urllib.parse.quote(key, safe="")
            current: dict[str, Any] = {}
            try:
                current = self.inventory.request("GET", path).body or {}
            except Refused as exc:
                if exc.answer.status != 404:
                    self._refuse_all(members, results, exc)
                    continue
            skus = list(dict.fromkeys([*(current.get("variantSKUs") or []),
                                       *(o.sku for o in members)]))  # fmt: skip
            specs: dict[str, list[str]] = {}
            for spec in (current.get("variesBy") or {}).get("specifications") or []:
                specs[str(spec.get("name"))] = [str(v) for v in spec.get("values") or []]
            for o in members:
                for name, values in aspects(o).items():
                    if name != "Brand" and values[0] not in specs.setdefault(name, []):
                        specs[name].append(values[0])
            first = members[0]
            title = first.title.rpartition(" - ")[0] or first.title
            group: dict[str, Any] = {
                "title": title[: self.max_title],
                "description": first.description or title,
                "variantSKUs": skus,
                "variesBy": {"specifications": [{"name": k, "values": v}
                                                for k, v in specs.items() if v]},
            }  # fmt: skip
            images = [o.image_link for o in members if o.image_link]
            if images:
                group["imageUrls"] = list(dict.fromkeys(images))[:24]
            if first.brand:
                group["aspects"] = {"Brand": [first.brand]}
            try:
                self.inventory.request("PUT", path, json=group, headers=self._language())
            except Refused as exc:
                self._refuse_all(members, results, exc)
                continue
            new = set(skus) - set(current.get("variantSKUs") or [])
            for o in members:
                ids[o.sku]["group"] = key
                if new:  # a variant joined: the group is published again
                    ids[o.sku].pop("listing_id", None)
        return [o for o in offers if o.sku not in results]

    def _terms(self, category: str) -> dict[str, Any]:
        s = self.settings
        return {
            "marketplaceId": s["marketplace_id"], "format": "FIXED_PRICE",
            "categoryId": category, "merchantLocationKey": s["merchant_location_key"],
            "listingPolicies": {"fulfillmentPolicyId": s["fulfillment_policy_id"],
                                "paymentPolicyId": s["payment_policy_id"],
                                "returnPolicyId": s["return_policy_id"]},
        }  # fmt: skip

    def _offer(self, offer: Offer, category: str) -> dict[str, Any]:
        return {
            "sku": offer.sku, **self._terms(category),
            "availableQuantity": max(offer.quantity, 0),
            "pricingSummary": {"price": price_of(offer)},
        }  # fmt: skip

    @staticmethod
    def _digest(content: Any) -> str:
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _offers(
        self, offers: list[Offer], results: Results, ids: dict[str, dict[str, str]],
        category: dict[str, str],
    ) -> list[Offer]:  # fmt: skip
        """An offer per SKU: create the new ones, replace those whose terms changed."""
        new = [o for o in offers if not ids[o.sku].get("offer_id")]
        replace = [
            o
            for o in offers
            if ids[o.sku].get("offer_id")
            and ids[o.sku].get("terms") != self._digest(self._terms(category[o.sku]))
        ]
        if new:
            body = {"requests": [self._offer(o, category[o.sku]) for o in new]}
            try:
                answer = self._post(self.inventory, "/bulk_create_offer", body)
            except Refused as exc:
                self._refuse_all(new, results, exc)
                answer = {}
            by_sku = {str(r.get("sku")): r for r in answer.get("responses") or []}
            for o in new:
                if o.sku in results:
                    continue
                r = by_sku.get(o.sku)
                if r is None:
                    results[o.sku] = ItemResult.rejected(
                        o.sku, "eBay's answer does not mention this SKU; nothing recorded",
                        retriable=True)  # fmt: skip
                elif r.get("offerId") and int(r.get("statusCode") or 200) < 400:
                    ids[o.sku]["offer_id"] = str(r["offerId"])
                elif (existing := self._existing_offer(o.sku, r.get("errors"))) is not None:
                    ids[o.sku].update(existing)  # made by a run whose answer was lost
                    replace.append(o)
                else:
                    results[o.sku] = ItemResult.rejected(
                        o.sku, said(r.get("errors")) or f"eBay answered {r.get('statusCode')}"
                    )
        for o in replace:
            path = "/offer/" + urllib.parse.quote(ids[o.sku]["offer_id"], safe="")
            body = self._offer(o, category[o.sku])
            body.pop("sku")
            try:
                self.inventory.request("PUT", path, json=body, headers=self._language())
            except Refused as exc:
                self._refuse_all([o], results, exc, ids)
        for o in offers:
            if o.sku not in results:
                ids[o.sku]["terms"] = self._digest(self._terms(category[o.sku]))
        return [o for o in offers if o.sku not in results]

    def _existing_offer(self, sku: str, errors: Any) -> dict[str, str] | None:
        """The ids of the offer eBay already has for ``sku`` (an "Offer entity already exists"
        error): its offer id and, once published, its listing id (so it is not published
        again)."""
        for e in errors if isinstance(errors, list) else []:
            if isinstance(e, dict) and e.get("errorId") == OFFER_EXISTS:
                named = [str(p["value"]) for p in e.get("parameters") or []
                         if p.get("name") == "offerId" and p.get("value")]  # fmt: skip
                found = self._find_offer(sku)
                if found is None and named:
                    found = {"offer_id": named[0]}
                return found
        return None

    def _find_offer(self, sku: str) -> dict[str, str] | None:
        params = {"sku": sku, "marketplace_id": self.settings["marketplace_id"]}
        try:
            body = self.inventory.request("GET", "/offer", params=params).body or {}
        except Refused:
            return None
        for offer in body.get("offers") or []:
            if offer.get("sku") == sku and offer.get("offerId"):
                found = {"offer_id": str(offer["offerId"])}
                listing = (offer.get("listing") or {}).get("listingId")
                if offer.get("status") == "PUBLISHED" and listing:
                    found["listing_id"] = str(listing)
                return found
        return None

    def _publish(
        self, offers: list[Offer], results: Results, ids: dict[str, dict[str, str]]
    ) -> None:
        """Publish what is not live yet: singles in one bulk call, each group in its own."""
        singles = [o for o in offers if not o.item_group_id and not ids[o.sku].get("listing_id")]
        groups: dict[str, list[Offer]] = {}
        for o in offers:
            if o.item_group_id and not ids[o.sku].get("listing_id"):
                groups.setdefault(o.item_group_id, []).append(o)
        if singles:
            body = {"requests": [{"offerId": ids[o.sku]["offer_id"]} for o in singles]}
            try:
                answer = self._post(self.inventory, "/bulk_publish_offer", body)
            except Refused as exc:
                self._refuse_all(singles, results, exc, ids)
                answer = {}
            by_offer = {str(r.get("offerId")): r for r in answer.get("responses") or []}
            for o in singles:
                if o.sku in results:
                    continue
                r = by_offer.get(ids[o.sku]["offer_id"])
                if r is not None and r.get("listingId") and int(r.get("statusCode") or 200) < 400:
                    ids[o.sku]["listing_id"] = str(r["listingId"])
                    continue
                why = (said(r.get("errors")) if r else "") or "eBay did not publish the offer"
                results[o.sku] = ItemResult(o.sku, False, ids[o.sku], why, retriable=r is None)
        for key, members in groups.items():
            which = {"inventoryItemGroupKey": key, "marketplaceId": self.settings["marketplace_id"]}
            try:
                answer = self._post(self.inventory, "/offer/publish_by_inventory_item_group", which)
            except Refused as exc:
                self._refuse_all(members, results, exc, ids)
                continue
            for o in members:
                if answer.get("listingId"):
                    ids[o.sku]["listing_id"] = str(answer["listingId"])
                else:
                    results[o.sku] = ItemResult(o.sku, False, ids[o.sku],
                                                "eBay published the group without a listing id",
                                                retriable=True)  # fmt: skip

    # --- prices and quantities -----------------------------------------------------------
    def update_prices(self, offers: list[Offer]) -> list[ItemResult]:
        return self._price_quantity(offers, price=True, quantity=False)

    def update_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._price_quantity(offers, price=False, quantity=True)

    def update_prices_and_quantities(self, offers: list[Offer]) -> list[ItemResult]:
        return self._price_quantity(offers, price=True, quantity=True)

    def _price_quantity(self, offers: list[Offer], price: bool, quantity: bool) -> list[ItemResult]:
        """One ``bulk_update_price_quantity`` call for the batch, by offer id."""
        results: Results = {}
        requests = []
        sent = []
        for o in offers:
            offer_id = self.known_ids.get(o.sku, {}).get("offer_id")
            if not offer_id:
                results[o.sku] = ItemResult.rejected(o.sku, NOT_LISTED)
                continue
            entry: dict[str, Any] = {"offerId": offer_id}
            request: dict[str, Any] = {"sku": o.sku, "offers": [entry]}
            if price:
                try:
                    entry["price"] = price_of(o)
                except ValueError as exc:
                    results[o.sku] = ItemResult.rejected(o.sku, str(exc))
                    continue
            if quantity:
                count = max(o.quantity, 0)
                entry["availableQuantity"] = count
                request["shipToLocationAvailability"] = {"quantity": count}
            requests.append(request)
            sent.append(o)
        if requests:
            try:
                answer = self._post(self.inventory, "/bulk_update_price_quantity",
                                    {"requests": requests})  # fmt: skip
            except Refused as exc:
                self._refuse_all(sent, results, exc)
            else:
                self._per_sku(sent, results, answer.get("responses"), ids=True)
        for o in sent:
            offer_id = self.known_ids[o.sku]["offer_id"]
            results.setdefault(o.sku, ItemResult.accepted(o.sku, offer_id=offer_id))
        return self._clean([results[o.sku] for o in offers])

    # --- reading bulk answers ------------------------------------------------------------
    def _per_sku(
        self, offers: list[Offer], results: Results, responses: Any, ids: bool = False
    ) -> list[Offer]:
        """Reject the SKUs whose entries in a bulk answer failed (or are missing); the rest
        are returned (and, with ``ids``, accepted with their offer id)."""
        by_sku: dict[str, list[dict[str, Any]]] = {}
        for r in responses if isinstance(responses, list) else []:
            if isinstance(r, dict):
                by_sku.setdefault(str(r.get("sku")), []).append(r)
        ok = []
        for o in offers:
            entries = by_sku.get(o.sku)
            if not entries:
                results[o.sku] = ItemResult.rejected(
                    o.sku, "eBay's answer does not mention this SKU; nothing recorded",
                    retriable=True)  # fmt: skip
                continue
            failed = [e for e in entries if int(e.get("statusCode") or 200) >= 400
                      or e.get("errors")]  # fmt: skip
            if failed:
                why = "; ".join(said(e.get("errors")) or f"eBay answered {e.get('statusCode')}"
                                for e in failed)  # fmt: skip
                busy = all(int(e.get("statusCode") or 0) >= 500 for e in failed)
                results[o.sku] = ItemResult.rejected(o.sku, why, retriable=busy)
                continue
            ok.append(o)
            if ids:
                offer_id = self.known_ids.get(o.sku, {}).get("offer_id", "")
                results[o.sku] = ItemResult.accepted(o.sku, offer_id=offer_id)
        return ok

    def _refuse_all(
        self, offers: list[Offer], results: Results, exc: Refused,
        ids: dict[str, dict[str, str]] | None = None,
    ) -> list[Offer]:  # fmt: skip
        """eBay refused a whole request: each of its SKUs gets eBay's message (keeping the
        ids already known, so nothing is made twice)."""
        why = _describe(exc.answer) or exc.message
        for o in offers:
            if o.sku not in results:
                kept = (ids or {}).get(o.sku, {})
                results[o.sku] = ItemResult(o.sku, False, dict(kept), why)
        return []

    def _clean(self, results: list[ItemResult]) -> list[ItemResult]:
        """The results with every credential and token taken out of eBay's messages (an API
        may echo what it was sent)."""
        clients = [self.inventory, self.fulfillment]
        out = []
        for r in results:
            message = r.message
            for client in clients:
                message = client.redact(message) if message else message
            out.append(dataclasses.replace(r, message=message) if message != r.message else r)
        return out

    # --- orders ----------------------------------------------------------------------------
    def fetch_orders(self, since: datetime) -> Iterator[list[Order]]:
        """Orders changed at or after ``since``, a page of at most 200 at a time."""
        pages = self.fulfillment.offsets(
            "/order", eo.list_params(since), limit=eo.PER_PAGE,
            items=lambda a: (a.body or {}).get("orders") or [],
            total=lambda a: (a.body or {}).get("total"),
        )  # fmt: skip
        try:
            for answer in pages:
                page = []
                for order in (answer.body or {}).get("orders") or []:
                    if eo.needs_detail(order):
                        order = self._order(str(order["orderId"])) or order
                    page.append(eo.to_order(order))
                yield page
        except Refused as exc:
            raise Fatal(f"eBay refused the order search ({_describe(exc.answer)})") from None

    def _order(self, order_id: str) -> dict[str, Any] | None:
        body = self.fulfillment.request("GET", "/order/" + urllib.parse.quote(order_id)).body
        return body if isinstance(body, dict) and body.get("orderId") else None

    # --- shipments ---------------------------------------------------------------------------
    def ship(self, shipment: Any) -> ItemResult:
        """The parcel as a shipping fulfillment (see the module docstring); its id is the
        ``fulfillment_id``."""
        path = "/order/" + urllib.parse.quote(shipment.order_id, safe="") + "/shipping_fulfillment"
        body = eo.fulfillment_body(shipment)
        try:
            there = self.fulfillment.request("GET", path).body or {}
            done = eo.already_sent(there.get("fulfillments") or [], body)
            if done is None and shipment.remote_id and "trackingNumber" not in body:
                done = shipment.remote_id  # sent before, no tracking to add
            if done is not None:
                return ItemResult.accepted(shipment.key, fulfillment_id=done)
            answer = self.fulfillment.request("POST", path, json=body)
        except Refused as exc:
            [result] = self._clean([ItemResult.rejected(shipment.key, _describe(exc.answer))])
            return result
        location = answer.headers.get("Location") or ""
        made = location.rstrip("/").rpartition("/")[2] or body.get("trackingNumber") or "sent"
        return ItemResult.accepted(shipment.key, fulfillment_id=urllib.parse.unquote(made))

    # --- live listings (drift) -----------------------------------------------------------------
    def remote_listings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every inventory item with its offer in the marketplace, as Offer fields (see the
        module docstring)."""
        path = "/inventory_item"
        pages = self.inventory.next_links(
            path, {"limit": PER_READ}, next_url=_follow(self.inventory.base_url + path)
        )
        try:
            for answer in pages:
                body = answer.body if isinstance(answer.body, dict) else {}
                for item in body.get("inventoryItems") or []:
                    if isinstance(item, dict) and item.get("sku"):
                        sku = str(item["sku"])
                        yield sku, _live(item, self._live_offer(sku))
        except Refused as exc:
            raise Fatal(f"eBay refused the inventory read ({_describe(exc.answer)})") from None

    def _live_offer(self, sku: str) -> dict[str, Any] | None:
        """The SKU's fixed-price offer in the marketplace (a published one first), else None."""
        market = self.settings["marketplace_id"]
        try:
            body = self.inventory.request(
                "GET", "/offer", params={"sku": sku, "marketplace_id": market}
            ).body
        except Refused as exc:
            found = exc.answer.body if isinstance(exc.answer.body, dict) else {}
            codes = {e.get("errorId") for e in found.get("errors") or [] if isinstance(e, dict)}
            if exc.answer.status == 404 or codes & NO_OFFER:
                return None
            raise Fatal(f"eBay refused the offers of SKU {sku} ({_describe(exc.answer)})") from None
        mine = [
            o
            for o in (body or {}).get("offers") or []
            if isinstance(o, dict)
            and o.get("format", "FIXED_PRICE") == "FIXED_PRICE"
            and o.get("marketplaceId", market) == market
        ]
        published = [o for o in mine if o.get("status") == "PUBLISHED"]
        return (published or mine)[0] if mine else None

    # --- HTTP --------------------------------------------------------------------------------
    def _locale(self) -> str:
        return str(self.settings.get("content_language") or "en-US").replace("-", "_")

    def _language(self) -> dict[str, str]:
        return {"Content-Language": str(self.settings.get("content_language") or "en-US")}

    def _post(self, client: ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a bulk call (each is safe to send again: replaces, and creates that eBay
        answers "already exists" for), reading its JSON answer."""
        data = client.request("POST", path, json=body, headers=self._language(),
                              idempotent=True).body  # fmt: skip
        return data if isinstance(data, dict) else {}

    def _url(self, key: str, tail: str) -> str:
        return str(self.settings.get(key) or (self.settings["api_url"] + tail))

    @functools.cached_property
    def auth(self) -> OAuth2Refresh:
        s = self.settings
        return OAuth2Refresh(
            self._url("token_url", "/identity/v1/oauth2/token"), s["refresh_token"],
            s["client_id"], s["client_secret"], scope=s.get("scopes") or SCOPES,
            client_auth="basic", key=f"ebay:{self.name}",
        )  # fmt: skip

    def _client(self, url: str) -> ApiClient:
        return ApiClient(
            self, url, vendor="eBay", auth=self.auth,
            timeout=self.settings.get("timeout") or 30, describe=_describe,
            auth_hint="The refresh token must grant the sell.inventory and sell.fulfillment "
            "scopes",
        )  # fmt: skip

    @functools.cached_property
    def inventory(self) -> ApiClient:
        return self._client(self._url("inventory_url", "/sell/inventory/v1"))

    @functools.cached_property
    def fulfillment(self) -> ApiClient:
        return self._client(self._url("fulfillment_url", "/sell/fulfillment/v1"))


def _follow(url: str) -> Callable[[Answer], str | None]:
    """The ``next_url`` of getInventoryItems pages: ``url`` with the query of the ``next``
    eBay names (None at the end, or when it names a page already read)."""
    seen: set[str] = set()

    def next_url(answer: Answer) -> str | None:
        body = answer.body if isinstance(answer.body, dict) else {}
        query = urllib.parse.urlsplit(str(body.get("next") or "")).query
        if not query or query in seen:
            return None
        seen.add(query)
        return f"{url}?{query}"

    return next_url


def _live(item: dict[str, Any], offer: dict[str, Any] | None) -> dict[str, Any]:
    """An inventory item and its offer as Offer fields (see the module docstring)."""
    fields: dict[str, Any] = {}
    product = item.get("product") if isinstance(item.get("product"), dict) else {}
    if (product or {}).get("title"):
        fields["title"] = str((product or {})["title"])
    ship = ((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get(
        "quantity"
    )
    count = (offer or {}).get("availableQuantity")
    for quantity in (count, ship):
        if isinstance(quantity, int) and not isinstance(quantity, bool):
            fields["quantity"] = quantity
            break
    price = ((offer or {}).get("pricingSummary") or {}).get("price") or {}
    amount = api_amount(price.get("value")) if isinstance(price, dict) else None
    if amount is not None:
        fields["price"] = to_text(amount, price.get("currency"))
    listing = (offer or {}).get("listing") or {}
    fields["listed"] = bool(
        offer
        and offer.get("status") == "PUBLISHED"
        and listing.get("listingStatus", "ACTIVE") in LIVE
        and not listing.get("listingOnHold")
    )
    return fields
