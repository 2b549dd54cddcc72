"""An Etsy double for the Etsy channel tests. Prism serves Etsy's own contract (the Open API v3
file in ../shared/specs/etsy); this small stateful double on 127.0.0.1 covers what Prism's
canned answers cannot show: listing and product ids, an inventory that a write replaces
whole, receipts, shipments, tokens, 4xx for one listing, 429/5xx.

It implements the endpoints the channel uses as Etsy documents them:
- ``POST /v3/public/oauth/token`` (not in the OAS file; Etsy's authentication docs): the
  refresh_token grant with the app's keystring as client_id; access tokens last an hour;
- every other call needs ``x-api-key: keystring:shared_secret`` and a bearer token issued
  here (401 ``invalid_token`` otherwise);
- createDraftListing (form), getListingsByShop (state, includes=Inventory, limit/offset),
  updateListing (PATCH, form), getListingInventory, updateListingInventory (JSON: the
  products sent replace the listing's products, which get new ids; a product left out is
  gone; checks Etsy states in prose: one offering per product, price >= 0.20, quantity
  0-999, unique SKUs, the same properties on every product, ``*_on_property`` consistent with
  the values), uploadListingImage (multipart; ``overwrite`` replaces the image at ``rank``);
- getShopReceipts (min_last_modified, sort_on updated/created, sort_order, limit, offset),
  getShopReceipt and createReceiptShipment (form; a tracking code is required for US orders
  over 10 USD); a sale lowers the listing's offering quantity, and a cancellation does not
  give it back (Etsy: "Canceling a sold-out item doesn't put the item back in your shop");
- titles: ``%``, ``:``, ``&`` and ``+`` at most once each, as the createDraftListing
  description says (a 400 with Etsy's ``error`` otherwise).
- what the seller does on Etsy.com behind multichan's back: ``tamper`` (a SKU's offering:
  price, quantity, on/off), ``set_state`` (deactivate, expire), ``delete_listing``, ``seed`` (a
  listing multichan never made).

With ``validate`` set to a Prism URL it first forwards every call (the token call aside) to
Prism and answers with Prism's error, recording it in ``violations``, when the request breaks
the contract. ``/cdn/<name>`` serves images for the offers' links (``/cdn/missing...`` is 404).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.prism import Prism
from tests.servers import serve

KEYSTRING = "etsykeyTEST1x2y3z4w5v"  # the values of the ${VARS}: must never show up anywhere
SHARED_SECRET = "etsysecretTEST9q8r"
REFRESH_TOKEN = "12345678.etsyrefreshTEST77aa88bb"
SHOP_ID = 31337
USER_ID = 12345678
SPEC = "etsy/etsy_open_api_v3_oas.json"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
SHOP = f"/v3/application/shops/{SHOP_ID}"
LISTING = re.compile(rf"{SHOP}/listings/(\d+)")
IMAGES = re.compile(rf"{SHOP}/listings/(\d+)/images")
INVENTORY = re.compile(r"/v3/application/listings/(\d+)/inventory")
RECEIPT = re.compile(rf"{SHOP}/receipts/(\d+)")
TRACKING = re.compile(rf"{SHOP}/receipts/(\d+)/tracking")
ONCE = "%:&+"
Answer = tuple[int, Any]


def money(amount: float | str, currency: str = "USD") -> dict[str, Any]:
    return {"amount": round(float(amount) * 100), "divisor": 100, "currency_code": currency}


def error(text: str) -> dict[str, str]:
    return {"error": text}


@dataclass
class EtsyDouble:
    url: str = ""
    validate: str | None = None  # a Prism URL that checks every request first
    currency: str = "USD"
    listings: dict[int, dict[str, Any]] = field(default_factory=dict)
    inventories: dict[int, dict[str, Any]] = field(default_factory=dict)
    images: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    receipts: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    # refresh tokens Etsy issued -> when: each grant answers a new one (etsy/open-api#353,
    # the one sent stays valid) and each lasts 90 days
    refresh_tokens: dict[str, float] = field(default_factory=dict)
    grants: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    fail_on: list[tuple[str, str, int]] = field(default_factory=list)  # method, path re, status
    serial: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Any = None  # what stamps each request's "at" (a test's fake clock), when set

    def reset(self, validate: str | None = None) -> None:
        self.validate, self.currency, self.serial, self.grants = validate, "USD", 0, 0
        for store in (self.listings, self.inventories, self.images, self.receipts):
            store.clear()
        self.tokens.clear()
        self.refresh_tokens.clear()
        self.refresh_tokens[REFRESH_TOKEN] = time.time()
        self.requests.clear()
        self.violations.clear()
        self.fail_next.clear()
        self.fail_on.clear()
        self.clock = None

    def next_id(self) -> int:
        self.serial += 1
        return 1_000_000 + self.serial

    def calls(self, method: str, pattern: str) -> list[dict[str, Any]]:
        """The requests ``method`` whose path (without query) matches ``pattern``."""
        return [r for r in self.requests if r["method"] == method
                and re.fullmatch(pattern, r["path"].split("?")[0])]  # fmt: skip

    def api_calls(self) -> list[dict[str, Any]]:
        """The requests to Etsy's API (not the token endpoint, not the image host)."""
        return [r for r in self.requests if r["path"].startswith("/v3/application")]

    # --- what a test reads ------------------------------------------------------------------
    def by_sku(self) -> dict[str, dict[str, Any]]:
        """Every product Etsy holds, by SKU: listing id, price, quantity, property values."""
        found: dict[str, dict[str, Any]] = {}
        for listing_id, inventory in self.inventories.items():
            for p in inventory["products"]:
                off = p["offerings"][0]
                found.setdefault(p["sku"] or f"<none:{listing_id}>", {
                    "listing_id": listing_id, "product_id": p["product_id"],
                    "price": off["price"]["amount"] / off["price"]["divisor"],
                    "quantity": off["quantity"], "enabled": off["is_enabled"],
                    "values": [(v["property_name"], v["values"][0])
                               for v in p["property_values"]],
                    "duplicate": p["sku"] in found,
                })  # fmt: skip
        return found

    # --- what the seller does on Etsy.com, behind multichan's back -----------------------------
    def _holding(self, sku: str) -> tuple[int, dict[str, Any]]:
        for listing_id, inventory in self.inventories.items():
            for p in inventory["products"]:
                if p["sku"] == sku:
                    return listing_id, p
        raise KeyError(sku)

    def tamper(self, sku: str, *, price: str | None = None, quantity: int | None = None,
               enabled: bool | None = None) -> None:  # fmt: skip
        """The seller changes a SKU's offering on Etsy.com (price, quantity, on/off)."""
        listing_id, product = self._holding(sku)
        off = product["offerings"][0]
        if price is not None:
            off["price"] = money(price, off["price"]["currency_code"])
        if quantity is not None:
            off["quantity"] = quantity
        if enabled is not None:
            off["is_enabled"] = enabled
        listing = self.listings[listing_id]
        listing["quantity"] = sum(p["offerings"][0]["quantity"]
                                  for p in self.inventories[listing_id]["products"])  # fmt: skip

    def set_state(self, sku: str, state: str) -> None:
        """The listing holding ``sku`` moves to ``state`` (the seller deactivates it, Etsy lets
        it expire...)."""
        self.listings[self._holding(sku)[0]]["state"] = state

    def delete_listing(self, sku: str) -> int:
        """The seller deletes the listing holding ``sku`` (deleteListing): gone, with its
        inventory and images. Its id."""
        listing_id = self._holding(sku)[0]
        for store in (self.listings, self.inventories, self.images):
            store.pop(listing_id, None)
        return listing_id

    def seed(self, sku: str, title: str, price: str, quantity: int,
             state: str = "active") -> int:  # fmt: skip
        """A one-product listing the seller made on Etsy.com; its id."""
        listing_id = self.next_id()
        now = int(time.time())
        self.listings[listing_id] = {
            "listing_id": listing_id, "user_id": USER_ID, "shop_id": SHOP_ID, "title": title,
            "description": title, "state": state, "quantity": quantity, "tags": [],
            "taxonomy_id": 1296, "price": money(price, self.currency),
            "creation_timestamp": now, "created_timestamp": now, "updated_timestamp": now,
            "last_modified_timestamp": now, "has_variations": False, "listing_type": "physical",
        }  # fmt: skip
        self.inventories[listing_id] = {
            "products": [self._product(sku, [], {"price": float(price), "quantity": quantity,
                                                 "is_enabled": True})],
            "price_on_property": [], "quantity_on_property": [], "sku_on_property": [],
        }  # fmt: skip
        return listing_id

    # --- receipts (what buyers do) -------------------------------------------------------------
    def place(self, lines: list[tuple[str, int]], status: str = "paid", country: str = "US",
              at: int | None = None) -> int:  # fmt: skip
        """A buyer's receipt for ``lines`` (SKU, units); a paid one lowers the listing."""
        now = at or int(time.time())
        receipt_id = self.next_id()
        transactions = []
        total = 0.0
        products = {p["sku"]: (lid, p) for lid, inv in self.inventories.items()
                    for p in inv["products"]}  # fmt: skip
        for sku, quantity in lines:
            listing_id, product = products.get(sku, (None, None))
            price = product["offerings"][0]["price"] if product else money("9.50")
            total += price["amount"] / price["divisor"] * quantity
            transactions.append({
                "transaction_id": self.next_id(), "title": sku, "quantity": quantity,
                "receipt_id": receipt_id, "listing_id": listing_id,
                "product_id": product["product_id"] if product else None, "sku": sku,
                "price": copy.deepcopy(price), "shipping_cost": money(0),
                "create_timestamp": now, "created_timestamp": now, "is_digital": False,
                "paid_timestamp": now if status != "open" else None, "shipped_timestamp": None,
                "seller_user_id": USER_ID, "buyer_user_id": 42, "transaction_type": "listing",
                "variations": [], "product_data": [],
            })  # fmt: skip
            if product and status != "open":
                off = product["offerings"][0]
                off["quantity"] = max(off["quantity"] - quantity, 0)
        self.receipts[receipt_id] = {
            "receipt_id": receipt_id, "receipt_type": 0, "seller_user_id": USER_ID,
            "buyer_user_id": 42, "name": "A Buyer", "status": status,
            "is_paid": status not in ("open", "payment processing"), "is_shipped": False,
            "country_iso": country, "payment_method": "cc",
            "create_timestamp": now, "created_timestamp": now, "update_timestamp": now,
            "updated_timestamp": now, "grandtotal": money(total), "subtotal": money(total),
            "total_price": money(total), "shipments": [], "transactions": transactions,
            "refunds": [],
        }  # fmt: skip
        return receipt_id

    def change(self, receipt_id: int, at: int | None = None, **fields: Any) -> None:
        """The seller or Etsy changes a receipt (status, is_paid...); ``at``: the update
        timestamp Etsy gives it (a cancellation processed late keeps an old one)."""
        receipt = self.receipts[receipt_id]
        receipt.update(fields)
        stamp = at if at is not None else max(int(time.time()), receipt["updated_timestamp"] + 1)
        receipt["updated_timestamp"] = receipt["update_timestamp"] = stamp

    # --- the endpoints ----------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> Answer:
        self.grants += 1
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != KEYSTRING:
            return 400, {"error": "invalid_request", "error_description": "bad client_id"}
        issued = self.refresh_tokens.get(str(form.get("refresh_token")))
        if issued is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
        if issued < time.time() - 90 * 86400:
            return 400, {"error": "invalid_grant", "error_description": "refresh_token expired"}
        token = f"{USER_ID}.access{self.next_id()}TEST"
        rotated = f"{USER_ID}.refresh{self.next_id()}TEST"
        self.tokens.add(token)
        self.refresh_tokens[rotated] = time.time()
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                     "refresh_token": rotated}  # fmt: skip

    def create_listing(self, form: dict[str, Any]) -> Answer:
        need = ("quantity", "title", "description", "price", "who_made", "when_made",
                "taxonomy_id")  # fmt: skip
        missing = [k for k in need if not form.get(k)]
        if missing:
            return 400, error(f"Missing required parameter(s): {', '.join(missing)}")
        title = str(form["title"])
        twice = [c for c in ONCE if title.count(c) > 1]
        if twice:
            return 400, error(f"Title may contain the characters %, :, & and + only once each; "
                              f"'{twice[0]}' appears {title.count(twice[0])} times")  # fmt: skip
        if float(form["price"]) < 0.2:
            return 400, error("Price must be at least 0.20")
        listing_id = self.next_id()
        now = int(time.time())
        listing = {
            "listing_id": listing_id, "user_id": USER_ID, "shop_id": SHOP_ID, "title": title,
            "description": form["description"], "state": "draft",
            "quantity": int(form["quantity"]), "tags": form.get("tags") or [],
            "taxonomy_id": int(form["taxonomy_id"]), "price": money(form["price"], self.currency),
            "creation_timestamp": now, "created_timestamp": now, "updated_timestamp": now,
            "last_modified_timestamp": now, "has_variations": False, "listing_type": "physical",
        }  # fmt: skip
        self.listings[listing_id] = listing
        self.inventories[listing_id] = {
            "products": [self._product("", [], {"price": float(form["price"]),
                                                "quantity": int(form["quantity"]),
                                                "is_enabled": True})],
            "price_on_property": [], "quantity_on_property": [], "sku_on_property": [],
        }  # fmt: skip
        return 201, listing

    def _product(self, sku: str, values: list[dict[str, Any]], off: dict[str, Any]) -> Any:
        return {
            "product_id": self.next_id(), "sku": sku, "is_deleted": False,
            "property_values": [{"property_id": v["property_id"],
                                 "property_name": v.get("property_name") or "",
                                 "scale_id": v.get("scale_id"), "scale_name": None,
                                 "value_ids": v.get("value_ids") or [self.next_id()],
                                 "values": v["values"]} for v in values],
            "offerings": [{"offering_id": self.next_id(), "quantity": off["quantity"],
                           "is_enabled": off["is_enabled"], "is_deleted": False,
                           "price": money(off["price"], self.currency)}],
        }  # fmt: skip

    def list_listings(self, query: dict[str, str]) -> Answer:
        state = query.get("state", "active")
        found = [copy.deepcopy(v) for k, v in sorted(self.listings.items())
                 if v["state"] == state]  # fmt: skip
        if "Inventory" in query.get("includes", ""):
            for listing in found:
                listing["inventory"] = copy.deepcopy(self.inventories[listing["listing_id"]])
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 25))
        return 200, {"count": len(found), "results": found[offset : offset + limit]}

    def patch_listing(self, listing_id: int, form: dict[str, Any]) -> Answer:
        listing = self.listings.get(listing_id)
        if listing is None:
            return 404, error(f"Listing {listing_id} not found")
        for key in ("title", "description", "tags"):
            if key in form:
                listing[key] = form[key]
        return 200, listing

    def get_inventory(self, listing_id: int) -> Answer:
        if listing_id not in self.inventories:
            return 404, error(f"Listing {listing_id} not found")
        return 200, self.inventories[listing_id]

    def put_inventory(self, listing_id: int, body: dict[str, Any]) -> Answer:
        if listing_id not in self.inventories:
            return 404, error(f"Listing {listing_id} not found")
        problem = inventory_problem(body)
        if problem:
            return 400, error(problem)
        products = [self._product(p.get("sku") or "", p.get("property_values") or [],
                                  p["offerings"][0]) for p in body["products"]]  # fmt: skip
        self.inventories[listing_id] = {
            "products": products, "price_on_property": body.get("price_on_property") or [],
            "quantity_on_property": body.get("quantity_on_property") or [],
            "sku_on_property": body.get("sku_on_property") or [],
        }  # fmt: skip
        listing = self.listings[listing_id]
        listing["quantity"] = sum(p["offerings"][0]["quantity"] for p in products)
        listing["has_variations"] = any(p["property_values"] for p in products)
        return 200, self.inventories[listing_id]

    def upload_image(self, listing_id: int, content_type: str, raw: bytes) -> Answer:
        if listing_id not in self.listings:
            return 404, error(f"Listing {listing_id} not found")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        parts = {p.get_param("name", header="content-disposition"): p
                 for p in message.iter_parts()}  # fmt: skip
        image = parts.get("image")
        data = image.get_payload(decode=True) if image is not None else None
        if not data or not data.startswith(b"\x89PNG"):
            return 400, error("The image could not be read")
        rank = int(parts["rank"].get_content().strip()) if "rank" in parts else 1
        overwrite = "overwrite" in parts and parts["overwrite"].get_content().strip() == "true"
        ranks = self.images.setdefault(listing_id, {})
        if rank in ranks and not overwrite:
            rank = max(ranks) + 1
        image_id = self.next_id()
        ranks[rank] = {"listing_id": listing_id, "listing_image_id": image_id, "rank": rank,
                       "size": len(data)}  # fmt: skip
        return 201, ranks[rank]

    def list_receipts(self, query: dict[str, str]) -> Answer:
        since = int(query.get("min_last_modified", 0))
        key = "updated_timestamp" if query.get("sort_on") == "updated" else "created_timestamp"
        found = sorted(
            (r for r in self.receipts.values() if r["updated_timestamp"] >= since),
            key=lambda r: (r[key], r["receipt_id"]),
            reverse=query.get("sort_order", "desc") in ("desc", "descending", "down"),
        )
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 25))
        return 200, {"count": len(found), "results": copy.deepcopy(found[offset : offset + limit])}

    def tracking(self, receipt_id: int, form: dict[str, Any]) -> Answer:
        receipt = self.receipts.get(receipt_id)
        if receipt is None:
            return 404, error(f"Receipt {receipt_id} not found")
        if receipt["status"] == "canceled":
            return 409, error("This receipt has been canceled")
        total = receipt["grandtotal"]["amount"] / receipt["grandtotal"]["divisor"]
        required = receipt["country_iso"] == "IN" or (receipt["country_iso"] == "US"
                                                     and total > 10)  # fmt: skip
        if required and not (form.get("tracking_code") and form.get("carrier_name")):
            return 400, error("A tracking number is required")
        now = max(int(time.time()), receipt["updated_timestamp"] + 1)
        if form.get("tracking_code"):
            receipt["shipments"].append({
                "receipt_shipping_id": self.next_id(), "shipment_notification_timestamp": now,
                "carrier_name": form.get("carrier_name") or "other",
                "tracking_code": form["tracking_code"],
            })  # fmt: skip
        receipt.update(is_shipped=True, status="completed", updated_timestamp=now,
                       update_timestamp=now)  # fmt: skip
        for t in receipt["transactions"]:
            t["shipped_timestamp"] = now
        return 200, receipt

    # --- the dispatcher ---------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        path, _, qs = target.partition("?")
        query = {k: ",".join(v) for k, v in parse_qs(qs).items()}
        ctype = headers.get("Content-Type", "")
        form = {k: (v if k == "tags" else v[0])
                for k, v in parse_qs(raw.decode(errors="replace")).items()} \
            if "x-www-form-urlencoded" in ctype else {}  # fmt: skip
        if path == "/v3/public/oauth/token" and method == "POST":
            return self.token(form)
        if path.startswith("/cdn/"):
            return (404, error("no such image")) if "missing" in path else (200, PNG)
        if self.validate:
            keep = {k: v for k, v in headers.items()
                    if k.lower() in ("x-api-key", "authorization", "content-type")}  # fmt: skip
            check = requests.request(method, self.validate + target, headers=keep,
                                     data=raw or None, timeout=30)  # fmt: skip
            if check.status_code >= 400:
                self.violations.append(
                    f"{method} {path}: {check.status_code} "
                    f"{check.headers.get('sl-violations') or check.text[:500]}"
                )
                return check.status_code, check.json() if check.text else {}
        for n, (verb, pattern, code) in enumerate(self.fail_on):
            if verb == method and re.fullmatch(pattern, path):
                del self.fail_on[n]
                return code, error("induced")
        if self.fail_next:
            status, extra, payload = self.fail_next.pop(0)
            return status, {"__headers__": extra, **(payload or {"error": "induced"})}
        if headers.get("x-api-key") != f"{KEYSTRING}:{SHARED_SECRET}":
            return 403, error("Invalid API key: x-api-key must be keystring:shared_secret")
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            return 401, {"error": "invalid_token", "error_description": "access token expired"}
        routes: list[tuple[str, re.Pattern[str] | str, Any]] = [
            ("POST", f"{SHOP}/listings", lambda m: self.create_listing(form)),
            ("GET", f"{SHOP}/listings", lambda m: self.list_listings(query)),
            ("PATCH", LISTING, lambda m: self.patch_listing(int(m[1]), form)),
            ("GET", INVENTORY, lambda m: self.get_inventory(int(m[1]))),
            ("PUT", INVENTORY, lambda m: self.put_inventory(int(m[1]), json.loads(raw))),
            ("POST", IMAGES, lambda m: self.upload_image(int(m[1]), ctype, raw)),
            ("GET", f"{SHOP}/receipts", lambda m: self.list_receipts(query)),
            ("GET", RECEIPT, lambda m: self.get_receipt(int(m[1]))),
            (
                "GET",
                SHOP,
                lambda m: (
                    200,
                    {
                        "shop_id": SHOP_ID,
                        "shop_name": "TestShop",
                        "user_id": USER_ID,
                        "currency_code": self.currency,
                    },
                ),
            ),
            ("POST", TRACKING, lambda m: self.tracking(int(m[1]), form)),
        ]
        for verb, pattern, route in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                status, body = route(match)
                return status, copy.deepcopy(body)
        return 404, error(f"no route {method} {path}")

    def get_receipt(self, receipt_id: int) -> Answer:
        receipt = self.receipts.get(receipt_id)
        return (200, receipt) if receipt else (404, error(f"Receipt {receipt_id} not found"))

    def expire_tokens(self) -> None:
        """Etsy's access tokens ran out (an hour): the next call gets 401."""
        self.tokens.clear()


