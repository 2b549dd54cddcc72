"""A TikTok Shop Open API (202309) for channel tests, written from TikTok's Partner Center pages
as ``../shared/specs/tiktok/SPEC-NOTES.md`` and ``../shared/ORDERS-NOTES.md`` (2.10, 3) sum
them up (TikTok publishes no machine-readable contract), not from the client. Strict: it
refuses what those pages say TikTok refuses, the way they say it does.

- **Signatures** (the "Sign your API request" page): every API call must carry ``app_key``,
  ``timestamp`` (5 minutes early to 30 s late), ``sign`` and, for the shop's APIs,
  ``shop_cipher`` in the query, and the access token in ``x-tts-access-token``. ``sign`` is
  recomputed from the request as received: HMAC-SHA256 (key: the app secret) of secret + path
  + the sorted query parameters but sign/access_token as key+value + the raw body (unless
  multipart/form-data) + secret, lowercase hex. A wrong one is HTTP 401 code 106001; a missing
  one, a bad app key or timestamp 36009004; an unknown token 36009004; an expired one 105002;
  a missing shop_cipher 106013 (the common-errors page's codes).
- Envelope ``{code, message, request_id, data}``; business refusals are HTTP 200 with TikTok's
  code and message; unknown routes 36009009 (HTTP 404).
- Products: ``images/upload`` (multipart ``data``), create (category, brand, 1-9 uploaded
  images, 1-100 SKUs with price, inventory per known warehouse, quantity in [1, 99,999] or
  absent, sales attributes for several SKUs; ``idempotency_key`` answers a repeat with the
  first answer), ``GET products/{id}``, ``partial_edit``, ``search`` (``seller_skus``, page
  tokens, ``status`` filter: ALL or one status), ``inventory/update`` and ``prices/update``
  (**one product per call**: every SKU id must be the path product's, else the whole call is
  refused; each SKU must list exactly its warehouses; stock only for an ACTIVATE product;
  per-SKU errors in ``data.errors``), ``deactivate`` / ``activate`` (at most 20 ids).
  ``zero_stock`` says whether a quantity of 0 is taken (False: the current pages' [1,
  99,999], error 12052055; True: the 2023 pages' "non-negative numbers (include number 0)").
  ``promotion`` holds product ids whose prices are locked by a promotion (the notes: no price
  change then).
- Orders (placed by tests: ``add_order``, which takes their units off the SKU's stock as
  TikTok does from creation; a cancelled unit goes back): ``orders/search`` (page_size
  1..100, sort by update_time, ``update_time_ge/lt``, page tokens), ``GET orders?ids=`` (at
  most 50): one line item per unit. Mark package shipped (``POST /fulfillment/202309/orders/
  {id}/packages``) takes a tracking number, a known ``shipping_provider_id`` and line item ids
  of the order not cancelled nor shipped.
- The token endpoint (``GET /api/v2/token/refresh``) trades ``refresh_token`` for a new
  access token; ``/cdn/<name>`` serves images (``/cdn/missing...``: 404).
What a seller does in Seller Center behind multichan's back: ``tamper`` (a SKU's price or
stock), ``product_status`` (deactivate, delete), ``seed`` (a product multichan never made).
Switches: ``fail_next(429 | 500 | 503 | "drop")``; ``auth_status`` (401, or 200: the pages
give the codes of authentication errors, not their HTTP status); ``log`` holds every request.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.servers import JsonHandler, drop, running

APP_KEY = "6a1b2c3d4e5f7"
APP_SECRET = "tts-secret-5f0c9e8d7b6a5f4e3d2c1b0a"  # ${TIKTOK_APP_SECRET}
ACCESS_TOKEN = "TTP_access-9d8c7b6a5e4f3d2c1b0a"  # ${TIKTOK_ACCESS_TOKEN}
REFRESH_TOKEN = "TTP_refresh-0a1b2c3d4e5f6a7b8c9d"  # ${TIKTOK_REFRESH_TOKEN}
SHOP_CIPHER = "ROW_TTSdemoCipher01"
WAREHOUSE = "7068517275539719942"
OTHER_WAREHOUSE = "7068517275539711111"
CATEGORY = "601226"
BRAND = "7082427311584347905"
PROVIDERS = {"7117858858072016686": "USPS", "7117859084333745966": "UPS"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
Json = Any
STATUSES = (
    "ALL",
    "DRAFT",
    "PENDING",
    "FAILED",
    "ACTIVATE",
    "SELLER_DEACTIVATED",
    "PLATFORM_DEACTIVATED",
    "FREEZE",
    "DELETED",
)  # products/search's status filter
NOT_LIVE = ("The product in its current status is not available for this operation. Change the "
            "product status and try again.")  # fmt: skip


class TikTokError(Exception):
    def __init__(self, code: int, message: str, status: int = 200, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0
    code: int | None = None


@dataclass
class TikTokServer:
    url: str = ""
    app_key: str = APP_KEY
    app_secret: str = APP_SECRET
    tokens: dict[str, float] = field(default_factory=lambda: {ACCESS_TOKEN: time.time() + 7200})
    refresh_token: str = REFRESH_TOKEN
    shop_cipher: str = SHOP_CIPHER
    warehouses: set[str] = field(default_factory=lambda: {WAREHOUSE, OTHER_WAREHOUSE})
    categories: set[str] = field(default_factory=lambda: {CATEGORY, "601152", "600001"})
    brands: set[str] = field(default_factory=lambda: {BRAND})
    zero_stock: bool = False
    auth_status: int = 401  # the HTTP status of authentication errors (the pages do not say)
    promotion: set[str] = field(default_factory=set)
    products: dict[str, Json] = field(default_factory=dict)
    images: set[str] = field(default_factory=set)
    idempotent: dict[str, Json] = field(default_factory=dict)
    orders: dict[str, Json] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    faults: list[Any] = field(default_factory=list)
    clock: Any = time.time
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1729592969712207001))
    tick: int = 0

    def reset(self) -> None:
        fresh = TikTokServer()
        with self.lock:
            for name in fresh.__dataclass_fields__:
                if name not in ("url", "lock", "ids"):
                    setattr(self, name, getattr(fresh, name))

    def fail_next(self, fault: int | str | None, times: int = 1) -> None:
        self.faults.extend([fault] * times)

    def next_id(self) -> str:
        return str(next(self.ids))

    def now(self) -> int:
        """Seconds, strictly increasing per change so update times order the changes."""
        self.tick = max(self.tick + 1, int(self.clock()))
        return self.tick

    # --- what tests look at ------------------------------------------------------------------
    def calls(self, suffix: str) -> list[Logged]:
        return [e for e in self.log if e.path.endswith(suffix)]

    def by_sku(self) -> dict[str, Json]:
        """Every SKU the shop holds: its product, status, price and stock per warehouse."""
        found = {}
        for product in self.products.values():
            for sku in product["skus"]:
                found[sku["seller_sku"]] = {
                    "product_id": product["id"], "status": product["status"],
                    "title": product["title"], "price": sku["price"]["sale_price"],
                    "stock": {i["warehouse_id"]: i["quantity"] for i in sku["inventory"]},
                    "siblings": sorted(s["seller_sku"] for s in product["skus"]),
                }  # fmt: skip
        return found

    def buyable(self, seller_sku: str) -> int:
        """How many units of the SKU a buyer can order now (0 when the product is hidden)."""
        sku = self.by_sku()[seller_sku]
        return sum(sku["stock"].values()) if sku["status"] == "ACTIVATE" else 0

    # --- what the seller does in Seller Center, behind multichan's back ------------------------
    def _holding(self, seller_sku: str) -> tuple[Json, Json]:
        for product in self.products.values():
            for sku in product["skus"]:
                if sku["seller_sku"] == seller_sku:
                    return product, sku
        raise KeyError(seller_sku)

    def tamper(self, seller_sku: str, *, price: str | None = None, quantity: int | None = None,
               warehouse: str = WAREHOUSE) -> None:  # fmt: skip
        """The seller edits a SKU's price or its stock in ``warehouse``."""
        with self.lock:
            product, sku = self._holding(seller_sku)
            if price is not None:
                sku["price"] = self._price({"amount": price, "currency": sku["price"]["currency"]})
            if quantity is not None:
                [row] = [r for r in sku["inventory"] if r["warehouse_id"] == warehouse]
                row["quantity"] = quantity
            product["update_time"] = self.now()

    def product_status(self, seller_sku: str, status: str) -> None:
        """The product holding the SKU moves to ``status`` (SELLER_DEACTIVATED when the seller
        deactivates it, DELETED when deleted: TikTok keeps it, searchable by that status)."""
        with self.lock:
            product, _ = self._holding(seller_sku)
            product["status"] = status
            product["update_time"] = self.now()

    def seed(self, seller_sku: str, title: str, price: str, quantity: int) -> str:
        """A one-SKU live product the seller made in Seller Center; its id."""
        with self.lock:
            product_id = self.next_id()
            self.products[product_id] = {
                "id": product_id, "status": "ACTIVATE", "title": title, "description": title,
                "category_id": CATEGORY, "brand_id": None, "main_images": [],
                "skus": [{"id": self.next_id(), "seller_sku": seller_sku,
                          "price": self._price({"amount": price, "currency": "USD"}),
                          "inventory": [{"warehouse_id": WAREHOUSE, "quantity": quantity}],
                          "sales_attributes": []}],
                "package_weight": {"value": "1", "unit": "KILOGRAM"}, "update_time": self.now(),
            }  # fmt: skip
            return product_id

    # --- authentication -----------------------------------------------------------------------
    def check_auth(
        self, method: str, path: str, query: dict[str, str], headers: Any, raw: bytes
    ) -> None:
        if "sign" not in query:
            raise TikTokError(36009004, "Missing credentials. The request does not include a "
                              "required signature in the query.", 401)  # fmt: skip
        if query.get("app_key") != self.app_key:
            raise TikTokError(36009004, "Invalid credentials. Invalid app_key query parameter.",
                              401)  # fmt: skip
        try:
            stamp = int(query.get("timestamp") or "x")
        except ValueError:
            stamp = -1
        now = self.clock()
        if stamp < 0 or stamp < now - 300 or stamp > now + 30:
            raise TikTokError(36009004, "Invalid timestamp. Timestamps must lie within the "
                              "range of 5 minutes before to 30 seconds beyond the current "
                              "time.", 401)  # fmt: skip
        if not hmac.compare_digest(expected_sign(self.app_secret, path, query, headers, raw),
                                   query["sign"]):  # fmt: skip
            raise TikTokError(106001, "Invalid credentials. The sign query parameter is invalid.",
                              401)  # fmt: skip
        token = headers.get("x-tts-access-token") or ""
        if token not in self.tokens:
            raise TikTokError(36009004, "Invalid credentials. The x-tts-access-token header is "
                              "invalid.", 401)  # fmt: skip
        if self.tokens[token] <= now:
            raise TikTokError(105002, "Expired credentials. The access_token or "
                              "x-tts-access-token header has expired.", 401)  # fmt: skip
        if not path.startswith("/authorization/"):
            if not query.get("shop_cipher"):
                raise TikTokError(106013, "Missing identifier. The shop_cipher query parameter "
                                  "is required to identify the target shop.")  # fmt: skip
            if query["shop_cipher"] != self.shop_cipher:
                raise TikTokError(101000, "Invalid query or header. The shop does not match the "
                                  "provided shop_cipher query parameter.")  # fmt: skip

    def refresh(self, query: dict[str, str]) -> Json:
        if query.get("app_key") != self.app_key or query.get("app_secret") != self.app_secret:
            raise TikTokError(36004004, "invalid app_key or app_secret")
        if query.get("grant_type") != "refresh_token" or query.get("refresh_token") != (
            self.refresh_token
        ):
            raise TikTokError(36004005, "invalid refresh_token")
        token = f"TTP_minted-{self.next_id()}"
        expires = int(self.clock()) + 7 * 86400
        self.tokens[token] = expires
        return {"access_token": token, "access_token_expire_in": expires,
                "refresh_token": self.refresh_token,
                "refresh_token_expire_in": expires + 86400 * 300}  # fmt: skip

    # --- routing --------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], body: Any, raw: bytes,
              ctype: str) -> Json:  # fmt: skip
        parts = path.strip("/").split("/")
        if parts[:2] == ["product", "202309"]:
            rest = parts[2:]
            if rest == ["images", "upload"] and method == "POST":
                return self.upload(raw, ctype)
            if not ctype.startswith("application/json") and method == "POST":
                raise TikTokError(36009022, "Invalid request format. The request body format "
                                  "must be application/json for structured data.")  # fmt: skip
            if rest == ["products"] and method == "POST":
                return self.create(body)
            if rest == ["products", "search"] and method == "POST":
                return self.search(query, body)
            if rest in (["products", "deactivate"], ["products", "activate"]) and method == "POST":
                return self.switch(rest[1], body)
            if len(rest) >= 2 and rest[0] == "products":
                product = self.products.get(rest[1])
                if product is None:
                    raise TikTokError(12052032, "The product does not exist")
                tail = (*rest[2:], method)
                if tail == ("GET",):
                    return product
                if tail == ("partial_edit", "POST"):
                    return self.partial_edit(product, body)
                if tail == ("inventory", "update", "POST"):
                    return self.inventory(product, body)
                if tail == ("prices", "update", "POST"):
                    return self.prices(product, body)
        if path == "/order/202309/orders/search" and method == "POST":
            return self.search_orders(query, body)
        if path == "/order/202309/orders" and method == "GET":
            ids = [i for i in query.get("ids", "").split(",") if i]
            if not 1 <= len(ids) <= 50:
                raise TikTokError(36009004, "ids: between 1 and 50 order ids")
            return {"orders": [self.orders[i] for i in ids if i in self.orders]}
        if parts[:3] == ["fulfillment", "202309", "orders"] and parts[4:] == ["packages"]:
            return self.ship(parts[3], body)
        raise TikTokError(36009009, "Invalid path. The specified path does not match any "
                          "available endpoint.", 404)  # fmt: skip

    # --- products -------------------------------------------------------------------------------
    def upload(self, raw: bytes, ctype: str) -> Json:
        if not ctype.startswith("multipart/form-data"):
            raise TikTokError(36009023, "Invalid request format. The value of the content-type "
                              "header must be multipart/form-data.")  # fmt: skip
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        parts = {p.get_param("name", header="content-disposition"): p
                 for p in message.iter_parts()}  # fmt: skip
        image = parts.get("data")
        data = image.get_payload(decode=True) if image is not None else None
        if not data or not data.startswith(b"\x89PNG"):
            raise TikTokError(12052217, "The image could not be read")
        uri = (
            f"tos-maliva-i-o3syd03w52-us/{hashlib.sha1(data + self.next_id().encode()).hexdigest()}"
        )
        self.images.add(uri)
        return {"uri": uri, "url": f"https://p16-oec-va.ibyteimg.com/{uri}~tplv-o3syd03w52.image",
                "width": 800, "height": 800, "use_case": "MAIN_IMAGE"}  # fmt: skip

    def create(self, body: Json) -> Json:
        key = body.get("idempotency_key")
        if key and key in self.idempotent:
            return self.idempotent[key]
        title = body.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= 255:
            raise TikTokError(12019005, "product name is invalid: 1 to 255 characters")
        self._description(body.get("description"))
        if body.get("category_id") not in self.categories:
            raise TikTokError(12019010, "category is invalid: not a leaf category of this shop")
        if "brand_id" in body and body["brand_id"] not in self.brands:
            raise TikTokError(12019098, "brand is invalid")
        images = body.get("main_images")
        if (
            not isinstance(images, list)
            or not 1 <= len(images) <= 9
            or any(not isinstance(i, dict) or i.get("uri") not in self.images for i in images)
        ):
            raise TikTokError(12019007, "main_images: 1 to 9 images uploaded with Upload Product "
                              "Image")  # fmt: skip
        weight = body.get("package_weight") or {}
        try:
            positive = Decimal(str(weight.get("value"))) > 0
        except InvalidOperation:
            positive = False
        if not positive or weight.get("unit") not in ("KILOGRAM", "POUND", "GRAM"):
            raise TikTokError(12019011, "product package weight is invalid")
        skus = body.get("skus")
        if not isinstance(skus, list) or not 1 <= len(skus) <= 100:
            raise TikTokError(12052050, "A single product cannot have more than 100 different "
                              "SKUs")  # fmt: skip
        self._attributes(skus)
        made = []
        for sku in skus:
            seller = sku.get("seller_sku")
            if not isinstance(seller, str) or not 1 <= len(seller) <= 50 or " " in seller:
                raise TikTokError(12019032, "seller_sku: 1-50 characters without spaces")
            price = self._price(sku.get("price"))
            inventory = sku.get("inventory")
            if not isinstance(inventory, list) or not inventory:
                raise TikTokError(12019022, "SKU must contain a valid warehouse.")
            rows = []
            for row in inventory:
                if row.get("warehouse_id") not in self.warehouses:
                    raise TikTokError(12052097, "The warehouse does not exist")
                quantity = row.get("quantity", 0)
                if "quantity" in row and not self._quantity_ok(quantity):
                    raise TikTokError(12052055, "The SKU inventory quantity for the warehouse must "
                                      "be within allowed limits.")  # fmt: skip
                rows.append({"warehouse_id": row["warehouse_id"], "quantity": quantity})
            made.append({"id": self.next_id(), "seller_sku": seller, "price": price,
                         "inventory": rows,
                         "sales_attributes": sku.get("sales_attributes") or []})  # fmt: skip
        if len({s["seller_sku"] for s in made}) != len(made):
            raise TikTokError(12019033, "seller_sku repeats within the product")
        product_id = self.next_id()
        self.products[product_id] = {
            "id": product_id, "status": "ACTIVATE", "title": title,
            "description": body["description"], "category_id": body["category_id"],
            "brand_id": body.get("brand_id"), "main_images": images, "skus": made,
            "package_weight": weight, "update_time": self.now(),
        }  # fmt: skip
        answer = {"product_id": product_id,
                  "skus": [{"id": s["id"], "seller_sku": s["seller_sku"]} for s in made],
                  "warnings": []}  # fmt: skip
        if key:
            self.idempotent[key] = answer
        return answer

    def _description(self, text: Any) -> None:
        if not isinstance(text, str) or not text or len(text) > 10_000:
            raise TikTokError(12019006, "product description is invalid: HTML up to 10,000 "
                              "characters")  # fmt: skip

    def _attributes(self, skus: list[Json]) -> None:
        if len(skus) == 1:
            return
        combos, names = set(), None
        for sku in skus:
            attrs = sku.get("sales_attributes")
            if not isinstance(attrs, list) or not 1 <= len(attrs) <= 3:
                raise TikTokError(12019017, "sales_attributes are required for several SKUs (at "
                                  "most 3 types)")  # fmt: skip
            these = tuple(a.get("name") for a in attrs)
            if len(set(these)) != len(these) or any(not n or len(n) > 20 for n in these):
                raise TikTokError(12019017, "a sales attribute name repeats or is too long")
            if names is not None and set(these) != names:
                raise TikTokError(12019017, "every SKU must define the same sales attributes")
            names = set(these)
            combo = tuple(sorted((a.get("name"), a.get("value_name")) for a in attrs))
            if any(not v or len(str(v)) > 50 for _, v in combo) or combo in combos:
                raise TikTokError(12019018, "sales attribute values must be unique per SKU")
            combos.add(combo)

    def _quantity_ok(self, quantity: Any) -> bool:
        low = 0 if self.zero_stock else 1
        return (
            isinstance(quantity, int)
            and not isinstance(quantity, bool)
            and (low <= quantity <= 99_999)
        )

    def _price(self, price: Any) -> Json:
        if not isinstance(price, dict) or price.get("currency") not in (
            "USD",
            "GBP",
            "EUR",
            "JPY",
            "MXN",
            "BRL",
            "SGD",
            "MYR",
            "THB",
            "VND",
            "PHP",
            "IDR",
        ):
            raise TikTokError(12019013, "price.currency is invalid for this shop")
        try:
            amount = Decimal(str(price.get("amount")))
        except InvalidOperation:
            raise TikTokError(12019013, "price.amount is not a number") from None
        if price["currency"] == "USD" and not Decimal("0.01") <= amount <= Decimal("7600"):
            raise TikTokError(12019013, "price.amount must be between 0.01 and 7,600 USD")
        if amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise TikTokError(12019013, "price.amount has more than 2 decimals")
        return {"currency": price["currency"], "sale_price": str(amount),
                "tax_exclusive_price": str(amount)}  # fmt: skip

    def partial_edit(self, product: Json, body: Json) -> Json:
        if "title" in body:
            if not isinstance(body["title"], str) or not 1 <= len(body["title"]) <= 255:
                raise TikTokError(12019005, "product name is invalid: 1 to 255 characters")
            product["title"] = body["title"]
        if "description" in body:
            self._description(body["description"])
            product["description"] = body["description"]
        product["update_time"] = self.now()
        return {"product_id": product["id"]}

    def search(self, query: dict[str, str], body: Json) -> Json:
        size = int(query.get("page_size") or 0)
        if not 1 <= size <= 100:
            raise TikTokError(36009004, "page_size must be between 1 and 100")
        wanted = set((body or {}).get("seller_skus") or [])
        if len(wanted) > 100:
            raise TikTokError(36009004, "seller_skus: at most 100")
        status = (body or {}).get("status") or "ALL"
        if status not in STATUSES:
            raise TikTokError(36009004, f"status is invalid: {status}")
        rows = [p for p in self.products.values()
                if (not wanted or any(s["seller_sku"] in wanted for s in p["skus"]))
                and (p["status"] == status or status == "ALL")]  # fmt: skip
        start = _offset(query.get("page_token"))
        page = rows[start : start + size]
        more = start + size < len(rows)
        return {"products": page, "total_count": len(rows),
                "next_page_token": _token(start + size) if more else ""}  # fmt: skip

    def _own_skus(self, product: Json, body: Json) -> list[tuple[Json, Json]]:
        entries = (body or {}).get("skus")
        if not isinstance(entries, list) or not entries:
            raise TikTokError(12052902, "The SKU list is empty. Either omit the list entirely, or "
                              "provide all required details.")  # fmt: skip
        ids = [e.get("id") for e in entries]
        if len(set(ids)) != len(ids):
            raise TikTokError(12052553, "Sku id duplicate")
        own = {s["id"]: s for s in product["skus"]}
        strangers = [i for i in ids if i not in own]
        if strangers:  # one product per call: every SKU must be this product's
            raise TikTokError(12052556, f"The SKU id not exist. ({strangers[0]} is not a SKU of "
                              f"product {product['id']}; all the SKU IDs must belong to the "
                              "same product)")  # fmt: skip
        return [(e, own[e["id"]]) for e in entries]

    def inventory(self, product: Json, body: Json) -> Json:
        if product["status"] != "ACTIVATE":
            raise TikTokError(12052901, NOT_LIVE)
        errors = []
        for entry, sku in self._own_skus(product, body):
            rows = entry.get("inventory") or []
            given = [r.get("warehouse_id") for r in rows]
            have = [i["warehouse_id"] for i in sku["inventory"]]
            extra: list[Json] = []
            if set(given) - set(have):
                extra = [{"warehouse_id": w, "code": 12052533, "message": "Removal, addition, and "
                          "change of warehouses are not permitted. Please specify the original "
                          "warehouses for the SKUs."} for w in set(given) - set(have)]  # fmt: skip
            elif set(have) - set(given) or len(given) != len(set(given)):
                extra = [{"warehouse_id": w, "code": 12019028, "message": "Multiple warehouses "
                          "detected. Include all warehouse IDs and the corresponding details and "
                          "try again."} for w in set(have) - set(given)] or [
                    {"warehouse_id": "", "code": 12019028, "message": "a warehouse repeats"}
                ]  # fmt: skip
            else:
                extra = [{"warehouse_id": r.get("warehouse_id"), "code": 12052055,
                          "message": "The SKU inventory quantity for the warehouse must be "
                          "within allowed limits."} for r in rows
                         if not self._quantity_ok(r.get("quantity"))]  # fmt: skip
            if extra:
                errors.append({"code": 12052990, "message": "The check failed.",
                               "detail": {"sku_id": sku["id"], "extra_errors": extra}})  # fmt: skip
                continue
            counts = {r["warehouse_id"]: r["quantity"] for r in rows}
            for row in sku["inventory"]:
                row["quantity"] = counts[row["warehouse_id"]]
        product["update_time"] = self.now()
        return {"errors": errors} if errors else {}

    def prices(self, product: Json, body: Json) -> Json:
        pairs = self._own_skus(product, body)
        if product["id"] in self.promotion:
            raise TikTokError(12052391, "The product is in an ongoing promotion; its price cannot "
                              "be changed until the promotion ends")  # fmt: skip
        errors = []
        for entry, sku in pairs:
            try:
                price = self._price(entry.get("price"))
            except TikTokError as exc:
                errors.append({"code": exc.code, "message": exc.message,
                               "detail": {"sku_id": sku["id"]}})  # fmt: skip
                continue
            sku["price"] = price
        product["update_time"] = self.now()
        return {"errors": errors} if errors else {}

    def switch(self, verb: str, body: Json) -> Json:
        ids = (body or {}).get("product_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
            raise TikTokError(12019120, "The number of provided product IDs exceeds the limit.")
        errors = []
        source, target = ("ACTIVATE", "SELLER_DEACTIVATED") if verb == "deactivate" else (
            "SELLER_DEACTIVATED", "ACTIVATE")  # fmt: skip
        for pid in ids:
            product = self.products.get(pid)
            if product is None:
                errors.append({"code": 12052032, "message": "The product does not exist",
                               "detail": {"product_id": pid}})  # fmt: skip
            elif product["status"] not in (source, target):
                errors.append({"code": 12052901, "message": "The product in its current status "
                               "is not available for this operation.",
                               "detail": {"product_id": pid}})  # fmt: skip
            else:
                product["status"] = target
                product["update_time"] = self.now()
        return {"errors": errors} if errors else {}

    # --- orders ---------------------------------------------------------------------------------
    def add_order(
        self, lines: list[tuple[str, int]], status: str = "AWAITING_SHIPMENT",
        price: str = "19.99",
    ) -> str:  # fmt: skip
        """Place an order on the shop: ``lines`` of (seller_sku, units), one line item a unit."""
        with self.lock:
            skus = {}
            for product in self.products.values():
                for sku in product["skus"]:
                    skus[sku["seller_sku"]] = (product["id"], sku)
            order_id = f"57{self.next_id()}"
            items = []
            for seller, units in lines:
                product_id, sku = skus.get(seller, ("0", {"id": f"9{seller}"}))
                _take(sku, units)  # TikTok deducts stock when the order is created
                for _ in range(units):
                    items.append({
                        "id": f"57{self.next_id()}", "sku_id": sku["id"], "seller_sku": seller,
                        "product_id": product_id, "product_name": f"Product {seller}",
                        "sale_price": price, "original_price": price, "currency": "USD",
                        "display_status": status, "package_id": None, "tracking_number": None,
                        "shipping_provider_name": None, "cancel_reason": None,
                    })  # fmt: skip
            stamp = self.now()
            self.orders[order_id] = {
                "id": order_id, "status": status, "create_time": stamp, "update_time": stamp,
                "payment": {"currency": "USD"}, "line_items": items,
            }  # fmt: skip
            return order_id

    def set_status(self, order_id: str, status: str) -> None:
        with self.lock:
            order = self.orders[order_id]
            order["status"] = status
            for item in order["line_items"]:
                if item["display_status"] != "CANCELLED":
                    item["display_status"] = status
            order["update_time"] = self.now()

    def cancel_units(self, order_id: str, seller_sku: str, units: int) -> None:
        with self.lock:
            order = self.orders[order_id]
            for item in [i for i in order["line_items"] if i["seller_sku"] == seller_sku
                         and i["display_status"] != "CANCELLED"][:units]:  # fmt: skip
                item["display_status"], item["cancel_reason"] = "CANCELLED", "Buyer request"
                for product in self.products.values():  # and gives it back on a cancel
                    for sku in product["skus"]:
                        if sku["id"] == item["sku_id"]:
                            _take(sku, -1)
            if all(i["display_status"] == "CANCELLED" for i in order["line_items"]):
                order["status"] = "CANCELLED"
            order["update_time"] = self.now()

    def search_orders(self, query: dict[str, str], body: Json) -> Json:
        size = int(query.get("page_size") or 0)
        if not 1 <= size <= 100:
            raise TikTokError(36009004, "page_size must be between 1 and 100")
        field_ = query.get("sort_field", "create_time")
        if field_ not in ("create_time", "update_time") or query.get("sort_order", "DESC") not in (
            "ASC",
            "DESC",
        ):
            raise TikTokError(36009004, "sort_field / sort_order is invalid")
        body = body or {}
        rows = list(self.orders.values())
        for key, test in (("update_time_ge", lambda o, v: o["update_time"] >= v),
                          ("update_time_lt", lambda o, v: o["update_time"] < v),
                          ("create_time_ge", lambda o, v: o["create_time"] >= v),
                          ("create_time_lt", lambda o, v: o["create_time"] < v)):  # fmt: skip
            if key in body:
                if not isinstance(body[key], int):
                    raise TikTokError(36009004, f"{key} must be a unix timestamp (seconds)")
                rows = [o for o in rows if test(o, body[key])]
        if body.get("order_status"):
            rows = [o for o in rows if o["status"] == body["order_status"]]
        rows.sort(key=lambda o: (o[field_], o["id"]), reverse=query.get("sort_order") == "DESC")
        start = _offset(query.get("page_token"))
        page = rows[start : start + size]
        more = start + size < len(rows)
        return {"orders": page, "total_count": len(rows),
                "next_page_token": _token(start + size) if more else ""}  # fmt: skip

    def ship(self, order_id: str, body: Json) -> Json:
        order = self.orders.get(order_id)
        if order is None:
            raise TikTokError(21001001, "The order does not exist")
        if order["status"] not in ("AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"):
            raise TikTokError(21011001, f"The order status {order['status']} does not allow this "
                              "operation")  # fmt: skip
        body = body or {}
        number = body.get("tracking_number")
        if not isinstance(number, str) or not number.strip():
            raise TikTokError(21011004, "tracking_number is required")
        provider = body.get("shipping_provider_id")
        if provider not in PROVIDERS:
            raise TikTokError(21011005, "shipping_provider_id is invalid")
        ids = body.get("order_line_item_ids")
        items = {i["id"]: i for i in order["line_items"]}
        if not isinstance(ids, list) or not ids or len(set(ids)) != len(ids):
            raise TikTokError(21011006, "order_line_item_ids is required")
        for i in ids:
            item = items.get(i)
            if item is None or item["display_status"] == "CANCELLED" or item["package_id"]:
                raise TikTokError(21011007, f"line item {i} cannot be shipped (unknown, cancelled "
                                  "or in a package already)")  # fmt: skip
        package = self.next_id()
        for i in ids:
            items[i].update(package_id=package, tracking_number=number,
                            shipping_provider_name=PROVIDERS[provider],
                            display_status="IN_TRANSIT")  # fmt: skip
        live = [i for i in order["line_items"] if i["display_status"] != "CANCELLED"]
        done = all(i["package_id"] for i in live)
        order["status"] = "IN_TRANSIT" if done else "PARTIALLY_SHIPPING"
        order["update_time"] = self.now()
        return {"package_id": package}


def expected_sign(secret: str, path: str, query: dict[str, str], headers: Any, raw: bytes) -> str:
    """The sign TikTok computes for a request, per its "Sign your API request" page (the Go
    sample): path + sorted key+value (not sign, access_token) + body unless multipart."""
    text = path + "".join(k + query[k] for k in sorted(query) if k not in ("sign", "access_token"))
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    data = text.encode() + (raw if ctype != "multipart/form-data" else b"")
    wrapped = secret.encode() + data + secret.encode()
    return hmac.new(secret.encode(), wrapped, hashlib.sha256).hexdigest()


def _take(sku: Json, units: int) -> None:
    """``units`` off the SKU's stock (its first warehouse), or back on when negative."""
    rows = sku.get("inventory") or []
    if rows:
        rows[0]["quantity"] = max(int(rows[0]["quantity"]) - units, 0)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        raise TikTokError(36009004, "page_token is invalid") from None


def _handler(server: TikTokServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            ctype = self.headers.get("Content-Type") or ""
            try:
                body = json.loads(raw) if raw and ctype.startswith("application/json") else None
            except ValueError:
                body = ...
            entry = Logged(method, split.path, query, dict(self.headers), body)
            with server.lock:
                server.log.append(entry)
                fault = server.faults.pop(0) if server.faults else None
            if fault == "drop":
                drop(self, rst=True)
                return
            if fault is not None:
                entry.status = int(fault)
                self._send(int(fault), {"code": 36009002 if fault == 429 else 36009003,
                                        "message": "injected", "data": None})  # fmt: skip
                return
            if split.path.startswith("/cdn/"):
                return self._image(split.path)
            status, code, data, message = 200, 0, None, "Success"
            try:
                with server.lock:
                    if split.path == "/api/v2/token/refresh" and method == "GET":
                        data = server.refresh(query)
                    else:
                        server.check_auth(method, split.path, query, self.headers, raw)
                        if body is ...:
                            raise TikTokError(36009022, "Invalid request format: not JSON")
                        data = server.route(method, split.path, query, body, raw, ctype)
            except TikTokError as exc:
                status, code, message, data = exc.status, exc.code, exc.message, exc.data
                if status == 401:
                    status = server.auth_status
            entry.status, entry.code = status, code
            self._send(status, {"code": code, "message": message, "data": data,
                                "request_id": f"2026{server.next_id()}"})  # fmt: skip

        def _image(self, path: str) -> None:
            if "missing" in path:
                self._send(404, {"message": "not found"})
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

    return Handler


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    resets: set[int]

    def shutdown_request(self, request: Any) -> None:
        if request.fileno() in self.resets:
            self.resets.discard(request.fileno())
            return self.close_request(request)
        return super().shutdown_request(request)


@contextlib.contextmanager
def serve() -> Iterator[TikTokServer]:
    """A TikTok shop on 127.0.0.1 (a free port) for as long as the block runs."""
    state = TikTokServer()
    httpd = _HTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.resets = set()
    with running(httpd) as url:
        state.url = url
        yield state