def inventory_problem(body: dict[str, Any]) -> str | None:
    """What Etsy refuses in an updateListingInventory body (the checks it states in prose)."""
    products = body.get("products") or []
    if not products:
        return "products must not be empty"
    skus = [p.get("sku") for p in products if p.get("sku")]
    if len(set(skus)) != len(skus):
        return "Each product must have a unique SKU"
    shapes = {tuple(sorted(v["property_id"] for v in p.get("property_values") or []))
              for p in products}  # fmt: skip
    if len(shapes) > 1:
        return "Every product must have values for the same properties"
    combos = [tuple(sorted((v["property_id"], tuple(v["values"]))
                           for v in p.get("property_values") or [])) for p in products]  # fmt: skip
    if len(set(combos)) != len(combos):
        return "Each product must have a unique combination of property values"
    for p in products:
        for v in p.get("property_values") or []:
            if any("(" in x or ")" in x for x in v["values"]):
                return "Property values may not contain parentheses"
        if len(p["offerings"]) != 1:
            return "Each product must have exactly one offering"
        off = p["offerings"][0]
        if off["price"] < 0.2:
            return f"Price for product {p.get('sku')} must be at least 0.20"
        if not 0 <= off["quantity"] <= 999:
            return f"Quantity for product {p.get('sku')} must be between 0 and 999"
    for name, what in (("price_on_property", "price"), ("quantity_on_property", "quantity"),
                       ("sku_on_property", "sku")):  # fmt: skip
        on = set(body.get(name) or [])
        seen: dict[tuple[Any, ...], Any] = {}
        for p in products:
            key = tuple(
                sorted(
                    (v["property_id"], tuple(v["values"]))
                    for v in p.get("property_values") or []
                    if v["property_id"] in on
                )
            )
            value = p.get("sku") if what == "sku" else p["offerings"][0][what]
            if seen.setdefault(key, value) != value:
                return f"The {what} of the products is not compatible with {name}"
    return None


def _handler(double: EtsyDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            double.requests.append(
                {"method": self.command, "path": self.path, "headers": headers, "body": raw,
                 "at": double.clock() if double.clock else None}
            )  # fmt: skip
            with double.lock:
                status, payload = double.answer(self.command, self.path, headers, raw)
            extra = payload.pop("__headers__", {}) if isinstance(payload, dict) else {}
            if isinstance(payload, bytes):
                data, ctype = payload, "image/png"
            else:
                data, ctype = json.dumps(payload).encode(), "application/json"
            self.send_response(status)
            for key, value in {"Content-Type": ctype, **extra}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_PUT = do_PATCH = do_GET

    return Handler


@contextmanager
def serve_double() -> Iterator[EtsyDouble]:
    """An Etsy double listening on 127.0.0.1 until the block ends."""
    with serve(EtsyDouble(), _handler) as double:
        yield double


def path_of(request: dict[str, Any]) -> str:
    return urlsplit(request["path"]).path


# --- for the test modules ---------------------------------------------------------------------
def make(url: str, **extra: Any) -> Any:
    raw = {"base_url": url, "shop_id": SHOP_ID, "keystring": "${ETSY_KEYSTRING}",
           "shared_secret": "${ETSY_SHARED_SECRET}", "refresh_token": "${ETSY_REFRESH_TOKEN}",
           "taxonomy_id": 1296, "shipping_profile_id": 77, "timeout": 5, **extra}  # fmt: skip
    from multichan.channels import registry

    cls = registry.load("etsy")  # through the entry point, as channels.yaml would
    settings, problems = cls.validate_settings(raw, "channels.yaml:20: channels.etsy.settings")
    assert problems == []
    channel = cls("etsy", settings, session=requests.Session())
    assert type(channel).__name__ == "Etsy"
    channel.sleep = lambda seconds: None
    return channel


@pytest.fixture
def etsy(
    shared_etsy: EtsyDouble, etsy_prism: Prism, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EtsyDouble]:
    """The Etsy double, emptied, checking every request against Etsy's contract in Prism; the
    credential variables set to what it accepts. A request Prism refused fails the test."""
    shared_etsy.reset(validate=etsy_prism.url)
    monkeypatch.setenv("ETSY_KEYSTRING", KEYSTRING)
    monkeypatch.setenv("ETSY_SHARED_SECRET", SHARED_SECRET)
    monkeypatch.setenv("ETSY_REFRESH_TOKEN", REFRESH_TOKEN)
    yield shared_etsy
    assert shared_etsy.violations == []
